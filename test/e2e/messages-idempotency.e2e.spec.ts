// Idempotent consumption on the real broker, Redis and PostgreSQL: duplicate sends, a consumer
// SIGKILLed between its handler and its commit (the replay skips what was recorded; PostgreSQL
// never applies twice), and re-emitted Debezium change events seen once by an onChange handler.
import { fork, type ChildProcess } from 'child_process';
import { join } from 'path';

import Redis from 'ioredis';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { Pool } from 'pg';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { ensureBuiltLib } = require('../chaos/built-lib') as { ensureBuiltLib: () => void };
import { createInvalidator, type ChangeEvent, type Invalidator } from '../../lib';
import { infraEnv, uniqueSuffix } from './infra';

const infra = infraEnv();
const suffix = uniqueSuffix().replace(/-/g, '_');
const topic = (name: string) => `e2e-idem-${name}-${suffix}`;
const TOPICS = ['dup-redis', 'dup-pg', 'kill-redis', 'kill-pg', 'changes'].map(topic);
const PREFIX = `e2e-idem:${suffix}:`;
const PROCESSED = `e2e_processed_${suffix}`;
const EFFECTS = `e2e_effects_${suffix}`;
const kafka = new Kafka({ clientId: 'cdc-cache-e2e-idem', brokers: infra.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
let admin: Admin;
let redis: Redis;
let pool: Pool;
const running: Invalidator[] = [];
const children: ChildProcess[] = [];

beforeAll(async () => {
  ensureBuiltLib();
  admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: TOPICS.map((t) => ({ topic: t, numPartitions: 1 })) });
  redis = new Redis(infra.REDIS_URL);
  pool = new Pool({ connectionString: infra.PG_URL });
  await pool.query(`CREATE TABLE ${EFFECTS} (id text PRIMARY KEY, applied int NOT NULL)`);
});

afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  await Promise.all(running.map((i) => i.stop()));
  await admin?.deleteTopics({ topics: TOPICS }).catch(() => {});
  await admin?.disconnect();
  const keys = await redis.keys(`${PREFIX}*`);
  if (keys.length > 0) await redis.del(...keys);
  redis?.disconnect();
  await pool?.query(`DROP TABLE IF EXISTS ${EFFECTS}, ${PROCESSED}`);
  await pool?.end();
});

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function consumer(groupId: string, topics?: string[]): Invalidator {
  const invalidator = createInvalidator({
    kafka: { brokers: infra.KAFKA_BROKERS, groupId: `${groupId}-${suffix}`, ...(topics ? { topics } : {}) },
    redis: { url: infra.REDIS_URL },
    rules: [],
    logger: quiet,
  });
  running.push(invalidator);
  return invalidator;
}

async function effectsOf(ids: string[]): Promise<Map<string, number>> {
  const { rows } = await pool.query(`SELECT id, applied FROM ${EFFECTS} WHERE id = ANY($1)`, [ids]);
  return new Map(rows.map((r: { id: string; applied: number }) => [r.id, r.applied]));
}

describe('duplicate sends with the same id', () => {
  it('redis store: one effect, the duplicate counted', async () => {
    const t = topic('dup-redis');
    const invalidator = consumer('dup-redis');
    const effects: string[] = [];
    invalidator.onMessage(t, async (messages) => void effects.push(...messages.map((m) => m.id)), {
      idempotency: { store: 'redis', ttlSeconds: 600, keyPrefix: PREFIX },
    });
    await invalidator.start();
    await invalidator.publish(t, [{ key: 'u', value: { name: 'Ada' }, idempotencyKey: 'req-1' }]);
    await invalidator.publish(t, [{ key: 'u', value: { name: 'Ada' }, idempotencyKey: 'req-1' }]);  // the client retried
    await invalidator.publish(t, [{ key: 'u', value: { name: 'Bob' }, idempotencyKey: 'req-2' }]);
    await until(() => effects.includes('req-2'), 'the last message');
    expect(effects).toEqual(['req-1', 'req-2']);
    expect(invalidator.messageStats()[t]).toMatchObject({ consumed: 3, handled: 2, duplicates: 1 });
  });

  it('postgres store: one row, the duplicate counted, in the handler\'s transaction', async () => {
    const t = topic('dup-pg');
    const invalidator = consumer('dup-pg');
    invalidator.onMessage(
      t,
      async (messages, { tx }) => {
        for (const m of messages) {
          await tx!.query(`INSERT INTO ${EFFECTS} (id, applied) VALUES ($1, 1) ON CONFLICT (id) DO UPDATE SET applied = ${EFFECTS}.applied + 1`, [m.id]);
        }
      },
      { idempotency: { store: 'postgres', pool, table: PROCESSED } },
    );
    await invalidator.start();
    const id = `pg-${suffix}`;
    await invalidator.publish(t, [{ key: 'u', value: 1, idempotencyKey: id }]);
    await invalidator.publish(t, [{ key: 'u', value: 1, idempotencyKey: id }]);
    await invalidator.publish(t, [{ key: 'u', value: 2, idempotencyKey: `${id}-b` }]);
    await until(() => invalidator.messageStats()[t]?.consumed === 3, 'three messages');
    expect(await effectsOf([id, `${id}-b`])).toEqual(new Map([[id, 1], [`${id}-b`, 1]]));
    expect(invalidator.messageStats()[t]).toMatchObject({ handled: 2, duplicates: 1 });
  });
});

describe('a consumer SIGKILLed between its handler and its commit', () => {
  function worker(store: 'redis' | 'postgres', t: string): { child: ChildProcess; handled: string[]; ready: Promise<void>; result: Promise<{ stats: Record<string, number> }> } {
    const config = {
      brokers: infra.KAFKA_BROKERS, redisUrl: infra.REDIS_URL, pgUrl: infra.PG_URL, topic: t, groupId: `kill-${store}-${suffix}`,
      store, prefix: PREFIX, processedTable: PROCESSED, effectsTable: EFFECTS,
    };
    const child = fork(join(__dirname, 'message-worker.js'), [JSON.stringify(config)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    children.push(child);
    const handled: string[] = [];
    let resolveResult: (value: { stats: Record<string, number> }) => void = () => {};
    const result = new Promise<{ stats: Record<string, number> }>((resolve) => (resolveResult = resolve));
    const ready = new Promise<void>((resolve) => {
      child.on('message', (message: { ready?: boolean; handled?: string[]; stopped?: boolean; stats?: Record<string, number> }) => {
        if (message.ready) resolve();
        if (message.handled) handled.push(...message.handled);
        if (message.stopped) resolveResult({ stats: message.stats ?? {} });
      });
    });
    return { child, handled, ready, result };
  }

  async function killAndReplay(store: 'redis' | 'postgres', recorded: (ids: string[]) => Promise<boolean>) {
    const t = topic(`kill-${store === 'redis' ? 'redis' : 'pg'}`);
    const ids = Array.from({ length: 10 }, (_, i) => `${store}-${suffix}-${i}`);
    const producer = consumer(`kill-${store}-producer`);
    await producer.publish(t, ids.map((id) => ({ key: 'same-partition', value: { id }, idempotencyKey: id })));

    const first = worker(store, t);
    await first.ready;
    await until(() => first.handled.length === ids.length, 'the first consumer to handle every message');
    await until(() => recorded(ids), 'the ids to be recorded');
    first.child.kill('SIGKILL');  // nothing was committed: commitIntervalMs is an hour
    await new Promise((resolve) => first.child.once('exit', resolve));

    const second = worker(store, t);
    await second.ready;
    // One new message after the replayed ones: once it is handled, the replay is behind it.
    await producer.publish(t, [{ key: 'same-partition', value: { id: 'last' }, idempotencyKey: `${store}-${suffix}-last` }]);
    await until(() => second.handled.includes(`${store}-${suffix}-last`), 'the message after the replay');
    second.child.send({ stop: true });
    const { stats } = await second.result;
    expect(second.handled).toEqual([`${store}-${suffix}-last`]);  // the replayed ids were skipped
    expect(stats).toMatchObject({ consumed: ids.length + 1, duplicates: ids.length, handled: 1 });
    return ids;
  }

  it('redis store: the replay skips every recorded id', async () => {
    const ids = await killAndReplay('redis', async (all) => (await redis.exists(...all.map((id) => PREFIX + id))) === all.length);
    const counts = await redis.mget(...ids.map((id) => `${PREFIX}effect:${id}`));
    expect(counts).toEqual(ids.map(() => '1'));
  });

  it('postgres store: nothing is ever applied twice (checked in the database)', async () => {
    const ids = await killAndReplay('postgres', async (all) => (await effectsOf(all)).size === all.length);
    const effects = await effectsOf(ids);
    expect([...effects.values()]).toEqual(ids.map(() => 1));
    const { rows } = await pool.query(`SELECT count(*)::int AS n FROM ${PROCESSED} WHERE id = ANY($1)`, [ids]);
    expect(rows[0].n).toBe(ids.length);
  });
});

describe('@OnChange with idempotency', () => {
  // A Kafka Connect restart re-emits changes at new offsets. The shared Connect is never
  // restarted here: real Debezium envelopes from dbserver1.public.customers are copied twice, in
  // order, to a new topic, which is what the consumer sees after such a restart.
  it('sees each change once when the same envelopes arrive again at new offsets', async () => {
    const source = kafka.consumer({ groupId: `e2e-idem-copy-${suffix}` });
    const envelopes: Array<{ key: Buffer | null; value: Buffer | null }> = [];
    await source.connect();
    await source.subscribe({ topic: 'dbserver1.public.customers', fromBeginning: true });
    await source.run({
      eachMessage: async ({ message }) => {
        if (envelopes.length < 5 && message.value) envelopes.push({ key: message.key, value: message.value });
      },
    });
    await until(() => envelopes.length >= 5, 'five change events to copy');
    await source.disconnect();
    const t = topic('changes');
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: t, messages: envelopes });
    await producer.send({ topic: t, messages: envelopes });  // re-emitted after the "restart"
    await producer.disconnect();

    const invalidator = consumer('changes', [t]);
    const seen: ChangeEvent[] = [];
    invalidator.onChange('public.customers', async (events) => void seen.push(...events), {
      idempotency: { store: 'redis', ttlSeconds: 600, keyPrefix: `${PREFIX}change:` },
    });
    await invalidator.start();
    await until(() => (invalidator.messageStats()[t]?.consumed ?? 0) >= 10, 'both copies');
    expect(seen).toHaveLength(5);
    expect(new Set(seen.map((e) => e.offset)).size).toBe(5);
    expect(seen.every((e) => BigInt(e.offset) < 5n)).toBe(true);  // the first copies; the second were skipped
    expect(invalidator.messageStats()[t]).toMatchObject({ consumed: 10, handled: 5, duplicates: 5 });
  });
});
