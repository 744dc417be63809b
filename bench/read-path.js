#!/usr/bin/env node
// The read side, side by side in one run, on a private redis-server (port 16411, no persistence):
//  1. hit path: getOrLoad hits against ioredis GET with enableAutoPipelining (+ JSON.parse), at 1,
//     16 and 256 concurrent callers: throughput, p99 latency, event-loop delay p99;
//  2. miss storm: bursts of concurrent reads of cold keys from 4 processes (4 app instances) with
//     a 50 ms loader: loader calls (the database's load) with leases (getOrLoad), plain cache-aside
//     (ioredis GET/SET) and cache-manager's wrap (cache-manager + Keyv + @keyv/redis).
// Usage: node bench/read-path.js [--seconds 3] [--out bench/results/read-path.md]
'use strict';

const { fork, spawn } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { monitorEventLoopDelay } = require('perf_hooks');
const Redis = require('ioredis');
const { waitForRedis } = require('./lib/common');

const REPO_ROOT = path.resolve(__dirname, '..');
const PORT = 16411;
const URL = `redis://127.0.0.1:${PORT}/0`;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function arg(name, fallback) {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? process.argv[at + 1] : fallback;
}
const SECONDS = Number(arg('seconds', '3'));
const OUT = path.resolve(arg('out', path.join(REPO_ROOT, 'bench', 'results', 'read-path.md')));

async function startRedis() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdc-read-bench-'));
  const child = spawn('redis-server', ['--port', String(PORT), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--dir', dir, '--logfile', path.join(dir, 'redis.log')], { stdio: 'ignore' });
  await waitForRedis(URL, `private redis-server (is port ${PORT} free?)`);
  return { child, dir };
}

function percentile(sorted, p) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : 0;
}

// `callers` loops calling read(key) back to back for SECONDS; latency per call, event-loop delay.
async function hitRun(read, callers, keys) {
  const latencies = [];
  const loop = monitorEventLoopDelay({ resolution: 1 });
  let calls = 0;
  let stop = false;
  const started = process.hrtime.bigint();
  loop.enable();
  const caller = async (n) => {
    let i = n;
    while (!stop) {
      const t0 = process.hrtime.bigint();
      await read(keys[i++ % keys.length]);
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      calls++;
    }
  };
  const timer = setTimeout(() => (stop = true), SECONDS * 1000);
  await Promise.all(Array.from({ length: callers }, (_, n) => caller(n * 7)));
  clearTimeout(timer);
  loop.disable();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  latencies.sort((a, b) => a - b);
  return {
    perSecond: Math.round(calls / seconds),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    loopP99: Math.max(0, loop.percentile(99) / 1e6 - 1),
  };
}

const STORM_PROCESSES = 4;
const STORM_BURSTS = 5;
const STORM_READS = 1000; // per burst, over all processes
const STORM_KEYS = 50;

// In a child: one contender's reads of one burst's keys (STORM_READS / STORM_PROCESSES at once).
async function stormChild(name, burst) {
  const { createInvalidator } = require(path.join(REPO_ROOT, 'dist', 'lib'));
  let loads = 0;
  const loader = (key) => async () => {
    loads++;
    await sleep(50);
    return { key, name: 'Anne', balance: 1234 };
  };
  const keys = Array.from({ length: STORM_KEYS }, (_, i) => `storm:${name}:${burst}:${i}`);
  let read;
  let close;
  if (name === 'leases') {
    const quiet = { debug() {}, info() {}, warn() {}, error() {} };
    const cdc = createInvalidator({ kafka: { brokers: '127.0.0.1:1', groupId: 'bench', topics: ['unused'] }, redis: { url: URL }, logger: quiet });
    await cdc.getOrLoad('storm:warm', async () => 1);
    read = (key) => cdc.getOrLoad(key, loader(key), { ttlSeconds: 60 });
    close = () => cdc.stop();
  } else if (name === 'plain') {
    const ioredis = new Redis(URL, { enableAutoPipelining: true });
    await ioredis.ping();
    read = async (key) => {
      const hit = await ioredis.get(key);
      if (hit !== null) return JSON.parse(hit);
      const row = await loader(key)();
      await ioredis.set(key, JSON.stringify(row), 'EX', 60);
      return row;
    };
    close = async () => ioredis.disconnect();
  } else {
    const { createCache } = require('cache-manager');
    const { Keyv } = require('keyv');
    const KeyvRedis = require('@keyv/redis').default;
    const manager = createCache({ stores: [new Keyv({ store: new KeyvRedis(URL) })] });
    await manager.get('storm:warm');
    read = (key) => manager.wrap(key, loader(key), 60_000);
    close = () => manager.disconnect();
  }
  process.send({ ready: true });
  await new Promise((resolve) => process.once('message', resolve)); // go
  const perProcess = STORM_READS / STORM_PROCESSES;
  await Promise.all(Array.from({ length: perProcess }, (_, i) => read(keys[i % keys.length])));
  process.send({ loads });
  await close();
  process.exit(0);
}

// One contender: STORM_BURSTS bursts, each from STORM_PROCESSES fresh processes started together.
async function missStorm(name) {
  let loads = 0;
  let elapsed = 0;
  for (let burst = 0; burst < STORM_BURSTS; burst++) {
    const children = Array.from({ length: STORM_PROCESSES }, () => fork(__filename, ['--storm-child', name, String(burst)]));
    await Promise.all(children.map((c) => new Promise((resolve) => c.once('message', resolve))));
    const done = children.map((c) => new Promise((resolve) => c.once('message', resolve)));
    const exited = children.map((c) => new Promise((resolve) => c.once('exit', resolve)));
    const t0 = Date.now();
    for (const c of children) c.send({ go: true });
    for (const answer of await Promise.all(done)) loads += answer.loads;
    elapsed += Date.now() - t0;
    await Promise.all(exited);
  }
  return { loads, perBurst: loads / STORM_BURSTS, loadsPerSecond: Math.round(loads / (elapsed / 1000)), msPerBurst: Math.round(elapsed / STORM_BURSTS) };
}

async function main() {
  const { child, dir } = await startRedis();
  const { createInvalidator } = require(path.join(REPO_ROOT, 'dist', 'lib'));
  const quiet = { debug() {}, info() {}, warn() {}, error() {} };
  const cacheOptions = { kafka: { brokers: '127.0.0.1:1', groupId: 'bench', topics: ['unused'] }, redis: { url: URL }, logger: quiet };
  const results = { hits: [], storm: [], loadAtStart: os.loadavg()[0] };
  try {
    const admin = new Redis(URL);
    const value = JSON.stringify({ id: 1004, first_name: 'Anne', last_name: 'Kretchmar', email: 'annek@noanswer.org', tags: ['a', 'b'], balance: 1234.5 });
    const keys = Array.from({ length: 1000 }, (_, i) => `hit:${i}`);
    for (const key of keys) await admin.set(key, value);

    const cdc = createInvalidator(cacheOptions);
    const ioredis = new Redis(URL, { enableAutoPipelining: true });
    const never = async () => {
      throw new Error('a hit must not load');
    };
    const contenders = {
      'cdc-cache getOrLoad': (key) => cdc.getOrLoad(key, never),
      'ioredis GET (auto-pipelining) + JSON.parse': async (key) => JSON.parse(await ioredis.get(key)),
    };
    for (const read of Object.values(contenders)) await hitRun(read, 16, keys); // warm-up
    for (const callers of [1, 16, 256]) {
      for (const [name, read] of Object.entries(contenders)) {
        const r = await hitRun(read, callers, keys);
        results.hits.push({ name, callers, ...r });
        console.log(`hit  ${String(callers).padStart(3)} callers  ${name.padEnd(44)} ${String(r.perSecond).padStart(8)}/s  p50 ${r.p50.toFixed(3)} ms  p99 ${r.p99.toFixed(3)} ms  loop p99 ${r.loopP99.toFixed(2)} ms`);
      }
    }
    await cdc.stop();
    ioredis.disconnect();
    admin.disconnect();

    const storm = {
      leases: 'cdc-cache getOrLoad (leases)',
      plain: 'plain cache-aside (ioredis GET/SET)',
      wrap: 'cache-manager wrap (Keyv + @keyv/redis)',
    };
    for (const [name, label] of Object.entries(storm)) {
      const r = await missStorm(name);
      results.storm.push({ name: label, ...r });
      console.log(`storm ${label.padEnd(44)} ${String(r.perBurst).padStart(6)} loader calls per burst  (${r.loadsPerSecond}/s, ${r.msPerBurst} ms per burst)`);
    }
  } finally {
    child.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  }
  fs.writeFileSync(OUT, render(results));
  console.log(`written ${path.relative(process.cwd(), OUT)}`);
}

function render({ hits, storm, loadAtStart }) {
  const lines = [
    '# Read side: getOrLoad against ioredis and cache-manager',
    '',
    `Run ${new Date().toISOString()} by \`node bench/read-path.js --seconds ${SECONDS}\`, one process, Node ${process.version},`,
    `${os.cpus().length} cores (load average at start ${loadAtStart.toFixed(2)}, at the end ${os.loadavg()[0].toFixed(2)}), private redis-server on ${PORT}.`,
    '',
    '## Hit path (1,000 keys of ~130 bytes of JSON, decoded)',
    '',
    '| callers | contender | reads/s | p50 ms | p99 ms | event-loop p99 ms |',
    '|---:|---|---:|---:|---:|---:|',
    ...hits.map((h) => `| ${h.callers} | ${h.name} | ${h.perSecond.toLocaleString('en-US')} | ${h.p50.toFixed(3)} | ${h.p99.toFixed(3)} | ${h.loopP99.toFixed(2)} |`),
    '',
    `## Miss storm (${STORM_BURSTS} bursts of ${STORM_READS} concurrent reads of ${STORM_KEYS} cold keys from ${STORM_PROCESSES} processes; loader 50 ms)`,
    '',
    '| contender | loader calls per burst | loader calls/s | ms per burst |',
    '|---|---:|---:|---:|',
    ...storm.map((s) => `| ${s.name} | ${s.perBurst} | ${s.loadsPerSecond.toLocaleString('en-US')} | ${s.msPerBurst} |`),
    '',
  ];
  return lines.join('\n');
}

if (process.argv[2] === '--storm-child') {
  stormChild(process.argv[3], Number(process.argv[4])).catch((error) => {
    console.error(error);
    process.exit(1);
  });
} else {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
