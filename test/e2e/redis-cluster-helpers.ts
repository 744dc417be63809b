// Helpers for the Redis Cluster specs: the six-node cluster scripts/infra starts on 17100-17105
// (scripts/infra-lib/redis-cluster.sh), seen through ioredis's own cluster client as the oracle.
import { execFile } from 'child_process';
import { readFileSync } from 'fs';
import { join } from 'path';
import Redis, { Cluster } from 'ioredis';
import { Client } from 'pg';
import { INFRA_DIR, REPO_ROOT, infraEnv } from './infra';
import { createInvalidator, type CdcCacheStats, type Invalidator, type CdcCacheLogger } from '../../lib';

export const CLUSTER_NODES = (process.env.REDIS_CLUSTER_NODES ??
  '127.0.0.1:17100,127.0.0.1:17101,127.0.0.1:17102,127.0.0.1:17103,127.0.0.1:17104,127.0.0.1:17105').split(',');

export function clusterClient(): Cluster {
  return new Redis.Cluster(CLUSTER_NODES.map((node) => ({ host: node.split(':')[0], port: Number(node.split(':')[1]) })), {
    clusterRetryStrategy: () => 200,
    redisOptions: { maxRetriesPerRequest: 20 },
  });
}

export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 40_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export interface ClusterNode {
  id: string;
  address: string; // host:port
  master: boolean;
  slots: number;
}

/** CLUSTER NODES as one live node sees it (failed nodes left out). */
export async function clusterNodes(): Promise<ClusterNode[]> {
  for (const seed of CLUSTER_NODES) {
    const client = new Redis({ host: seed.split(':')[0], port: Number(seed.split(':')[1]), lazyConnect: true, retryStrategy: () => null });
    try {
      await client.connect();
      const text = (await client.call('CLUSTER', 'NODES')) as string;
      return text.trim().split('\n').map((line) => line.split(' ')).filter((f) => !f[2].includes('fail')).map((f) => ({
        id: f[0],
        address: f[1].split('@')[0],
        master: f[2].includes('master'),
        slots: f.slice(8).filter((s) => !s.startsWith('[')).reduce((n, s) => {
          const [a, b] = s.split('-').map(Number);
          return n + (b === undefined ? 1 : b - a + 1);
        }, 0),
      }));
    } catch {
      // the next seed
    } finally {
      client.disconnect();
    }
  }
  throw new Error('no cluster node answers');
}

export async function clusterOk(): Promise<boolean> {
  const nodes = await clusterNodes();
  for (const node of nodes) {
    const client = new Redis({ host: node.address.split(':')[0], port: Number(node.address.split(':')[1]), retryStrategy: () => null });
    try {
      const info = (await client.call('CLUSTER', 'INFO')) as string;
      if (!info.includes('cluster_state:ok') || !info.includes('cluster_slots_assigned:16384')) return false;
    } finally {
      client.disconnect();
    }
  }
  return nodes.filter((n) => n.master && n.slots > 0).length === 3;
}

/** Runs a command, resolving to its stdout; rejects with its stderr. */
export function run(command: string, args: string[], timeoutMs = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd: REPO_ROOT, timeout: timeoutMs, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command} ${args.join(' ')}: ${error.message}\n${stderr}\n${stdout.slice(-2000)}`));
      else resolve(stdout);
    });
  });
}

/** The pid of the cluster node on `port` (scripts/infra's pid file). */
export function nodePid(port: number): number {
  return Number(readFileSync(join(INFRA_DIR, 'run', `redis-cluster-${port}.pid`), 'utf8').trim());
}

/** Starts whatever cluster node is not running and waits for cluster_state:ok (scripts/infra redis-cluster). */
export function restartMissingNodes(): Promise<string> {
  return run('bash', [join(REPO_ROOT, 'scripts', 'infra'), 'redis-cluster']);
}

/** The master serving `key`'s slot ("host:port"), from CLUSTER SLOTS. */
export async function masterOf(cluster: Cluster, key: string): Promise<string> {
  const slot = Number(await cluster.call('CLUSTER', 'KEYSLOT', key));
  const ranges = (await cluster.call('CLUSTER', 'SLOTS')) as Array<[number, number, [string, number]]>;
  const range = ranges.find(([first, last]) => first <= slot && slot <= last);
  if (!range) throw new Error(`slot ${slot} has no master`);
  return `${range[2][0]}:${range[2][1]}`;
}

/**
 * Rows of public.customers changed in rounds: each round fills every row's key with 'stale',
 * updates all rows in one statement, and waits until every key is gone (the invalidator under test
 * deleted it). So a round passes only if every change of the round reached Redis.
 */
export class RowWriter {
  rounds = 0;
  constructor(
    private readonly pg: import('pg').Client,
    private readonly cluster: Cluster,
    readonly ids: number[],
    private readonly keyOf: (id: number) => string,
  ) {}

  async insert(): Promise<void> {
    for (const id of this.ids) {
      await this.pg.query(
        'INSERT INTO customers (id, first_name, last_name, email) OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4)',
        [id, 'Row', 'Writer', `${id}.writer@example.com`],
      );
    }
  }

  async fill(): Promise<void> {
    await Promise.all(this.ids.map((id) => this.cluster.set(this.keyOf(id), 'stale')));
  }

  async update(): Promise<void> {
    await this.pg.query('UPDATE customers SET last_name = $1 WHERE id = ANY($2::int[])', [`r${this.rounds}`, this.ids]);
  }

  async allDeleted(): Promise<boolean> {
    const left = await Promise.all(this.ids.map((id) => this.cluster.exists(this.keyOf(id))));
    return left.every((n) => n === 0);
  }

  async round(timeoutMs = 40_000): Promise<void> {
    await this.fill();
    await this.update();
    await waitUntil(`round ${this.rounds}'s keys to be deleted`, () => this.allDeleted(), timeoutMs);
    this.rounds++;
  }

  /**
   * With auto.offset.reset=latest the engine sees changes only once it is assigned: rounds with a
   * short deadline until one passes (every row's partition then has a position).
   */
  async warmUp(deadlineMs = 90_000): Promise<void> {
    const deadline = Date.now() + deadlineMs;
    for (;;) {
      try {
        return await this.round(2_000);
      } catch (error) {
        if (Date.now() > deadline) throw error;
      }
    }
  }

  async remove(): Promise<void> {
    await this.pg.query('DELETE FROM customers WHERE id = ANY($1::int[])', [this.ids]).catch(() => undefined);
  }
}

/**
 * stats() once the engine's snapshot (published every 100 ms) has caught up: two readings 300 ms
 * apart agree on the counters the specs compare.
 */
export async function settledStats(invalidator: { stats(): CdcCacheStats }): Promise<CdcCacheStats> {
  let last = invalidator.stats();
  for (let i = 0; i < 100; i++) {
    await new Promise((resolve) => setTimeout(resolve, 300));
    const now = invalidator.stats();
    if (now.keysDeleted === last.keysDeleted && now.consumed === last.consumed && now.deadLettered === last.deadLettered) return now;
    last = now;
  }
  return last;
}

/** What a cluster spec under load holds: rows changing in PostgreSQL, the oracle, the invalidator. */
export interface ClusterRun {
  pg: Client;
  cluster: Cluster;
  writer: RowWriter;
  invalidator: Invalidator;
}

/**
 * Waits for the cluster, then starts an invalidator of dbserver1.public.customers over it (a group
 * and dead-letter topic of its own) and inserts 50 rows from firstId, keyed `${prefix}customer:{id}`.
 */
export async function startClusterRun(o: { group: string; runId: string; prefix: string; firstId: number; logger: CdcCacheLogger }): Promise<ClusterRun> {
  const infra = infraEnv();
  await waitUntil('the cluster to be ok', clusterOk, 60_000);
  const pg = new Client({ connectionString: infra.PG_URL });
  await pg.connect();
  const cluster = clusterClient();
  const writer = new RowWriter(pg, cluster, Array.from({ length: 50 }, (_, i) => o.firstId + i), (id) => `${o.prefix}customer:${id}`);
  const invalidator = createInvalidator({
    kafka: {
      brokers: infra.KAFKA_BROKERS,
      groupId: `${o.group}-${o.runId}`,
      topics: ['dbserver1.public.customers'],
      config: { 'auto.offset.reset': 'latest' },
    },
    redis: { cluster: { nodes: CLUSTER_NODES } },
    keyPrefix: o.prefix,
    deadLetterTopic: `cdc-cache.e2e.cluster-dead-letter.${o.runId}`,
    rules: [{ source: 'public.customers', invalidate: ['customer:{id}'] }],
    logger: o.logger,
  });
  const run = { pg, cluster, writer, invalidator };
  try {
    await invalidator.start();
    await writer.insert();
  } catch (error) {
    await stopClusterRun(run);
    throw error;
  }
  return run;
}

export async function stopClusterRun(run: ClusterRun | undefined): Promise<void> {
  if (!run) return;
  await run.invalidator.stop();
  await run.writer.remove();
  await run.pg.end();
  run.cluster.disconnect();
}
