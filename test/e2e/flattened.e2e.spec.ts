// Debezium's ExtractNewRecordState with delete.tombstone.handling.mode=tombstone, for real: a
// row's delete reaches Kafka only as a tombstone keyed by its primary key (issue 10, item 3).
// The connector (scripts/infra-lib/connectors/flat-postgres.json) and its table are set up here
// when missing, on the shared Kafka Connect.
import { randomInt, randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import { Client } from 'pg';
import { registerConnector, waitUntil } from './connectors';
import { infraEnv, positioned } from './infra';
import { createInvalidator, type Invalidator } from '../../lib';

const infra = infraEnv();
const TOPIC = 'flat1.public.flat_orders';

describe('tombstone-only deletes from a real ExtractNewRecordState connector', () => {
  const run = randomUUID().slice(0, 8);
  const id = 1_000_000 + randomInt(1_000_000);
  let pg: Client;
  let redis: Redis;
  let invalidator: Invalidator;

  beforeAll(async () => {
    pg = new Client({ connectionString: infra.PG_URL });
    await pg.connect();
    await pg.query('CREATE TABLE IF NOT EXISTS flat_orders (id integer PRIMARY KEY, amount numeric(12,2), placed date)');
    await registerConnector('flat-postgres');
    redis = new Redis(infra.REDIS_URL);
    // The topic exists once the connector wrote to it.
    await pg.query('INSERT INTO flat_orders (id, amount, placed) VALUES ($1, 10.50, $2)', [id - 1, '2026-12-01']);
    const admin = new Kafka({ brokers: [infra.KAFKA_BROKERS], clientId: 'e2e-flat', logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await waitUntil('the flattened topic', async () => (await admin.listTopics()).includes(TOPIC));
    await admin.disconnect();
    invalidator = createInvalidator({
      kafka: { brokers: infra.KAFKA_BROKERS, groupId: `cdc-cache-e2e-flat-${run}`, topics: [TOPIC], config: { 'auto.offset.reset': 'latest' } },
      redis: { url: infra.REDIS_URL },
      rules: [{ source: 'public.flat_orders', invalidate: [`flat.${run}:{id}`] }],
    });
    await invalidator.start();
    await waitUntil('the partitions to be assigned and positioned', async () => positioned(invalidator.stats(), TOPIC));
  });

  afterAll(async () => {
    await invalidator?.stop();
    await pg?.end();
    redis?.disconnect();
  });

  it('a delete that is only a tombstone deletes the row key', async () => {
    await pg.query('INSERT INTO flat_orders (id, amount, placed) VALUES ($1, 10000.00, $2)', [id, '2026-12-01']);
    await waitUntil('the insert', async () => invalidator.stats().applied >= 1);
    await redis.set(`flat.${run}:${id}`, 'cached');
    await pg.query('DELETE FROM flat_orders WHERE id = $1', [id]);
    await waitUntil('the tombstone to delete the key', async () => (await redis.exists(`flat.${run}:${id}`)) === 0);
    await waitUntil('the stats to count it', async () => invalidator.stats().tombstoneDeletes >= 1, 5_000);  // snapshots every 100 ms
  });
});
