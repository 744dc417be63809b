#!/usr/bin/env node
// Invalidation throughput against one Redis and against the three-master Redis Cluster, side by
// side in one run: the same backlog of Debezium events (bench/lib/workload.js) in a private topic,
// drained by cdc-cache once with redis.url (a private redis-server on 127.0.0.1:16412) and once
// with redis.cluster (scripts/infra's cluster on 17100-17105). Prints events/s, Redis round trips
// and the load average (the machine is shared: read the figures with it).
// Usage: node bench/redis-cluster.js [--events 200000]
'use strict';

const { execFileSync, spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const Redis = require('ioredis');
const { loadInfraEnv } = require('./lib/common');
const { withAdmin, recreateTopic } = require('./lib/kafka');
const { PARTITIONS } = require('./lib/workload');

const REPO_ROOT = path.resolve(__dirname, '..');
const PORT = 16412;
const EVENTS = Number(process.argv[process.argv.indexOf('--events') + 1] || 0) || 200000;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function startRedis() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdc-cluster-bench-'));
  const child = spawn('redis-server', ['--port', String(PORT), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--dir', dir], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const probe = new Redis({ port: PORT, lazyConnect: true, retryStrategy: null, maxRetriesPerRequest: 0 });
    probe.on('error', () => {});
    try {
      await probe.connect();
      await probe.ping();
      probe.disconnect();
      return { child, dir };
    } catch {
      probe.disconnect();
      await sleep(100);
    }
  }
  throw new Error(`private redis-server did not start (is port ${PORT} free?)`);
}

async function drain(name, redis, topic) {
  const { createInvalidator } = require(path.join(REPO_ROOT, 'dist', 'lib'));
  const invalidator = createInvalidator({
    kafka: { brokers: process.env.KAFKA_BROKERS, groupId: `${topic}-${name}`, topics: [topic], config: { 'auto.offset.reset': 'earliest' } },
    redis,
    keyPrefix: `${topic}:`,
    rules: [{ source: 'public.customers', invalidate: ['customer:{id}', 'customer:email:{email}'] }],
    logger: { debug() {}, info() {}, warn() {}, error: (m) => console.error(m) },
  });
  await invalidator.start();
  let started = 0;
  for (;;) {
    const stats = invalidator.stats();
    if (!started && stats.consumed > 0) started = Date.now();
    const finished = stats.applied + stats.deadLettered + Object.values(stats.skipped).reduce((a, b) => a + b, 0);
    if (finished >= EVENTS) break;
    await sleep(20);
  }
  const seconds = (Date.now() - started) / 1000;
  const stats = invalidator.stats();
  await invalidator.stop();
  return { name, seconds, eventsPerSec: Math.round(EVENTS / seconds), roundTrips: stats.redis.roundTrips, commands: stats.redis.commands };
}

async function main() {
  loadInfraEnv();
  const nodes = (process.env.REDIS_CLUSTER_NODES || '127.0.0.1:17100,127.0.0.1:17101,127.0.0.1:17102').split(',');
  const topic = `cdc-cache-bench-cluster-${Date.now().toString(36)}`;
  await withAdmin(process.env.KAFKA_BROKERS, (a) => recreateTopic(a, topic, PARTITIONS));
  execFileSync('node', [path.join(__dirname, 'produce-backlog.js'), topic, String(EVENTS)], { stdio: 'inherit' });
  const redis = await startRedis();
  try {
    const load = os.loadavg().map((l) => l.toFixed(2)).join(' ');
    const results = [];
    results.push(await drain('one-redis', { url: `redis://127.0.0.1:${PORT}` }, topic));
    results.push(await drain('cluster-3-masters', { cluster: { nodes } }, topic));
    console.log(`\n${EVENTS} events, ${PARTITIONS} partitions, ${os.cpus().length} cores, load average at start ${load}, at end ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    console.log('| target | seconds | events/s | Redis round trips | commands |');
    console.log('|---|---|---|---|---|');
    for (const r of results) console.log(`| ${r.name} | ${r.seconds.toFixed(2)} | ${r.eventsPerSec} | ${r.roundTrips} | ${r.commands} |`);
  } finally {
    redis.child.kill('SIGKILL');
    fs.rmSync(redis.dir, { recursive: true, force: true });
    await withAdmin(process.env.KAFKA_BROKERS, (a) => a.deleteTopics({ topics: [topic] })).catch(() => undefined);
  }
}

main().then(() => process.exit(0), (error) => { console.error(error); process.exit(1); });
