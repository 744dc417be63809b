'use strict';
// Contender 4: @confluentinc/kafka-javascript (librdkafka underneath) through its KafkaJS-compatible
// API, eachBatch with up to 1000 messages (js.consumer.max.batch.size; default 32), four partitions
// consumed concurrently, one ioredis pipeline per batch (one UNLINK per event with that event's keys).
const { KafkaJS } = require('@confluentinc/kafka-javascript');
const Redis = require('ioredis');
const { nowMs, peakRssMb, cpuSec, LoopProbe, contenderConfig, emitResult, Progress } = require('../lib/common');
const { keysForMessage } = require('../lib/js-rules');

async function main() {
  const cfg = contenderConfig();
  const probe = new LoopProbe();
  await probe.open();
  const redis = new Redis(cfg.redisUrl, { lazyConnect: true });
  await redis.connect();
  const kafka = new KafkaJS.Kafka({ kafkaJS: { clientId: 'bench-confluent-batch', brokers: cfg.brokers.split(','), logLevel: KafkaJS.logLevel.ERROR } });
  const consumer = kafka.consumer({
    kafkaJS: { groupId: cfg.groupId, fromBeginning: true },
    'js.consumer.max.batch.size': 1000,
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [cfg.topic] });

  const progress = new Progress(cfg.endOffsets);
  let first = 0, last = 0, cpuAtFirst = null, keyDeletes = 0, deleted = 0;
  let finish;
  const finished = new Promise((resolve) => { finish = resolve; });

  await consumer.run({
    partitionsConsumedConcurrently: 4,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset }) => {
      if (!first) { first = nowMs(); cpuAtFirst = process.cpuUsage(); probe.start(); }
      const pipeline = redis.pipeline();
      let commands = 0;
      for (const message of batch.messages) {
        const keys = keysForMessage(message.value);
        if (keys) { pipeline.unlink(...keys); commands++; keyDeletes += keys.length; }
      }
      if (commands) {
        const replies = await pipeline.exec();
        for (const [err, n] of replies) { if (err) throw err; deleted += n; }
      }
      if (batch.messages.length) {
        const lastOffset = batch.messages[batch.messages.length - 1].offset;
        resolveOffset(lastOffset);
        progress.events += batch.messages.length;
        progress.applied(batch.partition, Number(lastOffset));
      }
      last = nowMs();
      if (progress.done) finish();
    },
  });
  await finished;
  const cpuWindow = cpuSec(process.cpuUsage(cpuAtFirst));
  const loop = probe.stop();
  await consumer.disconnect();
  await redis.quit();
  await probe.close();
  emitResult({ firstMs: first, lastMs: last, events: progress.events, keyDeletes, redisDeleted: deleted,
    throughOffsets: progress.through, timeBoxed: false, cpuWindowSec: cpuWindow, cpuTotalSec: cpuSec(),
    rssPeakMb: peakRssMb(), loop });
}

main().then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
