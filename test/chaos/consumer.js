// Chaos consumer: one cdc-cache invalidator in a child process, so the chaos runner can SIGKILL it.
// Plain JavaScript over the compiled package (dist/lib): no TypeScript loader in the child.
//
// Parent protocol (IPC, child_process.fork):
//   env CHAOS_CONSUMER = JSON {name, brokers, redisUrl | redisCluster (seed nodes), groupId, topic, keyPrefix,
//                              deadLetterTopic, sessionTimeoutMs}
//   child -> parent: {type:'started'} | {type:'stats', stats, healthy} every 250 ms | {type:'final', stats, stopMs}
//                    | {type:'error', message}
//   parent -> child: {cmd:'stop'}  (graceful: stop(), final stats, exit 0)
'use strict';

const { loadBuiltLib } = require('./built-lib');

const settings = JSON.parse(process.env.CHAOS_CONSUMER || '{}');
const name = settings.name || 'consumer';

function log(level, message) {
  process.stderr.write(`${new Date().toISOString()} ${name} ${level} ${message}\n`);
}

function send(message) {
  if (process.connected) process.send(message);
}

const { createInvalidator } = loadBuiltLib();
const invalidator = createInvalidator({
  kafka: {
    brokers: settings.brokers,
    groupId: settings.groupId,
    topics: [settings.topic],
    config: {
      'auto.offset.reset': 'earliest',
      // A SIGKILLed member holds its partitions until its session expires: keep that short.
      'session.timeout.ms': settings.sessionTimeoutMs || 10000,
    },
  },
  redis: settings.redisCluster
    ? // A master's acknowledged deletes survive its SIGKILL only once a replica has them too.
      { cluster: { nodes: settings.redisCluster }, waitReplicas: 1, waitTimeoutMs: 1000, connectTimeoutMs: 1000, commandTimeoutMs: 3000 }
    : { url: settings.redisUrl, connectTimeoutMs: 1000, commandTimeoutMs: 3000 },
  rules: [
    {
      source: 'public.customers',
      invalidate: ['customer:{id}', 'customer:email:{email}'],
      // Checked against PostgreSQL at every checkpoint: a refreshed copy must equal its row.
      refresh: { key: 'customer:json:{id}', fields: ['id', 'email', 'first_name'] },
    },
  ],
  keyPrefix: settings.keyPrefix,
  deadLetterTopic: settings.deadLetterTopic,
  logger: {
    debug: () => {},
    info: (m) => log('info', m),
    warn: (m) => log('warn', m),
    error: (m) => log('error', m),
  },
});

let stopping = false;
const timer = setInterval(() => {
  if (!stopping) send({ type: 'stats', stats: invalidator.stats(), healthy: invalidator.isHealthy() });
}, 250);

async function stop() {
  if (stopping) return;
  stopping = true;
  clearInterval(timer);
  const started = Date.now();
  try {
    await invalidator.stop();
  } catch (error) {
    send({ type: 'error', message: `stop() rejected: ${error && error.message}` });
  }
  const stopMs = Date.now() - started;
  let stats;
  try {
    stats = invalidator.stats();
  } catch (error) {
    send({ type: 'error', message: `stats() after stop threw: ${error && error.message}` });
  }
  send({ type: 'final', stats, stopMs });
  log('info', `stopped in ${stopMs} ms`);
  // Let the IPC message flush, then leave; a stuck handle must not keep us alive.
  setTimeout(() => process.exit(0), 200).unref();
  if (process.connected) process.disconnect();
}

process.on('message', (message) => {
  if (message && message.cmd === 'stop') void stop();
});
// The runner died: do not linger as an orphan holding group membership.
process.on('disconnect', () => void stop());
process.on('SIGTERM', () => void stop());

invalidator.start().then(
  () => {
    log('info', 'started');
    send({ type: 'started' });
  },
  (error) => {
    send({ type: 'error', message: `start() rejected: ${error && error.message}` });
    log('error', `start() rejected: ${error && error.stack}`);
    process.exitCode = 2;
    void stop();
  },
);
