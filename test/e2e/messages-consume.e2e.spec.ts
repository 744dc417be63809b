// onMessage(): application topics consumed by the native engine on the real broker: batches per
// partition in order, exact 64-bit integers, ids, retries keeping order, dead letters, and a
// consumer with only message handlers (no kafka.topics).
import { Kafka, logLevel, type Admin } from 'kafkajs';

import { createInvalidator, type Invalidator, type Message } from '../../lib';
import { infraEnv, uniqueSuffix } from './infra';

const infra = infraEnv();
const suffix = uniqueSuffix();
const TOPIC = `e2e-msg-${suffix}`;
const RETRY_TOPIC = `e2e-msg-retry-${suffix}`;
const BAD_TOPIC = `e2e-msg-bad-${suffix}`;
const DLQ = `e2e-msg-dlq-${suffix}`;
const kafka = new Kafka({ clientId: 'cdc-cache-e2e-msg', brokers: infra.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
let admin: Admin;
const running: Invalidator[] = [];

beforeAll(async () => {
  admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      { topic: TOPIC, numPartitions: 2 },
      { topic: RETRY_TOPIC, numPartitions: 2 },
      { topic: BAD_TOPIC, numPartitions: 1 },
      { topic: DLQ, numPartitions: 1 },
    ],
  });
});

afterAll(async () => {
  await Promise.all(running.map((i) => i.stop()));
  await admin?.deleteTopics({ topics: [TOPIC, RETRY_TOPIC, BAD_TOPIC, DLQ] }).catch(() => {});
  await admin?.disconnect();
});

function consumer(name: string, extra: Record<string, unknown> = {}): Invalidator {
  const invalidator = createInvalidator({
    kafka: { brokers: infra.KAFKA_BROKERS, groupId: `e2e-msg-${name}-${suffix}` },
    redis: { url: infra.REDIS_URL },
    rules: [],
    handlers: { attempts: 3, retryDelayMs: 20, maxBatchSize: 50 },
    logger: quiet,
    ...extra,
  });
  running.push(invalidator);
  return invalidator;
}

async function until(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

interface UserCreated {
  n: number;
  big: string | number;
  huge: string | number;
  name: string;
}

describe('onMessage()', () => {
  it('hands typed batches per partition in order, with exact 64-bit integers, headers and ids, without kafka.topics', async () => {
    const producer = consumer('producer');
    const count = 40;
    const sent = await producer.publish(
      TOPIC,
      Array.from({ length: count }, (_, n) => ({
        key: `user-${n % 7}`,
        value: `{"n":${n},"big":9007199254740993,"huge":123456789012345678901234567890,"name":"u${n}"}`,
        headers: { origin: 'e2e' },
        ...(n % 2 === 0 ? { idempotencyKey: `req-${n}` } : {}),
      })),
    );
    const invalidator = consumer('order');
    const seen: Array<Message<UserCreated>> = [];
    let concurrentSamePartition = false;
    const inFlight = new Set<number>();
    invalidator.onMessage<UserCreated>(TOPIC, async (messages) => {
      const partition = messages[0].partition;
      if (inFlight.has(partition)) concurrentSamePartition = true;
      inFlight.add(partition);
      expect(messages.every((m) => m.partition === partition)).toBe(true);
      await new Promise((r) => setTimeout(r, 5));
      seen.push(...messages);
      inFlight.delete(partition);
    });
    await invalidator.start();
    await until(() => seen.length >= count, `${count} messages`);

    expect(seen).toHaveLength(count);
    expect(concurrentSamePartition).toBe(false);
    for (const partition of [0, 1]) {
      const offsets = seen.filter((m) => m.partition === partition).map((m) => BigInt(m.offset));
      expect(offsets).toEqual([...offsets].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    for (const m of seen) {
      expect(m.value.big).toBe('9007199254740993');  // never rounded to ...992
      expect(m.value.huge).toBe('123456789012345678901234567890');  // beyond 64 bits: still JSON, not a dead letter
      expect(m.headers.origin).toBe('e2e');
      const n = m.value.n;
      expect(m.key).toBe(`user-${n % 7}`);
      expect(m.partition).toBe(sent[n].partition);
      expect(m.offset).toBe(sent[n].offset);
      expect(m.id).toBe(n % 2 === 0 ? `req-${n}` : `${TOPIC}/${m.partition}/${m.offset}`);
    }
    await until(() => invalidator.messageStats()[TOPIC]?.lag === 0 && invalidator.stats().partitions.every((p) => p.committed !== '-1' || p.lag === 0), 'commits');
    expect(invalidator.messageStats()[TOPIC]).toMatchObject({ consumed: count, handled: count, duplicates: 0, retried: 0, deadLettered: 0, lag: 0 });
  });

  it('retries a failed batch before the next batch of its partition, keeping order', async () => {
    const producer = consumer('retry-producer');
    const count = 30;
    await producer.publish(RETRY_TOPIC, Array.from({ length: count }, (_, n) => ({ key: `k${n % 5}`, value: { n } })));
    const invalidator = consumer('retry');
    const handled: Array<Message<{ n: number }>> = [];
    const failedOnce = new Set<number>();
    invalidator.onMessage<{ n: number }>(RETRY_TOPIC, async (messages) => {
      // Each batch holding a multiple of 4 fails once (its first attempt), then succeeds.
      const poisoned = messages.filter((m) => m.value.n % 4 === 0 && !failedOnce.has(m.value.n));
      if (poisoned.length > 0) {
        for (const m of poisoned) failedOnce.add(m.value.n);
        throw new Error(`transient failure at ${poisoned[0].value.n}`);
      }
      handled.push(...messages);
    });
    await invalidator.start();
    await until(() => handled.length >= count, `${count} messages`);
    expect(handled).toHaveLength(count);
    for (const partition of [0, 1]) {
      const offsets = handled.filter((m) => m.partition === partition).map((m) => Number(m.offset));
      expect(offsets).toEqual([...new Set(offsets)].sort((a, b) => a - b));  // in order, each once
    }
    const stats = invalidator.messageStats()[RETRY_TOPIC];
    expect(stats.retried).toBeGreaterThan(0);
    expect(stats.handled).toBe(count);
    expect(stats.deadLettered).toBe(0);
  });

  it('dead-letters a batch that fails every attempt, and invalid JSON, with the reason', async () => {
    const invalidator = consumer('bad', { deadLetterTopic: DLQ });
    const handled: number[] = [];
    invalidator.onMessage<{ n: number; poison?: boolean }>(BAD_TOPIC, async (messages) => {
      if (messages.some((m) => m.value.poison)) throw new Error('poison message');
      handled.push(...messages.map((m) => m.value.n));
    });
    await invalidator.start();
    await invalidator.publish(BAD_TOPIC, [{ value: { n: 1 } }]);
    await until(() => handled.includes(1), 'the first message');
    await invalidator.publish(BAD_TOPIC, [{ value: { n: 2, poison: true } }]);
    await invalidator.publish(BAD_TOPIC, [{ value: '{"n": 3,' }]);  // not JSON
    await invalidator.publish(BAD_TOPIC, [{ value: { n: 4 } }]);
    await until(() => handled.includes(4), 'the message after the bad ones');

    const reasons: string[] = [];
    const reader = kafka.consumer({ groupId: `e2e-msg-dlq-reader-${suffix}` });
    await reader.connect();
    await reader.subscribe({ topic: DLQ, fromBeginning: true });
    await reader.run({ eachMessage: async ({ message }) => void reasons.push(message.headers?.['cdc-cache-error']?.toString() ?? '') });
    await until(() => reasons.length >= 2, 'two dead letters');
    await reader.disconnect();
    expect(reasons.some((r) => r.includes('poison message'))).toBe(true);
    expect(reasons.some((r) => r.startsWith('decode: invalid JSON'))).toBe(true);
    expect(handled).toEqual([1, 4]);
    expect(invalidator.messageStats()[BAD_TOPIC]).toMatchObject({ deadLettered: 1, handled: 2 });
  });

  it('fails start() naming kafka when there is neither a topic nor a message handler', async () => {
    const invalidator = consumer('none');
    await expect(invalidator.start()).rejects.toThrow('kafka: expected exactly one of topics or topicPattern, got neither');
  });
});
