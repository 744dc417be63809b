'use strict';
// Contender 3: KafkaJS eachBatch, one ioredis pipeline per batch (one UNLINK per event carrying that
// event's keys), offsets resolved after the pipeline is acknowledged. partitionsConsumedConcurrently
// = 4 so the four partitions' pipelines overlap (an expert setting, not the default of 1).
// Steady mode (config.steady): runs until told to stop (SIGTERM); reports resources and, per event,
// the time from its Kafka append (LogAppendTime) to the Redis acknowledgement of its pipeline.
const { Kafka, logLevel } = require('kafkajs');
const Redis = require('ioredis');
const { nowMs, peakRssMb, cpuSec, LoopProbe, contenderConfig, emitResult, Progress, latencySummary } = require('../lib/common');
const { keysForMessage } = require('../lib/js-rules');

async function main() {
  const cfg = contenderConfig();
  const probe = new LoopProbe();
  await probe.open();
  const redis = new Redis(cfg.redisUrl, { lazyConnect: true });
  await redis.connect();
  const kafka = new Kafka({ clientId: 'bench-kafkajs-batch', brokers: cfg.brokers.split(','), logLevel: logLevel.ERROR });
  const consumer = kafka.consumer({ groupId: cfg.groupId });
  await consumer.connect();
  await consumer.subscribe({ topics: [cfg.topic], fromBeginning: true });

  const progress = new Progress(cfg.endOffsets || [0, 0, 0, 0]);
  let first = 0, last = 0, cpuAtFirst = null, keyDeletes = 0, deleted = 0;
  const ackLatencies = [];
  let finish;
  const finished = new Promise((resolve) => { finish = resolve; });
  if (cfg.steady) process.on('SIGTERM', () => finish());

  consumer.on(consumer.events.GROUP_JOIN, () => { if (cfg.steady) process.stdout.write('READY\n'); });
  await consumer.run({
    partitionsConsumedConcurrently: 4,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
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
        if (cfg.steady) {
          const acked = nowMs();
          for (const message of batch.messages) ackLatencies.push(acked - Number(message.timestamp));
        }
      }
      const lastOffset = batch.messages.length ? batch.messages[batch.messages.length - 1].offset : null;
      if (lastOffset !== null) {
        resolveOffset(lastOffset);
        progress.events += batch.messages.length;
        progress.applied(batch.partition, Number(lastOffset));
      }
      last = nowMs();
      await heartbeat();
      if (!cfg.steady && progress.done) finish();
    },
  });
  await finished;
  const cpuWindow = cpuAtFirst ? cpuSec(process.cpuUsage(cpuAtFirst)) : null;
  const loop = probe.stop();
  await consumer.disconnect();
  await redis.quit();
  await probe.close();
  emitResult({ firstMs: first, lastMs: last, events: progress.events, keyDeletes, redisDeleted: deleted,
    throughOffsets: progress.through, timeBoxed: false, cpuWindowSec: cpuWindow, cpuTotalSec: cpuSec(),
    rssPeakMb: peakRssMb(), loop, ...(cfg.steady ? { ackLatency: latencySummary(ackLatencies) } : {}) });
}

main().then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
