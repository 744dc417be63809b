'use strict';
// Side-by-side benchmark harness (entry point: bench/run, `npm run bench [-- --quick]`).
//
// 1. Makes sure the backlog topic holds the N workload events (4 partitions; reused when it does).
// 2. Runs every contender and both limits, alternating, `reps` times; each contender in its own child
//    process, consuming the whole backlog from the beginning with a fresh consumer group, against a
//    Redis pre-populated with every key the rules will touch. Correctness is checked in Redis.
// 3. Steady load: a producer at fixed rates; Kafka LogAppendTime to the Redis delete (observed through
//    keyspace notifications) for cdc-cache and kafkajs-batch-pipeline.
// 4. Writes results/latest.json, RESULTS.md and results/chart.png.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn, spawnSync } = require('child_process');
const Redis = require('ioredis');
const { REPO_ROOT, loadInfraEnv, nowMs, parseRedisUrl, LoopProbe, percentile, waitForRedis } = require('./lib/common');
const { withAdmin, topicOffsets, recreateTopic, groupCommitted, deleteGroups } = require('./lib/kafka');
const { expectedEffect, PARTITIONS, ID_SPACE, MIX, EMAIL_CHANGE_SHARE } = require('./lib/workload');
const { steadyTargets, renderSteadyTargets } = require('./lib/steady-report');

const BENCH_DIR = __dirname;
const RESULTS_DIR = path.join(BENCH_DIR, 'results');
const TOPIC_VERSION = 'v1';

const BACKLOG_CONTENDERS = ['cdc-cache', 'kafkajs-batch-pipeline', 'confluent-batch-pipeline', 'kafkajs-each-message'];
const LIMITS = ['limit-raw-consume', 'limit-redis-del-pipelined'];
const STEADY_CONTENDERS = ['cdc-cache', 'kafkajs-batch-pipeline'];
// The floor under the steady-load latency: a bare librdkafka consumer (bench/native/rawlat.cc).
const STEADY_FLOOR = 'limit-raw-consume';
const RAWLAT = path.join(REPO_ROOT, 'build', 'bench', 'rawlat');

function parseArgs(argv) {
  const opts = { quick: false, reps: 3, only: null, steady: true, redisUrl: null, n: null, steadySeconds: null,
    steadyRates: [5000, 20000, 50000], eachMessageTimeBoxSec: null, steadyOnly: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const eq = a.indexOf('=');
      return eq > 0 ? a.slice(eq + 1) : argv[++i];
    };
    if (a === '--quick') opts.quick = true;
    else if (a.startsWith('--reps')) opts.reps = Number(value());
    else if (a.startsWith('--only')) opts.only = value().split(',');
    else if (a === '--no-steady') opts.steady = false;
    else if (a === '--steady-only') opts.steadyOnly = true;
    else if (a.startsWith('--redis-url')) opts.redisUrl = value();
    else if (a.startsWith('--n')) opts.n = Number(value());
    else if (a.startsWith('--steady-seconds')) opts.steadySeconds = Number(value());
    else if (a.startsWith('--steady-rates')) opts.steadyRates = value().split(',').map(Number);
    else if (a.startsWith('--each-message-timebox')) opts.eachMessageTimeBoxSec = Number(value());
    else if (a.startsWith('--cdc-batch')) opts.cdcBatch = JSON.parse(value());
    else if (a.startsWith('--out')) opts.out = value();
    else if (a === '--render') opts.render = true;
    else if (a === '--help' || a === '-h') {
      console.log('usage: npm run bench [-- --quick] [--reps 3] [--only cdc-cache,limit-raw-consume] [--no-steady]\n' +
        '       [--steady-only   (only the steady-load part; writes results/steady-latest.json and results/steady.md)]\n' +
        '       [--n 1000000] [--steady-seconds 30] [--steady-rates 5000,20000,50000] [--each-message-timebox 60]\n' +
        '       [--cdc-batch \'{"maxEvents":1000,"maxWaitMs":0,"maxInFlight":4}\'   (cdc-cache batch options; default: library defaults)]\n' +
        '       [--redis-url redis://127.0.0.1:16379/9   (default: a private redis-server started for the run)]\n' +
        '       [--out file.json   (write only that file; keep latest.json, RESULTS.md and the chart)]\n' +
        '       [--render   (only re-render RESULTS.md and results/chart.png from results/latest.json)]');
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  opts.n = opts.n || (opts.quick ? 100000 : 1000000);
  opts.steadySeconds = opts.steadySeconds || (opts.quick ? 10 : 30);
  opts.eachMessageTimeBoxSec = opts.eachMessageTimeBoxSec || (opts.quick ? 20 : 60);
  return opts;
}

const log = (...a) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...a);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function median(values) {
  const v = values.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = v.length >> 1;
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}
const round = (x, d = 2) => (typeof x === 'number' && Number.isFinite(x) ? Number(x.toFixed(d)) : x ?? null);

// ------------------------------------------------------------------------------------------ redis

async function startPrivateRedis() {
  const port = 16399;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdc-bench-redis-'));
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--dir', dir, '--logfile', path.join(dir, 'redis.log'), '--protected-mode', 'no'], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}/0`;
  await waitForRedis(url, 'private redis-server (is port 16399 free?)');
  return { url, child, dir };
}

class RedisControl {
  constructor(url) {
    this.url = url;
    this.db = parseRedisUrl(url).db;
    this.client = new Redis(url);
  }
  async flush() { await this.client.flushdb(); }
  async dbsize() { return this.client.dbsize(); }
  async populate(keys) {
    let pipeline = this.client.pipeline();
    let args = [];
    let queued = 0;
    for (const key of keys) {
      args.push(key, '1');
      if (args.length >= 1000) { pipeline.mset(...args); args = []; if (++queued >= 200) { await pipeline.exec(); pipeline = this.client.pipeline(); queued = 0; } }
    }
    if (args.length) pipeline.mset(...args);
    await pipeline.exec();
  }
  async countExisting(keys) {
    let total = 0;
    let chunk = [];
    let pipeline = this.client.pipeline();
    let queued = 0;
    const drain = async () => {
      const replies = await pipeline.exec();
      for (const [err, n] of replies) { if (err) throw err; total += n; }
      pipeline = this.client.pipeline();
      queued = 0;
    };
    for (const key of keys) {
      chunk.push(key);
      if (chunk.length >= 1000) { pipeline.exists(...chunk); chunk = []; if (++queued >= 100) await drain(); }
    }
    if (chunk.length) pipeline.exists(...chunk);
    await drain();
    return total;
  }
  async counters() {
    const info = await this.client.info('all');
    const unlink = /cmdstat_unlink:calls=(\d+)/.exec(info);
    const user = /used_cpu_user:([\d.]+)/.exec(info);
    const sys = /used_cpu_sys:([\d.]+)/.exec(info);
    return { unlinkCalls: unlink ? Number(unlink[1]) : 0, cpuSec: (user ? Number(user[1]) : 0) + (sys ? Number(sys[1]) : 0) };
  }
  async close() { this.client.disconnect(); }
}

// --------------------------------------------------------------------------------------- children

// Runs a contender file in its own Node process; resolves with its RESULT object, wall time and stderr.
function runChild(file, config, { timeoutMs, onLine } = {}) {
  return new Promise((resolve) => {
    const t0 = nowMs();
    const child = spawn(process.execPath, [path.join(BENCH_DIR, 'contenders', file)], {
      env: { ...process.env, BENCH_CONFIG: JSON.stringify(config) }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '', result = null, timedOut = false;
    child.stdout.on('data', (d) => {
      stdout += d;
      let nl;
      while ((nl = stdout.indexOf('\n')) >= 0) {
        const line = stdout.slice(0, nl);
        stdout = stdout.slice(nl + 1);
        if (line.startsWith('RESULT ')) result = JSON.parse(line.slice(7));
        else if (onLine) onLine(line, child);
      }
    });
    child.stderr.on('data', (d) => { stderr += d; if (stderr.length > 20000) stderr = stderr.slice(-20000); });
    const timer = timeoutMs ? setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, timeoutMs) : null;
    child.on('exit', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ result, code, signal, timedOut, wallSec: (nowMs() - t0) / 1000, stderr: stderr.trim(), child });
    });
    if (onLine) onLine('__SPAWNED__', child);
  });
}

// Runs a command under /usr/bin/time; resolves with wall seconds (measured here), CPU and peak RSS.
function runTimed(cmd, args, stdoutFile) {
  return new Promise((resolve) => {
    const timeFile = path.join(os.tmpdir(), `cdc-bench-time-${process.pid}.txt`);
    const out = fs.openSync(stdoutFile || '/dev/null', 'w');
    const t0 = nowMs();
    const child = spawn('/usr/bin/time', ['-f', '%U %S %M', '-o', timeFile, cmd, ...args], { stdio: ['ignore', out, 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('exit', (code) => {
      const wallSec = (nowMs() - t0) / 1000;
      fs.closeSync(out);
      let cpuSec = null, rssMb = null;
      try {
        const [u, s, m] = fs.readFileSync(timeFile, 'utf8').trim().split('\n').pop().split(' ').map(Number);
        cpuSec = u + s;
        rssMb = m / 1024;
      } catch { /* ignore */ }
      resolve({ code, wallSec, cpuSec, rssMb, stderr: stderr.trim() });
    });
  });
}

// ------------------------------------------------------------------------------------------ main

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.render) {
    // re-render RESULTS.md and the chart from results/latest.json (after editing the report layout)
    const results = JSON.parse(fs.readFileSync(path.join(RESULTS_DIR, 'latest.json'), 'utf8'));
    results.steady_targets = results.steady_targets || steadyTargets(results);  // runs from before it existed
    fs.writeFileSync(path.join(BENCH_DIR, 'RESULTS.md'), renderMarkdown(results));
    spawnSync('python3', [path.join(BENCH_DIR, 'chart.py'), path.join(RESULTS_DIR, 'latest.json'), path.join(RESULTS_DIR, 'chart.png')], { stdio: 'inherit' });
    console.log(renderTable(results));
    return;
  }
  loadInfraEnv();
  const brokers = process.env.KAFKA_BROKERS || '127.0.0.1:19092';
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  const runId = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
  const wanted = (name) => !opts.only || opts.only.includes(name);

  const cdcReady = fs.existsSync(path.join(REPO_ROOT, 'dist', 'lib', 'index.js')) &&
    fs.existsSync(path.join(REPO_ROOT, 'build', 'native', 'Release', 'cdc_cache.node'));
  const confluentReady = (() => {
    try { require.resolve('@confluentinc/kafka-javascript'); require('@confluentinc/kafka-javascript'); return true; } catch { return false; }
  })();
  const skipped = {};
  if (!cdcReady) skipped['cdc-cache'] = 'not built: run `npm run build` (needs build/native/Release/cdc_cache.node and dist/lib/index.js)';
  if (!confluentReady) skipped['confluent-batch-pipeline'] = '@confluentinc/kafka-javascript not built (bench/run builds it)';
  const contenders = BACKLOG_CONTENDERS.filter((c) => wanted(c) && !skipped[c]);
  const limits = LIMITS.filter(wanted);

  let privateRedis = null;
  let redisUrl = opts.redisUrl;
  if (!redisUrl) {
    privateRedis = await startPrivateRedis();
    redisUrl = privateRedis.url;
  }
  const redis = new RedisControl(redisUrl);
  const cleanup = () => { if (privateRedis) privateRedis.child.kill('SIGTERM'); };
  process.on('exit', cleanup);
  process.on('SIGINT', () => { cleanup(); process.exit(130); });

  log(`N=${opts.n} reps=${opts.reps} redis=${redisUrl}${privateRedis ? ' (private instance)' : ''} kafka=${brokers}`);
  log(`contenders: ${contenders.join(', ')}; limits: ${limits.join(', ')}`);
  for (const [k, why] of Object.entries(skipped)) log(`SKIPPED ${k}: ${why}`);
  const loadAtStart = os.loadavg();
  const othersAtStart = busiestProcesses();

  const { topic, full, generation, runs } = opts.steadyOnly ? { topic: null, full: null, generation: null, runs: [] }
    : await runBacklog({ opts, brokers, redis, redisUrl, runId, contenders, limits });

  const steadyRuns = [];
  if (opts.steady) {
    const steadyContenders = STEADY_CONTENDERS.filter((c) => wanted(c) && !skipped[c]);
    for (let rep = 0; rep < opts.reps; rep++) {
      for (const rate of opts.steadyRates) {
        const rotated = rep % 2 ? [...steadyContenders].reverse() : steadyContenders;
        for (const name of rotated) {
          // one failed repetition (e.g. the broker refusing a fresh topic's metadata) is recorded, not fatal
          const r = await runSteady(name, { rep, rate, seconds: opts.steadySeconds, runId, brokers, redis, redisUrl, cdcBatch: opts.cdcBatch })
            .catch((err) => ({ contender: name, rate, rep: rep + 1, error: String(err && err.message || err) }));
          steadyRuns.push(r);
          log(`steady ${name} ${rate}/s rep ${rep + 1}: p50 ${r.p50_ms} p99 ${r.p99_ms} p99.9 ${r.p999_ms} max ${r.max_ms} ms, ` +
            `ack p99 ${r.ack_p99_ms} p99.9 ${r.ack_p999_ms} max ${r.ack_max_ms} ms, observed ${r.observed}/${r.sent}${r.error ? ` ERROR ${r.error}` : ''}`);
        }
        if (wanted(STEADY_FLOOR) && fs.existsSync(RAWLAT)) {
          const r = await runSteadyFloor({ rep, rate, seconds: opts.steadySeconds, runId, brokers })
            .catch((err) => ({ contender: STEADY_FLOOR, rate, rep: rep + 1, error: String(err && err.message || err) }));
          steadyRuns.push(r);
          log(`steady ${STEADY_FLOOR} ${rate}/s rep ${rep + 1}: p50 ${r.p50_ms} p99 ${r.p99_ms} p99.9 ${r.p999_ms} max ${r.max_ms} ms` +
            `${r.error ? ` ERROR ${r.error}` : ''}`);
        }
      }
    }
  }

  await redis.close();
  cleanup();

  const results = summarize({ opts, runs, steadyRuns, skipped, topic, full, generation, runId, redisUrl, privateRedis: !!privateRedis, loadAtStart });
  results.meta.busiest_processes_at_start = othersAtStart;
  results.meta.busiest_processes_at_end = busiestProcesses();
  if (opts.out || opts.steadyOnly) {
    // side experiment, or the steady-load part alone: latest.json, RESULTS.md and the chart stay as they are
    const out = opts.out || path.join(RESULTS_DIR, 'steady-latest.json');
    fs.writeFileSync(out, JSON.stringify(results, null, 2) + '\n');
    if (opts.steadyOnly && !opts.out) fs.writeFileSync(path.join(RESULTS_DIR, 'steady.md'), renderSteadyMarkdown(results));
    log(`wrote ${out}`);
    console.log('\n' + renderSteadyTargets(results.steady_targets).join('\n'));
    process.exit(0);
  }
  fs.writeFileSync(path.join(RESULTS_DIR, 'latest.json'), JSON.stringify(results, null, 2) + '\n');
  fs.writeFileSync(path.join(BENCH_DIR, 'RESULTS.md'), renderMarkdown(results));
  log(`wrote ${path.relative(REPO_ROOT, path.join(RESULTS_DIR, 'latest.json'))} and bench/RESULTS.md`);
  const chart = spawnSync('python3', [path.join(BENCH_DIR, 'chart.py'), path.join(RESULTS_DIR, 'latest.json'), path.join(RESULTS_DIR, 'chart.png')], { stdio: 'inherit' });
  if (chart.status !== 0) log('chart.py failed (pip install matplotlib); results are written anyway');
  console.log('\n' + renderTable(results));
  process.exit(0);
}

// The backlog part: the N-event topic (produced once), then every contender and limit, `reps` times.
async function runBacklog({ opts, brokers, redis, redisUrl, runId, contenders, limits }) {
  const topic = `bench.${TOPIC_VERSION}.dbserver1.public.customers.n${opts.n}`;
  let offsets = await withAdmin(brokers, (a) => topicOffsets(a, topic));
  const holds = offsets && offsets.length === PARTITIONS && offsets.every((o) => o.low === 0) &&
    offsets.reduce((s, o) => s + o.high, 0) === opts.n;
  let generation = { reused: true };
  if (!holds) {
    log(`creating ${topic} (${PARTITIONS} partitions) and producing ${opts.n} events`);
    await withAdmin(brokers, (a) => recreateTopic(a, topic, PARTITIONS));
    const t0 = nowMs();
    const r = spawnSync(process.execPath, [path.join(BENCH_DIR, 'produce-backlog.js'), topic, String(opts.n)], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error('producing the backlog failed');
    generation = { reused: false, seconds: round((nowMs() - t0) / 1000, 1) };
    offsets = await withAdmin(brokers, (a) => topicOffsets(a, topic));
    if (offsets.reduce((s, o) => s + o.high, 0) !== opts.n) throw new Error(`topic ${topic} does not hold ${opts.n} events after producing`);
  } else log(`reusing ${topic} (already holds ${opts.n} events)`);
  const endOffsets = offsets.map((o) => o.high);

  log('computing the expected Redis effect of the backlog');
  const full = expectedEffect(opts.n);
  log(`expected: ${full.events} events, ${full.keyDeletes} key deletes (deduplicated per event), ${full.distinct.size} distinct keys`);

  const runs = [];
  const order = [...contenders, ...limits];
  for (let rep = 0; rep < opts.reps; rep++) {
    // rotate the order each repetition so no contender always runs first or after the same neighbour
    const rotated = order.map((_, i) => order[(i + rep) % order.length]);
    for (const name of rotated) {
      const record = LIMITS.includes(name)
        ? await runLimit(name, { rep, topic, brokers, redis, n: opts.n, endOffsets })
        : await runBacklogContender(name, { rep, runId, topic, brokers, redis, redisUrl, n: opts.n, endOffsets, full, opts });
      runs.push(record);
      log(`${name} rep ${rep + 1}: ${record.events_per_sec ? Math.round(record.events_per_sec).toLocaleString('en-US') : '-'} events/s` +
        `${record.cpu_sec != null ? `, cpu ${round(record.cpu_sec)} s` : ''}${record.rss_peak_mb != null ? `, rss ${round(record.rss_peak_mb, 0)} MB` : ''}` +
        `${record.loop_delay_p99_ms != null ? `, loop p99 ${round(record.loop_delay_p99_ms)} ms` : ''}, deletes_ok ${record.deletes_ok}` +
        `${record.error ? ` ERROR ${record.error}` : ''}`);
    }
  }
  return { topic, full, generation, runs };
}

// --------------------------------------------------------------------------------- backlog runs

async function runBacklogContender(name, ctx) {
  const { rep, runId, topic, brokers, redis, redisUrl, n, endOffsets, full, opts } = ctx;
  const groupId = `bench-${name}-${runId}-r${rep}`;
  await redis.flush();
  await redis.populate(full.distinct);
  const dbBefore = await redis.dbsize();
  const before = await redis.counters();
  const config = { topic, brokers, redisUrl, groupId, endOffsets, n };
  if (name === 'kafkajs-each-message') config.timeBoxMs = opts.eachMessageTimeBoxSec * 1000;
  if (name === 'cdc-cache' && opts.cdcBatch) config.cdcBatch = opts.cdcBatch;
  const loadBefore = os.loadavg()[0];
  // Reference: the same event-loop probe in this (idle, waiting) process shows what the machine's
  // scheduling alone does to an event loop while the contender runs.
  const reference = new LoopProbe();
  reference.start();
  const child = await runChild(`${name}.js`, config, { timeoutMs: 30 * 60 * 1000 });
  const idleLoop = reference.stop();
  const after = await redis.counters();
  const dbAfter = await redis.dbsize();
  const record = { contender: name, rep: rep + 1, load1_before: round(loadBefore), idle_process_loop_p99_ms: idleLoop.p99 };
  const r = child.result;
  if (!r) {
    record.error = `exit ${child.code ?? child.signal}${child.timedOut ? ' (timed out)' : ''}: ${child.stderr.split('\n').slice(-3).join(' | ')}`;
    record.deletes_ok = false;
    return record;
  }
  const committed = await withAdmin(brokers, async (a) => {
    const c = await groupCommitted(a, groupId, topic);
    await deleteGroups(a, [groupId]);
    return c;
  });
  // What was applied: the whole backlog, or (time-boxed) each partition up to the offset the contender
  // reports as acknowledged by Redis; cdc-cache reports nothing itself: its group's committed offsets
  // (committed only after Redis acknowledged) are used.
  const through = endOffsets.map((_, p) => {
    const own = typeof r.throughOffsets[p] === 'number' ? r.throughOffsets[p] : -1;
    return Math.max(own, committed[p] >= 0 ? committed[p] - 1 : -1);
  });
  const complete = through.every((o, p) => o >= endOffsets[p] - 1);
  const expected = complete ? full : expectedEffect(n, {}, through);
  const remaining = await redis.countExisting(expected.distinct);
  const removed = dbBefore - dbAfter;
  const windowSec = (r.lastMs - r.firstMs) / 1000;
  Object.assign(record, {
    events: r.events,
    events_per_sec: r.events / windowSec,
    window_sec: windowSec,
    wall_sec: child.wallSec,
    cpu_sec: r.cpuWindowSec,
    cpu_total_sec: r.cpuTotalSec,
    rss_peak_mb: r.rssPeakMb,
    loop_delay_p50_ms: r.loop.p50,
    loop_delay_p99_ms: r.loop.p99,
    loop_delay_max_ms: r.loop.max,
    redis_cpu_sec: after.cpuSec - before.cpuSec,
    time_boxed: !!r.timeBoxed,
    deletes_ok: remaining === 0 && removed === expected.distinct.size && r.events >= expected.events,
    check: {
      scope: complete ? 'whole backlog' : `time-boxed prefix: ${expected.events} of ${n} events`,
      expected_events: expected.events,
      expected_key_deletes: expected.keyDeletes,
      expected_distinct_keys: expected.distinct.size,
      keys_left_in_redis: remaining,
      keys_removed_from_redis: removed,
      redis_reported_deleted: r.redisDeleted,
      key_deletes_sent: r.keyDeletes,
      unlink_calls: after.unlinkCalls - before.unlinkCalls,
      group_committed: committed,
    },
  });
  if (r.timeBoxed) record.extrapolated_full_run_sec = n / record.events_per_sec;
  if (r.engine) record.engine = r.engine;
  if (child.stderr) record.stderr_tail = child.stderr.split('\n').slice(-5).join('\n');
  return record;
}

async function runLimit(name, { rep, topic, brokers, redis, n }) {
  const record = { contender: name, rep: rep + 1, load1_before: round(os.loadavg()[0]) };
  if (name === 'limit-raw-consume') {
    // librdkafka through kcat: read the whole backlog, print one byte per message, no processing.
    const outFile = path.join(os.tmpdir(), `cdc-bench-kcat-${process.pid}.out`);
    const t = await runTimed('kcat', ['-C', '-b', brokers, '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '\n'], outFile);
    const stat = fs.statSync(outFile);
    fs.unlinkSync(outFile);
    Object.assign(record, { events: stat.size, events_per_sec: stat.size / t.wallSec, window_sec: t.wallSec, wall_sec: t.wallSec,
      cpu_sec: t.cpuSec, cpu_total_sec: t.cpuSec, rss_peak_mb: t.rssMb, loop_delay_p99_ms: null, loop_delay_max_ms: null,
      deletes_ok: null, consumed_ok: stat.size === n,
      note: 'kcat -C -o beginning -e (librdkafka 2.0.2), wall time includes connecting; deletes nothing (deletes_ok not applicable)' });
    if (t.code !== 0) record.error = `kcat exit ${t.code}: ${t.stderr}`;
    return record;
  }
  // Redis's own ceiling for pipelined deletes: one UNLINK of two keys per command (an event of this
  // workload deletes 2.2 keys on average), 100 commands per pipeline, redis-benchmark's 50 connections.
  await redis.flush();
  const keys = [];
  for (let i = 0; i < ID_SPACE; i++) {
    const id = String(i).padStart(12, '0');
    keys.push(`customer:${id}`, `customer:email:${id}`);
  }
  await redis.populate(keys);
  const before = await redis.counters();
  const { port, host } = parseRedisUrl(redis.url);
  const outFile = path.join(os.tmpdir(), `cdc-bench-rb-${process.pid}.csv`);
  const t = await runTimed('redis-benchmark', ['-h', host, '-p', String(port), '--dbnum', String(redis.db), '-P', '100', '-n', String(n),
    '-r', String(ID_SPACE), '--csv', 'UNLINK', 'customer:__rand_int__', 'customer:email:__rand_int__'], outFile);
  const after = await redis.counters();
  const csv = fs.readFileSync(outFile, 'utf8').trim().split('\n');
  fs.unlinkSync(outFile);
  const row = csv[csv.length - 1].split(',').map((s) => s.replace(/"/g, ''));
  const rps = Number(row[1]);
  const calls = after.unlinkCalls - before.unlinkCalls;
  Object.assign(record, { events: n, events_per_sec: rps, window_sec: n / rps, wall_sec: t.wallSec, cpu_sec: t.cpuSec, cpu_total_sec: t.cpuSec,
    rss_peak_mb: t.rssMb, loop_delay_p99_ms: null, loop_delay_max_ms: null, redis_cpu_sec: after.cpuSec - before.cpuSec,
    deletes_ok: calls >= n, check: { unlink_calls: calls, requested: n },
    note: 'redis-benchmark -P 100 -c 50 UNLINK customer:__rand_int__ customer:email:__rand_int__ (2 keys per command = one event); cpu/rss are redis-benchmark\'s' });
  if (t.code !== 0) record.error = `redis-benchmark exit ${t.code}: ${t.stderr}`;
  return record;
}

// ---------------------------------------------------------------------------------- steady load

async function runSteady(name, { rep, rate, seconds, runId, brokers, redis, redisUrl, cdcBatch }) {
  const cdcBatchOption = name === 'cdc-cache' ? cdcBatch : undefined;
  const topic = `bench.${TOPIC_VERSION}.steady.${runId}.${name}.r${rate}.${rep}`;
  const groupId = `bench-steady-${name}-${runId}-${rate}-${rep}`;
  const total = Math.round(rate * seconds);
  const idBase = 10000000;
  const record = { contender: name, rate, rep: rep + 1, seconds, sent: total, observed: 0, load1_before: round(os.loadavg()[0]) };
  let groupIdInUse = groupId;
  await withAdmin(brokers, (a) => recreateTopic(a, topic, PARTITIONS, [{ name: 'message.timestamp.type', value: 'LogAppendTime' }]));
  await redis.flush();
  const keys = [];
  for (let i = 1; i <= total; i++) keys.push(`customer:${idBase + i}`);
  await redis.populate(keys);

  // observer: the moment Redis executes each customer:{id} delete, via keyspace notifications
  await redis.client.config('SET', 'notify-keyspace-events', 'Eg');
  const subscriber = new Redis(redisUrl);
  const channel = `__keyevent@${redis.db}__:del`;
  const deletedAt = new Map();
  subscriber.on('message', (ch, key) => {
    const t = nowMs();
    if (key.charCodeAt(9) !== 101 /* 'e' of customer:email: */) {
      const id = Number(key.slice(9));
      if (!deletedAt.has(id)) deletedAt.set(id, t);
    }
  });
  await subscriber.subscribe(channel);

  // start the consumer; a KafkaJS consumer sometimes dies joining a group on a topic created a moment
  // ago (metadata not yet everywhere): retry twice before calling the run failed
  let consumerPromise = null;
  let startError = null;
  for (let attempt = 1; attempt <= 3; attempt++) {
    let readyResolve;
    const ready = new Promise((r) => { readyResolve = r; });
    const attemptGroup = attempt === 1 ? groupId : `${groupId}-a${attempt}`;
    consumerPromise = runChild(`${name}.js`, { topic, brokers, redisUrl, groupId: attemptGroup, steady: true, cdcBatch: cdcBatchOption }, {
      timeoutMs: (seconds + 180) * 1000,
      onLine: (line) => { if (line === 'READY') readyResolve(); },
    });
    const readyOrExit = await Promise.race([ready.then(() => 'ready'), consumerPromise.then(() => 'exit'), sleep(60000).then(() => 'timeout')]);
    if (readyOrExit === 'ready') { startError = null; record.consumer_start_attempts = attempt; groupIdInUse = attemptGroup; break; }
    if (readyOrExit === 'timeout') { const pid = findChildByGroup(attemptGroup); if (pid) process.kill(pid, 'SIGKILL'); }
    const res = await consumerPromise;
    startError = `consumer not ready (${readyOrExit}, attempt ${attempt}): ${res && res.stderr ? res.stderr.split('\n').slice(-12).join(' | ') : ''}`;
    log(`steady ${name}: ${startError.slice(0, 300)}`);
    await sleep(2000);
  }
  if (startError) {
    record.error = startError;
    await subscriber.quit();
    await redis.client.config('SET', 'notify-keyspace-events', '');
    await withAdmin(brokers, async (a) => { await a.deleteTopics({ topics: [topic] }).catch(() => {}); });
    return record;
  }
  await sleep(2000); // let the group settle and the first (empty) fetches go out
  // asynchronous: the observer in this process must keep reading notifications meanwhile
  const producer = await new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(BENCH_DIR, 'steady-producer.js'), topic, String(rate), String(seconds), String(idBase)],
      { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.on('exit', (code) => resolve({ code, stdout }));
  });
  const sentLine = /SENT (\d+) ([\d.]+)/.exec(producer.stdout || '');
  record.producer_seconds = sentLine ? Number(sentLine[2]) : null;
  for (let idle = 0, last = -1; deletedAt.size < total && idle < 100; idle++) {
    if (deletedAt.size !== last) { last = deletedAt.size; idle = 0; }
    await sleep(100);
  }
  const consumerChild = findChildByGroup(groupIdInUse);
  if (consumerChild) process.kill(consumerChild, 'SIGTERM');
  const consumer = await consumerPromise;
  await subscriber.quit();
  await redis.client.config('SET', 'notify-keyspace-events', '');

  // Kafka append time of every event, read back with kcat
  const kc = spawnSync('kcat', ['-C', '-b', brokers, '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%T %k\n'], { encoding: 'utf8', maxBuffer: 1 << 30 });
  const latencies = [];
  let missing = 0;
  for (const line of kc.stdout.split('\n')) {
    if (!line) continue;
    const sp = line.indexOf(' ');
    const ts = Number(line.slice(0, sp));
    const m = /"payload":\{"id":(\d+)\}/.exec(line);
    if (!m) continue;
    const t = deletedAt.get(Number(m[1]));
    if (t === undefined) missing++;
    else latencies.push(t - ts);
  }
  latencies.sort((a, b) => a - b);
  Object.assign(record, {
    observed: deletedAt.size, missing,
    p50_ms: round(percentile(latencies, 50)), p99_ms: round(percentile(latencies, 99)), p999_ms: round(percentile(latencies, 99.9)),
    max_ms: round(latencies[latencies.length - 1]),
  });
  const r = consumer.result;
  if (r) {
    Object.assign(record, { cpu_total_sec: round(r.cpuTotalSec), rss_peak_mb: round(r.rssPeakMb, 1), loop_delay_p99_ms: round(r.loop.p99), loop_delay_max_ms: round(r.loop.max) });
    if (r.engine) record.engine_lag_ms = r.engine.lagMs;
    if (r.threads) record.threads = r.threads;  // CPU and run-queue wait per thread (scheduling)
    // The consumer's own view: Kafka append -> the Redis acknowledgement of the event's commands.
    const ack = r.engine ? r.engine.lagMs.kafka : r.ackLatency;
    if (ack && ack.count) Object.assign(record, { ack_p50_ms: round(ack.p50), ack_p99_ms: round(ack.p99), ack_p999_ms: round(ack.p999), ack_max_ms: round(ack.max) });
  } else record.error = `consumer exit ${consumer.code ?? consumer.signal}: ${consumer.stderr.split('\n').slice(-3).join(' | ')}`;
  await withAdmin(brokers, async (a) => { await a.deleteTopics({ topics: [topic] }).catch(() => {}); await deleteGroups(a, [groupIdInUse]); });
  return record;
}

// The latency floor at the same rate: the same producer, a bare librdkafka consumer that only notes
// each message's arrival (append time -> consumption, no Redis).
async function runSteadyFloor({ rep, rate, seconds, runId, brokers }) {
  const topic = `bench.${TOPIC_VERSION}.steady.${runId}.${STEADY_FLOOR}.r${rate}.${rep}`;
  const groupId = `bench-steady-${STEADY_FLOOR}-${runId}-${rate}-${rep}`;
  const total = Math.round(rate * seconds);
  const record = { contender: STEADY_FLOOR, rate, rep: rep + 1, seconds, sent: total, observed: 0, load1_before: round(os.loadavg()[0]) };
  await withAdmin(brokers, (a) => recreateTopic(a, topic, PARTITIONS, [{ name: 'message.timestamp.type', value: 'LogAppendTime' }]));
  const child = spawn(RAWLAT, [brokers, topic, groupId, String(total)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const ready = new Promise((resolve) => child.stdout.on('data', (d) => { stdout += d; if (stdout.includes('READY')) resolve(); }));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  if ((await Promise.race([ready.then(() => 'ready'), exited.then(() => 'exit'), sleep(60000).then(() => 'timeout')])) !== 'ready') {
    child.kill('SIGKILL');
    record.error = `rawlat not ready: ${stderr.trim().slice(-300)}`;
    return record;
  }
  await sleep(2000);
  await new Promise((resolve) => {
    const producer = spawn(process.execPath, [path.join(BENCH_DIR, 'steady-producer.js'), topic, String(rate), String(seconds), '10000000'],
      { stdio: ['ignore', 'ignore', 'inherit'] });
    producer.on('exit', resolve);
  });
  await exited;
  const line = /RESULT (\{.*\})/.exec(stdout);
  if (!line) record.error = `rawlat: no result (${stderr.trim().slice(-300)})`;
  else {
    const r = JSON.parse(line[1]);
    Object.assign(record, { observed: r.count, p50_ms: r.p50_ms, p99_ms: r.p99_ms, p999_ms: r.p999_ms, max_ms: r.max_ms, threads: [r.busiest_thread] });
  }
  await withAdmin(brokers, async (a) => { await a.deleteTopics({ topics: [topic] }).catch(() => {}); await deleteGroups(a, [groupId]); });
  return record;
}

// What else is using the machine (the harness runs on a shared 2-core box): top CPU users by ps.
function busiestProcesses() {
  // two top iterations 1 s apart: the second shows the CPU share over that second (ps shows lifetime averages)
  const r = spawnSync('top', ['-b', '-c', '-n', '2', '-d', '1', '-w', '200'], { encoding: 'utf8' });
  const blocks = (r.stdout || '').split(/^top - /m);
  const last = blocks[blocks.length - 1].split('\n');
  const header = last.findIndex((l) => /^\s*PID\s+USER/.test(l));
  if (header < 0) return [];
  return last.slice(header + 1, header + 9).map((l) => {
    const f = l.trim().split(/\s+/);
    return `${f[8]}% cpu  ${f.slice(11).join(' ')}`.slice(0, 150);
  }).filter((l) => !l.startsWith('0.0%'));
}

// The contender child of a steady run, found by the group id in its environment.
function findChildByGroup(groupId) {
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== process.pid) continue;
      const env = fs.readFileSync(`/proc/${pid}/environ`, 'utf8');
      if (env.includes(groupId)) return Number(pid);
    } catch { /* gone */ }
  }
  return null;
}

// ------------------------------------------------------------------------------------ reporting

const METRICS = ['events_per_sec', 'window_sec', 'wall_sec', 'cpu_sec', 'cpu_total_sec', 'rss_peak_mb', 'loop_delay_p50_ms', 'loop_delay_p99_ms', 'loop_delay_max_ms', 'redis_cpu_sec', 'idle_process_loop_p99_ms', 'load1_before'];

function summarize({ opts, runs, steadyRuns, skipped, topic, full, generation, runId, redisUrl, privateRedis, loadAtStart }) {
  const out = {};
  const names = [...BACKLOG_CONTENDERS, ...LIMITS];
  for (const name of names) {
    const mine = runs.filter((r) => r.contender === name);
    if (!mine.length) {
      out[name] = { skipped: skipped[name] || 'not run', events_per_sec: null, cpu_sec: null, rss_peak_mb: null, loop_delay_p99_ms: null, deletes_ok: null };
      continue;
    }
    const entry = { reps: mine.length };
    for (const m of METRICS) {
      const values = mine.map((r) => r[m]).filter((v) => typeof v === 'number' && Number.isFinite(v));
      entry[m] = round(median(values), m === 'events_per_sec' ? 0 : 2);
      if (values.length) { entry[`${m}_min`] = round(Math.min(...values), m === 'events_per_sec' ? 0 : 2); entry[`${m}_max`] = round(Math.max(...values), m === 'events_per_sec' ? 0 : 2); }
    }
    const oks = mine.map((r) => r.deletes_ok);
    entry.deletes_ok = oks.every((v) => v === null) ? null : oks.every((v) => v === true);
    if (mine.some((r) => r.time_boxed)) {
      entry.time_boxed = true;
      entry.note = `time-boxed at ${opts.eachMessageTimeBoxSec} s per repetition: events_per_sec measured over the prefix it applied; ` +
        `the whole backlog would take about ${round(median(mine.map((r) => r.extrapolated_full_run_sec)), 0)} s (extrapolated)`;
    } else if (mine[0].note) entry.note = mine[0].note;
    if (mine.some((r) => r.error)) entry.errors = mine.filter((r) => r.error).map((r) => `rep ${r.rep}: ${r.error}`);
    entry.runs = mine;
    out[name] = entry;
  }
  for (const r of steadyRuns) {
    const entry = out[r.contender];
    entry.steady_latency = entry.steady_latency || {};
    const key = String(r.rate);
    entry.steady_latency[key] = entry.steady_latency[key] || { runs: [] };
    entry.steady_latency[key].runs.push(r);
  }
  for (const name of [...STEADY_CONTENDERS, STEADY_FLOOR]) {
    const sl = out[name] && out[name].steady_latency;
    if (!sl) continue;
    for (const rate of Object.keys(sl)) {
      for (const m of ['p50_ms', 'p99_ms', 'p999_ms', 'max_ms', 'loop_delay_p99_ms', 'ack_p50_ms', 'ack_p99_ms', 'ack_p999_ms', 'ack_max_ms']) {
        const values = sl[rate].runs.map((r) => r[m]).filter((v) => typeof v === 'number');
        sl[rate][m] = round(median(values));
        if (values.length) { sl[rate][`${m}_min`] = round(Math.min(...values)); sl[rate][`${m}_max`] = round(Math.max(...values)); }
      }
      sl[rate].all_observed = sl[rate].runs.every((r) => r.observed === r.sent && !r.missing);
    }
  }

  const eps = (name) => (out[name] && out[name].events_per_sec) || null;
  const cdc = eps('cdc-cache');
  const lowerLimit = [eps('limit-raw-consume'), eps('limit-redis-del-pipelined')].filter(Boolean);
  const lower = lowerLimit.length ? Math.min(...lowerLimit) : null;
  const steady20k = out['cdc-cache'] && out['cdc-cache'].steady_latency && out['cdc-cache'].steady_latency['20000'];
  const target = (ok, value, goal) => ({ met: cdc === null && ok === null ? null : ok, value, goal });
  out.targets = {
    note: cdc === null ? 'cdc-cache was not part of this run: no target can be judged' : 'judged on the medians of this run',
    throughput_vs_kafkajs_batch: target(cdc && eps('kafkajs-batch-pipeline') ? cdc >= 10 * eps('kafkajs-batch-pipeline') : null,
      cdc && eps('kafkajs-batch-pipeline') ? round(cdc / eps('kafkajs-batch-pipeline'), 1) : null, '>= 10x'),
    throughput_vs_confluent_batch: target(cdc && eps('confluent-batch-pipeline') ? cdc >= 10 * eps('confluent-batch-pipeline') : null,
      cdc && eps('confluent-batch-pipeline') ? round(cdc / eps('confluent-batch-pipeline'), 1) : null, '>= 10x'),
    throughput_vs_lower_limit: target(cdc && lower ? cdc >= lower / 2 : null, cdc && lower ? round(cdc / lower, 2) : null, '>= 0.5 of the lower limit'),
    loop_delay_p99: target(cdc ? out['cdc-cache'].loop_delay_p99_ms < 5 : null, cdc ? out['cdc-cache'].loop_delay_p99_ms : null, '< 5 ms'),
    peak_rss: target(cdc ? out['cdc-cache'].rss_peak_mb < 150 : null, cdc ? out['cdc-cache'].rss_peak_mb : null,
      `< 150 MB at N=1M${opts.n !== 1000000 ? ` (this run: N=${opts.n}, not conclusive)` : ''}`),
    steady_p99_at_20k: target(steady20k && steady20k.ack_p99_ms != null ? steady20k.ack_p99_ms < 5 : null, steady20k ? steady20k.ack_p99_ms : null,
      '< 5 ms at 20,000 events/s (Kafka append -> Redis acknowledgement, as the consumer sees it)'),
  };
  out.steady_targets = steadyTargets(out);
  out.meta = {
    steady_only: opts.steadyOnly,
    run_id: runId,
    date: new Date().toISOString(),
    mode: opts.quick ? 'quick' : 'full',
    n: opts.n,
    reps: opts.reps,
    topic,
    partitions: PARTITIONS,
    backlog: generation,
    workload: { mix: MIX, email_change_share_of_updates: EMAIL_CHANGE_SHARE, customer_ids: ID_SPACE,
      expected_key_deletes: full ? full.keyDeletes : null, expected_distinct_keys: full ? full.distinct.size : null,
      envelope: 'Debezium 3.7 PostgreSQL, JsonConverter schemas.enable=true, REPLICA IDENTITY FULL, ~2.9 KB per value' },
    rules: ['customer:{id}', 'customer:email:{email}'],
    cdc_cache_batch: opts.cdcBatch || 'library defaults',
    redis: privateRedis ? `${redisUrl} (private redis-server ${redisVersion()}, no persistence, started by the harness)` : redisUrl,
    kafka: process.env.KAFKA_BROKERS || '127.0.0.1:19092',
    steady: opts.steady ? { rates: opts.steadyRates, seconds: opts.steadySeconds,
      measured: 'Kafka LogAppendTime (ms precision) to the moment a Redis keyspace-notification subscriber sees the delete of the event\'s customer:{id} key' } : null,
    machine: { cpus: os.cpus().length, cpu_model: os.cpus()[0] && os.cpus()[0].model, mem_gb: round(os.totalmem() / 2 ** 30, 1),
      node: process.version, load_avg_at_start: loadAtStart.map((x) => round(x)), load_avg_at_end: os.loadavg().map((x) => round(x)) },
    versions: versions(),
    skipped,
  };
  return out;
}

function redisVersion() {
  const r = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  const m = /v=([\d.]+)/.exec(r.stdout || '');
  return m ? m[1] : '?';
}

function versions() {
  const v = {};
  for (const p of ['kafkajs', 'ioredis', '@confluentinc/kafka-javascript']) {
    try { v[p] = require(`${p}/package.json`).version; } catch { v[p] = null; }
  }
  try { v.librdkafka_confluent = require('@confluentinc/kafka-javascript').librdkafkaVersion; } catch { /* */ }
  const kcat = spawnSync('kcat', ['-V'], { encoding: 'utf8' });
  const kv = /librdkafka ([\d.]+)/.exec(`${kcat.stdout}${kcat.stderr}`);
  v.librdkafka_kcat = kv ? kv[1] : null;
  // which cdc-cache build ran (the addon and dist/ may be rebuilt by others between runs)
  for (const [k, f] of [['cdc_cache_node_mtime', 'build/native/Release/cdc_cache.node'], ['dist_lib_mtime', 'dist/lib/invalidator.js']]) {
    try { v[k] = fs.statSync(path.join(REPO_ROOT, f)).mtime.toISOString(); } catch { v[k] = null; }
  }
  try { v.cdc_cache_git_head = spawnSync('git', ['-C', REPO_ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim(); } catch { /* */ }
  return v;
}

const fmtInt = (x) => (x == null ? '–' : Math.round(x).toLocaleString('en-US'));
const fmt = (x, d = 1) => (x == null ? '–' : Number(x).toFixed(d));
const range = (e, m, d, f = fmt) => (e[`${m}_min`] == null ? '' : ` (${f(e[`${m}_min`], d)}–${f(e[`${m}_max`], d)})`);

function renderTable(results) {
  const rows = [['contender', 'events/s median (min–max)', 'window s', 'wall s', 'CPU s', 'peak RSS MB', 'loop p99 ms', 'loop max ms', 'idle-process loop p99 ms (reference)', 'deletes_ok']];
  for (const name of [...BACKLOG_CONTENDERS, ...LIMITS]) {
    const e = results[name];
    if (!e) continue;
    if (e.skipped) { rows.push([name, `skipped: ${e.skipped}`, '', '', '', '', '', '', '', '']); continue; }
    rows.push([name + (e.time_boxed ? ' †' : ''), `${fmtInt(e.events_per_sec)}${range(e, 'events_per_sec', 0, fmtInt)}`, fmt(e.window_sec, 2),
      fmt(e.wall_sec, 1), fmt(e.cpu_sec, 2), fmt(e.rss_peak_mb, 0), fmt(e.loop_delay_p99_ms, 2), fmt(e.loop_delay_max_ms, 1),
      fmt(e.idle_process_loop_p99_ms, 2), e.deletes_ok === null ? 'n/a' : String(e.deletes_ok)]);
  }
  const md = rows.map((r) => `| ${r.join(' | ')} |`);
  md.splice(1, 0, `|${rows[0].map(() => '---').join('|')}|`);
  return md.join('\n');
}

function renderSteadySection(results) {
  const m = results.meta;
  const lines = [];
  const withSteady = [...STEADY_CONTENDERS, STEADY_FLOOR].filter((n) => results[n] && results[n].steady_latency);
  if (withSteady.length) {
    lines.push('## Steady load: Kafka append → Redis acknowledgement', '');
    lines.push(`A producer writes at a fixed rate for ${m.steady.seconds} s into a fresh 4-partition topic with ` +
      '`message.timestamp.type=LogAppendTime`; the consumer is already running. Two measures per event, medians of the repetitions ' +
      '(min–max): **ack**, the consumer\'s own view, from the Kafka append time to the Redis reply acknowledging the event\'s ' +
      'commands (cdc-cache: `stats().lagMs.kafka`, recorded by the engine when an event is finished; KafkaJS: taken after each ' +
      'pipeline\'s `exec()` resolves); **seen**, when a separate Redis keyspace-notification subscriber in the harness process sees the ' +
      'delete of the event\'s `customer:{id}` key (which also carries that subscriber\'s own delays: it receives every delete, ' +
      'about 44,000 a second at 20,000 events/s). Kafka timestamps have millisecond precision: about ±1 ms of quantisation.', '');
    lines.push('| contender | rate (events/s) | ack p50 ms | ack p99 ms | ack p99.9 ms | ack max ms | seen p50 ms | seen p99 ms | seen p99.9 ms | loop p99 ms | all events seen |');
    lines.push('|---|---|---|---|---|---|---|---|---|---|---|');
    for (const name of withSteady) {
      for (const [rate, s] of Object.entries(results[name].steady_latency)) {
        const floor = name === STEADY_FLOOR;
        // The floor measures in the consumer only (append -> consumption): its figures go in the ack columns.
        const ack = (metric, digits) => (floor ? `${fmt(s[metric.replace('ack_', '')], digits)}${range(s, metric.replace('ack_', ''), digits)}`
          : `${fmt(s[metric], digits)}${range(s, metric, digits)}`);
        const seen = (metric, digits) => (floor ? '–' : `${fmt(s[metric], digits)}${range(s, metric, digits)}`);
        lines.push(`| ${name}${floor ? ' (append → consumption)' : ''} | ${Number(rate).toLocaleString('en-US')} | ${ack('ack_p50_ms', 2)} | ` +
          `${ack('ack_p99_ms', 2)} | ${ack('ack_p999_ms', 2)} | ${ack('ack_max_ms', 1)} | ${seen('p50_ms', 2)} | ${seen('p99_ms', 2)} | ` +
          `${seen('p999_ms', 2)} | ${floor ? '–' : fmt(s.loop_delay_p99_ms, 2)} | ${floor ? 'n/a' : s.all_observed} |`);
      }
    }
    if (results[STEADY_FLOOR] && results[STEADY_FLOOR].steady_latency) {
      lines.push('', `**${STEADY_FLOOR}** is the floor under these figures: the same producer at the same rate, and a bare librdkafka ` +
        'consumer (`bench/native/rawlat.cc`) that only notes when each message arrives (append time → consumption, ' +
        'no Redis, no observer): what the broker, librdkafka and this machine\'s scheduling cost before any consumer does any work.');
    }
    lines.push('');
    lines.push(...renderSteadyTargets(results.steady_targets));
  }
  return lines;
}

// The steady-load part alone (bench/run --steady-only): results/steady.md.
function renderSteadyMarkdown(results) {
  const m = results.meta;
  return ['# cdc-cache steady load: every repetition', '',
    `Generated by \`bash bench/run --steady-only${m.mode === 'quick' ? ' --quick' : ''}\` on ${m.date} (run ${m.run_id}); ` +
    `${m.reps} repetitions of ${m.steady.seconds} s at ${m.steady.rates.map((r) => r.toLocaleString('en-US')).join(', ')} events/s.`, '',
    `Machine: ${m.machine.cpus} cores (${m.machine.cpu_model}), shared; load average at start ${m.machine.load_avg_at_start.join(' / ')}, ` +
    `at end ${m.machine.load_avg_at_end.join(' / ')} (each repetition's 1-minute load before it started: steady-latest.json, \`load1_before\`). ` +
    `Redis: ${m.redis}. Kafka ${m.kafka}. cdc-cache build: ${m.versions.cdc_cache_git_head}.`, '',
    ...renderSteadySection(results),
    '```', 'busiest processes at start:', ...(m.busiest_processes_at_start || []), 'at end:', ...(m.busiest_processes_at_end || []), '```', ''].join('\n');
}

function renderMarkdown(results) {
  const m = results.meta;
  const lines = [];
  lines.push('# cdc-cache benchmarks: side by side', '');
  lines.push(`Generated by \`npm run bench${m.mode === 'quick' ? ' -- --quick' : ''}\` on ${m.date} (run ${m.run_id}). ` +
    `Regenerate with \`npm run bench\` (full, N=1,000,000) or \`npm run bench -- --quick\` (N=100,000).`, '');
  lines.push('## Setup', '');
  lines.push(`- Workload: ${m.n.toLocaleString('en-US')} Debezium change events in \`${m.topic}\` (${m.partitions} partitions, keyed by id, ` +
    `one id per partition); ${m.workload.envelope}; ${Math.round(m.workload.mix.update * 100)}% updates ` +
    `(${Math.round(m.workload.email_change_share_of_updates * 100)}% of them change the email), ${Math.round(m.workload.mix.create * 100)}% creates, ` +
    `${Math.round(m.workload.mix.delete * 100)}% deletes over ${m.workload.customer_ids.toLocaleString('en-US')} customer ids. ` +
    `Produced once with a librdkafka producer (@confluentinc/kafka-javascript, no compression) and reused while it holds the events.`);
  lines.push(`- Rules for every contender: \`customer:{id}\` and \`customer:email:{email}\` over the before and after images, deduplicated per event: ` +
    `${m.workload.expected_key_deletes.toLocaleString('en-US')} key deletes, ${m.workload.expected_distinct_keys.toLocaleString('en-US')} distinct keys.`);
  lines.push(`- Redis: ${m.redis}. Before each run every key the rules will touch is written; afterwards the harness checks in Redis ` +
    'that every one of them is gone and that exactly that many keys were removed (deletes_ok).');
  lines.push(`- Each contender runs in its own Node process with a fresh consumer group from the beginning of the topic; ${m.reps} repetitions, ` +
    'contenders alternating (order rotated each repetition); medians with (min–max).');
  lines.push('- events/s: events applied / (first message seen → last Redis acknowledgement). CPU s: the process\'s CPU time over that window ' +
    '(all threads). Peak RSS: VmHWM of the process. Event-loop delay: perf_hooks.monitorEventLoopDelay (1 ms resolution, the resolution ' +
    'subtracted) in the consuming process while a 5 ms timer and an HTTP server are alive.');
  lines.push(`- Machine: ${m.machine.cpus} cores (${m.machine.cpu_model}), ${m.machine.mem_gb} GB, Node ${m.machine.node}; ` +
    `load average at start ${m.machine.load_avg_at_start.join(' / ')}, at end ${m.machine.load_avg_at_end.join(' / ')}. ` +
    `Kafka ${m.kafka} (KRaft, single broker on the same machine). Versions: ${Object.entries(m.versions).map(([k, v]) => `${k} ${v}`).join(', ')}.`);
  lines.push('');
  lines.push('## Backlog throughput and resources', '');
  lines.push(renderTable(results), '');
  lines.push('Contenders:', '');
  lines.push('1. **cdc-cache**: `createInvalidator()` from the built `dist/lib`, default batch settings; the harness process polls `stats()` every 5 ms ' +
    '(first `consumed > 0`, last `applied` reaching N), so its window edges carry up to 5 ms of polling error.');
  lines.push('2. **kafkajs-each-message**: KafkaJS `eachMessage`, `JSON.parse`, one awaited ioredis `UNLINK` per key (the tutorial way).');
  lines.push('3. **kafkajs-batch-pipeline**: KafkaJS `eachBatch` (4 partitions concurrently), one ioredis pipeline per batch, one `UNLINK` per event.');
  lines.push('4. **confluent-batch-pipeline**: @confluentinc/kafka-javascript KafkaJS-compatible API (librdkafka), `eachBatch` of up to 1000 ' +
    '(`js.consumer.max.batch.size`), 4 partitions concurrently, one ioredis pipeline per batch.');
  lines.push('- **limit-raw-consume**: `kcat -C -o beginning -e` over the same topic, output discarded: what librdkafka alone can fetch.');
  lines.push('- **limit-redis-del-pipelined**: `redis-benchmark -P 100` (50 connections) of `UNLINK` with two keys per command against the same Redis.');
  for (const name of Object.keys(results)) {
    const e = results[name];
    if (e && e.note && e.time_boxed) lines.push('', `† ${name}: ${e.note}.`);
  }
  lines.push('');
  lines.push(...renderSteadySection(results));
  lines.push('## Targets', '');
  lines.push('| target | goal | value | met |', '|---|---|---|---|');
  for (const [k, t] of Object.entries(results.targets)) {
    if (k === 'note') continue;
    lines.push(`| ${k} | ${t.goal} | ${t.value ?? '–'} | ${t.met === null ? 'not judged' : t.met ? 'yes' : '**no**'} |`);
  }
  lines.push('', `_${results.targets.note}._`, '');
  if (Object.keys(m.skipped).length) {
    lines.push('## Not in this run', '');
    for (const [k, why] of Object.entries(m.skipped)) lines.push(`- ${k}: ${why}`);
    lines.push('');
  }
  lines.push('## What else was running', '');
  lines.push('The machine is shared (2 cores): the busiest processes by `top` (CPU share over one second) when the run started and ' +
    'ended; each run\'s 1-minute load average before it started is in latest.json (`runs[].load1_before`). The column ' +
    '"idle-process loop p99" above is the same event-loop probe in the idle harness process during each run: the delay the ' +
    'machine\'s scheduling alone causes, to read the contenders\' figures against.', '');
  lines.push('```', 'at start:', ...(m.busiest_processes_at_start || []), 'at end:', ...(m.busiest_processes_at_end || []), '```', '');
  lines.push('![throughput and event-loop delay](results/chart.png)', '');
  lines.push('Raw figures, every repetition and the correctness details: `bench/results/latest.json`.', '');
  // Written by hand, kept across runs: what profiling found and what each change gained.
  const tuningLog = path.join(BENCH_DIR, 'TUNING.md');
  if (fs.existsSync(tuningLog)) lines.push(fs.readFileSync(tuningLog, 'utf8').trim(), '');
  return lines.join('\n');
}

main().catch((err) => { console.error(err); process.exit(1); });
