// Invalidation and getOrLoad on a real Redis Cluster (three masters, scripts/infra): real Debezium
// changes delete keys on every master; the read path's leases work in every slot.
import { randomInt, randomUUID } from 'node:crypto';
import type { Cluster } from 'ioredis';
import { Client } from 'pg';
import { infraEnv } from './infra';
import { CLUSTER_NODES, RowWriter, clusterClient, clusterNodes, settledStats, waitUntil } from './redis-cluster-helpers';
import { createInvalidator, type Invalidator } from '../../lib';

const infra = infraEnv();
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

describe('Redis Cluster: invalidation across every master', () => {
  const run = randomUUID().slice(0, 8);
  const prefix = `clu-${run}:`;
  const firstId = 3_000_000 + randomInt(1_000_000) * 100;
  const ids = Array.from({ length: 60 }, (_, i) => firstId + i);
  let pg: Client;
  let cluster: Cluster;
  let invalidator: Invalidator;

  beforeAll(async () => {
    pg = new Client({ connectionString: infra.PG_URL });
    await pg.connect();
    cluster = clusterClient();
    invalidator = createInvalidator({
      kafka: {
        brokers: infra.KAFKA_BROKERS,
        groupId: `cdc-cache-e2e-cluster-${run}`,
        topics: ['dbserver1.public.customers'],
        config: { 'auto.offset.reset': 'latest' },
      },
      redis: { cluster: { nodes: CLUSTER_NODES.slice(0, 2) } },
      keyPrefix: prefix,
      rules: [{ source: 'public.customers', invalidate: ['customer:{id}', 'customer:{id}:profile', '{{customer:{id}}}:orders'] }],
      logger: quiet,
    });
    await invalidator.start();
  });

  afterAll(async () => {
    await invalidator?.stop();
    await pg?.query('DELETE FROM customers WHERE id >= $1 AND id < $2', [firstId, firstId + 100]).catch(() => undefined);
    await pg?.end();
    cluster?.disconnect();
  });

  const keysOf = (id: number) => [`${prefix}customer:${id}`, `${prefix}customer:${id}:profile`, `${prefix}{customer:${id}}:orders`];

  it('deletes the keys of every changed row, on all three masters', async () => {
    const writer = new RowWriter(pg, cluster, ids, (id) => `${prefix}customer:${id}`);
    await writer.insert();
    await writer.warmUp();
    const baseline = await settledStats(invalidator);
    const keys = ids.flatMap(keysOf);
    for (const key of keys) await cluster.set(key, 'stale');
    const masters = (await clusterNodes()).filter((n) => n.master && n.slots > 0);
    const perMaster = await Promise.all(masters.map(async (m) => {
      const node = cluster.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === m.address);
      return node ? node.dbsize() : 0;
    }));
    expect(perMaster.filter((n) => n > 0).length).toBe(3);  // the keys really live on every master

    await writer.update();
    await waitUntil('every key to be deleted', async () => {
      const left = await Promise.all(keys.map((key) => cluster.exists(key)));
      return left.every((n) => n === 0);
    });
    const stats = await settledStats(invalidator);
    expect(stats.deadLettered - baseline.deadLettered).toBe(0);
    expect(stats.keysDeleted - baseline.keysDeleted).toBe(keys.length);
    expect(stats.redis.roundTrips).toBeGreaterThan(0);
    expect(stats.redis.slotMapRefreshes).toBeGreaterThanOrEqual(1);  // read at connect
    expect(stats.redis.moved).toBe(0);  // a stable cluster: every command went to its master at once
  });

  it('invalidate() deletes keys of many slots in one call', async () => {
    const keys = Array.from({ length: 500 }, (_, i) => `manual:${i}`);
    for (const key of keys) await cluster.set(prefix + key, 'stale');
    expect(await invalidator.invalidate(keys)).toBe(500);
    const left = await Promise.all(keys.map((key) => cluster.exists(prefix + key)));
    expect(left.every((n) => n === 0)).toBe(true);
  });

  it('getOrLoad takes leases, fills and refuses fills in every slot', async () => {
    const reader = createInvalidator({
      kafka: { brokers: infra.KAFKA_BROKERS, groupId: `cluster-read-${run}`, topics: ['unused'] },
      redis: { cluster: { nodes: [CLUSTER_NODES[2]] } },
      keyPrefix: `${prefix}read:`,
      logger: quiet,
    });
    try {
      const names = Array.from({ length: 40 }, (_, i) => `item:${i}`);
      let loads = 0;
      const values = await Promise.all(names.map((name) => reader.getOrLoad(name, async () => ({ name, load: ++loads }))));
      expect(values.map((v) => v.name)).toEqual(names);
      expect(loads).toBe(40);
      // Hits now, from whichever master holds each key.
      const again = await Promise.all(names.map((name) => reader.getOrLoad(name, async () => ({ name, load: ++loads }))));
      expect(again).toEqual(values);
      expect(loads).toBe(40);
      const slots = new Set(await Promise.all(names.map((n) => cluster.call('CLUSTER', 'KEYSLOT', `${prefix}read:${n}`))));
      expect(slots.size).toBeGreaterThan(30);

      // A fill that races with an invalidation is refused, in a slot of another master too.
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const racing = reader.getOrLoad('raced', async () => {
        await gate;
        return 'old';
      });
      await waitUntil('the lease to be taken', async () => (await cluster.exists(`${prefix}read:raced`)) === 1);
      await invalidator.invalidate(['read:raced']);
      release();
      expect(await racing).toBe('old');  // the caller gets its value...
      expect(await cluster.exists(`${prefix}read:raced`)).toBe(0);  // ...but it is not cached
      expect(reader.stats().read.redisErrors).toBe(0);
    } finally {
      await reader.stop();
    }
  });
});
