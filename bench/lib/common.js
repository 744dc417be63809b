'use strict';
// Helpers shared by the harness and the contender processes.
const fs = require('fs');
const path = require('path');
const http = require('http');
const { monitorEventLoopDelay, performance } = require('perf_hooks');

const REPO_ROOT = path.resolve(__dirname, '..', '..');

// Loads .infra/env (written by scripts/infra) without overriding the caller's environment.
function loadInfraEnv() {
  const file = path.join(REPO_ROOT, '.infra', 'env');
  if (!fs.existsSync(file)) return;
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (m && process.env[m[1]] === undefined) process.env[m[1]] = m[2];
  }
}

// Wall clock with sub-millisecond resolution, comparable across processes on this machine.
function nowMs() {
  return performance.timeOrigin + performance.now();
}

function peakRssMb() {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

function cpuSec(usage = process.cpuUsage()) {
  return (usage.user + usage.system) / 1e6;
}

// Event-loop responsiveness probe for the consuming process: a histogram of event-loop delay
// (perf_hooks, 1 ms resolution) while a trivial timer and an HTTP endpoint are alive, as in a
// service that also answers requests.
class LoopProbe {
  constructor() {
    this.histogram = monitorEventLoopDelay({ resolution: 1 });
    this.timer = null;
    this.server = null;
    this.ticks = 0;
  }
  async open() {
    this.server = http.createServer((req, res) => res.end('ok'));
    await new Promise((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.timer = setInterval(() => { this.ticks++; }, 5);
  }
  start() {
    if (!this.started) {
      this.started = true;
      this.histogram.enable();
    }
  }
  stop() {
    this.histogram.disable();
    const h = this.histogram;
    const ms = (ns) => (Number.isFinite(ns) ? ns / 1e6 : null);
    // The histogram records how late each 1 ms tick fired; subtract the resolution itself.
    const late = (ns) => (h.count ? Math.max(0, ms(ns) - 1) : null);
    return { p50: late(h.percentile(50)), p99: late(h.percentile(99)), max: late(h.max), samples: h.count };
  }
  async close() {
    if (this.timer) clearInterval(this.timer);
    if (this.server) await new Promise((resolve) => this.server.close(resolve));
  }
}

function contenderConfig() {
  return JSON.parse(process.env.BENCH_CONFIG || '{}');
}

// Per thread of this process: CPU seconds and seconds spent runnable but waiting for a core
// (/proc/.../schedstat): how much of a latency was the machine's scheduling. Busiest first.
function threadSchedule(limit = 6) {
  const threads = [];
  try {
    for (const tid of fs.readdirSync('/proc/self/task')) {
      const [cpuNs, waitNs] = fs.readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ').map(Number);
      const comm = fs.readFileSync(`/proc/self/task/${tid}/comm`, 'utf8').trim();
      threads.push({ tid: Number(tid), comm, cpu_s: Math.round(cpuNs / 1e6) / 1e3, runqueue_wait_s: Math.round(waitNs / 1e6) / 1e3 });
    }
  } catch { /* not Linux */ }
  return threads.sort((x, y) => y.cpu_s - x.cpu_s).slice(0, limit);
}

function emitResult(result) {
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}

// Tracks, per partition, the offsets fully applied (Redis acknowledged) and decides when the
// backlog (endOffsets = high watermarks) is done.
class Progress {
  constructor(endOffsets) {
    this.end = endOffsets.map(Number);
    this.through = this.end.map(() => -1);
    this.remaining = this.end.filter((e) => e > 0).length;
    this.events = 0;
  }
  applied(partition, offset) {
    const before = this.through[partition];
    if (offset <= before) return;
    this.through[partition] = offset;
    if (before < this.end[partition] - 1 && offset >= this.end[partition] - 1) this.remaining--;
  }
  get done() {
    return this.remaining <= 0;
  }
}

// The smallest value with p% of a sorted list at or below it; null when empty.
function percentile(sorted, p) {
  if (!sorted.length) return null;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx];
}

// p50/p99/p99.9/max of a list of milliseconds (sorted in place), as the engine's stats report them.
function latencySummary(values) {
  values.sort((a, b) => a - b);
  return { count: values.length, p50: percentile(values, 50), p99: percentile(values, 99), p999: percentile(values, 99.9),
    max: percentile(values, 100) };
}

function parseRedisUrl(url) {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || 6379), db: Number((u.pathname || '/0').slice(1) || 0) };
}

// Resolves once a redis-server the caller just spawned answers PING at url (10 s at most).
async function waitForRedis(url, what) {
  const Redis = require('ioredis');
  for (let i = 0; i < 100; i++) {
    const probe = new Redis(url, { lazyConnect: true, retryStrategy: null, maxRetriesPerRequest: 0 });
    probe.on('error', () => {});
    try {
      await probe.connect();
      await probe.ping();
      probe.disconnect();
      return;
    } catch {
      probe.disconnect();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  throw new Error(`${what} did not start`);
}

module.exports = { REPO_ROOT, loadInfraEnv, nowMs, peakRssMb, cpuSec, LoopProbe, contenderConfig, emitResult, threadSchedule, Progress, parseRedisUrl,
  percentile, latencySummary, waitForRedis };
