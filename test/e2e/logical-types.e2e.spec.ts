// Connect logical types for real (issue 10, item 7): Debezium's defaults (decimal.handling.mode=
// precise, time.precision.mode=adaptive) with JsonConverter schemas send a NUMERIC primary key as
// base64 bytes and a date as epoch days. Keys and refreshed values must read as the application's:
// `order:10000`, "price":"12.50", "placed":"2026-12-01". The connector
// (scripts/infra-lib/connectors/logical-postgres.json) and its table are set up here when missing.
import { randomInt, randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import { Client } from 'pg';
import { registerConnector, waitUntil } from './connectors';
import { infraEnv } from './infra';
import { createInvalidator, type Invalidator } from '../../lib';

const infra = infraEnv();
const TOPIC = 'logical1.public.logical_orders';
const ID = '10000';

describe('Connect logical types from a real Debezium connector', () => {
  const prefix = `e2e-logical-${randomUUID().slice(0, 8)}:`;
  const warmUpId = `${1_000_000 + randomInt(1_000_000)}.25`;
  let pg: Client;
  let redis: Redis;
  let invalidator: Invalidator;
  const rowKey = `${prefix}order:${ID}:row`;
  const orderKey = `${prefix}order:${ID}`;

  beforeAll(async () => {
    pg = new Client({ connectionString: infra.PG_URL });
    await pg.connect();
    await pg.query(
      'CREATE TABLE IF NOT EXISTS logical_orders (id numeric PRIMARY KEY, price numeric(12,2), placed date,' +
        ' placed_at timestamp, placed_at_tz timestamptz, ready_by time, ref uuid, details json, meta jsonb,' +
        ' placed_ms timestamp(3), ready_ms time(3))',
    );
    await pg.query('ALTER TABLE logical_orders REPLICA IDENTITY FULL');
    await pg.query('DELETE FROM logical_orders WHERE id = $1', [ID]);  // left by an earlier run
    await registerConnector('logical-postgres');
    await pg.query('INSERT INTO logical_orders (id) VALUES ($1)', [warmUpId]);  // the topic exists once written to
    const admin = new Kafka({ brokers: [infra.KAFKA_BROKERS], clientId: 'e2e-logical', logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await waitUntil('the logical-types topic', async () => (await admin.listTopics()).includes(TOPIC));
    await admin.disconnect();
    redis = new Redis(infra.REDIS_URL);
    invalidator = createInvalidator({
      // From the start of the topic: every run's rows are replayed under their own run's prefix.
      kafka: { brokers: infra.KAFKA_BROKERS, groupId: `cdc-cache-${prefix.slice(0, -1)}`, topics: [TOPIC], config: { 'auto.offset.reset': 'earliest' } },
      redis: { url: infra.REDIS_URL },
      keyPrefix: prefix,
      rules: [{ source: 'public.logical_orders', invalidate: ['order:{id}'], refresh: { key: 'order:{id}:row' } }],
    });
    await invalidator.start();
    // Caught up with the topic once this run's first row is cached.
    await waitUntil('the warm-up row', async () => (await redis.exists(`${prefix}order:${warmUpId}:row`)) === 1);
  });

  afterAll(async () => {
    await invalidator?.stop();
    await pg?.query('DELETE FROM logical_orders WHERE id = ANY($1)', [[ID, warmUpId]]);
    await pg?.end();
    if (redis) {
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    }
  });

  it('an insert deletes order:10000 and caches the row as PostgreSQL prints it', async () => {
    await redis.set(orderKey, 'cached');
    await pg.query(
      'INSERT INTO logical_orders (id, price, placed, placed_at, ready_by, ref, details) VALUES' +
        " ($1, 12.50, '2026-12-01', '2026-12-01 10:11:12.123456', '10:11:12', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{\"a\": 1}')",
      [ID],
    );
    await waitUntil('order:10000 to be deleted', async () => (await redis.exists(orderKey)) === 0);
    await waitUntil('the refreshed row', async () => (await redis.exists(rowKey)) === 1);
    expect(JSON.parse((await redis.get(rowKey)) as string)).toEqual({
      id: '10000', price: '12.50', placed: '2026-12-01', placed_at: '2026-12-01 10:11:12.123456', placed_at_tz: null,
      ready_by: '10:11:12', ref: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', details: { a: 1 }, meta: null,
      placed_ms: null, ready_ms: null,
    });
    const { rows } = await pg.query('SELECT id::text, price::text, placed::text, placed_at::text FROM logical_orders WHERE id = $1', [ID]);
    expect(rows[0]).toEqual({ id: '10000', price: '12.50', placed: '2026-12-01', placed_at: '2026-12-01 10:11:12.123456' });
  });

  it('an update refreshes the new price; a delete removes both keys', async () => {
    await pg.query('UPDATE logical_orders SET price = 13.05 WHERE id = $1', [ID]);
    await waitUntil('the refreshed price', async () => (await redis.get(rowKey))?.includes('"price":"13.05"') ?? false);
    await redis.set(orderKey, 'cached');
    await pg.query('DELETE FROM logical_orders WHERE id = $1', [ID]);
    await waitUntil('both keys to be deleted', async () => (await redis.exists(orderKey, rowKey)) === 0);
  });
});
