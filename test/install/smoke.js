// Runs inside the minimal Debian root (test/install/run), in an app that installed the two tarballs:
// createInvalidator against the project's Kafka and Redis on loopback, which must delete KEY after the
// Debezium event on TOPIC (produced by the test beforehand). Talks to Redis in plain RESP over a socket,
// so the app needs no package but cdc-cache. Prints one JSON line; exit 0 only when the key went away.
'use strict';

const net = require('net');
const { createInvalidator, resolveNative } = require('cdc-cache');

const { KAFKA_BROKERS, REDIS_URL, TOPIC, GROUP, PREFIX, KEY } = process.env;
const DEADLINE_MS = 60_000;

/** EXISTS key over RESP: 1 or 0. */
function redisExists(url, key) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname);
    let reply = '';
    socket.setTimeout(5000, () => socket.destroy(new Error('redis timeout')));
    socket.on('error', reject);
    socket.on('data', (chunk) => {
      reply += chunk;
      const match = /^:(\d+)\r\n/.exec(reply);
      if (match) { socket.end(); resolve(Number(match[1])); }
      else if (reply.startsWith('-')) { socket.end(); reject(new Error(reply.trim())); }
    });
    socket.write(`*2\r\n$6\r\nEXISTS\r\n$${Buffer.byteLength(key)}\r\n${key}\r\n`);
  });
}

async function main() {
  const addon = resolveNative();
  if (await redisExists(REDIS_URL, KEY) !== 1) throw new Error(`${KEY} must exist before the run`);
  const invalidator = createInvalidator({
    kafka: { brokers: KAFKA_BROKERS, groupId: GROUP, topics: [TOPIC], config: { 'auto.offset.reset': 'earliest' } },
    redis: { url: REDIS_URL },
    rules: [{ source: 'inventory.customers', invalidate: [`${PREFIX}:customer:{id}`] }],
  });
  const started = Date.now();
  await invalidator.start();
  let exists = 1;
  while (exists === 1 && Date.now() - started < DEADLINE_MS) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    exists = await redisExists(REDIS_URL, KEY);
  }
  // stats() is a snapshot published every 100 ms: wait until it shows the delete too.
  while (exists === 0 && invalidator.stats().keysDeleted < 1 && Date.now() - started < DEADLINE_MS) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const stats = invalidator.stats();
  await invalidator.stop();
  console.log(JSON.stringify({ addon, deleted: exists === 0, ms: Date.now() - started, consumed: stats.consumed, keysDeleted: stats.keysDeleted }));
  process.exitCode = exists === 0 && stats.keysDeleted === 1 ? 0 : 1;
}

main().catch((error) => {
  console.log(JSON.stringify({ error: error.message }));
  process.exitCode = 1;
});
