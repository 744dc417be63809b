// End to end on the real pipe: PostgreSQL -> Debezium -> Kafka -> cdc-cache -> Redis.
import { randomInt, randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import { Client } from 'pg';
import { infraEnv } from './infra';
import { createInvalidator, type ChangeEvent, type Invalidator } from '../../lib';

const infra = infraEnv();
const env = (name: keyof typeof infra): string => infra[name];

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('cdc-cache on real PostgreSQL, Debezium, Kafka and Redis', () => {
  const run = randomUUID().slice(0, 8);
  const deadLetterTopic = `cdc-cache.e2e.dead-letter.${run}`;
  const id = 2_000_000 + randomInt(1_000_000);
  const oldEmail = `old.${run}@example.com`;
  const newEmail = `new.${run}@example.com`;
  const seen: ChangeEvent[] = [];
  let pg: Client;
  let redis: Redis;
  let invalidator: Invalidator;

  const exists = async (...keys: string[]) => redis.exists(...keys);
  const fill = async (...keys: string[]) => {
    for (const key of keys) await redis.set(key, 'stale');
  };

  beforeAll(async () => {
    pg = new Client({ connectionString: env('PG_URL') });
    await pg.connect();
    redis = new Redis(env('REDIS_URL'));
    invalidator = createInvalidator({
      kafka: {
        brokers: env('KAFKA_BROKERS'),
        groupId: `cdc-cache-e2e-${run}`,
        topics: ['dbserver1.public.customers'],
        config: { 'auto.offset.reset': 'earliest' },
      },
      redis: { url: env('REDIS_URL') },
      rules: [{ source: 'public.customers', invalidate: ['customer:{id}', 'customer:email:{email}'] }],
      deadLetterTopic,
    });
    invalidator.onChange('public.customers', (events) => {
      seen.push(...events);
    });
    await invalidator.start();
  });

  afterAll(async () => {
    await invalidator?.stop();
    await pg?.end();
    redis?.disconnect();
  });

  it('an insert deletes the keys of the new row and no others', async () => {
    await fill(`customer:${id}`, `customer:email:${oldEmail}`, `customer:email:${newEmail}`);
    await pg.query(
      'INSERT INTO customers (id, first_name, last_name, email) OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4)',
      [id, 'Grace', 'Hopper', oldEmail],
    );
    await waitUntil('the insert to be applied', async () => (await exists(`customer:${id}`, `customer:email:${oldEmail}`)) === 0);
    expect(await exists(`customer:email:${newEmail}`)).toBe(1);
  });

  it("an email change deletes the row's key, the old email's key and the new one's", async () => {
    await fill(`customer:${id}`, `customer:email:${oldEmail}`, `customer:email:${newEmail}`);
    await pg.query('UPDATE customers SET email = $1 WHERE id = $2', [newEmail, id]);
    await waitUntil(
      'the update to be applied',
      async () => (await exists(`customer:${id}`, `customer:email:${oldEmail}`, `customer:email:${newEmail}`)) === 0,
    );
    const update = seen.find((e) => e.op === 'u' && (e.after as { id?: number } | null)?.id === id);
    expect(update).toBeDefined();
    expect((update!.before as { email: string }).email).toBe(oldEmail);
    expect((update!.after as { email: string }).email).toBe(newEmail);
    expect(update!.source.table).toBe('customers');
    expect(update!.topic).toBe('dbserver1.public.customers');
  });

  it('an undecodable message goes to the dead-letter topic with its reason, and the next change is applied', async () => {
    const kafka = new Kafka({ brokers: [env('KAFKA_BROKERS')], clientId: 'e2e', logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    const garbage = `{"payload": {"op": "u", "after": {"id": ${id}, truncated`;
    await producer.send({ topic: 'dbserver1.public.customers', messages: [{ key: `{"id":${id}}`, value: garbage }] });
    await producer.disconnect();

    await fill(`customer:${id}`);
    await pg.query('UPDATE customers SET last_name = $1 WHERE id = $2', ['Hopper-Murray', id]);
    await waitUntil('the change after the bad message to be applied', async () => (await exists(`customer:${id}`)) === 0);

    const admin = kafka.admin();
    await admin.connect();
    await waitUntil('the dead-letter topic to exist', async () => (await admin.listTopics()).includes(deadLetterTopic));
    await admin.disconnect();
    const consumer = kafka.consumer({ groupId: `e2e-dlt-reader-${run}` });
    await consumer.connect();
    await consumer.subscribe({ topic: deadLetterTopic, fromBeginning: true });
    // The group read the topic from the beginning: earlier runs' bad messages are dead-lettered too.
    const dead = await new Promise<{ value: string; headers: Record<string, string> }>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no matching dead letter within 60 s')), 60_000);
      void consumer.run({
        eachMessage: async ({ message }) => {
          if (message.value?.toString() !== garbage) return;
          clearTimeout(timer);
          const headers: Record<string, string> = {};
          for (const [name, value] of Object.entries(message.headers ?? {})) headers[name] = String(value);
          resolve({ value: message.value.toString(), headers });
        },
      });
    });
    await consumer.disconnect();

    expect(dead.value).toBe(garbage);
    expect(dead.headers['cdc-cache-error']).toMatch(/\S/);
    expect(dead.headers['cdc-cache-topic']).toBe('dbserver1.public.customers');
    expect(Number(dead.headers['cdc-cache-offset'])).toBeGreaterThanOrEqual(0);
  });

  it('a deleted row deletes its keys', async () => {
    await fill(`customer:${id}`, `customer:email:${newEmail}`);
    await pg.query('DELETE FROM customers WHERE id = $1', [id]);
    await waitUntil('the delete to be applied', async () => (await exists(`customer:${id}`, `customer:email:${newEmail}`)) === 0);
  });

  it('commits offsets and reports its counts', async () => {
    // stats() is a snapshot published every 100 ms: wait for it to include the last delete.
    await waitUntil('stats to include every delete', async () => invalidator.stats().keysDeleted >= 6);
    const stats = invalidator.stats();
    expect(stats.healthy).toBe(true);
    expect(stats.consumed).toBeGreaterThanOrEqual(4);
    expect(stats.keysDeleted).toBeGreaterThanOrEqual(6);
    const partitions = stats.partitions.filter((p) => p.topic === 'dbserver1.public.customers');
    expect(partitions.length).toBeGreaterThan(0);
  });
});
