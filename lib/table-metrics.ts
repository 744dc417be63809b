// Prometheus metrics of tables (prom-client loaded lazily, as lib/metrics.ts does): entries, bytes,
// readiness, health and lag per partition, read from stats() when Prometheus scrapes.

import type { PromRegistryLike } from './metrics';
import type { TableStats } from './table';

export interface TableStatsSource {
  /** The tables to report, read at every scrape. */
  tables(): { stats(): TableStats }[];
}

export interface TablePrometheusCollector {
  readonly registry: PromRegistryLike;
  readonly names: string[];
  unregister(): void;
}

type PromClient = typeof import('prom-client');

export function createTablePrometheusCollector(
  source: TableStatsSource,
  options: { registry?: PromRegistryLike; prefix?: string } = {},
): TablePrometheusCollector {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const prom = require('prom-client') as PromClient;
  const registry = (options.registry ?? prom.register) as PromRegistryLike;
  const prefix = options.prefix ?? 'cdc_cache_table_';
  const names: string[] = [];
  const gauge = (name: string, help: string, labelNames: string[], collect: (g: import('prom-client').Gauge) => void) => {
    const full = prefix + name;
    registry.registerMetric(
      new prom.Gauge({
        name: full,
        help,
        labelNames,
        registers: [],
        collect() {
          this.reset();
          collect(this);
        },
      }),
    );
    names.push(full);
  };
  const all = () => source.tables().map((t) => t.stats());
  gauge('entries', 'Entries held by the table.', ['table'], (g) => all().forEach((s) => g.set({ table: s.name }, s.entries)));
  gauge('bytes', 'Bytes of keys and values held (as in the log).', ['table'], (g) => all().forEach((s) => g.set({ table: s.name }, s.bytes)));
  gauge('ready', '1 once the table caught up with the end offsets it had at open.', ['table'], (g) =>
    all().forEach((s) => g.set({ table: s.name }, s.ready ? 1 : 0)),
  );
  gauge('healthy', '0 when the table stopped (maxBytes exceeded, closed).', ['table'], (g) =>
    all().forEach((s) => g.set({ table: s.name }, s.healthy ? 1 : 0)),
  );
  gauge('lag', 'Records between the table position and the end of the log, per partition.', ['table', 'partition'], (g) =>
    all().forEach((s) => s.partitions.forEach((p) => g.set({ table: s.name, partition: String(p.partition) }, p.lag))),
  );
  return {
    registry,
    names,
    unregister: () => names.forEach((name) => registry.removeSingleMetric(name)),
  };
}
