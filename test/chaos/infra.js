// Local infrastructure as the chaos suite needs it (plain JS twin of a few test/e2e/infra.ts helpers):
// .infra/env, scripts/infra, the pids of the processes it started, the Debezium connector's state.
'use strict';

const { execFile } = require('child_process');
const fs = require('fs');
const path = require('path');

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const INFRA_DIR = path.join(REPO_ROOT, '.infra');
const ENV_FILE = path.join(INFRA_DIR, 'env');
const RUN_DIR = path.join(INFRA_DIR, 'run');
const INFRA_SCRIPT = path.join(REPO_ROOT, 'scripts', 'infra');
const CONNECTOR = 'inventory-postgres';

// How scripts/infra recognises its own processes (guards against a recycled pid).
const MARKERS = {
  redis: 'redis-server 127.0.0.1:16379',
  kafka: path.join(INFRA_DIR, 'kafka.properties'),
  connect: path.join(INFRA_DIR, 'connect.properties'),
};

// A Redis Cluster node is the part "redis-cluster-<port>" (scripts/infra-lib/redis-cluster.sh).
function markerOf(part) {
  const node = /^redis-cluster-(\d+)$/.exec(part);
  return node ? `redis-server 127.0.0.1:${node[1]} [cluster]` : MARKERS[part];
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function readInfraEnv() {
  if (!fs.existsSync(ENV_FILE)) throw new Error(`${ENV_FILE} is missing: run scripts/infra up`);
  const env = {};
  for (const line of fs.readFileSync(ENV_FILE, 'utf8').split('\n')) {
    const match = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (match) env[match[1]] = match[2];
  }
  for (const key of ['KAFKA_BROKERS', 'REDIS_URL', 'PG_URL', 'CONNECT_URL']) {
    if (!env[key]) throw new Error(`${ENV_FILE} has no ${key}`);
  }
  return env;
}

/** Runs `scripts/infra <command>`; resolves {code, output} (never rejects), bounded by timeoutMs. */
function runInfra(command, timeoutMs = 240_000) {
  return new Promise((resolve) => {
    execFile('bash', [INFRA_SCRIPT, command], { cwd: REPO_ROOT, timeout: timeoutMs, maxBuffer: 4 << 20 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, output: `${stdout}${stderr}`.trim() });
    });
  });
}

/** Pid of a part scripts/infra started (redis | kafka | connect | redis-cluster-<port>) when it is alive, else undefined. */
function livePid(part) {
  const pidFile = path.join(RUN_DIR, `${part}.pid`);
  if (!fs.existsSync(pidFile)) return undefined;
  const pid = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
    return cmdline.includes(markerOf(part)) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** SIGKILLs a part and waits (bounded) until it is gone. Returns the pid killed. */
async function killPart(part, timeoutMs = 15_000) {
  const pid = livePid(part);
  if (!pid) throw new Error(`${part} is not running (no live pid in ${RUN_DIR}/${part}.pid)`);
  process.kill(pid, 'SIGKILL');
  const deadline = Date.now() + timeoutMs;
  while (livePid(part) === pid) {
    if (Date.now() > deadline) throw new Error(`${part} (pid ${pid}) still alive ${timeoutMs} ms after SIGKILL`);
    await sleep(100);
  }
  return pid;
}

/** "<connector state> <task state>" of the Debezium connector, or "unreachable". */
async function connectorState(connectUrl) {
  try {
    const response = await fetch(`${connectUrl}/connectors/${CONNECTOR}/status`, { signal: AbortSignal.timeout(5000) });
    if (!response.ok) return `HTTP ${response.status}`;
    const status = await response.json();
    const task = status.tasks && status.tasks[0];
    return `${status.connector.state} ${task ? task.state : 'NONE'}`;
  } catch {
    return 'unreachable';
  }
}

/** Restarts the connector and its tasks (a fresh producer, e.g. to see new partitions). */
async function restartConnector(connectUrl) {
  const response = await fetch(`${connectUrl}/connectors/${CONNECTOR}/restart?includeTasks=true&onlyFailed=false`, {
    method: 'POST',
    signal: AbortSignal.timeout(30_000),
  });
  if (!response.ok && response.status !== 202 && response.status !== 204) {
    throw new Error(`restart of connector ${CONNECTOR} answered HTTP ${response.status}`);
  }
}

/** Waits until the connector and its task run; restarts a FAILED task once. Returns notes. */
async function waitConnectorRunning(connectUrl, timeoutMs = 120_000) {
  const notes = [];
  const deadline = Date.now() + timeoutMs;
  let restarted = false;
  for (;;) {
    const state = await connectorState(connectUrl);
    if (state === 'RUNNING RUNNING') return notes;
    if (state.includes('FAILED') && !restarted) {
      notes.push(`connector ${state}: restarted it`);
      restarted = true;
      await restartConnector(connectUrl).catch((error) => notes.push(`restart failed: ${error.message}`));
    }
    if (Date.now() > deadline) throw new Error(`connector ${CONNECTOR} not RUNNING after ${timeoutMs} ms (state: ${state})`);
    await sleep(1000);
  }
}

module.exports = {
  REPO_ROOT,
  INFRA_DIR,
  sleep,
  readInfraEnv,
  runInfra,
  livePid,
  killPart,
  connectorState,
  restartConnector,
  waitConnectorRunning,
};
