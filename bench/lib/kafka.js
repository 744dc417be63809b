'use strict';
// Kafka plumbing for the harness: topic admin (KafkaJS admin client) and a fast librdkafka producer
// (@confluentinc/kafka-javascript, node-rdkafka API) for the backlog and the steady load.
const { Kafka, logLevel } = require('kafkajs');

function admin(brokers) {
  return new Kafka({ clientId: 'bench-admin', brokers: brokers.split(','), logLevel: logLevel.ERROR }).admin();
}

async function withAdmin(brokers, fn) {
  const a = admin(brokers);
  await a.connect();
  try {
    return await fn(a);
  } finally {
    await a.disconnect();
  }
}

// [{partition, low, high}] sorted by partition, or null when the topic does not exist.
async function topicOffsets(a, topic) {
  const topics = await a.listTopics();
  if (!topics.includes(topic)) return null;
  const offsets = await a.fetchTopicOffsets(topic);
  return offsets.map((o) => ({ partition: o.partition, low: Number(o.low), high: Number(o.high) })).sort((x, y) => x.partition - y.partition);
}

async function recreateTopic(a, topic, partitions, configEntries = []) {
  const topics = await a.listTopics();
  if (topics.includes(topic)) {
    await a.deleteTopics({ topics: [topic] });
    for (let i = 0; i < 100 && (await a.listTopics()).includes(topic); i++) await new Promise((r) => setTimeout(r, 200));
  }
  await a.createTopics({ topics: [{ topic, numPartitions: partitions, replicationFactor: 1, configEntries }], waitForLeaders: true });
}

async function groupCommitted(a, groupId, topic) {
  const res = await a.fetchOffsets({ groupId, topics: [topic] });
  const parts = res[0] ? res[0].partitions : [];
  return parts.sort((x, y) => x.partition - y.partition).map((p) => Number(p.offset));
}

async function deleteGroups(a, groupIds) {
  try { await a.deleteGroups(groupIds); } catch { /* best effort */ }
}

// librdkafka producer tuned for bulk: big batches, no compression (KafkaJS has no built-in lz4/snappy),
// idempotence on so each partition keeps generation order (the harness relies on it).
function openProducer(brokers, extra = {}) {
  const { Producer } = require('@confluentinc/kafka-javascript');
  const producer = new Producer({
    'bootstrap.servers': brokers,
    'enable.idempotence': true,
    'compression.codec': 'none',
    'linger.ms': 20,
    'batch.size': 4 * 1024 * 1024,
    'batch.num.messages': 10000,
    'queue.buffering.max.messages': 1000000,
    'queue.buffering.max.kbytes': 2 * 1024 * 1024,
    ...extra,
  });
  return new Promise((resolve, reject) => {
    producer.once('ready', () => resolve(producer));
    producer.once('connection.failure', reject);
    producer.connect();
  });
}

async function produceAll(producer, topic, messages) {
  // messages: iterable of {partition, key, value}
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  let n = 0;
  for (const m of messages) {
    const value = Buffer.isBuffer(m.value) ? m.value : Buffer.from(m.value);
    const key = Buffer.isBuffer(m.key) ? m.key : Buffer.from(m.key);
    for (;;) {
      try {
        producer.produce(topic, m.partition, value, key, m.timestamp || null);
        break;
      } catch (err) {
        if (err && (err.code === -184 || /queue full/i.test(String(err.message)))) {
          producer.poll();
          await sleep(2);
          continue;
        }
        throw err;
      }
    }
    if (++n % 20000 === 0) { producer.poll(); await new Promise(setImmediate); }
  }
  await new Promise((resolve, reject) => producer.flush(120000, (err) => (err ? reject(err) : resolve())));
  return n;
}

function closeProducer(producer) {
  return new Promise((resolve) => producer.disconnect(resolve));
}

module.exports = { withAdmin, topicOffsets, recreateTopic, groupCommitted, deleteGroups, openProducer, produceAll, closeProducer };
