// The chaos run: a writer updates PostgreSQL continuously while cdc-cache (in child processes)
// consumes the real Debezium topic, and faults hit Redis, Kafka and the consumers. At the end no
// cache key may still hold the "stale" marker, and the consumers' counters must reconcile.
//
// Marker protocol (what makes "no stale key" a proof): right BEFORE each update the writer sets
// every key the update must invalidate (customer:{id}, customer:email:{old}, customer:email:{new})
// to "stale". Only an event applied after that update can remove the marker, so a marker left at
// the end is a change that cdc-cache lost. Redis restarts empty (no persistence), which only
// removes markers (never a false alarm); updates made while Redis is down carry no marker. A final
// sweep updates every row once more with markers, so every row's last change is checked.
'use strict';

const { fork } = require('child_process');
const { randomInt } = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');
const Redis = require('ioredis');
const { Kafka, logLevel } = require('kafkajs');
const { Client } = require('pg');
const infra = require('./infra');

const { sleep } = infra;
const TOPIC = 'dbserver1.public.customers';
const STALE = 'stale';

const PROFILES = {
  long: { rows: 5000, updates: 50_000, rate: 200, partitions: 3, outageMs: 5000, catchUpTimeoutMs: 300_000 },
  short: { rows: 500, updates: 5000, rate: 70, partitions: 3, outageMs: 3000, catchUpTimeoutMs: 120_000 },
};

function log(message) {
  process.stdout.write(`${new Date().toISOString().slice(11, 23)} chaos: ${message}\n`);
}

async function waitFor(what, check, timeoutMs, intervalMs = 200) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

const sumSkipped = (skipped) => Object.values(skipped || {}).reduce((a, b) => a + b, 0);

// ---------------------------------------------------------------- consumer child processes

class ConsumerProcess {
  constructor(name, settings, logFile) {
    this.name = name;
    this.lastStats = undefined;
    this.lastHealthy = false;
    this.final = undefined;
    this.errors = [];
    this.exit = undefined;
    this.killedByUs = false;
    this.healthLog = [];
    this.spawnedAt = Date.now();
    const out = fs.openSync(logFile, 'a');
    this.child = fork(path.join(__dirname, 'consumer.js'), [], {
      env: { ...process.env, CHAOS_CONSUMER: JSON.stringify({ ...settings, name }) },
      stdio: ['ignore', out, out, 'ipc'],
    });
    fs.closeSync(out);
    this.started = new Promise((resolve, reject) => {
      this.child.on('message', (message) => {
        if (message.type === 'started') resolve();
        else if (message.type === 'stats') {
          this.lastStats = message.stats;
          if (message.healthy !== this.lastHealthy) this.healthLog.push({ at: Date.now(), healthy: message.healthy });
          this.lastHealthy = message.healthy;
        } else if (message.type === 'final') this.final = message;
        else if (message.type === 'error') {
          this.errors.push(message.message);
          reject(new Error(`${name}: ${message.message}`));
        }
      });
    });
    this.started.catch(() => {});
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
  }

  partitions() {
    return (this.lastStats && this.lastStats.partitions) || [];
  }

  async kill() {
    this.killedByUs = true;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  /** Graceful stop through IPC; SIGKILL (and an error) when it does not finish within timeoutMs. */
  async stop(timeoutMs = 60_000) {
    if (this.exit) return;
    this.child.send({ cmd: 'stop' });
    const timer = sleep(timeoutMs).then(() => 'timeout');
    if ((await Promise.race([this.exited, timer])) === 'timeout') {
      await this.kill();
      throw new Error(`${this.name}: stop() did not finish within ${timeoutMs} ms (killed)`);
    }
  }

  /** Counters of this process lifetime and whether they reconcile. */
  summary() {
    const graceful = !!this.final && this.final.stats;
    const stats = graceful ? this.final.stats : this.lastStats;
    const end = graceful ? 'stopped' : this.killedByUs ? 'SIGKILL' : `died (${JSON.stringify(this.exit)})`;
    if (!stats) return { name: this.name, end, consumed: 0, applied: 0, skipped: 0, deadLettered: 0, keysDeleted: 0, reconciled: null };
    const skipped = sumSkipped(stats.skipped);
    const resolved = stats.applied + skipped + stats.deadLettered;
    return {
      name: this.name,
      end,
      stopMs: graceful ? this.final.stopMs : undefined,
      consumed: stats.consumed,
      applied: stats.applied,
      skipped,
      skippedByReason: stats.skipped,
      deadLettered: stats.deadLettered,
      missingFields: stats.missingFields,
      keysDeleted: stats.keysDeleted,
      redisReconnects: stats.redis && stats.redis.reconnects,
      // A SIGKILLed process's last snapshot may have events in flight: only a stopped one must balance.
      reconciled: graceful ? stats.consumed === resolved : null,
      unresolved: stats.consumed - resolved,
    };
  }
}

// ---------------------------------------------------------------- the run

/**
 * Runs one chaos scenario. params: profile 'long'|'short' plus overrides (rows, updates, rate,
 * partitions, outageMs, catchUpTimeoutMs, out, groupId). Resolves with the result object (also
 * written to params.out); result.ok tells whether every check passed.
 */
async function runChaos(params = {}) {
  const profileName = params.profile || 'long';
  const p = { ...PROFILES[profileName], ...params };
  const runId = Date.now().toString(36);
  const groupId = p.groupId || `cdc-cache-chaos-${profileName}${p.cluster ? '-cluster' : ''}`;
  const keyPrefix = `chaos:${runId}:`;
  const deadLetterTopic = `cdc-cache-chaos.dead-letter`;
  const logDir = fs.mkdtempSync(path.join(os.tmpdir(), `cdc-cache-chaos-${runId}-`));
  const startedAt = Date.now();
  const failures = [];
  const faults = [];
  const notes = [];
  const consumers = [];
  const k = (key) => `${keyPrefix}${key}`;
  const emailOf = (id, version) => `chaos-${runId}-${id}-${version}@example.com`;

  log(`run ${runId} (${profileName}${p.cluster ? ', Redis Cluster' : ''}): ${p.updates} updates over ${p.rows} rows at ${p.rate}/s; consumer logs in ${logDir}`);
  if ((await infra.runInfra('status')).code !== 0) {
    log('infrastructure not (fully) up: scripts/infra up');
    const up = await infra.runInfra('up');
    if (up.code !== 0) throw new Error(`scripts/infra up failed:\n${up.output}`);
  }
  const env = infra.readInfraEnv();

  const pg = new Client({ connectionString: env.PG_URL, connectionTimeoutMillis: 10_000 });
  await pg.connect();
  const clusterNodes = p.cluster ? (env.REDIS_CLUSTER_NODES || '').split(',').filter(Boolean) : undefined;
  if (clusterNodes && clusterNodes.length === 0) throw new Error('--cluster: .infra/env has no REDIS_CLUSTER_NODES (scripts/infra up starts the cluster)');
  const redis = clusterNodes
    ? new Redis.Cluster(clusterNodes.map(address), {
        enableOfflineQueue: false,
        clusterRetryStrategy: () => 250,
        redisOptions: { maxRetriesPerRequest: 0, enableOfflineQueue: false },
      })
    : new Redis(env.REDIS_URL, { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => 250, lazyConnect: false });
  redis.on('error', () => {}); // outages are part of the plan
  await waitFor('Redis to be ready', () => redis.status === 'ready', 30_000);
  const redisFaults = clusterNodes ? clusterFaults(redis, p) : singleRedisFaults(redis, p);
  const kafka = new Kafka({ clientId: 'cdc-cache-chaos', brokers: env.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });

  const topicEnds = async (topic) => {
    const admin = kafka.admin();
    await admin.connect();
    try {
      const offsets = await admin.fetchTopicOffsets(topic).catch(() => []);
      return Object.fromEntries(offsets.map((o) => [o.partition, Number(o.high)]));
    } finally {
      await admin.disconnect();
    }
  };
  const sumOffsets = (ends) => Object.values(ends).reduce((a, b) => a + b, 0);

  const spawnConsumer = (name) => {
    const consumer = new ConsumerProcess(
      name,
      { brokers: env.KAFKA_BROKERS, redisUrl: env.REDIS_URL, redisCluster: clusterNodes, groupId, topic: TOPIC, keyPrefix, deadLetterTopic },
      path.join(logDir, `${name}.log`),
    );
    consumers.push(consumer);
    return consumer;
  };

  let partitionCount = 1;
  let primary;
  let secondary;
  const ctx = { progress: 0, unmarked: 0, writerDone: false, paused: false, faultsDone: false };
  const rows = [];

  try {
    // -------- setup: partitions, rows, markers
    const admin = kafka.admin();
    await admin.connect();
    try {
      const meta = await admin.fetchTopicMetadata({ topics: [TOPIC] });
      partitionCount = meta.topics[0].partitions.length;
      if (partitionCount < p.partitions) {
        // Rebalances only move work with more than one partition. Debezium's producer learns the new
        // count when its task restarts.
        await admin.createPartitions({ topicPartitions: [{ topic: TOPIC, count: p.partitions }] });
        notes.push(`raised ${TOPIC} from ${partitionCount} to ${p.partitions} partitions and restarted the connector`);
        log(notes[notes.length - 1]);
        partitionCount = p.partitions;
        await infra.restartConnector(env.CONNECT_URL);
        await sleep(2000);
        await infra.waitConnectorRunning(env.CONNECT_URL);
      }
    } finally {
      await admin.disconnect();
    }

    await pg.query(`DELETE FROM customers WHERE last_name LIKE 'chaos-%'`);
    const inserted = await pg.query(
      `INSERT INTO customers (first_name, last_name, email)
       SELECT 'Chaos', $1, 'chaos-' || $1 || '-init-' || g || '@example.com' FROM generate_series(1, $2::int) g
       RETURNING id, email`,
      [`chaos-${runId}`, p.rows],
    );
    for (const row of inserted.rows) rows.push({ id: row.id, email: row.email, version: 0, changes: 0, lastMarked: false });
    // The insert may be applied before these markers land: the final sweep changes every row again.
    const initialKeys = rows.flatMap((row) => [k(`customer:${row.id}`), k(`customer:email:${row.email}`)]);
    await msetStale(redis, initialKeys);
    const topicStart = await topicEnds(TOPIC);
    const deadLetterStart = await topicEnds(deadLetterTopic);
    log(`${rows.length} rows inserted and marked; topic has ${partitionCount} partition(s)`);

    primary = spawnConsumer('A1');
    await withTimeout(primary.started, 60_000, 'consumer A1 to start');

    // -------- the writer and the faults, concurrently
    const writer = (async () => {
      let begin = Date.now();
      // At least p.updates, and on until the last fault is over: every fault happens under writes.
      for (let i = 0; i < p.updates || !ctx.faultsDone; i++) {
        if (ctx.paused) {
          const pausedAt = Date.now();
          while (ctx.paused) await sleep(50);
          begin += Date.now() - pausedAt;  // no burst after a checkpoint
        }
        const wait = begin + (i * 1000) / p.rate - Date.now();
        if (wait > 0) await sleep(wait);
        const row = rows[randomInt(rows.length)];
        const changeEmail = i % 4 !== 3; // most updates change the email; some only other fields
        const newEmail = changeEmail ? emailOf(row.id, row.version + 1) : row.email;
        const keys = [k(`customer:${row.id}`), k(`customer:email:${row.email}`)];
        if (changeEmail) keys.push(k(`customer:email:${newEmail}`));
        const marked = await tryMarkStale(redis, keys);
        await pg.query('UPDATE customers SET first_name = $1, last_name = $2, email = $3 WHERE id = $4', [
          `Chaos${i}`,
          `chaos-${runId}`,
          newEmail,
          row.id,
        ]);
        if (changeEmail) row.version += 1;
        row.email = newEmail;
        row.changes += 1;
        row.lastMarked = marked;
        if (!marked) ctx.unmarked += 1;
        ctx.progress = i + 1;
      }
      ctx.writerDone = true;
      log(`writer: ${ctx.progress} updates in ${((Date.now() - begin) / 1000).toFixed(1)} s (${ctx.unmarked} without markers: Redis down)`);
    })();

    const faultPlan = [
      [0.1, 'consumer SIGKILL + restart', async () => {
        const old = primary;
        const lastPartitions = old.partitions().length;
        await old.kill();
        await sleep(1000);
        primary = spawnConsumer(`A${consumers.filter((c) => c.name.startsWith('A')).length + 1}`);
        await withTimeout(primary.started, 60_000, `${primary.name} to start`);
        const t0 = Date.now();
        await waitFor(`${primary.name} to be assigned partitions`, () => primary.partitions().length >= partitionCount, 90_000);
        return `killed ${old.name} (held ${lastPartitions} partition(s)); ${primary.name} assigned ${primary.partitions().length} after ${((Date.now() - t0) / 1000).toFixed(1)} s`;
      }],
      [0.2, `${redisFaults.outage.name} #1`, () => redisOutage()],
      [0.27, redisFaults.readOnly.name, () => redisFaults.readOnly.run(primary)],
      [0.35, 'second consumer joins the group', async () => {
        secondary = spawnConsumer('B1');
        await withTimeout(secondary.started, 60_000, 'B1 to start');
        const t0 = Date.now();
        await waitFor('a rebalance giving B1 partitions (or settling)', () => {
          const a = primary.partitions().length;
          const b = secondary.partitions().length;
          return partitionCount > 1 ? b > 0 && a + b === partitionCount : Date.now() - t0 > 5000;
        }, 90_000);
        return `rebalanced in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${primary.name} ${primary.partitions().length}, B1 ${secondary.partitions().length} partition(s)`;
      }],
      [0.43, redisFaults.outOfMemory.name, () => redisFaults.outOfMemory.run(primary)],
      [0.5, 'second consumer leaves the group', async () => {
        const t0 = Date.now();
        await secondary.stop();
        await waitFor(`${primary.name} to get every partition back`, () => primary.partitions().length === partitionCount, 90_000);
        return `B1 stopped in ${secondary.final ? secondary.final.stopMs : '?'} ms; ${primary.name} holds ${partitionCount} partition(s) after ${((Date.now() - t0) / 1000).toFixed(1)} s`;
      }],
      [0.6, 'Kafka broker kill + restart', async () => {
        const pid = await infra.killPart('kafka');
        const killedAt = Date.now();
        await sleep(p.outageMs);
        const sawUnhealthy = primary.healthLog.some((h) => !h.healthy && h.at >= killedAt) || !primary.lastHealthy;
        const up = await infra.runInfra('up');
        if (up.code !== 0) throw new Error(`scripts/infra up failed after the Kafka kill:\n${up.output.slice(-2000)}`);
        const connectorNotes = await infra.waitConnectorRunning(env.CONNECT_URL);
        const t0 = Date.now();
        await waitFor(`${primary.name} to be healthy and own every partition again`, () => primary.lastHealthy && primary.partitions().length === partitionCount, 120_000);
        return `killed broker pid ${pid}; unhealthy during outage: ${sawUnhealthy}; healthy with ${partitionCount} partition(s) ${((Date.now() - t0) / 1000).toFixed(1)} s after infra up${connectorNotes.length ? `; ${connectorNotes.join('; ')}` : ''}`;
      }],
      [0.7, `consumer restart while ${clusterNodes ? 'a Redis Cluster master' : 'Redis'} is down`, async () => {
        const pid = await redisFaults.outage.kill();
        const old = primary;
        await old.kill();
        primary = spawnConsumer(`A${consumers.filter((c) => c.name.startsWith('A')).length + 1}`);
        await withTimeout(primary.started, 60_000, `${primary.name} to start with Redis down`);
        await sleep(p.outageMs);
        const up = await infra.runInfra('up');
        if (up.code !== 0) throw new Error(`scripts/infra up failed after the Redis kill:\n${up.output.slice(-2000)}`);
        const t0 = Date.now();
        await waitFor(`${primary.name} to be healthy with every partition`, () => primary.lastHealthy && primary.partitions().length === partitionCount, 120_000);
        return `killed ${pid} and ${old.name}; ${primary.name} started meanwhile, healthy ${((Date.now() - t0) / 1000).toFixed(1)} s after Redis came back`;
      }],
      [0.8, `${redisFaults.outage.name} #2`, () => redisOutage()],
      [0.9, 'Kafka Connect kill + restart (replayed events)', async () => {
        // Debezium resumes from its last flushed source offset: changes since then come again, at new offsets.
        const pid = await infra.killPart('connect');
        await sleep(1000);
        const up = await infra.runInfra('up');
        if (up.code !== 0) throw new Error(`scripts/infra up failed after the Connect kill:\n${up.output.slice(-2000)}`);
        const connectorNotes = await infra.waitConnectorRunning(env.CONNECT_URL);
        // Replayed row images older than what a key holds are not written (versioned refreshes).
        const olderSkipped = () => (primary.lastStats ? primary.lastStats.refreshesOlderSkipped : 0);
        const before = olderSkipped();
        await sleep(p.outageMs);
        return `killed Connect pid ${pid}; connector running again${connectorNotes.length ? ` (${connectorNotes.join('; ')})` : ''}; older refreshes skipped since: ${olderSkipped() - before}`;
      }],
    ];

    // After each fault: the writer pauses until cdc-cache caught up, then nothing may be lost (no
    // marker left) or stale (every refreshed copy equals its row in PostgreSQL). No marker and lag 0
    // do not prove the last updates were applied: those made while Redis refused markers (down, out
    // of memory) carry none, and lag is as of the last stats and of what Debezium already wrote. So
    // the refreshed copies are part of the wait: a copy that is only behind catches up within it, a
    // regressed one (an older image written over a newer) stays and is counted.
    async function checkpoint(fault) {
      ctx.paused = true;
      try {
        let stale = [];
        let differing = [];
        let lag = -1;
        const t0 = Date.now();
        try {
          await waitFor('cdc-cache to catch up after the fault', async () => {
            stale = await findStale(redis, keyPrefix);
            differing = await staleRefreshes(redis, pg, runId, k);
            const parts = consumers.filter((c) => !c.exit).flatMap((c) => c.partitions());
            lag = parts.reduce((a, part) => a + part.lag, 0);
            return stale.length === 0 && differing.length === 0 && parts.length === partitionCount && lag === 0;
          }, p.catchUpTimeoutMs, 500);
        } catch {
          // counted below
        }
        differing = await staleRefreshes(redis, pg, runId, k);  // again outside the wait: an error here is loud
        fault.lost = stale.length;
        fault.staleRefreshes = differing.length;
        fault.catchUpS = +((Date.now() - t0) / 1000).toFixed(1);
        if (fault.lost > 0) failures.push(`after "${fault.name}": ${fault.lost} lost invalidation(s) (stale markers), lag ${lag}`);
        if (fault.staleRefreshes > 0) failures.push(`after "${fault.name}": ${fault.staleRefreshes} refreshed key(s) differ from PostgreSQL`);
      } finally {
        ctx.paused = false;
      }
    }

    async function redisOutage() {
      const pid = await redisFaults.outage.kill();
      const killedAt = Date.now();
      await sleep(p.outageMs);
      const sawUnhealthy = primary.healthLog.some((h) => !h.healthy && h.at >= killedAt) || !primary.lastHealthy;
      const up = await infra.runInfra('up');
      if (up.code !== 0) throw new Error(`scripts/infra up failed after the Redis kill:\n${up.output.slice(-2000)}`);
      const t0 = Date.now();
      await waitFor(`${primary.name} to reconnect to Redis`, () => primary.lastHealthy && primary.lastStats && primary.lastStats.redisConnected, 60_000);
      return `killed ${pid} for ${p.outageMs} ms; unhealthy during outage: ${sawUnhealthy}; healthy ${((Date.now() - t0) / 1000).toFixed(1)} s after restart`;
    }

    const faultRunner = (async () => {
      try {
        for (const [fraction, name, inject] of p.faults === false ? [] : faultPlan) {
          await waitFor(`update ${Math.round(fraction * p.updates)}`, () => ctx.progress >= fraction * p.updates || ctx.writerDone, 24 * 3600_000, 100);
          const fault = { name, atUpdate: ctx.progress, atS: +((Date.now() - startedAt) / 1000).toFixed(1) };
          log(`fault: ${name} (at update ${ctx.progress})`);
          const t0 = Date.now();
          try {
            fault.detail = await inject();
            fault.ok = true;
          } catch (error) {
            fault.ok = false;
            fault.detail = error.message;
            failures.push(`fault "${name}": ${error.message}`);
          }
          fault.durationS = +((Date.now() - t0) / 1000).toFixed(1);
          await checkpoint(fault);
          faults.push(fault);
          log(`fault done: ${name}: ${fault.detail}; lost ${fault.lost}, stale ${fault.staleRefreshes} (caught up in ${fault.catchUpS} s)`);
        }
      } finally {
        ctx.faultsDone = true;
      }
    })();

    await Promise.all([writer, faultRunner]);
    if (secondary && !secondary.exit) await secondary.stop().catch((error) => failures.push(error.message));

    // -------- the final sweep: every row changes once more, with markers
    await waitFor('Redis to accept markers', () => redis.status === 'ready', 60_000);
    const sweepKeys = rows.flatMap((row) => [
      k(`customer:${row.id}`),
      k(`customer:email:${row.email}`),
      k(`customer:email:${emailOf(row.id, 'final')}`),
    ]);
    await msetStale(redis, sweepKeys);
    const swept = await pg.query(
      `UPDATE customers SET first_name = 'ChaosFinal', email = 'chaos-' || $1 || '-' || id || '-final@example.com'
       WHERE last_name = $2`,
      [runId, `chaos-${runId}`],
    );
    for (const row of rows) {
      row.email = emailOf(row.id, 'final');
      row.changes += 1;
      row.lastMarked = true;
    }
    const totalUpdates = ctx.progress + swept.rowCount;
    log(`final sweep: ${swept.rowCount} rows updated in one transaction`);

    // -------- catch up: no marker left, nothing behind in any partition
    const writerEnd = Date.now();
    let staleKeys = [];
    let lag = -1;
    try {
      await waitFor('cdc-cache to catch up (no stale key, lag 0)', async () => {
        staleKeys = await findStale(redis, keyPrefix);
        const parts = primary.partitions();
        lag = parts.reduce((a, part) => a + part.lag, 0);
        return staleKeys.length === 0 && parts.length === partitionCount && lag === 0;
      }, p.catchUpTimeoutMs, 1000);
    } catch (error) {
      failures.push(`${error.message}: ${staleKeys.length} stale key(s), lag ${lag}`);
    }
    const catchUpS = +((Date.now() - writerEnd) / 1000).toFixed(1);
    const finalStaleRefreshes = await staleRefreshes(redis, pg, runId, k);
    if (finalStaleRefreshes.length > 0) failures.push(`${finalStaleRefreshes.length} refreshed key(s) differ from PostgreSQL at the end, e.g. ${finalStaleRefreshes.slice(0, 3).join('; ')}`);
    log(`caught up ${catchUpS} s after the writer stopped: ${staleKeys.length} stale key(s), lag ${lag}`);

    // -------- stop, then check committed offsets and counts
    await primary.stop().catch((error) => failures.push(error.message));
    const topicEnd = await topicEnds(TOPIC);
    const deadLetterEnd = await topicEnds(deadLetterTopic);
    const deadLetters = await readDeadLetters(kafka, deadLetterTopic, deadLetterStart, deadLetterEnd);
    const committed = await groupOffsets(kafka, groupId);
    for (const [partition, end] of Object.entries(topicEnd)) {
      if ((committed[partition] ?? -1) !== end) {
        failures.push(`partition ${partition}: committed offset ${committed[partition]} != end offset ${end} after the final stop`);
      }
    }

    const processes = consumers.map((c) => c.summary());
    for (const c of consumers) {
      if (!c.killedByUs && !(c.exit && c.exit.code === 0 && c.final)) failures.push(`${c.name} ended badly: ${JSON.stringify(c.exit)} ${c.errors.join('; ')}`);
    }
    for (const proc of processes) {
      if (proc.reconciled === false) {
        failures.push(`${proc.name}: consumed ${proc.consumed} != applied ${proc.applied} + skipped ${proc.skipped} + dead-lettered ${proc.deadLettered} (off by ${proc.unresolved})`);
      }
    }
    const totals = processes.reduce(
      (t, x) => ({ consumed: t.consumed + x.consumed, applied: t.applied + x.applied, skipped: t.skipped + x.skipped, deadLettered: t.deadLettered + x.deadLettered, keysDeleted: t.keysDeleted + x.keysDeleted }),
      { consumed: 0, applied: 0, skipped: 0, deadLettered: 0, keysDeleted: 0 },
    );
    const skippedByReason = {};
    for (const proc of processes) {
      for (const [reason, n] of Object.entries(proc.skippedByReason || {})) skippedByReason[reason] = (skippedByReason[reason] || 0) + n;
    }
    const produced = sumOffsets(topicEnd) - sumOffsets(topicStart);
    if (totals.consumed < produced) failures.push(`consumed ${totals.consumed} < ${produced} messages produced to ${TOPIC} during the run`);
    // The topic is shared: other suites may have written malformed messages to it on purpose. Those
    // must be dead-lettered; a well-formed (JSON) message that was dead-lettered is a failure.
    const wellFormed = deadLetters.filter((d) => d.json);
    for (const d of deadLetters.filter((x) => !x.json)) {
      notes.push(`dead-lettered a malformed message someone wrote to ${TOPIC} (${d.origin}): ${d.error}`);
    }
    if (wellFormed.length > 0) {
      failures.push(`well-formed events were dead-lettered: ${wellFormed.map((d) => `${d.origin}: ${d.error}`).slice(0, 5).join('; ')}`);
    }
    if (totals.deadLettered > deadLetters.length) {
      failures.push(`${totals.deadLettered} dead letters counted but only ${deadLetters.length} found in ${deadLetterTopic}`);
    }
    if (staleKeys.length > 0) {
      const byId = new Map(rows.map((r) => [r.id, r]));
      const sample = staleKeys.slice(0, 10).map((key) => {
        const id = Number((/customer:(\d+)$/.exec(key) || /-(\d+)-[^-]+@example\.com$/.exec(key) || [])[1]);
        const row = byId.get(id);
        return `${key}${row ? ` (row ${id}: ${row.changes} change(s), now ${row.email})` : ''}`;
      });
      failures.push(`${staleKeys.length} stale key(s), e.g. ${sample.join(', ')}`);
    }

    const result = {
      ok: failures.length === 0,
      profile: profileName,
      runId,
      updates: totalUpdates,
      rows: rows.length,
      stale_keys: staleKeys.length,
      stale_refreshes: finalStaleRefreshes.length,
      faults,
      consumed: totals.consumed,
      applied: totals.applied,
      skipped: totals.skipped,
      skipped_by_reason: skippedByReason,
      dead_lettered: totals.deadLettered,
      dead_letter_topic_messages: deadLetters.length,
      keys_deleted: totals.keysDeleted,
      topic_messages: produced,
      partitions: partitionCount,
      unmarked_updates: ctx.unmarked,
      catch_up_s: catchUpS,
      duration_s: +((Date.now() - startedAt) / 1000).toFixed(1),
      processes,
      notes,
      failures,
      log_dir: logDir,
    };
    printSummary(result);
    if (p.out) fs.writeFileSync(p.out, `${JSON.stringify(result, null, 2)}\n`);
    return result;
  } finally {
    ctx.writerDone = true;
    for (const c of consumers) if (!c.exit) await c.kill().catch(() => {});
    await pg.end().catch(() => {});
    redis.disconnect();
    // Leave the infrastructure as we found it: everything up.
    if ((await infra.runInfra('status')).code !== 0) await infra.runInfra('up');
  }
}

// ---------------------------------------------------------------- Redis faults, one Redis or a cluster

const address = (hostPort) => {
  const [host, port] = hostPort.split(':');
  return { host, port: Number(port) };
};

/** Read-only replica, out of memory and kill, on the one Redis (scripts/infra's 16379). */
function singleRedisFaults(redis, p) {
  return {
    outage: { name: 'Redis kill + restart', kill: async () => `redis pid ${await infra.killPart('redis')}` },
    readOnly: {
      name: 'Redis a read-only replica, then promoted',
      async run(primary) {
        // A failover seen from a client still pointed at the old master: every write is -READONLY.
        await redis.call('REPLICAOF', '127.0.0.1', '1');  // a master that never answers: the data stays
        const since = Date.now();
        await sleep(p.outageMs);
        const sawUnhealthy = primary.healthLog.some((h) => !h.healthy && h.at >= since) || !primary.lastHealthy;
        await redis.call('REPLICAOF', 'NO', 'ONE');
        await waitFor(`${primary.name} to be healthy again`, () => primary.lastHealthy, 60_000);
        return `read-only for ${p.outageMs} ms; unhealthy meanwhile: ${sawUnhealthy}`;
      },
    },
    outOfMemory: { name: 'Redis out of memory (noeviction)', run: (primary) => outOfMemory(redis, p, primary) },
  };
}

/** Refreshes are refused with -OOM (each falls back to deleting its key); deletes still work. */
async function outOfMemory(node, p, primary) {
  const [, maxmemory] = await node.call('CONFIG', 'GET', 'maxmemory');
  const [, policy] = await node.call('CONFIG', 'GET', 'maxmemory-policy');
  const before = primary.lastStats ? primary.lastStats.redis.fallbackDeletes : 0;
  await node.call('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
  await node.call('CONFIG', 'SET', 'maxmemory', '1');
  try {
    await sleep(p.outageMs);
  } finally {
    await node.call('CONFIG', 'SET', 'maxmemory', maxmemory);
    await node.call('CONFIG', 'SET', 'maxmemory-policy', policy);
  }
  const fallbacks = (primary.lastStats ? primary.lastStats.redis.fallbackDeletes : 0) - before;
  return `out of memory for ${p.outageMs} ms; refreshes deleted instead: ${fallbacks}`;
}

/** The same kinds on scripts/infra's Redis Cluster (three masters, a replica each). */
function clusterFaults(cluster, p) {
  // CLUSTER NODES as seen by a live node: [{ id, address, port, master, failed, slots }]
  const topology = async () => {
    const text = await cluster.call('CLUSTER', 'NODES');
    return text.trim().split('\n').map((line) => {
      const [id, addr, flags, , , , , , ...slots] = line.split(' ');
      const hostPort = addr.split('@')[0];
      return { id, address: hostPort, port: Number(hostPort.split(':')[1]), master: flags.includes('master'), failed: flags.includes('fail'), slots: slots.length };
    });
  };
  const direct = async (hostPort, work) => {
    const node = new Redis({ ...address(hostPort), maxRetriesPerRequest: 1, lazyConnect: true });
    node.on('error', () => {});
    try {
      await node.connect();
      return await work(node);
    } finally {
      node.disconnect();
    }
  };
  const clusterOk = async () => {
    try {
      const nodes = (await topology()).filter((n) => !n.failed);
      const masters = nodes.filter((n) => n.master && n.slots > 0);
      return masters.length === 3 && (await direct(masters[0].address, (n) => n.call('CLUSTER', 'INFO'))).includes('cluster_state:ok');
    } catch {
      return false;
    }
  };
  const aMaster = async () => (await topology()).find((n) => n.master && !n.failed && n.slots > 0);
  return {
    outage: {
      name: 'Redis Cluster master SIGKILL (its replica takes over) + restart',
      async kill() {
        const master = await aMaster();
        const pid = await infra.killPart(`redis-cluster-${master.port}`);
        await waitFor('the replica to take over', async () => (await sleep(500), clusterOk()), 60_000, 500);
        return `master ${master.address} (pid ${pid})`;
      },
    },
    readOnly: {
      name: 'Redis Cluster manual failover (CLUSTER FAILOVER)',
      async run(primary) {
        const nodes = await topology();
        const replica = nodes.find((n) => !n.master && !n.failed);
        const before = primary.lastStats ? primary.lastStats.redis.moved : 0;
        await direct(replica.address, (n) => n.call('CLUSTER', 'FAILOVER'));
        await waitFor(`${replica.address} to be a master`, async () => (await topology()).some((n) => n.id === replica.id && n.master), 30_000, 250);
        await waitFor('the cluster to be ok', clusterOk, 30_000, 250);
        await sleep(p.outageMs);  // writes go on meanwhile: the old master answers MOVED
        const moved = (primary.lastStats ? primary.lastStats.redis.moved : 0) - before;
        return `${replica.address} promoted; MOVED followed meanwhile: ${moved}`;
      },
    },
    outOfMemory: {
      name: 'Redis Cluster master out of memory (noeviction)',
      async run(primary) {
        const master = await aMaster();
        return direct(master.address, async (node) => `${master.address}: ${await outOfMemory(node, p, primary)}`);
      },
    },
  };
}

// ---------------------------------------------------------------- helpers

async function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Sets the markers; false (nothing to check for this update) when Redis is down. */
async function tryMarkStale(redis, keys) {
  if (redis.status !== 'ready') return false;
  try {
    // One SET per key: a cluster refuses a multi-key MSET across slots.
    await withTimeout(Promise.all(keys.map((key) => redis.set(key, STALE))), 1000, 'SET');
    return true;
  } catch {
    return false;
  }
}

/** Sets many markers; must succeed (Redis is up in the phases that call it). */
async function msetStale(redis, keys) {
  for (let i = 0; i < keys.length; i += 2000) {
    const chunk = keys.slice(i, i + 2000);
    await waitFor('Redis to take markers', () => tryMarkStale(redis, chunk), 30_000);
  }
}

/** Every key under the run's prefix that still holds the marker. */
async function findStale(redis, keyPrefix) {
  if (redis.status !== 'ready') return ['(redis not ready)'];
  const stale = [];
  // A cluster: every master's keys (each node connection is a plain client).
  for (const node of typeof redis.nodes === 'function' ? redis.nodes('master') : [redis]) {
    let cursor = '0';
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', `${keyPrefix}*`, 'COUNT', 5000);
      cursor = next;
      if (keys.length > 0) {
        const values = await getAll(node, keys);
        keys.forEach((key, i) => {
          if (values[i] === STALE) stale.push(key);
        });
      }
    } while (cursor !== '0');
  }
  return stale;
}

/** GET of many keys, pipelined (an MGET across slots is refused by a cluster). */
async function getAll(client, keys) {
  const replies = await client.pipeline(keys.map((key) => ['get', key])).exec();
  return replies.map(([error, value]) => (error ? undefined : value));
}

/** Refreshed copies (customer:json:{id}) that differ from their row in PostgreSQL; absent is fine. */
async function staleRefreshes(redis, pg, runId, k) {
  if (redis.status !== 'ready') return ['(redis not ready)'];
  const { rows } = await pg.query('SELECT id, email, first_name FROM customers WHERE last_name = $1', [`chaos-${runId}`]);
  const stale = [];
  for (let i = 0; i < rows.length; i += 2000) {
    const chunk = rows.slice(i, i + 2000);
    const keys = chunk.map((row) => k(`customer:json:${row.id}`));
    // A cluster client pipelines only keys of one slot: one GET each there.
    const values = typeof redis.nodes === 'function' ? await Promise.all(keys.map((key) => redis.get(key))) : await getAll(redis, keys);
    chunk.forEach((row, j) => {
      if (values[j] === null) return;
      let copy;
      try {
        copy = JSON.parse(values[j]);
      } catch {
        copy = undefined;
      }
      if (!copy || copy.id !== row.id || copy.email !== row.email || copy.first_name !== row.first_name) {
        stale.push(`row ${row.id}: cached ${values[j]}, database ${JSON.stringify(row)}`);
      }
    });
  }
  return stale;
}

/**
 * Messages added to the dead-letter topic between two sets of end offsets: origin, reason header,
 * and whether the original value was well-formed JSON (Debezium never writes anything else).
 */
async function readDeadLetters(kafka, topic, startOffsets, endOffsets) {
  const wanted = Object.entries(endOffsets).filter(([partition, end]) => end > (startOffsets[partition] || 0));
  if (wanted.length === 0) return [];
  const letters = [];
  const consumer = kafka.consumer({ groupId: `cdc-cache-chaos-reader-${Date.now().toString(36)}` });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    const remaining = new Map(wanted.map(([partition, end]) => [Number(partition), end]));
    let done;
    const finished = new Promise((resolve) => (done = resolve));
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        const offset = Number(message.offset);
        if (offset >= (startOffsets[partition] || 0) && offset < (endOffsets[partition] || 0)) {
          const header = (name) => (message.headers && message.headers[name] ? message.headers[name].toString() : '');
          let json = false;
          try {
            JSON.parse(message.value ? message.value.toString('utf8') : 'x');
            json = true;
          } catch {
            // malformed: expected to be dead-lettered
          }
          letters.push({
            origin: `${header('cdc-cache-topic')}[${header('cdc-cache-partition')}]@${header('cdc-cache-offset')}`,
            error: header('cdc-cache-error'),
            json,
          });
        }
        if (offset + 1 >= (remaining.get(partition) ?? 0)) remaining.delete(partition);
        if (remaining.size === 0) done();
      },
    });
    await Promise.race([finished, sleep(30_000)]);
  } finally {
    await consumer.disconnect();
  }
  return letters;
}

/** Committed offsets of the group on TOPIC, by partition. */
async function groupOffsets(kafka, groupId) {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [entry] = await admin.fetchOffsets({ groupId, topics: [TOPIC] });
    return Object.fromEntries((entry ? entry.partitions : []).map((x) => [x.partition, Number(x.offset)]));
  } finally {
    await admin.disconnect();
  }
}

function printSummary(r) {
  const pad = (s, n) => String(s).padEnd(n);
  const num = (s, n) => String(s).padStart(n);
  const lines = [];
  lines.push('');
  lines.push(`cdc-cache chaos run ${r.runId} (${r.profile}) — ${r.ok ? 'PASS' : 'FAIL'} in ${r.duration_s} s`);
  lines.push(`  updates          ${r.updates} over ${r.rows} rows (${r.unmarked_updates} made while Redis was down carry no marker)`);
  lines.push(`  stale keys       ${r.stale_keys}`);
  lines.push(`  topic messages   ${r.topic_messages} produced during the run, ${r.partitions} partition(s); caught up ${r.catch_up_s} s after the writer`);
  lines.push(`  counts           consumed ${r.consumed} = applied ${r.applied} + skipped ${r.skipped} ${JSON.stringify(r.skipped_by_reason)} + dead-lettered ${r.dead_lettered} (sums over process lifetimes; keys deleted ${r.keys_deleted})`);
  lines.push(`  stale refreshes  ${r.stale_refreshes} (refreshed copies that differ from PostgreSQL at the end)`);
  lines.push('  faults (lost: invalidations missing after catching up; stale: refreshed copies differing from PostgreSQL)');
  lines.push(`    ${pad('at', 9)} ${pad('fault', 48)} ${pad('', 4)} ${num('lost', 4)} ${num('stale', 5)} ${num('took', 6)}  detail`);
  for (const f of r.faults) {
    lines.push(`    +${pad(`${f.atS}s`, 8)} ${pad(f.name, 48)} ${f.ok ? 'ok  ' : 'FAIL'} ${num(f.lost ?? '?', 4)} ${num(f.staleRefreshes ?? '?', 5)} ${num(`${f.durationS}s`, 6)}  ${f.detail}`);
  }
  lines.push('  processes');
  lines.push(`    ${pad('name', 5)} ${pad('end', 8)} ${num('consumed', 9)} ${num('applied', 9)} ${num('skipped', 8)} ${num('dead', 5)} ${num('unresolved', 10)}  reconciled`);
  for (const x of r.processes) {
    lines.push(`    ${pad(x.name, 5)} ${pad(x.end, 8)} ${num(x.consumed, 9)} ${num(x.applied, 9)} ${num(x.skipped, 8)} ${num(x.deadLettered, 5)} ${num(x.unresolved ?? '', 10)}  ${x.reconciled === null ? 'n/a (killed: last snapshot)' : x.reconciled}`);
  }
  for (const n of r.notes) lines.push(`  note: ${n}`);
  for (const f of r.failures) lines.push(`  FAILURE: ${f}`);
  lines.push('');
  process.stdout.write(`${lines.join('\n')}\n`);
}

module.exports = { runChaos, PROFILES, readDeadLetters };
