// Lifecycle on real Kafka and Redis: repeated start/stop without leaking, stop while Redis is down,
// process.exit() with the engine running, and a worker thread terminated while its engine runs.
// Child processes and the worker use the compiled package (dist/lib, rebuilt here when stale):
// a crash there fails an assertion instead of taking Jest down.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import { REPO_ROOT, infraEnv, runInfra } from './infra';
import { createInvalidator, type CdcCacheOptions } from '../../lib';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const builtLib = require('../chaos/built-lib') as { ensureBuiltLib(): void; DIST_INDEX: string };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const chaosInfra = require('../chaos/infra') as { livePid(part: string): number | undefined; killPart(part: string): Promise<number> };

jest.setTimeout(300_000);

const infra = infraEnv();
const run = randomUUID().slice(0, 8);
const TOPIC = `cdc-cache.e2e.lifecycle.${run}`;
const CYCLES = 200;
const RSS_GROWTH_LIMIT_MB = 50;
// Engine stop drains in-flight Redis work for at most 10 s (twice: shutdown, then revoke), then closes.
const STOP_BOUND_MS = 30_000;
const RULES = [{ source: 'public.customers', invalidate: ['customer:{id}'] }];
const silentLogger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const mb = (bytes: number) => +(bytes / 1024 / 1024).toFixed(1);

async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

function options(groupId: string, keyPrefix = `lifecycle:${run}:`): CdcCacheOptions {
  return {
    kafka: { brokers: infra.KAFKA_BROKERS, groupId, topics: [TOPIC], config: { 'auto.offset.reset': 'earliest' } },
    redis: { url: infra.REDIS_URL, connectTimeoutMs: 500 },
    rules: RULES,
    keyPrefix,
    logger: silentLogger,
  };
}

function createEvent(id: number): string {
  return JSON.stringify({
    before: null,
    after: { id, first_name: 'Life', last_name: 'Cycle', email: `life.${id}@example.com` },
    source: { connector: 'postgresql', name: 'dbserver1', db: 'inventory', schema: 'public', table: 'customers', ts_ms: Date.now() },
    op: 'c',
    ts_ms: Date.now(),
  });
}

interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/**
 * Runs `node -e script` (cwd: the repository) with env; SIGKILLs it after timeoutMs (a hang), or
 * stopBoundMs after it printed "stopping" (a stop() that does not resolve).
 */
function runNode(script: string, env: Record<string, string>, timeoutMs: number, stopBoundMs?: number): Promise<ChildResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-e', script], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const kill = () => {
      timedOut = true;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(kill, timeoutMs);
    let stopTimer: NodeJS.Timeout | undefined;
    child.stdout.on('data', (d) => {
      stdout += d;
      if (stopBoundMs !== undefined && !stopTimer && stdout.includes('stopping')) stopTimer = setTimeout(kill, stopBoundMs);
    });
    child.stderr.on('data', (d) => (stderr += d));
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      clearTimeout(stopTimer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

const CRASH_SIGNS = /abort|segmentation fault|core dumped|terminate called|FATAL ERROR|napi_fatal|Assertion .* failed|double free|corrupted/i;

describe('lifecycle', () => {
  const kafka = new Kafka({ clientId: 'cdc-cache-e2e-lifecycle', brokers: infra.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
  let admin: Admin;
  let producer: Producer;
  let redis: Redis;

  beforeAll(async () => {
    builtLib.ensureBuiltLib();
    admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ waitForLeaders: true, topics: [{ topic: TOPIC, numPartitions: 2 }] });
    producer = kafka.producer();
    await producer.connect();
    redis = new Redis(infra.REDIS_URL, { maxRetriesPerRequest: 3, retryStrategy: () => 250 });
    redis.on('error', () => {});
  });

  afterAll(async () => {
    // Never leave Redis down for the next suite.
    if (!chaosInfra.livePid('redis')) runInfra('up', true);
    await producer?.disconnect();
    await admin?.deleteTopics({ topics: [TOPIC] }).catch(() => {});
    await admin?.disconnect();
    redis?.disconnect();
  });

  it(`${CYCLES} start/stop cycles in one process stay within ${RSS_GROWTH_LIMIT_MB} MB of RSS growth`, async () => {
    // In a child process: a native abort must fail this test, not take Jest down. Between start()
    // and stop() the cycles wait 0..180 ms, so stops land before, during and after the group join.
    const script = `
      const { createInvalidator } = require(process.env.DIST_INDEX);
      const options = JSON.parse(process.env.OPTIONS);
      options.logger = { debug() {}, info() {}, warn() {}, error() {} };
      const cycles = Number(process.env.CYCLES);
      (async () => {
        let slowest = 0;
        const t0 = Date.now();
        for (let cycle = 1; cycle <= cycles; cycle++) {
          const started = Date.now();
          const invalidator = createInvalidator(options);
          await invalidator.start();
          await new Promise((r) => setTimeout(r, (cycle % 10) * 20));
          await invalidator.stop();
          if (invalidator.state !== 'stopped') throw new Error('state after stop: ' + invalidator.state);
          slowest = Math.max(slowest, Date.now() - started);
          const rss = process.memoryUsage().rss;
          if (cycle === 1 || cycle === cycles) process.stdout.write(JSON.stringify({ cycle, rss }) + '\\n');
          else process.stdout.write('.');
        }
        process.stdout.write(JSON.stringify({ done: true, seconds: (Date.now() - t0) / 1000, slowest }) + '\\n');
      })().catch((e) => { process.stdout.write('failed: ' + e.stack + '\\n'); process.exitCode = 3; });`;
    const { logger: _l, ...plain } = options(`cdc-cache-e2e-lifecycle-${run}-cycles`);
    const result = await runNode(script, { DIST_INDEX: builtLib.DIST_INDEX, OPTIONS: JSON.stringify(plain), CYCLES: String(CYCLES) }, 280_000);
    const lines = result.stdout.split('\n').map((l) => l.replace(/^\.+/, '')).filter((l) => l.startsWith('{'));
    const records = lines.map((l) => JSON.parse(l) as { cycle?: number; rss?: number; done?: boolean; seconds?: number; slowest?: number });
    const cyclesDone = (result.stdout.match(/\./g) ?? []).length + records.filter((r) => r.cycle).length;
    const first = records.find((r) => r.cycle === 1);
    const last = records.find((r) => r.cycle === CYCLES);
    const done = records.find((r) => r.done);
    console.log(
      `lifecycle: RSS after cycle 1: ${first ? mb(first.rss!) : '?'} MB, after cycle ${CYCLES}: ${last ? mb(last.rss!) : '?'} MB` +
        (first && last ? ` (growth ${mb(last.rss! - first.rss!)} MB)` : '') +
        `; ${done ? `${CYCLES} cycles in ${done.seconds} s, slowest ${done.slowest} ms` : `stopped after about ${cyclesDone} cycles`}` +
        `; exit code ${result.code}, signal ${result.signal}${result.stderr.trim() ? `; stderr: ${result.stderr.trim().slice(-300)}` : ''}`,
    );
    expect({ timedOut: result.timedOut, code: result.code, signal: result.signal, stderr: result.stderr.trim().slice(-300) }).toEqual({
      timedOut: false,
      code: 0,
      signal: null,
      stderr: '',
    });
    expect(done).toBeDefined();
    expect(mb(last!.rss! - first!.rss!)).toBeLessThan(RSS_GROWTH_LIMIT_MB);
  });

  it('stop() during a Redis outage resolves in bounded time and commits nothing that was not applied', async () => {
    const groupId = `cdc-cache-e2e-lifecycle-${run}-outage`;
    const prefix = `lifecycle:${run}:outage:`;
    const id = 5_000_000 + Math.floor(Math.random() * 1_000_000);
    const key = `${prefix}customer:${id}`;
    // In a child process: if stop() hangs, the child is killed and this test fails, and Jest still exits.
    const script = `
      const { createInvalidator } = require(process.env.DIST_INDEX);
      const chaosInfra = require(process.env.CHAOS_INFRA);
      const { Kafka, logLevel } = require('kafkajs');
      const options = JSON.parse(process.env.OPTIONS);
      options.logger = { debug() {}, info() {}, warn() {}, error() {} };
      const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
      const until = async (what, check, ms) => {
        const deadline = Date.now() + ms;
        while (!check()) { if (Date.now() > deadline) throw new Error('timed out waiting for ' + what); await sleep(100); }
      };
      (async () => {
        const producer = new Kafka({ brokers: options.kafka.brokers.split(','), logLevel: logLevel.NOTHING }).producer();
        await producer.connect();
        const invalidator = createInvalidator(options);
        await invalidator.start();
        await until('healthy with both partitions', () => invalidator.isHealthy() && invalidator.stats().partitions.length === 2, 60000);
        await chaosInfra.killPart('redis');
        await producer.send({ topic: process.env.TOPIC, messages: [{ key: JSON.stringify({ id: Number(process.env.ID) }), value: process.env.EVENT }] });
        await producer.disconnect();
        await until('the change to be consumed', () => invalidator.stats().consumed >= 1, 30000);
        await sleep(1000);
        const healthyDuringOutage = invalidator.isHealthy();
        const t0 = Date.now();
        process.stdout.write('stopping\\n');
        await invalidator.stop();
        process.stdout.write(JSON.stringify({ stopMs: Date.now() - t0, healthyDuringOutage, state: invalidator.state }) + '\\n');
      })().catch((e) => { process.stdout.write('failed: ' + e.stack + '\\n'); process.exitCode = 3; });`;
    const { logger: _l, ...plain } = options(groupId, prefix);
    let result: ChildResult;
    try {
      result = await runNode(
        script,
        {
          DIST_INDEX: builtLib.DIST_INDEX,
          CHAOS_INFRA: require.resolve('../chaos/infra'),
          OPTIONS: JSON.stringify(plain),
          TOPIC,
          ID: String(id),
          EVENT: createEvent(id),
        },
        90_000,
        STOP_BOUND_MS,
      );
    } finally {
      expect(runInfra('up', true)).toBe(0); // Redis back, whatever happened
    }
    const report = result.stdout.split('\n').find((l) => l.startsWith('{'));
    console.log(`lifecycle: stop() during a Redis outage: ${report ?? `no result (${result.timedOut ? 'killed: stop() hung' : `exit ${result.code}`}): ${result.stdout.trim().slice(-300)}`}`);
    expect(result.stdout).toContain('stopping');
    expect({ stopResolvedWithinMs: STOP_BOUND_MS, timedOut: result.timedOut, code: result.code, signal: result.signal }).toEqual({
      stopResolvedWithinMs: STOP_BOUND_MS,
      timedOut: false,
      code: 0,
      signal: null,
    });
    const parsed = JSON.parse(report!) as { stopMs: number; healthyDuringOutage: boolean; state: string };
    expect(parsed.healthyDuringOutage).toBe(false);
    expect(parsed.state).toBe('stopped');
    expect(parsed.stopMs).toBeLessThan(STOP_BOUND_MS);

    // The change was never applied: its offset must not have been committed, so the group sees it again.
    await waitUntil('redis back', async () => (await redis.ping().catch(() => '')) === 'PONG', 30_000);
    await redis.set(key, 'stale');
    const second = createInvalidator(options(groupId, prefix));
    await second.start();
    try {
      await waitUntil('the unapplied change to be re-consumed and applied', async () => (await redis.exists(key)) === 0, 90_000);
    } catch (error) {
      const [committed] = await admin.fetchOffsets({ groupId, topics: [TOPIC] });
      throw new Error(
        `${(error as Error).message}; group offsets ${JSON.stringify(committed?.partitions)}, ` +
          `new consumer's partitions ${JSON.stringify(second.stats().partitions)}`,
      );
    } finally {
      await second.stop();
    }
  });

  it('process.exit() with the engine running (and busy) exits with the code, no crash, no hang', async () => {
    const messages = Array.from({ length: 2000 }, (_, i) => ({ key: JSON.stringify({ id: i }), value: createEvent(i) }));
    await producer.send({ topic: TOPIC, messages });
    const script = `
      const { createInvalidator } = require(process.env.DIST_INDEX);
      const options = JSON.parse(process.env.OPTIONS);
      options.logger = { debug() {}, info() {}, warn() {}, error: (m) => process.stderr.write('cdc-cache error: ' + m + '\\n') };
      const invalidator = createInvalidator(options);
      invalidator.start().then(() => {
        process.stdout.write('started\\n');
        setTimeout(() => {
          process.stdout.write('consumed ' + invalidator.stats().consumed + '\\n');
          process.exit(7);
        }, 300);
      });`;
    for (const attempt of [1, 2, 3]) {
      const { logger: _l, ...plain } = options(`cdc-cache-e2e-lifecycle-${run}-exit-${attempt}`);
      const result = await runNode(script, { DIST_INDEX: builtLib.DIST_INDEX, OPTIONS: JSON.stringify(plain) }, 30_000);
      console.log(`lifecycle: process.exit attempt ${attempt}: code ${result.code}, signal ${result.signal}, ${result.stdout.trim().replace(/\n/g, ', ')}`);
      expect({ attempt, timedOut: result.timedOut, code: result.code, signal: result.signal }).toEqual({ attempt, timedOut: false, code: 7, signal: null });
      expect(result.stdout).toContain('started');
      expect(result.stderr).not.toMatch(CRASH_SIGNS);
    }
  });

  it('worker.terminate() while the engine runs (and consumes) in the worker leaves the main thread healthy', async () => {
    const script = `
      const { Worker } = require('node:worker_threads');
      const { createInvalidator } = require(process.env.DIST_INDEX);
      const options = JSON.parse(process.env.OPTIONS);
      const silent = { debug() {}, info() {}, warn() {}, error() {} };
      const workerCode = \`
        const { parentPort, workerData } = require('node:worker_threads');
        const { createInvalidator } = require(workerData.dist);
        const options = { ...workerData.options, logger: { debug() {}, info() {}, warn() {}, error() {} } };
        const invalidator = createInvalidator(options);
        invalidator.start().then(() => parentPort.postMessage('started'));
      \`;
      (async () => {
        for (let round = 1; round <= 8; round++) {
          const worker = new Worker(workerCode, { eval: true, workerData: { dist: process.env.DIST_INDEX,
            options: { ...options, kafka: { ...options.kafka, groupId: options.kafka.groupId + '-w' + round } } } });
          worker.on('error', (e) => process.stdout.write('worker error: ' + e.message + '\\n'));
          await new Promise((resolve, reject) => { worker.once('message', resolve); worker.once('exit', () => reject(new Error('worker exited early'))); });
          await new Promise((r) => setTimeout(r, 50 * (round - 1))); // terminate at varied points
          const code = await worker.terminate();
          process.stdout.write('round ' + round + ' terminated with ' + code + '\\n');
        }
        // The main thread still works: timers fire and an engine starts and stops here.
        await new Promise((r) => setTimeout(r, 500));
        const invalidator = createInvalidator({ ...options, logger: silent, kafka: { ...options.kafka, groupId: options.kafka.groupId + '-main' } });
        await invalidator.start();
        await invalidator.stop();
        process.stdout.write('main healthy\\n');
      })().catch((e) => { process.stdout.write('failed: ' + e.stack + '\\n'); process.exitCode = 3; });`;
    const { logger: _l, ...plain } = options(`cdc-cache-e2e-lifecycle-${run}-worker`);
    const result = await runNode(script, { DIST_INDEX: builtLib.DIST_INDEX, OPTIONS: JSON.stringify(plain) }, 90_000);
    console.log(`lifecycle: worker.terminate(): code ${result.code}, signal ${result.signal}, ${result.stdout.trim().replace(/\n/g, ', ')}`);
    expect(result.stderr).not.toMatch(CRASH_SIGNS);
    // Exits on its own (no hang after terminate) and cleanly.
    expect({ timedOut: result.timedOut, code: result.code, signal: result.signal }).toEqual({ timedOut: false, code: 0, signal: null });
    expect(result.stdout).toContain('main healthy');
  });
});
