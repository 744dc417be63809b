// Idempotent consumption: a message whose id was already processed is skipped.
//   redis     ids recorded (SET NX PX) after the handler succeeded: at least once, with a window
//             between the handler's success and the record in which a crash replays the message.
//   postgres  the id is inserted in the handler's own transaction (ON CONFLICT DO NOTHING): the
//             effects in that database and the record commit together, exactly once.

import { LeftUnacknowledged } from './dispatch';
import { loadNative, type NativeReader } from './native';

export interface PgQueryable {
  query(text: string, values?: unknown[]): Promise<{ rowCount: number | null; rows: Array<Record<string, unknown>> }>;
}
export interface PgPoolClientLike extends PgQueryable {
  release(error?: Error | boolean): void;
}
export interface PgPoolLike extends PgQueryable {
  connect(): Promise<PgPoolClientLike>;
  end(): Promise<void>;
}

export type IdempotencyOptions =
  | { store: 'redis'; ttlSeconds: number; keyPrefix?: string }
  | { store: 'postgres'; pool?: PgPoolLike; connectionString?: string; table?: string };

export const DEFAULT_PROCESSED_TABLE = 'cdc_cache_processed_messages';
export const DEFAULT_ID_KEY_PREFIX = 'cdc-cache:processed:';

const RECORD_RETRY_MS = 500;
const IDENT_RE = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;

/** An option problem, or undefined. */
export function checkIdempotency(value: unknown, path: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null) return `${path}: expected { store: 'redis', ttlSeconds } or { store: 'postgres', pool | connectionString }`;
  const o = value as Record<string, unknown>;
  if (o.store === 'redis') {
    if (typeof o.ttlSeconds !== 'number' || !Number.isInteger(o.ttlSeconds) || o.ttlSeconds < 1) {
      return `${path}.ttlSeconds: expected an integer number of seconds >= 1`;
    }
    if (o.keyPrefix !== undefined && typeof o.keyPrefix !== 'string') return `${path}.keyPrefix: expected a string`;
    return undefined;
  }
  if (o.store === 'postgres') {
    if (o.pool === undefined && typeof o.connectionString !== 'string') {
      return `${path}: the postgres store needs pool (a pg Pool) or connectionString`;
    }
    if (o.pool !== undefined && typeof (o.pool as PgPoolLike).connect !== 'function') return `${path}.pool: expected a pg Pool`;
    if (o.table !== undefined && (typeof o.table !== 'string' || !IDENT_RE.test(o.table))) {
      return `${path}.table: expected a table name ([schema.]name)`;
    }
    return undefined;
  }
  return `${path}.store: expected "redis" or "postgres"`;
}

/** Ids in Redis, through the native read-side client (its own connection and thread). */
export class RedisIdStore {
  private reader: NativeReader | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, (answer: [number, string | undefined]) => void>();
  private stopping_ = false;  // stop() began or the store closed: outages are no longer waited out
  private wakeRetry: (() => void) | undefined;

  constructor(
    private readonly redis: { url: string; connectTimeoutMs: number; commandTimeoutMs: number; cluster?: { nodes: string[] } },
    private readonly keyPrefix: string,
    private readonly ttlMs: number,
    private readonly log: (message: string) => void,
  ) {}

  /** For each id, whether it was recorded. Redis unavailable: waited out (retried). */
  async seen(ids: string[]): Promise<boolean[]> {
    for (;;) {
      const answers = await this.submit(ids.map((id) => [0, id, undefined, undefined] as const));
      if (answers.every(([outcome]) => outcome !== 7)) return answers.map(([outcome]) => outcome === 0 || outcome === 2);
      await this.waitBeforeRetry(answers, 'check');
    }
  }

  /** Records ids (SET NX PX ttl). Redis unavailable: waited out, the handler is not run again. */
  async record(ids: string[]): Promise<void> {
    for (;;) {
      const answers = await this.submit(ids.map((id) => [4, id, '1', this.ttlMs] as const));
      if (answers.every(([outcome]) => outcome !== 7)) return;
      await this.waitBeforeRetry(answers, 'record');
    }
  }

  /**
   * Stopping: Redis failures are no longer waited out (stop() would wait for Redis to come back);
   * the batch is left unacknowledged, uncommitted, and redelivered after a restart.
   */
  stopping(): void {
    this.stopping_ = true;
    this.wakeRetry?.();
  }

  async close(): Promise<void> {
    this.stopping();
    const reader = this.reader;
    this.reader = undefined;
    if (reader) await reader.close();
  }

  private async waitBeforeRetry(answers: Array<[number, string | undefined]>, what: string): Promise<void> {
    const reason = answers.find(([outcome]) => outcome === 7)?.[1];
    const stopped = () =>
      new LeftUnacknowledged(`idempotency: Redis ${what} failed while stopping (${reason}): the batch stays uncommitted and is redelivered after a restart`);
    if (this.stopping_) throw stopped();
    this.log(`idempotency: Redis ${what} failed (${reason}); retrying in ${RECORD_RETRY_MS} ms`);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, RECORD_RETRY_MS);
      this.wakeRetry = () => (clearTimeout(timer), resolve());
    });
    this.wakeRetry = undefined;
    if (this.stopping_) throw stopped();
  }

  private submit(ops: ReadonlyArray<readonly [number, string, string | undefined, number | undefined]>) {
    const reader = this.ensureReader();
    const flat: Array<number | string | undefined> = [];
    const answers: Array<Promise<[number, string | undefined]>> = [];
    for (const [op, id, value, ttl] of ops) {
      const requestId = this.nextId++;
      flat.push(op, requestId, this.keyPrefix + id, undefined, value, ttl);
      answers.push(new Promise((resolve) => this.pending.set(requestId, resolve)));
    }
    if (!reader.submit(flat)) {
      for (let i = 1; i < flat.length; i += 6) this.answer(flat[i] as number, 7, 'the queue is full or closed');
    }
    return Promise.all(answers);
  }

  private answer(id: number, outcome: number, value: string | undefined): void {
    const resolve = this.pending.get(id);
    if (!resolve) return;
    this.pending.delete(id);
    resolve([outcome, value]);
  }

  private ensureReader(): NativeReader {
    if (this.reader) return this.reader;
    const Reader = loadNative().Reader;
    if (!Reader) throw new Error('cdc-cache: the native addon has no Reader (stale build?)');
    // The Reader takes cluster seeds as clusterNodes (as the read path passes them).
    const { cluster, ...redis } = this.redis;
    this.reader = new Reader(
      { ...redis, ...(cluster ? { clusterNodes: cluster.nodes } : {}), leaseMs: 1000, markerPrefix: '\u0000cdc-cache-lease:', markerSuffix: '' },
      (ids, outcomes, values) => {
        for (let i = 0; i < ids.length; i++) this.answer(ids[i], outcomes[i], values[i]);
        if (this.pending.size === 0) this.reader?.idle();
      },
    );
    return this.reader;
  }
}

/** Ids in a PostgreSQL table, inserted in the handler's transaction. */
export class PostgresIdStore {
  private pool: PgPoolLike | undefined;
  private ownPool = false;
  private ready: Promise<void> | undefined;
  readonly table: string;

  constructor(private readonly options: { pool?: PgPoolLike; connectionString?: string; table?: string }) {
    this.table = options.table ?? DEFAULT_PROCESSED_TABLE;
  }

  /**
   * Runs `work` in one transaction after inserting the batch's ids; `work` gets the messages whose
   * id was new (a duplicate's insert does nothing) and the transaction's client. Returns how many
   * were duplicates. A failing `work` rolls the ids back with its own writes.
   */
  async inTransaction<M extends { id: string; topic: string }>(
    batch: M[],
    work: (fresh: M[], tx: PgPoolClientLike) => Promise<void>,
  ): Promise<number> {
    const pool = await this.connected();
    const client = await pool.connect();
    try {
      await client.query('BEGIN');
      const inserted = await client.query(
        `INSERT INTO ${this.table} (id, topic) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (id) DO NOTHING RETURNING id`,
        [batch.map((m) => m.id), batch.map((m) => m.topic)],
      );
      const newIds = new Set(inserted.rows.map((row) => String(row.id)));
      const fresh = batch.filter((m) => newIds.delete(m.id));  // the first of ids repeated in the batch
      if (fresh.length > 0) await work(fresh, client);
      await client.query('COMMIT');
      client.release();
      return batch.length - fresh.length;
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release(true);
      throw error;
    }
  }

  async close(): Promise<void> {
    if (this.pool && this.ownPool) await this.pool.end();
    this.pool = undefined;
  }

  private async connected(): Promise<PgPoolLike> {
    if (!this.ready) this.ready = this.prepare().catch((error: unknown) => {
      this.ready = undefined;  // tried again with the next batch
      throw error;
    });
    await this.ready;
    return this.pool as PgPoolLike;
  }

  private async prepare(): Promise<void> {
    if (this.options.pool) {
      this.pool = this.options.pool;
    } else {
      let pg: { Pool: new (config: { connectionString?: string }) => PgPoolLike };
      try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        pg = require('pg');
      } catch {
        throw new Error("cdc-cache: idempotency { store: 'postgres' } needs the pg package: npm install pg");
      }
      this.pool = new pg.Pool({ connectionString: this.options.connectionString });
      this.ownPool = true;
    }
    try {
      await this.pool.query(
        `CREATE TABLE IF NOT EXISTS ${this.table} (id text PRIMARY KEY, topic text NOT NULL, processed_at timestamptz NOT NULL DEFAULT now())`,
      );
    } catch (error) {
      // Two processes creating it at once: one loses the race on the catalog, and the table exists.
      if (!['23505', '42P07'].includes(String((error as { code?: unknown }).code))) throw error;
    }
  }
}
