#!/usr/bin/env node
// Invalidation throughput over plain TCP and over TLS, side by side in one run: one private
// redis-server listening on both (plain 16412, TLS 16413, certificates from .infra/tls made by
// scripts/infra), one backlog of Debezium events (bench/lib/workload.js) in a topic of its own, and
// cdc-cache (dist/lib) applying the whole backlog with a fresh consumer group per round, plain and
// TLS alternating. Prints events/s per round, the medians, and the load average.
// Needs scripts/infra up and the bench dependencies (cd bench && npm run setup).
// Usage: node bench/redis-tls.js [--events 200000] [--rounds 3] [--out bench/results/redis-tls.md]
'use strict';

const { execFileSync, spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { REPO_ROOT, loadInfraEnv, cpuSec, waitForRedis } = require('./lib/common');
const { withAdmin, recreateTopic, deleteGroups } = require('./lib/kafka');
const { PARTITIONS } = require('./lib/workload');

const PLAIN_PORT = 16412;
const TLS_PORT = 16413;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const arg = (name, fallback) => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? process.argv[at + 1] : fallback;
};
const EVENTS = Number(arg('events', '200000'));
const ROUNDS = Number(arg('rounds', '3'));
const OUT = path.resolve(arg('out', path.join(REPO_ROOT, 'bench', 'results', 'redis-tls.md')));
const TLS_DIR = path.join(REPO_ROOT, '.infra', 'tls');

async function startRedis() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdc-tls-bench-'));
  const child = spawn('redis-server', ['--port', String(PLAIN_PORT), '--tls-port', String(TLS_PORT), '--bind', '127.0.0.1',
    '--tls-cert-file', path.join(TLS_DIR, 'redis-server.crt'), '--tls-key-file', path.join(TLS_DIR, 'redis-server.key'),
    '--tls-ca-cert-file', path.join(TLS_DIR, 'ca.crt'), '--tls-auth-clients', 'no',
    '--save', '', '--appendonly', 'no', '--dir', dir, '--logfile', path.join(dir, 'redis.log')], { stdio: 'ignore' });
  await waitForRedis(`redis://127.0.0.1:${PLAIN_PORT}`, `private redis-server (are ports ${PLAIN_PORT} and ${TLS_PORT} free?)`);
  return { child, dir };
}

// One round: a fresh group applies the whole backlog; events/s from the first consumed message to
// the last one settled (as bench/contenders/cdc-cache.js counts them).
async function round(topic, groupId, redis) {
  const { createInvalidator } = require(path.join(REPO_ROOT, 'dist', 'lib', 'index.js'));
  const invalidator = createInvalidator({
    kafka: { brokers: process.env.KAFKA_BROKERS, groupId, topics: [topic], config: { 'auto.offset.reset': 'earliest' } },
    redis,
    rules: [{ source: 'public.customers', invalidate: ['customer:{id}', 'customer:email:{email}'] }],
    logger: { debug() {}, info() {}, warn: (m) => console.error(`[cdc-cache] ${m}`), error: (m) => console.error(`[cdc-cache] ${m}`) },
  });
  await invalidator.start();
  let first = 0;
  let cpuAtFirst;
  for (;;) {
    const s = invalidator.stats();
    const now = performance.now();
    if (!first && s.consumed > 0) {
      first = now;
      cpuAtFirst = process.cpuUsage();
    }
    const k = s.skipped;
    const settled = s.applied + s.deadLettered + k.tombstone + k.heartbeat + k.transaction + k.schemaChange + k.noRule + k.truncate + k.message;
    if (first && settled >= EVENTS) {
      const seconds = (now - first) / 1000;
      const cpu = cpuSec(process.cpuUsage(cpuAtFirst));
      const stats = invalidator.stats();
      await invalidator.stop();
      return { eventsPerSec: EVENTS / seconds, seconds, cpu, roundTrips: stats.redis.roundTrips, deadLettered: stats.deadLettered };
    }
    await sleep(5);
  }
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

async function main() {
  loadInfraEnv();
  const brokers = process.env.KAFKA_BROKERS || '127.0.0.1:19092';
  process.env.KAFKA_BROKERS = brokers;
  const run = Date.now().toString(36);
  const topic = `cdc-cache.bench.tls.${run}`;
  const { child, dir } = await startRedis();
  const groups = [];
  const results = { plain: [], tls: [] };
  try {
    await withAdmin(brokers, (a) => recreateTopic(a, topic, PARTITIONS));
    execFileSync('node', [path.join(__dirname, 'produce-backlog.js'), topic, String(EVENTS)], { stdio: 'inherit' });
    const load = os.loadavg();
    for (let i = 0; i < ROUNDS; i++) {
      for (const kind of i % 2 === 0 ? ['plain', 'tls'] : ['tls', 'plain']) {
        const groupId = `cdc-cache-bench-tls-${run}-${kind}-${i}`;
        groups.push(groupId);
        const redis = kind === 'plain'
          ? { url: `redis://127.0.0.1:${PLAIN_PORT}` }
          : { url: `rediss://127.0.0.1:${TLS_PORT}`, tls: { ca: path.join(TLS_DIR, 'ca.crt') } };
        const result = await round(topic, groupId, redis);
        results[kind].push(result);
        console.log(`${kind.padEnd(5)} round ${i + 1}: ${Math.round(result.eventsPerSec)} events/s (${result.seconds.toFixed(2)} s, ` +
          `${result.cpu.toFixed(2)} CPU s, ${result.roundTrips} pipelines, ${result.deadLettered} dead letters)`);
      }
    }
    const after = os.loadavg();
    const lines = [
      `# Invalidation throughput, plain TCP and TLS to Redis (${new Date().toISOString().slice(0, 10)})`,
      '',
      `\`node bench/redis-tls.js --events ${EVENTS} --rounds ${ROUNDS}\`: a backlog of ${EVENTS} Debezium events, applied by cdc-cache`,
      `with a fresh group per round, alternating; one redis-server with a plain and a TLS port (TLS 1.3, P-256 certificate).`,
      `Load average before: ${load.map((x) => x.toFixed(2)).join(' ')}; after: ${after.map((x) => x.toFixed(2)).join(' ')} (${os.cpus().length} cores).`,
      '',
      '| transport | events/s per round | median events/s | median CPU s |',
      '| --- | --- | --- | --- |',
      ...['plain', 'tls'].map((kind) => `| ${kind === 'plain' ? 'redis:// (plain TCP)' : 'rediss:// (TLS)'} | ` +
        `${results[kind].map((r) => Math.round(r.eventsPerSec)).join(', ')} | ${Math.round(median(results[kind].map((r) => r.eventsPerSec)))} | ` +
        `${median(results[kind].map((r) => r.cpu)).toFixed(2)} |`),
      '',
    ];
    fs.writeFileSync(OUT, lines.join('\n'));
    console.log(`\n${lines.join('\n')}\nwritten to ${path.relative(REPO_ROOT, OUT)}`);
  } finally {
    await withAdmin(brokers, async (a) => {
      await deleteGroups(a, groups);
      await a.deleteTopics({ topics: [topic] }).catch(() => {});
    });
    child.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().then(() => process.exit(0), (error) => {
  console.error(error);
  process.exit(1);
});
