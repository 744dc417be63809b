// publish(): the native idempotent producer against the real broker. Read back with KafkaJS, as
// another service would. (Broker failures during publishing are tested on librdkafka's mock
// cluster in test/native/app_producer_test.cc: the shared broker is never restarted.)
import { Kafka, logLevel, type Admin } from 'kafkajs';

import { createInvalidator, type Invalidator } from '../../lib';
import { MESSAGE_ID_HEADER } from '../../lib/producer';
import { infraEnv, uniqueSuffix } from './infra';

const infra = infraEnv();
const suffix = uniqueSuffix();
const TOPIC = `e2e-publish-${suffix}`;
const kafka = new Kafka({ clientId: 'cdc-cache-e2e-publish', brokers: infra.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
let admin: Admin;
let invalidator: Invalidator;

function quietLogger() {
  return { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
}

beforeAll(async () => {
  admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ waitForLeaders: true, topics: [{ topic: TOPIC, numPartitions: 3 }] });
  invalidator = createInvalidator({
    kafka: { brokers: infra.KAFKA_BROKERS, groupId: `e2e-publish-${suffix}`, topics: [TOPIC] },
    redis: { url: infra.REDIS_URL },
    rules: [],
    logger: quietLogger(),
  });
});

afterAll(async () => {
  await invalidator?.stop();
  await admin?.deleteTopics({ topics: [TOPIC] }).catch(() => {});
  await admin?.disconnect();
});

async function readAll(count: number) {
  const consumer = kafka.consumer({ groupId: `e2e-publish-reader-${suffix}` });
  await consumer.connect();
  await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
  const seen: Array<{ partition: number; offset: string; key: string; value: string; id?: string }> = [];
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`read ${seen.length} of ${count} messages`)), 30_000);
    void consumer.run({
      eachMessage: async ({ partition, message }) => {
        seen.push({
          partition,
          offset: message.offset,
          key: message.key?.toString() ?? '',
          value: message.value?.toString() ?? '',
          id: message.headers?.[MESSAGE_ID_HEADER]?.toString(),
        });
        if (seen.length >= count) {
          clearTimeout(timer);
          resolve();
        }
      },
    });
  });
  await consumer.disconnect();
  return seen;
}

describe('publish()', () => {
  it('resolves with each message\'s partition and offset once acknowledged, before start() too', async () => {
    const results = await invalidator.publish(TOPIC, [
      { key: 'user-1', value: { id: 1, name: 'Ada' }, idempotencyKey: 'msg-1' },
      { key: 'user-2', value: 'plain text', headers: { source: 'e2e' } },
      { key: 'user-1', value: Buffer.from([0x7b, 0x7d]), idempotencyKey: 'msg-3' },
    ]);
    expect(results).toHaveLength(3);
    for (const r of results) {
      expect(r.partition).toBeGreaterThanOrEqual(0);
      expect(r.partition).toBeLessThan(3);
      expect(r.offset).toMatch(/^\d+$/);
    }
    // The same key lands in the same partition, in order.
    expect(results[2].partition).toBe(results[0].partition);
    expect(BigInt(results[2].offset)).toBeGreaterThan(BigInt(results[0].offset));

    const seen = await readAll(3);
    const byId = new Map(seen.map((m) => [`${m.partition}/${m.offset}`, m]));
    const first = byId.get(`${results[0].partition}/${results[0].offset}`);
    expect(first).toMatchObject({ key: 'user-1', value: '{"id":1,"name":"Ada"}', id: 'msg-1' });
    expect(byId.get(`${results[1].partition}/${results[1].offset}`)).toMatchObject({ key: 'user-2', value: 'plain text', id: undefined });
    expect(byId.get(`${results[2].partition}/${results[2].offset}`)).toMatchObject({ value: '{}', id: 'msg-3' });
  });

  it('lands keys where KafkaJS puts them (murmur2), so both producers can share a topic', async () => {
    const keys = Array.from({ length: 12 }, (_, i) => `k-${i}`);
    const ours = await invalidator.publish(TOPIC, keys.map((key) => ({ key, value: key })));
    // KafkaJS's default partitioner (murmur2, as the Java client's) for the same keys.
    const { Partitioners } = await import('kafkajs');
    const partitioner = Partitioners.DefaultPartitioner();
    const partitionMetadata = [0, 1, 2].map((partitionId) => ({ partitionId, leader: 1 }));
    const theirPartitions = new Map(
      keys.map((key) => [key, partitioner({ topic: TOPIC, partitionMetadata: partitionMetadata as never, message: { key, value: key } })]),
    );
    keys.forEach((key, i) => expect(ours[i].partition).toBe(theirPartitions.get(key)));
  });

  it('rejects a bad message with its index, and a bad topic name', async () => {
    await expect(invalidator.publish(TOPIC, [{ value: 1 }, { value: 2, idempotencyKey: '' }])).rejects.toThrow(
      'messages[1].idempotencyKey must be a non-empty string',
    );
    await expect(invalidator.publish('bad topic', [{ value: 1 }])).rejects.toThrow('topic must be a Kafka topic name');
  });
});
