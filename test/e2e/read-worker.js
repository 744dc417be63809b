// A reader process for the read-side e2e tests (plain Node, the compiled dist/lib), driven over IPC.
//   process.send({ ready }) once connected; on { go } it runs its mode; on { stop } it finishes the
//   calls in flight and sends { done, summary }.
// Each { go } runs one round (race modes: until { stop }), answered by one { done }.
// Modes (argv[2] is a JSON config):
//   stampede:   `calls` concurrent getOrLoad of one key; the loader INCRs a shared counter, waits.
//   race-lease: loops of getOrLoad(customer row) whose loader reads PostgreSQL, then waits 0-400 ms.
//   race-plain: the same workload as hand-written cache-aside: GET, else SELECT, wait, SET.
'use strict';

const Redis = require('ioredis');
const { Pool } = require('pg');
const { loadBuiltLib } = require('../chaos/built-lib');

const config = JSON.parse(process.argv[2]);
const { createInvalidator } = loadBuiltLib();
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

function invalidator() {
  return createInvalidator({
    kafka: { brokers: '127.0.0.1:1', groupId: 'unused', topics: ['unused'] }, // never started: reads only
    redis: { url: config.redisUrl },
    keyPrefix: config.prefix,
    logger: quiet,
  });
}

async function stampede(redis, cache) {
  const loader = async () => {
    await redis.incr(config.counterKey);
    await sleep(config.loaderMs);
    return { value: 'loaded', pid: process.pid };
  };
  const before = cache.stats().read.loads; // the warm-up call's
  const results = await Promise.all(Array.from({ length: config.calls }, () => cache.getOrLoad(config.key, loader)));
  return { results: results.map((r) => r.value), loadersHere: cache.stats().read.loads - before, stats: cache.stats().read };
}

async function race(redis, pg, stopped) {
  const cache = config.mode === 'race-lease' ? invalidator() : undefined;
  let loads = 0;
  let calls = 0;
  let errors = 0;
  const readRow = async (id) => {
    loads++;
    const { rows } = await pg.query('SELECT id, first_name, last_name, email FROM customers WHERE id = $1', [id]);
    await sleep(Math.random() * config.maxDelayMs);
    return rows[0] ?? null;
  };
  const one = async (id) => {
    const key = `${config.keyName}:${id}`;
    if (cache) return cache.getOrLoad(key, () => readRow(id));
    const cached = await redis.get(config.prefix + key);
    if (cached !== null) return JSON.parse(cached);
    const row = await readRow(id);
    if (row) await redis.set(config.prefix + key, JSON.stringify(row));
    return row;
  };
  const progress = setInterval(() => process.send({ progress: loads }), 500);
  const loop = async () => {
    while (!stopped.value) {
      calls++;
      try {
        await one(config.ids[Math.floor(Math.random() * config.ids.length)]);
      } catch {
        errors++; // the shared Redis restarted under a long run: carry on, as an app would
      }
      await sleep(config.pauseMs);
    }
  };
  await Promise.all(Array.from({ length: config.concurrency }, loop));
  clearInterval(progress);
  const stats = cache ? cache.stats() : undefined;
  if (cache) await cache.stop();
  return { loads, calls, errors, read: stats && stats.read, consistency: stats && stats.consistency };
}

async function main() {
  const redis = new Redis(config.redisUrl);
  const pg = config.mode.startsWith('race') ? new Pool({ connectionString: config.pgUrl, max: 8 }) : undefined;
  if (pg) await pg.query('SELECT 1');
  const cache = config.mode === 'stampede' ? invalidator() : undefined;
  if (cache) await cache.getOrLoad(`${config.key}:warm:${process.pid}`, async () => 1); // connected before go
  const stopped = { value: false };
  let work;
  process.on('message', (message) => {
    if (message.go) {
      stopped.value = false;
      work = config.mode === 'stampede' ? stampede(redis, cache) : race(redis, pg, stopped);
      work.then(
        (summary) => process.send({ done: true, summary }),
        (error) => process.send({ done: true, error: String(error && error.stack ? error.stack : error) }),
      );
    }
    if (message.stop) stopped.value = true;
    if (message.exit) {
      Promise.resolve(cache && cache.stop()).finally(async () => {
        redis.disconnect();
        if (pg) await pg.end();
        process.exit(0);
      });
    }
  });
  process.send({ ready: true });
}

main().catch((error) => {
  process.send({ done: true, error: String(error.stack || error) });
  process.exit(1);
});
