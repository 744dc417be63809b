#!/usr/bin/env node
// The harness's 1M-event backlog consumed by createInvalidator() alone, with each busy thread's CPU
// seconds (/proc/self/task/*/schedstat): the engine thread (cdc-engine), librdkafka's fetcher
// (rdk:broker1), the reaper (cdc-reaper) and the event loop (node). For paired runs of two builds:
//   node bench/backlog-threads.js [dist/lib directory of the build to measure]
// Needs the backlog topic (bench/harness.js --n 1000000 creates it) and the local infrastructure.
'use strict';

const fs = require('fs');
const path = require('path');

const LIB = path.resolve(process.argv[2] || path.join(__dirname, '..', 'dist', 'lib'));
const TOPIC = 'bench.v1.dbserver1.public.customers.n1000000';
const EVENTS = 1_000_000;

function busyThreads() {
  const out = [];
  for (const tid of fs.readdirSync('/proc/self/task')) {
    const name = fs.readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
    const runNs = Number(fs.readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
    if (runNs > 5e7) out.push(`${name} ${(runNs / 1e9).toFixed(2)}`);
  }
  return out.join(', ');
}

async function main() {
  const { createInvalidator } = require(LIB);
  const quiet = { debug() {}, info() {}, warn() {}, error: (m) => console.error(m) };
  const invalidator = createInvalidator({
    kafka: { brokers: process.env.KAFKA_BROKERS || '127.0.0.1:19092', groupId: `backlog-threads-${Date.now()}`, topics: [TOPIC],
      config: { 'auto.offset.reset': 'earliest' } },
    redis: { url: process.env.REDIS_URL || 'redis://127.0.0.1:16379' },
    rules: [{ source: 'public.customers', invalidate: ['customer:{id}', 'customer:email:{email}'] }],
    logger: quiet,
  });
  const cpuBefore = process.cpuUsage();
  await invalidator.start();
  let first = 0;
  await new Promise((resolve) => {
    const poll = setInterval(() => {
      const stats = invalidator.stats();
      if (!first && stats.consumed > 0) first = Date.now();
      if (stats.applied >= EVENTS) {
        clearInterval(poll);
        resolve();
      }
    }, 20);
  });
  const cpu = process.cpuUsage(cpuBefore);
  console.log(`${((Date.now() - first) / 1000).toFixed(2)} s, process ${((cpu.user + cpu.system) / 1e6).toFixed(2)} CPU s | ${busyThreads()}`);
  await invalidator.stop();
}

main().then(() => process.exit(0), (error) => {
  console.error(error);
  process.exit(1);
});
