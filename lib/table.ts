// createTable(): a log-backed in-memory table. The native side (src/native/core/table) reads,
// decodes and applies every record on its own thread, into a native store: loading a topic costs
// this thread nothing per record. get() of a key read before is one lookup in a Map of the values
// this side parsed; the first get() of a key reads its text from the store (a short lock shared
// with the table thread) and parses it. The native side reports each later write of a key this
// side read, so its copy is dropped; with 'change' listeners it reports every record. Batches are
// applied in slices of applySliceRecords per event-loop turn, so the loop stays responsive.

import { EventEmitter } from 'events';

import { consoleLogger } from './invalidator';
import { loadNative } from './native';
import type { CdcCacheLogger } from './options';
import { resolveTableOptions, type ResolvedTableOptions, type TableOptions } from './table-options';

export type { TableOptions, TableKafkaOptions, TableKeyEncoding, TableValueEncoding } from './table-options';
export { resolveTableOptions, TABLE_DEFAULTS } from './table-options';

export interface TablePosition {
  partition: number;
  offset: number;
}

export interface TablePartitionStats {
  partition: number;
  /** Next offset this table will read (past transaction markers too). */
  position: number;
  /** The offset to reach to be ready: the end (last stable offset with read_committed) at open. */
  end: number;
  /** Last known end of the log. */
  highWatermark: number;
  lag: number;
}

export interface TableStats {
  name: string;
  topic: string;
  entries: number;
  /** Bytes of keys and values held, as they are in the log (the heap holds more; see the benchmark). */
  bytes: number;
  maxBytes: number;
  ready: boolean;
  healthy: boolean;
  /** Why the table is unhealthy (maxBytes exceeded, ...). */
  error?: string;
  /** Records that could not be decoded (skipped, logged). */
  decodeErrors: number;
  partitions: TablePartitionStats[];
}

export type TableChangeListener<K, V> = (key: K, value: V | undefined, previous: V | undefined, position: TablePosition) => void;

// The records this side must know of: writes of keys it read, clears, and with reportChanges
// every record (reported[i] = 1) with its value and previous value.
interface NativeBatch {
  keys: string[];
  values: (string | Buffer | null)[];
  previous: (string | Buffer | null)[];
  kinds: Uint8Array;
  reported: Uint8Array;
  partitions: Int32Array;
  offsets: Float64Array;
  positions: Float64Array;
  decodeErrors: number;
  /** Bytes of keys and values held as of this batch. */
  bytes: number;
  /** Set when the table stopped applying (maxBytes exceeded). */
  failure?: string;
}

interface NativeEnd {
  partition: number;
  start: number;
  end: number;
}

interface NativeTable {
  ackBatch(): void;
  put(token: number, key: Buffer, value: Buffer | null): void;
  requestEnds(token: number): void;
  close(): void;
  /** The value's text (or Buffer), marking the key as read; undefined when absent. */
  read(mapKey: string): string | Buffer | undefined;
  has(mapKey: string): boolean;
  entries(): number;
  snapshot(withValues: boolean): [string[], (string | Buffer)[]];
  reportChanges(on: boolean): void;
}

type NativeTableConstructor = new (settings: object, onEvent: (kind: string, ...args: unknown[]) => void) => NativeTable;

interface Waiter {
  done: () => boolean;
  resolve: () => void;
  reject: (error: Error) => void;
  timer?: NodeJS.Timeout;
}

const KIND_UPSERT = 0;
const KIND_REMOVE = 1;
const KIND_CLEAR = 2;

export class TableNotReadyError extends Error {
  constructor(message: string, readonly behind: TablePartitionStats[]) {
    super(message);
    this.name = 'TableNotReadyError';
  }
}

export class Table<K = string, V = unknown> extends EventEmitter {
  readonly name: string;
  readonly topic: string;
  private readonly options: ResolvedTableOptions;
  private readonly logger: CdcCacheLogger;
  // The values read so far, parsed, by map key: get() of one of them is one Map lookup. The native
  // store holds every entry and accounts the bytes.
  private readonly map = new Map<string, V>();
  // Keys whose stored text JSON.parse refused (rare: simdjson accepts a few texts it does not), so
  // they are not parsed again on every get(); a later write of the key clears it.
  private readonly unparsable = new Set<string>();
  private readonly plainKeys: boolean;
  private readonly native: NativeTable;
  private readonly partitions = new Map<number, { position: number; end: number; highWatermark: number }>();
  private opened = false;
  private readyReached = false;
  private closing = false;
  private closed = false;
  private failure: Error | undefined;
  private lastWarning = '';
  private bytes = 0;
  private decodeErrors = 0;
  private queue: { batch: NativeBatch; next: number }[] = [];
  private applying = false;
  private waiters: Waiter[] = [];
  private nextToken = 1;
  private readonly puts = new Map<number, { resolve: (p: TablePosition) => void; reject: (e: Error) => void }>();
  private readonly endRequests = new Map<number, (error: string | null, ends: NativeEnd[]) => void>();
  private closedPromise: Promise<void>;
  private resolveClosed!: () => void;
  private changeListeners = 0;

  constructor(options: TableOptions) {
    super();
    this.options = resolveTableOptions(options);
    this.name = this.options.name;
    this.topic = this.options.topic;
    this.plainKeys = this.options.keyEncoding === 'utf8';
    const map = this.map;
    const lookup = (this.lookup = (key: string): V | undefined => {
      const value = map.get(key);
      return value !== undefined ? value : this.readStored(key);
    });
    this.get = this.plainKeys ? (key: K) => lookup(typeof key === 'string' ? key : String(key)) : (key: K) => lookup(this.mapKey(key));
    this.logger = this.options.logger ?? consoleLogger(`[cdc-cache table ${this.name}]`);
    this.closedPromise = new Promise((resolve) => (this.resolveClosed = resolve));
    this.on('newListener', (event) => event === 'change' && this.changeListeners++ === 0 && this.native?.reportChanges(true));
    this.on('removeListener', (event) => event === 'change' && --this.changeListeners === 0 && this.native.reportChanges(false));
    const { Table: NativeTableClass } = loadNative() as unknown as { Table: NativeTableConstructor };
    this.native = new NativeTableClass(
      {
        brokers: this.options.brokers,
        topic: this.options.topic,
        properties: this.options.properties,
        debezium: this.options.mode === 'debezium',
        jsonValues: this.options.mode === 'kafka' && this.options.valueEncoding === 'json',
        jsonKeys: this.options.mode === 'kafka' && this.options.keyEncoding === 'json',
        textKeys: this.options.mode === 'kafka' && this.options.keyEncoding === 'utf8',
        maxBytes: this.options.maxBytes,
        reportChanges: this.changeListeners > 0,
        writable: !this.options.readOnly,
        keyAsBuffer: this.options.keyEncoding === 'buffer',
        valueAsBuffer: this.options.valueEncoding === 'buffer',
      },
      (kind, ...args) => this.onNative(kind, args),
    );
  }

  /** The value for key, or undefined. Synchronous and local: one Map lookup once read (a closure, so nothing else is on the path). */
  readonly get: (key: K) => V | undefined;
  // By map key.
  private readonly lookup: (key: string) => V | undefined;

  has(key: K): boolean {
    const mapKey = this.mapKey(key);
    return this.map.has(mapKey) || (this.native.has(mapKey) && !this.unparsable.has(mapKey));
  }

  get size(): number {
    return this.native.entries();
  }

  /** Every entry, as of now (a snapshot of the native store; values not read before are parsed). */
  *entries(): IterableIterator<[K, V]> {
    const [keys, values] = this.native.snapshot(true);
    for (let i = 0; i < keys.length; i++) {
      const value = this.map.get(keys[i]) ?? this.decode(values[i]);
      if (value !== undefined) yield [this.keyFromMap(keys[i]), value];
    }
  }

  keys(): IterableIterator<K> {
    const [keys] = this.native.snapshot(false);
    return keys.map((key) => this.keyFromMap(key))[Symbol.iterator]();
  }

  /** True once every partition reached the end it had at open. */
  isReady(): boolean {
    return this.readyReached;
  }

  /** Resolves once ready; rejects after timeoutMs naming the partitions still behind. */
  ready(options: { timeoutMs?: number } = {}): Promise<void> {
    return this.wait(() => this.readyReached, options.timeoutMs, () => this.notReadyError(options.timeoutMs ?? 0));
  }

  /** Writes key -> value (null: a tombstone) and resolves once get() sees it, with its position. */
  put(key: K, value: V | null): Promise<TablePosition> {
    if (this.options.readOnly)
      return Promise.reject(new Error(`table ${this.name}: read-only (${this.options.mode === 'debezium' ? 'a Debezium table' : 'create it with readOnly: false'})`));
    const unusable = this.unusable();
    if (unusable) return Promise.reject(unusable);
    const token = this.nextToken++;
    return new Promise<TablePosition>((resolve, reject) => {
      this.puts.set(token, { resolve, reject });
      try {
        this.native.put(token, this.encodeKey(key), value === null ? null : this.encodeValue(value));
      } catch (error) {
        this.puts.delete(token);
        reject(new Error(`table ${this.name}: ${(error as Error).message}`));
      }
    }).then((position) => this.waitFor(position).then(() => position));
  }

  /** Resolves once this table applied the record at position (written by any instance). */
  waitFor(position: TablePosition, options: { timeoutMs?: number } = {}): Promise<void> {
    const done = () => (this.partitions.get(position.partition)?.position ?? -1) > position.offset;
    return this.wait(done, options.timeoutMs, () => new Error(`table ${this.name}: partition ${position.partition} offset ${position.offset} not applied after ${options.timeoutMs} ms`));
  }

  /** Resolves once every partition caught up with its end as of now. */
  sync(options: { timeoutMs?: number } = {}): Promise<void> {
    const unusable = this.unusable();
    if (unusable) return Promise.reject(unusable);
    const token = this.nextToken++;
    return new Promise<NativeEnd[]>((resolve, reject) => {
      this.endRequests.set(token, (error, ends) => (error ? reject(new Error(`table ${this.name}: sync: ${error}`)) : resolve(ends)));
      this.native.requestEnds(token);
    }).then((ends) => {
      const done = () => ends.every((e) => (this.partitions.get(e.partition)?.position ?? -1) >= e.end);
      return this.wait(done, options.timeoutMs, () => new Error(`table ${this.name}: sync not reached after ${options.timeoutMs} ms`));
    });
  }

  stats(): TableStats {
    const partitions = [...this.partitions.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([partition, p]) => ({ partition, position: p.position, end: p.end, highWatermark: p.highWatermark, lag: Math.max(0, p.highWatermark - p.position) }));
    return {
      name: this.name,
      topic: this.topic,
      entries: this.size,
      bytes: this.bytes,
      maxBytes: this.options.maxBytes,
      ready: this.readyReached,
      healthy: this.failure === undefined && !this.closed,
      ...(this.failure ? { error: this.failure.message } : {}),
      decodeErrors: this.decodeErrors,
      partitions,
    };
  }

  /** Stops reading; pending puts are flushed (bounded) or fail. get() keeps answering from memory. */
  close(): Promise<void> {
    if (!this.closing) {
      this.closing = true;
      this.native.close();
    }
    return this.closedPromise;
  }

  private unusable(): Error | undefined {
    if (this.failure) return this.failure;
    if (this.closing) return new Error(`table ${this.name}: closed`);
    return undefined;
  }

  private wait(done: () => boolean, timeoutMs: number | undefined, timeoutError: () => Error): Promise<void> {
    if (done()) return Promise.resolve();
    const unusable = this.unusable();
    if (unusable) return Promise.reject(unusable);
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { done, resolve, reject };
      if (timeoutMs !== undefined) {
        waiter.timer = setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(timeoutError());
        }, timeoutMs);
      }
      this.waiters.push(waiter);
    });
  }

  private settleWaiters(): void {
    if (this.waiters.length === 0) return;
    const still: Waiter[] = [];
    for (const waiter of this.waiters) {
      if (waiter.done()) {
        if (waiter.timer) clearTimeout(waiter.timer);
        waiter.resolve();
      } else {
        still.push(waiter);
      }
    }
    this.waiters = still;
  }

  private failWaiters(error: Error): void {
    for (const waiter of this.waiters) {
      if (waiter.timer) clearTimeout(waiter.timer);
      waiter.reject(error);
    }
    this.waiters = [];
    for (const put of this.puts.values()) put.reject(error);
    this.puts.clear();
    for (const request of this.endRequests.values()) request(error.message, []);
    this.endRequests.clear();
  }

  private notReadyError(timeoutMs: number): Error {
    if (!this.opened) {
      const why = this.lastWarning ? `: ${this.lastWarning}` : '';
      return new TableNotReadyError(`table ${this.name}: not ready within ready({ timeoutMs: ${timeoutMs} }): topic ${this.topic} not opened yet${why}`, []);
    }
    const behind = this.stats().partitions.filter((p) => p.position < p.end);
    const list = behind.map((p) => `${p.partition} (position ${p.position}, end ${p.end})`).join(', ');
    return new TableNotReadyError(`table ${this.name}: not ready within ready({ timeoutMs: ${timeoutMs} }): topic ${this.topic} not read to its end; partitions behind: ${list}`, behind);
  }

  private onNative(kind: string, args: unknown[]): void {
    switch (kind) {
      case 'opened': return this.onOpened(args[0] as string | null, args[1] as NativeEnd[]);
      case 'batch': {
        const batch = args[0] as NativeBatch;
        if (batch.failure !== undefined) {
          this.bytes = batch.bytes;
          return this.fail(new Error(`table ${this.name}: ${batch.failure}`));
        }
        this.queue.push({ batch, next: 0 });
        return this.scheduleApply();
      }
      case 'put': return this.onPut(args[0] as number, args[1] as string | null, args[2] as number, args[3] as number);
      case 'ends': {
        const request = this.endRequests.get(args[0] as number);
        this.endRequests.delete(args[0] as number);
        return request?.(args[1] as string | null, args[2] as NativeEnd[]);
      }
      case 'partitions': return this.onPartitionsAdded(args[0] as NativeEnd[]);
      case 'log': return this.onLog(args[0] as string, args[1] as string);
      case 'closed': return this.onClosed();
    }
  }

  private onOpened(error: string | null, ends: NativeEnd[]): void {
    if (error) return;
    this.opened = true;
    for (const e of ends) this.partitions.set(e.partition, { position: e.start, end: e.end, highWatermark: e.end });
    this.checkReady();
    this.settleWaiters(); // empty partitions: ready at once, no batch will come
  }

  private onPartitionsAdded(ends: NativeEnd[]): void {
    for (const e of ends) this.partitions.set(e.partition, { position: e.start, end: e.end, highWatermark: e.end });
    this.emit('repartitioned', ends.map((e) => e.partition));
  }

  private onPut(token: number, error: string | null, partition: number, offset: number): void {
    const put = this.puts.get(token);
    if (!put) return;
    this.puts.delete(token);
    if (error) put.reject(new Error(`table ${this.name}: ${error}`));
    else put.resolve({ partition, offset });
  }

  private onLog(level: string, message: string): void {
    if (level === 'warn' || level === 'error') this.lastWarning = message;
    const log = (this.logger as unknown as Record<string, (m: string) => void>)[level] ?? this.logger.info;
    log.call(this.logger, message);
  }

  private onClosed(): void {
    this.closed = true;
    this.dropCopies();
    this.native.close();  // the thread is gone: drops the native teardown hook
    this.failWaiters(this.failure ?? new Error(`table ${this.name}: closed`));
    this.resolveClosed();
  }

  private checkReady(): void {
    if (!this.readyReached && this.opened && [...this.partitions.values()].every((p) => p.position >= p.end)) this.readyReached = true;
  }

  private scheduleApply(): void {
    if (this.applying) return;
    this.applying = true;
    setImmediate(() => this.applySlice());
  }

  // Applies up to applySliceRecords records, then yields the event loop.
  private applySlice(): void {
    this.applying = false;
    let budget = this.options.applySliceRecords;
    while (budget > 0 && this.queue.length > 0 && !this.failure) {
      const item = this.queue[0];
      const end = Math.min(item.batch.kinds.length, item.next + budget);
      for (let i = item.next; i < end; i++) this.applyRecord(item.batch, i);
      budget -= end - item.next;
      item.next = end;
      if (item.next === item.batch.kinds.length) this.finishBatch(item.batch);
    }
    if (this.queue.length > 0 && !this.failure) this.scheduleApply();
  }

  // The native store has the record already: this side drops its outdated copy and tells listeners.
  private applyRecord(batch: NativeBatch, i: number): void {
    const key = batch.keys[i];
    const kind = batch.kinds[i];
    const position = { partition: batch.partitions[i], offset: batch.offsets[i] };
    if (kind === KIND_CLEAR) {
      this.map.clear(); // a truncate of the source table
      this.unparsable.clear();
      if (this.changeListeners > 0) this.emit('clear', position);
      return;
    }
    this.map.delete(key);
    if (this.unparsable.size > 0) this.unparsable.delete(key);
    if (batch.reported[i] === 0 || this.changeListeners === 0) return;
    const previous = batch.previous[i] === null ? undefined : this.decode(batch.previous[i] as string | Buffer);
    const value = kind === KIND_UPSERT ? this.decode(batch.values[i] as string | Buffer) : undefined;
    if (kind === KIND_REMOVE && previous === undefined) return;
    this.emit('change', this.keyFromMap(key), value, previous, position);
  }

  // The first get() of a key: its value from the native store, parsed and kept. JSON was validated
  // natively, except numbers simdjson cannot hold (checked by decode: a bad one is skipped).
  private readStored(key: string): V | undefined {
    if (this.unparsable.size > 0 && this.unparsable.has(key)) return undefined;
    const raw = this.native.read(key);
    if (raw === undefined) return undefined;
    const value = this.decode(raw);
    if (value === undefined) this.unparsable.add(key);
    else this.map.set(key, value);
    return value;
  }

  private decode(raw: string | Buffer): V | undefined {
    if (this.options.valueEncoding !== 'json') return raw as unknown as V;
    try {
      return JSON.parse(raw as string) as V;
    } catch (error) {
      this.decodeErrors++;
      this.logger.warn(`table ${this.name}: skipped the value of a key: not JSON (${(error as Error).message})`);
      return undefined;
    }
  }

  private finishBatch(batch: NativeBatch): void {
    this.queue.shift();
    this.bytes = batch.bytes;
    this.decodeErrors += batch.decodeErrors;
    const positions = batch.positions;
    for (let i = 0; i < positions.length; i += 3) {
      const partition = this.partitions.get(positions[i]) ?? { position: 0, end: 0, highWatermark: 0 };
      partition.position = Math.max(partition.position, positions[i + 1]);
      partition.highWatermark = Math.max(positions[i + 2], partition.position);
      this.partitions.set(positions[i], partition);
    }
    this.native.ackBatch();
    this.checkReady();
    this.settleWaiters();
  }

  // The native side stopped: what it applied last may never be reported, so the copies of values
  // read before are dropped and get() reads the store as it was left.
  private dropCopies(): void {
    this.queue = [];
    this.map.clear();
    this.unparsable.clear();
  }

  private fail(error: Error): void {
    this.failure = error;
    this.dropCopies();
    this.logger.error(error.message);
    if (this.listenerCount('error') > 0) this.emit('error', error);
    this.failWaiters(error);
    this.close().catch(() => {});
  }

  // Map keys are strings: the text (utf8), the JSON text as JSON.stringify writes it (json), the bytes as latin1 (buffer).
  private mapKey(key: K): string {
    switch (this.options.keyEncoding) {
      case 'utf8': return String(key);
      case 'json': return JSON.stringify(key);
      case 'buffer': return (key as unknown as Buffer).toString('latin1');
    }
  }

  private keyFromMap(key: string): K {
    switch (this.options.keyEncoding) {
      case 'utf8': return key as unknown as K;
      case 'json': return JSON.parse(key) as K;
      case 'buffer': return Buffer.from(key, 'latin1') as unknown as K;
    }
  }

  private encodeKey(key: K): Buffer {
    if (this.options.keyEncoding === 'buffer') return key as unknown as Buffer;
    return Buffer.from(this.options.keyEncoding === 'json' ? JSON.stringify(key) : String(key), 'utf8');
  }

  private encodeValue(value: V): Buffer {
    switch (this.options.valueEncoding) {
      case 'json': return Buffer.from(JSON.stringify(value), 'utf8');
      case 'utf8': return Buffer.from(String(value), 'utf8');
      case 'buffer': return value as unknown as Buffer;
    }
  }
}

/** Opens a table: reading starts at once; await table.ready() before serving from it. */
export function createTable<K = string, V = unknown>(options: TableOptions): Table<K, V> {
  return new Table<K, V>(options);
}
