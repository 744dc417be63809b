'use strict';
// Contender 2, "the tutorial way": KafkaJS eachMessage, one awaited ioredis UNLINK per key.
// Time-boxed by config.timeBoxMs: it stops after that long and reports what it applied.
const { Kafka, logLevel } = require('kafkajs');
const Redis = require('ioredis');
const { nowMs, peakRssMb, cpuSec, LoopProbe, contenderConfig, emitResult, Progress } = require('../lib/common');
const { keysForMessage } = require('../lib/js-rules');

async function main() {
  const cfg = contenderConfig();
  const probe = new LoopProbe();
  await probe.open();
  const redis = new Redis(cfg.redisUrl, { lazyConnect: true });
  await redis.connect();
  const kafka = new Kafka({ clientId: 'bench-kafkajs-each', brokers: cfg.brokers.split(','), logLevel: logLevel.ERROR });
  const consumer = kafka.consumer({ groupId: cfg.groupId });
  await consumer.connect();
  await consumer.subscribe({ topics: [cfg.topic], fromBeginning: true });

  const progress = new Progress(cfg.endOffsets);
  let first = 0, last = 0, cpuAtFirst = null, keyDeletes = 0, deleted = 0, timedOut = false;
  let finish;
  const finished = new Promise((resolve) => { finish = resolve; });

  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      if (timedOut || progress.done) return;
      if (!first) { first = nowMs(); cpuAtFirst = process.cpuUsage(); probe.start(); }
      const keys = keysForMessage(message.value);
      if (keys) {
        for (const key of keys) {
          deleted += await redis.unlink(key);
          keyDeletes++;
        }
      }
      progress.events++;
      progress.applied(partition, Number(message.offset));
      last = nowMs();
      if (progress.done) finish();
      else if (cfg.timeBoxMs && last - first >= cfg.timeBoxMs) { timedOut = true; finish(); }
    },
  });
  await finished;
  const cpuWindow = cpuSec(process.cpuUsage(cpuAtFirst));
  const loop = probe.stop();
  await consumer.disconnect();
  await redis.quit();
  await probe.close();
  emitResult({ firstMs: first, lastMs: last, events: progress.events, keyDeletes, redisDeleted: deleted,
    throughOffsets: progress.through, timeBoxed: timedOut, cpuWindowSec: cpuWindow, cpuTotalSec: cpuSec(),
    rssPeakMb: peakRssMb(), loop });
}

main().then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
