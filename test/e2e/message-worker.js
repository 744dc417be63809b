// A consumer process for the idempotency e2e tests (plain Node, the compiled dist/lib): consumes
// one topic with onMessage and an idempotency store, applies each message (Redis: INCR a counter
// per id; PostgreSQL: an upsert counting applications, in the store's transaction) and tells the
// parent over IPC after each batch. Commits are far apart (commitIntervalMs), so a SIGKILL after
// a batch lands between the handler and the commit.
'use strict';

const Redis = require('ioredis');
const { loadBuiltLib } = require('../chaos/built-lib');

const config = JSON.parse(process.argv[2]);
const { createInvalidator } = loadBuiltLib();
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

async function main() {
  const redis = new Redis(config.redisUrl);
  const idempotency =
    config.store === 'redis'
      ? { store: 'redis', ttlSeconds: 600, keyPrefix: config.prefix }
      : { store: 'postgres', connectionString: config.pgUrl, table: config.processedTable };
  const invalidator = createInvalidator({
    // A SIGKILLed member holds its partitions until its session times out: keep that short.
    kafka: { brokers: config.brokers, groupId: config.groupId, config: { 'session.timeout.ms': 6000, 'heartbeat.interval.ms': 1000 } },
    redis: { url: config.redisUrl },
    rules: [],
    commitIntervalMs: 3600000,
    logger: quiet,
  });
  invalidator.onMessage(
    config.topic,
    async (messages, { tx }) => {
      for (const m of messages) {
        if (tx) {
          await tx.query(
            `INSERT INTO ${config.effectsTable} (id, applied) VALUES ($1, 1) ON CONFLICT (id) DO UPDATE SET applied = ${config.effectsTable}.applied + 1`,
            [m.id],
          );
        } else {
          await redis.incr(`${config.prefix}effect:${m.id}`);
        }
      }
      process.send({ handled: messages.map((m) => m.id) });
    },
    { idempotency },
  );
  process.on('message', async (message) => {
    if (message.stop) {
      await invalidator.stop();
      process.send({ stopped: true, stats: invalidator.messageStats()[config.topic] });
      await redis.quit();
      process.exit(0);
    }
  });
  await invalidator.start();
  process.send({ ready: true });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
