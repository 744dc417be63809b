// Optional Prometheus metrics through prom-client, loaded lazily (only when this is called), so
// prom-client stays an optional peer dependency. Values come from stats() snapshots taken when
// Prometheus scrapes (collect()); nothing runs between scrapes.

import { registerMessageMetrics } from './message-metrics';
import type { CdcCacheStats } from './types';

/** Anything with a stats() snapshot: an Invalidator or the Nest CacheInvalidationService. */
export interface StatsSource {
  stats(): CdcCacheStats;
}

/** The part of a prom-client Registry this module uses (kept structural so prom-client types stay optional). */
export interface PromRegistryLike {
  registerMetric(metric: unknown): void;
  removeSingleMetric(name: string): void;
  metrics(): Promise<string>;
}

export interface PrometheusCollectorOptions {
  /** Registry to register in; default prom-client's global registry. */
  registry?: PromRegistryLike;
  /** Metric name prefix; default "cdc_cache_". */
  prefix?: string;
  /** Constant labels added to every metric (e.g. { service: 'invoices' }). */
  labels?: Record<string, string>;
}

export interface PrometheusCollector {
  readonly registry: PromRegistryLike;
  /** Metric names registered. */
  readonly names: string[];
  /** Removes the metrics from the registry. */
  unregister(): void;
}

type PromClient = typeof import('prom-client');

function loadPromClient(): PromClient {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('prom-client') as PromClient;
  } catch (error) {
    throw new Error(
      `cdc-cache: Prometheus metrics need the optional peer dependency prom-client (npm install prom-client): ${(error as Error).message}`,
    );
  }
}

const SKIP_REASONS = ['tombstone', 'heartbeat', 'transaction', 'schemaChange', 'noRule', 'truncate', 'message'] as const;
const SKIP_REASON_LABEL: Record<(typeof SKIP_REASONS)[number], string> = {
  tombstone: 'tombstone',
  heartbeat: 'heartbeat',
  transaction: 'transaction',
  schemaChange: 'schema_change',
  noRule: 'no_rule',
  truncate: 'truncate',
  message: 'message',
};

// What every metric definition below needs: prom-client, names, constant labels, the scrape's
// snapshot, and the registration (which also records the name for unregister()).
export interface MetricContext {
  prom: PromClient;
  prefix: string;
  constLabels: Record<string, string>;
  constLabelNames: string[];
  stats: () => CdcCacheStats;
  add: <T>(metric: T, name: string) => T;
}

// Counter from a cumulative snapshot value: reset + inc sets it exactly (the engine owns the count).
function snapshotCounter(ctx: MetricContext, name: string, help: string, read: (s: CdcCacheStats) => number): void {
  const { constLabels, stats } = ctx;
  const full = ctx.prefix + name;
  ctx.add(
    new ctx.prom.Counter({
      name: full,
      help,
      labelNames: ctx.constLabelNames,
      registers: [],
      collect() {
        this.reset();
        this.inc(constLabels, Math.max(0, read(stats()) || 0));
      },
    }),
    full,
  );
}

function snapshotGauge(ctx: MetricContext, name: string, help: string, read: (s: CdcCacheStats) => number): void {
  const { constLabels, stats } = ctx;
  const full = ctx.prefix + name;
  ctx.add(
    new ctx.prom.Gauge({
      name: full,
      help,
      labelNames: ctx.constLabelNames,
      registers: [],
      collect() {
        this.set(constLabels, read(stats()) || 0);
      },
    }),
    full,
  );
}

function skippedCounter(ctx: MetricContext): void {
  const { constLabels, stats } = ctx;
  const full = `${ctx.prefix}events_skipped_total`;
  ctx.add(
    new ctx.prom.Counter({
      name: full,
      help: 'Messages skipped without a Redis effect, by reason.',
      labelNames: [...ctx.constLabelNames, 'reason'],
      registers: [],
      collect() {
        const s = stats();
        this.reset();
        for (const reason of SKIP_REASONS) {
          this.inc({ ...constLabels, reason: SKIP_REASON_LABEL[reason] }, Math.max(0, s.skipped?.[reason] ?? 0));
        }
      },
    }),
    full,
  );
}

function consumerLagGauge(ctx: MetricContext): void {
  const { constLabels, stats } = ctx;
  const full = `${ctx.prefix}consumer_lag`;
  ctx.add(
    new ctx.prom.Gauge({
      name: full,
      help: 'Messages behind the partition high watermark.',
      labelNames: [...ctx.constLabelNames, 'topic', 'partition'],
      registers: [],
      collect() {
        // Reset so partitions revoked since the last scrape disappear.
        this.reset();
        for (const p of stats().partitions ?? []) {
          this.set({ ...constLabels, topic: p.topic, partition: String(p.partition) }, p.lag);
        }
      },
    }),
    full,
  );
}

function endToEndLagGauge(ctx: MetricContext): void {
  const { constLabels, stats } = ctx;
  const full = `${ctx.prefix}end_to_end_lag_seconds`;
  ctx.add(
    new ctx.prom.Gauge({
      name: full,
      help: 'Delay from the source commit (from="source") or the Kafka timestamp (from="kafka") to the Redis ack; quantile "1" is the max.',
      labelNames: [...ctx.constLabelNames, 'from', 'quantile'],
      registers: [],
      collect() {
        const lag = stats().lagMs;
        this.reset();
        for (const from of ['source', 'kafka'] as const) {
          const summary = lag?.[from];
          if (!summary || summary.count === 0) continue;
          this.set({ ...constLabels, from, quantile: '0.5' }, summary.p50 / 1000);
          this.set({ ...constLabels, from, quantile: '0.99' }, summary.p99 / 1000);
          this.set({ ...constLabels, from, quantile: '0.999' }, summary.p999 / 1000);
          this.set({ ...constLabels, from, quantile: '1' }, summary.max / 1000);
        }
      },
    }),
    full,
  );
}

function registerMetrics(ctx: MetricContext): void {
  const counter = (name: string, help: string, read: (s: CdcCacheStats) => number) => snapshotCounter(ctx, name, help, read);
  const gauge = (name: string, help: string, read: (s: CdcCacheStats) => number) => snapshotGauge(ctx, name, help, read);
  counter('events_consumed_total', 'Kafka messages consumed.', (s) => s.consumed);
  counter('events_applied_total', 'Change events whose Redis effects were acknowledged.', (s) => s.applied);
  skippedCounter(ctx);
  counter('events_missing_fields_total', 'Template fields missing, null or unavailable in a row image.', (s) => s.missingFields);
  counter('events_dead_lettered_total', 'Messages sent to the dead-letter topic (or dropped when none is set).', (s) => s.deadLettered);
  counter('keys_deleted_total', 'Keys Redis reported deleted.', (s) => s.keysDeleted);
  counter('keys_refreshed_total', 'Keys rewritten from after images.', (s) => s.keysRefreshed);
  counter('redis_round_trips_total', 'Redis pipelines sent.', (s) => s.redis?.roundTrips ?? 0);
  counter('redis_commands_total', 'Redis commands sent.', (s) => s.redis?.commands ?? 0);
  counter('redis_errors_total', 'Redis errors (connection and command).', (s) => s.redis?.errors ?? 0);
  counter('redis_reconnects_total', 'Redis reconnections.', (s) => s.redis?.reconnects ?? 0);
  counter('redis_cluster_moved_total', 'Redis Cluster MOVED redirections followed.', (s) => s.redis?.moved ?? 0);
  counter('redis_cluster_asked_total', 'Redis Cluster ASK redirections followed.', (s) => s.redis?.asked ?? 0);
  counter('redis_cluster_slot_map_refreshes_total', 'Redis Cluster slot map reads.', (s) => s.redis?.slotMapRefreshes ?? 0);
  counter('handler_batches_delivered_total', 'Batches delivered to onChange handlers.', (s) => s.handlers?.delivered ?? 0);
  counter('handler_batches_failed_total', 'Handler batches that failed every attempt.', (s) => s.handlers?.failed ?? 0);
  gauge('handler_batches_in_flight', 'Handler batches not yet acknowledged.', (s) => s.handlers?.inFlight ?? 0);
  gauge('up', '1 when the engine is running.', (s) => (s.running ? 1 : 0));
  gauge('healthy', '1 when consuming and Redis is connected.', (s) => (s.healthy ? 1 : 0));
  gauge('redis_connected', '1 when the Redis connection is up.', (s) => (s.redisConnected ? 1 : 0));
  consumerLagGauge(ctx);
  endToEndLagGauge(ctx);
  registerReadMetrics(ctx);
  registerMessageMetrics(ctx);
}

// The read side (getOrLoad) and its consistency probe.
function registerReadMetrics(ctx: MetricContext): void {
  const counter = (name: string, help: string, read: (s: CdcCacheStats) => number) => snapshotCounter(ctx, name, help, read);
  counter('read_hits_total', 'getOrLoad calls answered from Redis.', (s) => s.read?.hits ?? 0);
  counter('read_misses_total', 'getOrLoad calls that found no value.', (s) => s.read?.misses ?? 0);
  counter('read_loads_total', "Loader calls (the probe's included).", (s) => s.read?.loads ?? 0);
  counter('read_fills_total', 'Values written under a lease.', (s) => s.read?.fills ?? 0);
  counter('read_redis_errors_total', 'getOrLoad calls that met a Redis error.', (s) => s.read?.redisErrors ?? 0);
  counter('read_wait_timeouts_total', 'Lease waits that ran out (loaded without filling).', (s) => s.read?.waitTimeouts ?? 0);
  counter('lease_fills_refused_total', 'Fills refused: an invalidation or refresh removed the lease.', (s) => s.consistency?.fillsRefused ?? 0);
  counter('lease_waits_total', "Misses that waited for another holder's fill.", (s) => s.consistency?.leaseWaits ?? 0);
  counter('read_coalesced_total', 'Callers that shared an in-process load of the same key.', (s) => s.consistency?.coalesced ?? 0);
  counter('consistency_checked_total', 'Hits re-loaded by the consistency probe.', (s) => s.consistency?.checked ?? 0);
  counter('consistency_stale_total', 'Probed hits still different from the loader after the pipeline lag.', (s) => s.consistency?.stale ?? 0);
}

/**
 * Registers cdc-cache metrics in a prom-client registry. Counters mirror the engine's cumulative
 * counters; gauges show the current consumer lag per partition and end-to-end lag quantiles.
 */
export function createPrometheusCollector(source: StatsSource, options: PrometheusCollectorOptions = {}): PrometheusCollector {
  const prom = loadPromClient();
  const registry = (options.registry ?? prom.register) as PromRegistryLike;
  const constLabels = options.labels ?? {};

  // One snapshot per scrape: every metric's collect() runs in the same scrape, within a few ms.
  let snapshot: CdcCacheStats | undefined;
  let snapshotAt = 0;
  const stats = (): CdcCacheStats => {
    const now = Date.now();
    if (!snapshot || now - snapshotAt > 250) {
      snapshot = source.stats();
      snapshotAt = now;
    }
    return snapshot;
  };

  const names: string[] = [];
  const add = <T>(metric: T, name: string): T => {
    registry.registerMetric(metric);
    names.push(name);
    return metric;
  };
  registerMetrics({ prom, prefix: options.prefix ?? 'cdc_cache_', constLabels, constLabelNames: Object.keys(constLabels), stats, add });

  return {
    registry,
    names,
    unregister() {
      for (const name of names) {
        try {
          registry.removeSingleMetric(name);
        } catch {
          // already removed
        }
      }
    },
  };
}
