'use strict';
// Contender 1: cdc-cache through its public API (createInvalidator from the built dist/lib).
// The library does the consuming, decoding, rule evaluation and Redis pipelining on its native
// thread; this process only polls stats() every 5 ms to see the first consumed message and the last
// Redis acknowledgement (stats().applied counts events whose Redis replies have arrived), and runs
// the same event-loop probe as the other contenders.
// Steady mode (config.steady): prints READY once all partitions are assigned, runs until SIGTERM.
const path = require('path');
const { REPO_ROOT, nowMs, peakRssMb, cpuSec, LoopProbe, contenderConfig, emitResult, threadSchedule } = require('../lib/common');

const POLL_MS = 5;
// Steady mode needs the poll only to announce READY (the engine measures the latency itself): at
// 5 ms the poll took about as much CPU as the engine thread on a busy machine (thread schedstat).
const STEADY_POLL_MS = 50;

async function main() {
  const cfg = contenderConfig();
  const { createInvalidator } = require(path.join(REPO_ROOT, 'dist', 'lib', 'index.js'));
  const probe = new LoopProbe();
  await probe.open();
  const quiet = { debug() {}, info() {}, warn: (m) => console.error(`[cdc-cache] ${m}`), error: (m) => console.error(`[cdc-cache] ${m}`) };
  const invalidator = createInvalidator({
    // CDC_BENCH_KAFKA_DEBUG=fetch,consumer,cgrp: librdkafka debug lines, with CDC_CACHE_TRACE written into the engine trace;
    // CDC_BENCH_KAFKA_CONFIG='{"fetch.wait.max.ms":"10"}': more librdkafka properties, for experiments
    kafka: { brokers: cfg.brokers, groupId: cfg.groupId, topics: [cfg.topic],
      config: { 'auto.offset.reset': 'earliest', ...(process.env.CDC_BENCH_KAFKA_DEBUG ? { debug: process.env.CDC_BENCH_KAFKA_DEBUG } : {}),
        ...JSON.parse(process.env.CDC_BENCH_KAFKA_CONFIG || '{}') } },
    redis: { url: cfg.redisUrl },
    rules: [{ source: 'public.customers', invalidate: ['customer:{id}', 'customer:email:{email}'] }],
    logger: quiet,
    // library defaults unless the harness was given --cdc-batch (recorded in the results)
    ...(cfg.cdcBatch ? { batch: cfg.cdcBatch } : {}),
  });
  const expected = cfg.endOffsets ? cfg.endOffsets.reduce((a, b) => a + Number(b), 0) : Infinity;
  let first = 0, last = 0, cpuAtFirst = null, stats = null;
  let finish;
  const finished = new Promise((resolve) => { finish = resolve; });
  if (cfg.steady) process.on('SIGTERM', () => finish());

  await invalidator.start();
  let announced = false;
  const poll = setInterval(() => {
    stats = invalidator.stats();
    const t = nowMs();
    if (cfg.steady && !announced && stats.partitions.length >= 4) {
      announced = true;
      process.stdout.write('READY\n');
    }
    if (!first && stats.consumed > 0) { first = t; cpuAtFirst = process.cpuUsage(); probe.start(); }
    const s = stats.skipped;
    const settled = stats.applied + stats.deadLettered + s.tombstone + s.heartbeat + s.transaction + s.schemaChange + s.noRule + s.truncate + s.message;
    if (!cfg.steady && first && settled >= expected) { last = t; finish(); }
  }, cfg.steady ? STEADY_POLL_MS : POLL_MS);
  await finished;
  clearInterval(poll);
  const cpuWindow = cpuAtFirst ? cpuSec(process.cpuUsage(cpuAtFirst)) : null;
  const loop = probe.stop();
  const threads = threadSchedule();  // before stop(): the engine's and librdkafka's threads end with it
  await invalidator.stop();
  const final = invalidator.stats();
  await probe.close();
  // No self-reported offsets: the harness reads the group's committed offsets (cdc-cache commits only
  // what Redis acknowledged, and commits everything on stop).
  const byPartition = [];
  emitResult({ firstMs: first, lastMs: last, events: final.applied, keyDeletes: null, redisDeleted: final.keysDeleted,
    throughOffsets: byPartition, timeBoxed: false, cpuWindowSec: cpuWindow, cpuTotalSec: cpuSec(),
    rssPeakMb: peakRssMb(), loop, threads, engine: { consumed: final.consumed, applied: final.applied, skipped: final.skipped,
      deadLettered: final.deadLettered, missingFields: final.missingFields, redis: final.redis, lagMs: final.lagMs,
      partitions: final.partitions } });
}

main().then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
