'use strict';
// Application messages, side by side in one run (node bench/messages.js [--n 100000]):
//   publish  N JSON messages (acks=all, idempotent) with cdc-cache publish() and with KafkaJS's
//            producer (idempotent: true), batches of 1000, 4 calls in flight
//   consume  the same N-message JSON topic from the beginning, fresh group, each in its own child
//            process: cdc-cache onMessage (decode json), KafkaJS eachBatch (JSON.parse each), and
//            @nestjs/microservices' Kafka transport (@EventPattern, its default Nest setup);
//            throughput, event-loop delay (p50/p99/max) and CPU seconds.
// Writes results/messages.json and results/messages.md.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { fork } = require('child_process');
const { Kafka, logLevel } = require('kafkajs');
const { REPO_ROOT, loadInfraEnv, nowMs, cpuSec, LoopProbe } = require('./lib/common');

loadInfraEnv();
const BROKERS = process.env.KAFKA_BROKERS || '127.0.0.1:19092';
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:16379';
const PARTITIONS = 4;
const BATCH = 1000;
const IN_FLIGHT = 4;
const RUN = `${Date.now().toString(36)}`;
const CONSUMERS = ['cdc-cache', 'kafkajs-each-batch', 'nestjs-microservices-kafka'];

function payload(i) {
  return JSON.stringify({ id: i, userId: 9007199254740993, name: `user ${i}`, email: `user${i}@example.com`, tags: ['a', 'b'], createdAt: '2026-12-02T00:00:00Z' });
}

function cdcCache() {
  return require(path.join(REPO_ROOT, 'dist', 'lib'));
}

async function inBatches(n, send) {
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const start = next;
      next = Math.min(n, next + BATCH);
      await send(start, next);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
}

async function publishCdcCache(topic, n) {
  const invalidator = cdcCache().createInvalidator({
    kafka: { brokers: BROKERS, groupId: 'bench-unused', topics: [topic] }, redis: { url: REDIS_URL }, rules: [],
    logger: { debug() {}, info() {}, warn() {}, error() {} },
  });
  await invalidator.publish(topic, [{ key: 'warmup', value: payload(-1) }]);
  const t0 = nowMs();
  await inBatches(n, (a, b) => invalidator.publish(topic, Array.from({ length: b - a }, (_, k) => ({ key: `k${a + k}`, value: payload(a + k) }))));
  const seconds = (nowMs() - t0) / 1000;
  await invalidator.stop();
  return { contender: 'cdc-cache publish()', messages: n, seconds, perSecond: n / seconds };
}

async function publishKafkaJs(kafka, topic, n) {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 5 });
  await producer.connect();
  await producer.send({ topic, acks: -1, messages: [{ key: 'warmup', value: payload(-1) }] });
  const t0 = nowMs();
  await inBatches(n, (a, b) => producer.send({ topic, acks: -1, messages: Array.from({ length: b - a }, (_, k) => ({ key: `k${a + k}`, value: payload(a + k) })) }));
  const seconds = (nowMs() - t0) / 1000;
  await producer.disconnect();
  return { contender: 'KafkaJS producer (idempotent)', messages: n, seconds, perSecond: n / seconds };
}

// ---- consumer children ------------------------------------------------------------------

async function consumeCdcCache(topic, n, done) {
  const invalidator = cdcCache().createInvalidator({
    kafka: { brokers: BROKERS, groupId: `bench-msg-cdc-${RUN}` }, redis: { url: REDIS_URL }, rules: [],
    logger: { debug() {}, info() {}, warn() {}, error() {} },
  });
  let count = 0;
  invalidator.onMessage(topic, (messages) => {
    for (const m of messages) if (m.value.id >= 0) count++;
    if (count >= n) done();
  }, { decode: 'json' });
  await invalidator.start();
  return () => invalidator.stop();
}

async function consumeKafkaJs(topic, n, done) {
  const kafka = new Kafka({ clientId: 'bench-msg', brokers: BROKERS.split(','), logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `bench-msg-kafkajs-${RUN}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let count = 0;
  await consumer.run({
    eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
      for (const message of batch.messages) {
        if (JSON.parse(message.value.toString()).id >= 0) count++;
        resolveOffset(message.offset);
      }
      await heartbeat();
      if (count >= n) done();
    },
  });
  return () => consumer.disconnect();
}

async function consumeNest(topic, n, done) {
  require('reflect-metadata');
  const { Controller } = require('@nestjs/common');
  const { NestFactory } = require('@nestjs/core');
  const { Transport, EventPattern, Payload } = require('@nestjs/microservices');
  let count = 0;
  class Listener {
    handle(value) {
      if (value.id >= 0) count++;
      if (count >= n) done();
    }
  }
  const descriptor = Object.getOwnPropertyDescriptor(Listener.prototype, 'handle');
  EventPattern(topic)(Listener.prototype, 'handle', descriptor);
  Payload()(Listener.prototype, 'handle', 0);
  Controller()(Listener);
  const { Module } = require('@nestjs/common');
  class AppModule {}
  Module({ controllers: [Listener] })(AppModule);
  const app = await NestFactory.createMicroservice(AppModule, {
    transport: Transport.KAFKA,
    logger: false,
    options: {
      client: { clientId: 'bench-msg-nest', brokers: BROKERS.split(','), logLevel: logLevel.NOTHING },
      consumer: { groupId: `bench-msg-nest-${RUN}` },
      subscribe: { fromBeginning: true },
    },
  });
  await app.listen();
  return () => app.close();
}

async function child() {
  const { contender, topic, n } = JSON.parse(process.argv[3]);
  const probe = new LoopProbe();
  await probe.open();
  const cpu0 = cpuSec();
  let t0 = 0;
  let finished;
  const all = new Promise((resolve) => (finished = resolve));
  const done = () => finished(nowMs());
  const start = { 'cdc-cache': consumeCdcCache, 'kafkajs-each-batch': consumeKafkaJs, 'nestjs-microservices-kafka': consumeNest }[contender];
  t0 = nowMs();
  probe.start();
  const stop = await start(topic, n, done);
  const t1 = await all;
  const loop = probe.stop();
  const cpu = cpuSec() - cpu0;
  await stop().catch(() => {});
  await probe.close();
  process.send({ contender, messages: n, seconds: (t1 - t0) / 1000, perSecond: n / ((t1 - t0) / 1000), loop, cpuSec: cpu });
  process.exit(0);
}

function runChild(contender, topic, n) {
  return new Promise((resolve, reject) => {
    const proc = fork(__filename, ['--child', JSON.stringify({ contender, topic, n })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${contender} did not finish in 10 minutes`));
    }, 600_000);
    proc.on('message', (result) => {
      clearTimeout(timer);
      resolve(result);
    });
    proc.on('exit', (code) => code !== 0 && reject(new Error(`${contender} exited with ${code}`)));
  });
}

function markdown(results, n) {
  const f = (x, d = 0) => (x === null || x === undefined ? '-' : Number(x).toFixed(d));
  const lines = [
    '# Application messages: cdc-cache against KafkaJS and @nestjs/microservices',
    '',
    `One run of \`node bench/messages.js --n ${n}\` on ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'cpu'}), ` +
      `Kafka ${BROKERS} (one broker, ${PARTITIONS} partitions), ${new Date().toISOString()}.`,
    `Load average before: ${results.loadBefore.map((x) => x.toFixed(2)).join(', ')}; after: ${results.loadAfter.map((x) => x.toFixed(2)).join(', ')} ` +
      '(a shared machine: other work ran at the same time, so the figures are indicative, the ratios more than the absolutes).',
    '',
    '## Publish (JSON values of ~150 B, keyed, acks=all, idempotent; batches of 1000, 4 in flight)',
    '',
    '| producer | messages | seconds | messages/s |',
    '|---|---:|---:|---:|',
    ...results.publish.map((r) => `| ${r.contender} | ${r.messages} | ${f(r.seconds, 2)} | ${f(r.perSecond)} |`),
    '',
    '## Consume (the same topic from the beginning, a fresh group, JSON decoded, each in its own process)',
    '',
    'Seconds run from the consumer\'s start (connect, group join) to its last message. Event-loop delay: how late a 1 ms timer fired',
    'meanwhile (perf_hooks), as a service answering HTTP would feel it.',
    '',
    '| consumer | messages | seconds | messages/s | loop delay p50 ms | p99 ms | max ms | CPU s |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...results.consume.map((r) => `| ${r.contender} | ${r.messages} | ${f(r.seconds, 2)} | ${f(r.perSecond)} | ${f(r.loop.p50, 2)} | ${f(r.loop.p99, 2)} | ${f(r.loop.max, 1)} | ${f(r.cpuSec, 2)} |`),
    '',
    'cdc-cache decodes and checks the JSON on its native thread (exact 64-bit integers), and its handler gets batches per partition;',
    'KafkaJS eachBatch parses each value with JSON.parse on the event loop; the Nest Kafka transport (KafkaJS underneath) runs one',
    'handler call per message.',
    '',
  ];
  return lines.join('\n');
}

async function main() {
  const nArg = process.argv.indexOf('--n');
  const n = nArg > 0 ? Number(process.argv[nArg + 1]) : 100000;
  const loadBefore = os.loadavg();
  const kafka = new Kafka({ clientId: 'bench-msg', brokers: BROKERS.split(','), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const topics = { cdc: `bench-msg-publish-cdc-${RUN}`, kafkajs: `bench-msg-publish-kafkajs-${RUN}` };
  await admin.createTopics({ waitForLeaders: true, topics: Object.values(topics).map((topic) => ({ topic, numPartitions: PARTITIONS })) });
  const publish = [];
  publish.push(await publishCdcCache(topics.cdc, n));
  console.log(publish[publish.length - 1]);
  publish.push(await publishKafkaJs(kafka, topics.kafkajs, n));
  console.log(publish[publish.length - 1]);
  // Consumers read the topic cdc-cache filled: N messages plus its warm-up (skipped by id).
  const consume = [];
  for (const contender of CONSUMERS) {
    consume.push(await runChild(contender, topics.cdc, n));
    console.log(consume[consume.length - 1]);
  }
  await admin.deleteTopics({ topics: Object.values(topics) }).catch(() => {});
  await admin.disconnect();
  const results = { n, loadBefore, loadAfter: os.loadavg(), publish, consume };
  const dir = path.join(__dirname, 'results');
  fs.writeFileSync(path.join(dir, 'messages.json'), JSON.stringify(results, null, 2));
  fs.writeFileSync(path.join(dir, 'messages.md'), markdown(results, n));
  console.log(markdown(results, n));
}

(process.argv[2] === '--child' ? child() : main()).catch((error) => {
  console.error(error);
  process.exit(1);
});
