// The read side: getOrLoad over the native LeaseClient (one Redis connection on its own thread).
// Ops from every caller are collected until the next tick and submitted as one batch; answers come
// back in batches through one thread-safe callback.
//
// A miss takes a lease that lives in the key itself (a marker value with a short expiry), calls the
// loader, and fills only while that marker is still there. An invalidation (UNLINK/DEL) or a
// refresh (SET) of the key in between removes the marker, so the fill is refused and the stale
// value it carried never lands. Someone else's marker means: wait (bounded) for their fill.

import { CdcCacheNativeError } from './errors';
import { loadNative, type NativeReader } from './native';
import { jsonFormat, keyvFormat, type Codec, type StoredFormat } from './read-codec';
import type { ResolvedReadOptions } from './read-options';
import type { ResolvedRedisTlsOptions } from './redis-tls-options';

export interface GetOrLoadOptions<T = unknown> {
  /** Expiry of the filled value; default read.ttlSeconds (0: none). */
  ttlSeconds?: number;
  /** Cache a null from the loader as a negative entry (default false: null is returned, not stored). */
  cacheNull?: boolean;
  /** Expiry of a cached null; default ttlSeconds. */
  nullTtlSeconds?: number;
  /** Own encoding instead of the format's JSON; stored as the codec's string as is. */
  codec?: Codec<T>;
}

/** The getOrLoad loader failed; its error is passed through unchanged, this is for Redis errors. */
export class CdcCacheReadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CdcCacheReadError';
  }
}

/** Counters of the read side, cumulative since it started. */
export interface ReadStats {
  hits: number;
  misses: number;
  /** Loader calls (including the probe's). */
  loads: number;
  fills: number;
  /** Misses that found the lease held by someone else and waited for their fill. */
  leaseWaits: number;
  /** Waits that ran out: the caller loaded without filling. */
  waitTimeouts: number;
  /** Callers that shared another in-process caller's getOrLoad of the same key. */
  coalesced: number;
  /** getOrLoad calls that met a Redis error (and loaded without the cache, or failed with onRedisError "fail"). */
  redisErrors: number;
  roundTrips: number;
  connected: boolean;
  /** Consistency probes running now. */
  probesInFlight: number;
}

export interface ConsistencyStats {
  /** Hits re-loaded by the probe. */
  checked: number;
  /** Re-loaded hits that still differed from the database after the pipeline's lag. */
  stale: number;
  /** Fills refused because an invalidation or refresh removed the lease. */
  fillsRefused: number;
  leaseWaits: number;
  coalesced: number;
}

export interface ReadPathConfig {
  url: string;
  tls?: ResolvedRedisTlsOptions;
  cluster?: { nodes: string[] };
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  keyPrefix: string;
  read: ResolvedReadOptions;
  /** The pipeline's current lag (ms), when known. */
  pipelineLagMs: () => number | undefined;
  redact: (text: string) => string;
}

const enum Op {
  get = 0,
  acquire = 1,
  fill = 2,
  release = 3,
}

const enum Outcome {
  hit = 0,
  miss = 1,
  leased = 2,
  granted = 3,
  filled = 4,
  refused = 5,
  released = 6,
  error = 7,
}

type Answer = [Outcome, string | undefined];
type Loader<T> = () => T | Promise<T>;

const MAX_PROBES_IN_FLIGHT = 16;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function checkCallOptions(options: GetOrLoadOptions<unknown>): string | undefined {
  if (typeof options !== 'object' || options === null) return 'options must be an object';
  for (const name of ['ttlSeconds', 'nullTtlSeconds'] as const) {
    const value = options[name];
    if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value) || value < 0)) {
      return `options.${name} must be a number of seconds >= 0`;
    }
  }
  const codec = options.codec;
  if (codec !== undefined && (typeof codec?.encode !== 'function' || typeof codec?.decode !== 'function')) {
    return 'options.codec must have encode and decode functions';
  }
  return undefined;
}

export class ReadPath {
  private reader: NativeReader | undefined;
  private closed = false;
  private nextId = 1;
  private readonly pending = new Map<number, (answer: Answer) => void>();
  private batch: Array<number | string | undefined> = [];
  private flushScheduled = false;
  private readonly inflight = new Map<string, Promise<unknown>>();
  private readonly format: StoredFormat;
  private probesInFlight = 0;
  private readonly counters = {
    hits: 0, misses: 0, loads: 0, fills: 0, fillsRefused: 0, leaseWaits: 0, waitTimeouts: 0,
    coalesced: 0, redisErrors: 0, checked: 0, stale: 0,
  };

  constructor(private readonly config: ReadPathConfig) {
    this.format = config.read.format === 'keyv' ? keyvFormat() : jsonFormat();
  }

  getOrLoad<T>(key: string, loader: Loader<T>, options: GetOrLoadOptions<T> = {}): Promise<T> {
    if (typeof key !== 'string' || key.length === 0) {
      return Promise.reject(new TypeError('cdc-cache: getOrLoad(key, loader): key must be a non-empty string'));
    }
    if (typeof loader !== 'function') {
      return Promise.reject(new TypeError('cdc-cache: getOrLoad(key, loader): loader must be a function'));
    }
    const invalid = checkCallOptions(options as GetOrLoadOptions<unknown>);
    if (invalid) return Promise.reject(new TypeError(`cdc-cache: getOrLoad(key, loader, options): ${invalid}`));
    if (this.closed) return Promise.reject(new CdcCacheReadError('cdc-cache: getOrLoad() after stop()'));
    const fullKey = this.config.keyPrefix + key;
    const shared = this.inflight.get(fullKey);
    if (shared) {
      this.counters.coalesced++;
      return shared as Promise<T>;
    }
    const promise = this.resolve(fullKey, loader, options);
    this.inflight.set(fullKey, promise);
    const forget = () => {
      if (this.inflight.get(fullKey) === promise) this.inflight.delete(fullKey);
    };
    promise.then(forget, forget);
    return promise;
  }

  readStats(): ReadStats {
    const native = this.reader?.stats();
    const c = this.counters;
    return {
      hits: c.hits, misses: c.misses, loads: c.loads, fills: c.fills, leaseWaits: c.leaseWaits,
      waitTimeouts: c.waitTimeouts, coalesced: c.coalesced, redisErrors: c.redisErrors,
      roundTrips: native?.roundTrips ?? 0, connected: native?.connected ?? false, probesInFlight: this.probesInFlight,
    };
  }

  consistencyStats(): ConsistencyStats {
    const c = this.counters;
    return { checked: c.checked, stale: c.stale, fillsRefused: c.fillsRefused, leaseWaits: c.leaseWaits, coalesced: c.coalesced };
  }

  /** Waits for what is in flight, then closes the connection. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.inflight.values()]);
    const reader = this.reader;
    this.reader = undefined;
    if (reader) await reader.close();
  }

  // ------------------------------------------------------------------------------------------

  private async resolve<T>(fullKey: string, loader: Loader<T>, options: GetOrLoadOptions<T>): Promise<T> {
    const [outcome, text] = await this.op(Op.get, fullKey);
    if (outcome === Outcome.hit) {
      const hit = this.decode(text as string, options);
      if (!hit.expired) {
        this.counters.hits++;
        this.maybeProbe(fullKey, text as string, loader, options);
        return hit.value as T;
      }
    }
    if (outcome === Outcome.error) return this.withoutCache(text, loader);
    this.counters.misses++;
    return this.leaseAndLoad(fullKey, loader, options, outcome === Outcome.leased);
  }

  // Takes the lease, or waits (bounded) for the holder's fill; polling with acquire, so that a
  // lease removed by an invalidation is taken over by one waiter.
  private async leaseAndLoad<T>(fullKey: string, loader: Loader<T>, options: GetOrLoadOptions<T>, waiting: boolean): Promise<T> {
    let deadline = 0;
    let delayMs = 2;
    const startWaiting = () => {
      this.counters.leaseWaits++;
      deadline = Date.now() + this.config.read.leaseWaitMs;
    };
    if (waiting) startWaiting();
    for (;;) {
      if (deadline > 0) {
        if (Date.now() >= deadline) {
          this.counters.waitTimeouts++;
          return this.callLoader(loader);
        }
        await sleep(Math.min(delayMs, Math.max(1, deadline - Date.now())));
        delayMs = Math.min(delayMs * 2, 50);
      }
      const [outcome, text] = await this.op(Op.acquire, fullKey);
      switch (outcome) {
        case Outcome.hit: {
          const hit = this.decode(text as string, options);
          if (hit.expired) return this.callLoader(loader); // a Keyv entry past its own expiry
          return hit.value as T;
        }
        case Outcome.granted:
          return this.loadAndFill(fullKey, text as string, loader, options);
        case Outcome.leased:
          if (deadline === 0) startWaiting();
          continue;
        default:
          return this.withoutCache(text, loader);
      }
    }
  }

  private async loadAndFill<T>(fullKey: string, token: string, loader: Loader<T>, options: GetOrLoadOptions<T>): Promise<T> {
    let value: T;
    let encoded: string | undefined;
    let ttlMs = 0;
    try {
      value = await this.callLoader(loader);
      const cacheable = value !== undefined && (value !== null || options.cacheNull === true);
      if (cacheable) {
        const ttlSeconds = value === null ? options.nullTtlSeconds ?? options.ttlSeconds : options.ttlSeconds;
        ttlMs = (ttlSeconds ?? this.config.read.ttlSeconds) * 1000;
        encoded = options.codec ? options.codec.encode(value) : this.format.encode(value, ttlMs);
      }
    } catch (error) {
      await this.op(Op.release, fullKey, token); // let the next caller load at once
      throw error; // the loader's (or codec's) own error, unchanged
    }
    if (encoded === undefined) {
      await this.op(Op.release, fullKey, token);
      return value;
    }
    const [outcome] = await this.op(Op.fill, fullKey, token, encoded, ttlMs);
    if (outcome === Outcome.filled) this.counters.fills++;
    else if (outcome === Outcome.refused) this.counters.fillsRefused++;
    else this.counters.redisErrors++;
    return value;
  }

  private async callLoader<T>(loader: Loader<T>): Promise<T> {
    this.counters.loads++;
    return loader();
  }

  private async withoutCache<T>(reason: string | undefined, loader: Loader<T>): Promise<T> {
    this.counters.redisErrors++;
    if (this.config.read.onRedisError === 'fail') {
      throw new CdcCacheReadError(`cdc-cache: getOrLoad: ${this.config.redact(reason ?? 'Redis error')}`);
    }
    return this.callLoader(loader);
  }

  private decode<T>(text: string, options: GetOrLoadOptions<T>): { value: unknown; expired: boolean } {
    if (options.codec) return { value: options.codec.decode(text), expired: false };
    return this.format.decode(text);
  }

  private canonical<T>(value: unknown, options: GetOrLoadOptions<T>): string {
    return options.codec ? options.codec.encode(value as T) : this.format.canonical(value);
  }

  // The consistency probe: re-load a sampled hit in the background; a difference that is still in
  // the cache after the pipeline's lag (so it is not an invalidation on its way) is stale.
  private maybeProbe<T>(fullKey: string, text: string, loader: Loader<T>, options: GetOrLoadOptions<T>): void {
    const rate = this.config.read.consistency.sampleRate;
    if (rate <= 0 || Math.random() >= rate || this.probesInFlight >= MAX_PROBES_IN_FLIGHT) return;
    this.probesInFlight++;
    void this.probe(fullKey, text, loader, options)
      .catch(() => undefined)
      .finally(() => this.probesInFlight--);
  }

  private async probe<T>(fullKey: string, text: string, loader: Loader<T>, options: GetOrLoadOptions<T>): Promise<void> {
    this.counters.checked++;
    const fresh = await this.callLoader(loader);
    const cached = this.canonical(this.decode(text, options).value, options);
    if (this.canonical(fresh, options) === cached) return;
    const lag = this.config.pipelineLagMs() ?? this.config.read.consistency.lagMs;
    await sleep(Math.max(lag, 50));
    const [outcome, now] = await this.op(Op.get, fullKey);
    if (outcome === Outcome.hit && now === text) this.counters.stale++;
  }

  // ------------------------------------------------------------------------------------------

  private op(op: Op, key: string, token?: string, value?: string, ttlMs?: number): Promise<Answer> {
    const reader = this.ensureReader();
    if (!reader) return Promise.resolve([Outcome.error, 'the native reader is not available']);
    const id = this.nextId++;
    this.batch.push(op, id, key, token, value, ttlMs);
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      process.nextTick(() => this.flush());
    }
    return new Promise<Answer>((resolve) => this.pending.set(id, resolve));
  }

  private flush(): void {
    this.flushScheduled = false;
    const batch = this.batch;
    this.batch = [];
    const reader = this.reader;
    if (reader && reader.submit(batch)) return;
    const reason = reader ? 'the read queue is full' : 'the reader is closed';
    for (let i = 1; i < batch.length; i += 6) this.answer(batch[i] as number, Outcome.error, reason);
  }

  private answer(id: number, outcome: Outcome, value: string | undefined): void {
    const resolve = this.pending.get(id);
    if (!resolve) return;
    this.pending.delete(id);
    resolve([outcome, value]);
  }

  private readonly onResults = (ids: number[], outcomes: number[], values: Array<string | undefined>): void => {
    for (let i = 0; i < ids.length; i++) this.answer(ids[i], outcomes[i] as Outcome, values[i]);
    if (this.pending.size === 0) this.reader?.idle();
  };

  private ensureReader(): NativeReader | undefined {
    if (this.reader || this.closed) return this.reader;
    const binding = loadNative();
    if (typeof binding.Reader !== 'function') {
      throw new CdcCacheNativeError('cdc-cache: this build of the native addon has no Reader (stale build? run npm run build:native)');
    }
    const { url, tls, connectTimeoutMs, commandTimeoutMs } = this.config;
    this.reader = new binding.Reader(
      {
        url, ...(tls ? { tls } : {}), connectTimeoutMs, commandTimeoutMs, leaseMs: this.config.read.leaseMs,
        ...(this.config.cluster ? { clusterNodes: this.config.cluster.nodes } : {}),
        markerPrefix: this.format.markerPrefix, markerSuffix: this.format.markerSuffix,
      },
      this.onResults,
    );
    return this.reader;
  }
}
