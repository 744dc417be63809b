// Prometheus collector: metric values come from stats() snapshots on scrape.
// The stats source is a plain object returning a snapshot (no engine involved).
import { Registry } from 'prom-client';

import { createPrometheusCollector } from '../../lib/metrics';
import { emptyStats, type CdcCacheStats } from '../../lib/types';

function stats(overrides: Partial<CdcCacheStats> = {}): CdcCacheStats {
  return { ...emptyStats(), ...overrides };
}

describe('createPrometheusCollector', () => {
  it('exposes counters and gauges from the current snapshot', async () => {
    let current = stats({
      running: true,
      healthy: true,
      redisConnected: true,
      consumed: 10,
      applied: 7,
      skipped: { tombstone: 2, heartbeat: 1, transaction: 0, schemaChange: 0, noRule: 0, truncate: 0, message: 0 },
      deadLettered: 1,
      keysDeleted: 12,
      tombstoneDeletes: 0,
      refreshesOlderSkipped: 0,
      refreshesWithoutBefore: 0,
      redis: { roundTrips: 3, commands: 14, errors: 2, reconnects: 1, fallbackDeletes: 0, revokedDropped: 0, moved: 5, asked: 1, slotMapRefreshes: 2, batchSizeAvg: 4.5 },
      partitions: [
        { topic: 'dbserver1.public.customers', partition: 0, committed: '5', position: '9', lag: 4 },
        { topic: 'dbserver1.public.customers', partition: 1, committed: '7', position: '7', lag: 0 },
      ],
      lagMs: { source: { count: 5, p50: 20, p99: 150, p999: 250, max: 300 }, kafka: { count: 0, p50: 0, p99: 0, p999: 0, max: 0 } },
    });
    const registry = new Registry();
    const collector = createPrometheusCollector({ stats: () => current }, { registry });
    let text = await registry.metrics();
    expect(text).toContain('cdc_cache_events_consumed_total 10');
    expect(text).toContain('cdc_cache_events_applied_total 7');
    expect(text).toContain('cdc_cache_redis_cluster_moved_total 5');
    expect(text).toContain('cdc_cache_redis_cluster_asked_total 1');
    expect(text).toContain('cdc_cache_redis_cluster_slot_map_refreshes_total 2');
    expect(text).toContain('cdc_cache_events_skipped_total{reason="tombstone"} 2');
    expect(text).toContain('cdc_cache_events_skipped_total{reason="heartbeat"} 1');
    expect(text).toContain('cdc_cache_events_skipped_total{reason="schema_change"} 0');
    expect(text).toContain('cdc_cache_events_dead_lettered_total 1');
    expect(text).toContain('cdc_cache_keys_deleted_total 12');
    expect(text).toContain('cdc_cache_redis_errors_total 2');
    expect(text).toContain('cdc_cache_consumer_lag{topic="dbserver1.public.customers",partition="0"} 4');
    expect(text).toContain('cdc_cache_consumer_lag{topic="dbserver1.public.customers",partition="1"} 0');
    expect(text).toContain('cdc_cache_end_to_end_lag_seconds{from="source",quantile="0.99"} 0.15');
    expect(text).toContain('cdc_cache_end_to_end_lag_seconds{from="source",quantile="0.999"} 0.25');
    expect(text).toContain('cdc_cache_end_to_end_lag_seconds{from="source",quantile="1"} 0.3');
    expect(text).not.toMatch(/^cdc_cache_end_to_end_lag_seconds\{from="kafka"/m);
    expect(text).toContain('cdc_cache_healthy 1');
    expect(text).toMatch(/# TYPE cdc_cache_events_consumed_total counter/);

    // A later scrape reflects the new snapshot; revoked partitions disappear.
    await new Promise((r) => setTimeout(r, 300));
    current = stats({ consumed: 25, partitions: [], healthy: false });
    text = await registry.metrics();
    expect(text).toContain('cdc_cache_events_consumed_total 25');
    expect(text).not.toContain('partition="0"');
    expect(text).toContain('cdc_cache_healthy 0');

    collector.unregister();
    expect(await registry.metrics()).not.toContain('cdc_cache_');
  });

  it('supports a prefix and constant labels', async () => {
    const registry = new Registry();
    createPrometheusCollector({ stats: () => stats({ consumed: 3 }) }, { registry, prefix: 'svc_cdc_', labels: { service: 'invoices' } });
    const text = await registry.metrics();
    expect(text).toContain('svc_cdc_events_consumed_total{service="invoices"} 3');
    expect(text).toContain('svc_cdc_events_skipped_total{service="invoices",reason="no_rule"} 0');
  });

  it('takes one stats snapshot per scrape', async () => {
    const registry = new Registry();
    const source = { stats: jest.fn(() => stats()) };
    createPrometheusCollector(source, { registry });
    await registry.metrics();
    expect(source.stats).toHaveBeenCalledTimes(1);
  });
});

describe('createPrometheusCollector: the read side', () => {
  it('exposes getOrLoad, lease and consistency-probe counters', async () => {
    const snapshot = stats({
      read: { hits: 90, misses: 10, loads: 12, fills: 8, leaseWaits: 3, waitTimeouts: 1, coalesced: 5, redisErrors: 2, roundTrips: 40, connected: true, probesInFlight: 0 },
      consistency: { checked: 7, stale: 1, fillsRefused: 2, leaseWaits: 3, coalesced: 5 },
    });
    const registry = new Registry();
    createPrometheusCollector({ stats: () => snapshot }, { registry });
    const text = await registry.metrics();
    expect(text).toContain('cdc_cache_read_hits_total 90');
    expect(text).toContain('cdc_cache_read_misses_total 10');
    expect(text).toContain('cdc_cache_read_loads_total 12');
    expect(text).toContain('cdc_cache_read_fills_total 8');
    expect(text).toContain('cdc_cache_read_redis_errors_total 2');
    expect(text).toContain('cdc_cache_read_wait_timeouts_total 1');
    expect(text).toContain('cdc_cache_lease_fills_refused_total 2');
    expect(text).toContain('cdc_cache_lease_waits_total 3');
    expect(text).toContain('cdc_cache_read_coalesced_total 5');
    expect(text).toContain('cdc_cache_consistency_checked_total 7');
    expect(text).toContain('cdc_cache_consistency_stale_total 1');
  });
});

describe('createPrometheusCollector: application messages', () => {
  it('exposes per-topic message outcomes and lag', async () => {
    const registry = new Registry();
    const messages = { 'users.created': { consumed: 5, handled: 3, duplicates: 2, retried: 1, deadLettered: 0, lag: 4 } };
    createPrometheusCollector({ stats: () => stats({ messages }) }, { registry });
    const text = await registry.metrics();
    expect(text).toContain('cdc_cache_messages_total{topic="users.created",outcome="consumed"} 5');
    expect(text).toContain('cdc_cache_messages_total{topic="users.created",outcome="duplicate"} 2');
    expect(text).toContain('cdc_cache_messages_total{topic="users.created",outcome="retried"} 1');
    expect(text).toContain('cdc_cache_messages_lag{topic="users.created"} 4');
  });
});
