// onMessage(): handlers for application topics. The engine consumes those topics as application
// messages (never Debezium), batches them per partition (one batch per partition in flight), and
// gates each batch's offsets on the handler's promise; failures are retried, then dead-lettered
// (HandlerDispatcher). Here: option checks, idempotency (skip ids already processed) and the
// per-topic counters.

import { HandlerDispatcher, LeftUnacknowledged } from './dispatch';
import { CdcCacheConfigError } from './errors';
import {
  checkIdempotency,
  DEFAULT_ID_KEY_PREFIX,
  PostgresIdStore,
  RedisIdStore,
  type IdempotencyOptions,
  type PgPoolClientLike,
} from './idempotency';
import type { LogLevel } from './options';
import type { ChangeEvent } from './types';

export type MessageDecode = 'json' | 'utf8' | 'buffer';

/** An application message as a handler gets it. */
export interface Message<T = unknown> {
  topic: string;
  partition: number;
  /** 64-bit, as a string. */
  offset: string;
  timestampMs: number;
  /** A string (a Buffer with decode 'buffer'); null when the message has none. */
  key: string | Buffer | null;
  /** Decoded as the handler asked: JSON (integers beyond 2^53 as exact strings), text, or bytes; null for a tombstone. */
  value: T;
  headers: Record<string, string | Buffer>;
  /** The idempotency key the producer set (cdc-cache-message-id header), else "topic/partition/offset". */
  id: string;
}

export interface MessageContext {
  /** With idempotency { store: 'postgres' }: the transaction the message ids are recorded in. */
  tx?: PgPoolClientLike;
}

export type MessageHandler<T = unknown> = (messages: Message<T>[], context: MessageContext) => Promise<void> | void;

export interface OnMessageOptions {
  /** A consumer group of its own (a separate consumer); default kafka.groupId. */
  groupId?: string;
  decode?: MessageDecode;
  idempotency?: IdempotencyOptions;
}

export interface MessageTopicStats {
  /** Messages handed to handlers (again after a replay). */
  consumed: number;
  /** Messages whose handler succeeded (duplicates excluded). */
  handled: number;
  /** Skipped: their id was already processed. */
  duplicates: number;
  /** Messages in batches that were tried again after a failure. */
  retried: number;
  /** Messages in batches that failed every attempt (dead-lettered). */
  deadLettered: number;
  /** Messages behind the high watermark, over the topic's partitions (from the engine). */
  lag: number;
}

/** A change event's id from its source position, never its Kafka offset (Debezium re-emits changes at new offsets). */
export function changeEventId(event: ChangeEvent): string {
  const s = event.source;
  const key = event.key ? JSON.stringify(event.key, Object.keys(event.key).sort()) : '';
  const mongoTs = s.connector === 'mongodb' ? `,ts=${s.tsMs}` : '';
  return `${s.connector}:${s.name}:${s.position}${mongoTs}:${key}`;
}

const TOPIC_RE = /^[A-Za-z0-9._-]{1,249}$/;
export const FIRST_MESSAGE_HANDLER_ID = 1_000_000;

interface Registration {
  id: number;
  topic: string;
  groupId: string | undefined;
  decode: MessageDecode;
  run: (messages: Message[]) => Promise<void>;
}

export interface MessageHandlersDeps {
  attempts: number;
  retryDelayMs: number;
  redis: { url: string; connectTimeoutMs: number; commandTimeoutMs: number };
  log: (level: LogLevel, message: string) => void;
}

export function checkOnMessage(topic: unknown, handler: unknown, options: unknown): void {
  const issues: string[] = [];
  if (typeof topic !== 'string' || !TOPIC_RE.test(topic)) issues.push('onMessage topic: expected a Kafka topic name');
  if (typeof handler !== 'function') issues.push('onMessage handler: expected a function');
  if (options !== undefined && (typeof options !== 'object' || options === null)) issues.push('onMessage options: expected an object');
  const o = (options ?? {}) as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (!['groupId', 'decode', 'idempotency'].includes(key)) issues.push(`onMessage options.${key}: unknown option`);
  }
  if (o.groupId !== undefined && (typeof o.groupId !== 'string' || o.groupId.length === 0)) issues.push('onMessage options.groupId: expected a non-empty string');
  if (o.decode !== undefined && !['json', 'utf8', 'buffer'].includes(o.decode as string)) issues.push('onMessage options.decode: expected "json", "utf8" or "buffer"');
  const idempotency = checkIdempotency(o.idempotency, 'onMessage options.idempotency');
  if (idempotency) issues.push(idempotency);
  if (issues.length > 0) throw new CdcCacheConfigError(issues.map((message) => ({ path: message.split(':')[0], message })));
}

type IdStore = { close(): Promise<void>; stopping?(): void };

/** Runs a batch through an idempotency store: the handler sees only ids not processed yet. */
export function idempotent<M extends { id: string; topic: string }>(
  options: IdempotencyOptions | undefined,
  deps: MessageHandlersDeps,
  stores: IdStore[],
  handler: (fresh: M[], context: MessageContext) => Promise<void> | void,
): (batch: M[]) => Promise<{ handled: number; duplicates: number }> {
  if (!options) {
    return async (batch) => {
      await handler(batch, {});
      return { handled: batch.length, duplicates: 0 };
    };
  }
  if (options.store === 'postgres') {
    const store = new PostgresIdStore(options);
    stores.push(store);
    return async (batch) => {
      const duplicates = await store.inTransaction(batch, (fresh, tx) => Promise.resolve(handler(fresh, { tx })));
      return { handled: batch.length - duplicates, duplicates };
    };
  }
  const store = new RedisIdStore(deps.redis, options.keyPrefix ?? DEFAULT_ID_KEY_PREFIX, options.ttlSeconds * 1000, (m) => deps.log('warn', m));
  stores.push(store);
  return async (batch) => {
    const seen = await store.seen(batch.map((m) => m.id));
    const ids = new Set<string>();
    const fresh = batch.filter((m, i) => !seen[i] && !ids.has(m.id) && ids.add(m.id));
    if (fresh.length > 0) await handler(fresh, {});
    // The window: a crash here replays these messages, and the handler runs again.
    await store.record(fresh.map((m) => m.id));
    return { handled: fresh.length, duplicates: batch.length - fresh.length };
  };
}

export class MessageHandlers {
  private readonly registrations = new Map<number, Registration>();
  private readonly counters = new Map<string, Omit<MessageTopicStats, 'lag'>>();
  private readonly stores: IdStore[] = [];
  private readonly dispatchers: HandlerDispatcher[] = [];
  private readonly attemptsSeen = new WeakMap<object, number>();
  private nextId = FIRST_MESSAGE_HANDLER_ID;

  constructor(private readonly deps: MessageHandlersDeps) {}

  /** Runs (with retries) and acknowledges the batches of one consumer group's engine. */
  dispatcherFor(groupId: string | undefined, ack: (token: number, ok: boolean, reason?: string) => void): HandlerDispatcher {
    const dispatcher = new HandlerDispatcher({ attempts: this.deps.attempts, retryDelayMs: this.deps.retryDelayMs, ack, log: this.deps.log });
    for (const r of this.registrations.values()) {
      if (r.groupId === groupId) dispatcher.register(`message:${r.topic}`, r.run as unknown as (events: ChangeEvent[]) => Promise<void>, r.id);
    }
    this.dispatchers.push(dispatcher);
    return dispatcher;
  }

  register<T>(topic: string, handler: MessageHandler<T>, options: OnMessageOptions = {}): number {
    checkOnMessage(topic, handler, options);
    const counters = this.countersOf(topic);
    const run = idempotent<Message>(options.idempotency, this.deps, this.stores, handler as MessageHandler);
    const registration: Registration = {
      id: this.nextId++,
      topic,
      groupId: options.groupId,
      decode: options.decode ?? 'json',
      run: async (messages) => {
        const attempt = this.attempt(messages);
        if (attempt === 1) counters.consumed += messages.length;
        else counters.retried += messages.length;
        try {
          const { handled, duplicates } = await run(messages);
          counters.handled += handled;
          counters.duplicates += duplicates;
        } catch (error) {
          if (attempt >= this.deps.attempts && !(error instanceof LeftUnacknowledged)) counters.deadLettered += messages.length;
          throw error;
        }
      },
    };
    this.registrations.set(registration.id, registration);
    return registration.id;
  }

  // The dispatcher passes the same array to every attempt at a batch.
  private attempt(batch: object): number {
    const attempt = (this.attemptsSeen.get(batch) ?? 0) + 1;
    this.attemptsSeen.set(batch, attempt);
    return attempt;
  }

  owns(handlerId: number): boolean {
    return this.registrations.has(handlerId);
  }

  get size(): number {
    return this.registrations.size;
  }

  /** The engine's messageHandlers for one consumer group (undefined: the default group). */
  nativeSpecs(groupId: string | undefined): Array<{ id: number; topic: string; decode: MessageDecode }> {
    return [...this.registrations.values()]
      .filter((r) => r.groupId === groupId)
      .map((r) => ({ id: r.id, topic: r.topic, decode: r.decode }));
  }

  /** Consumer groups other than the default one. */
  extraGroups(defaultGroup: string): string[] {
    const groups = new Set<string>();
    for (const r of this.registrations.values()) if (r.groupId !== undefined && r.groupId !== defaultGroup) groups.add(r.groupId);
    return [...groups];
  }

  /** Normalises a handler's groupId: the default group is no separate consumer. */
  normaliseGroups(defaultGroup: string): void {
    for (const r of this.registrations.values()) if (r.groupId === defaultGroup) r.groupId = undefined;
  }

  stats(lagOf: (topic: string) => number): Record<string, MessageTopicStats> {
    const out: Record<string, MessageTopicStats> = {};
    for (const [topic, c] of this.counters) out[topic] = { ...c, lag: lagOf(topic) };
    return out;
  }

  /** Counters for change handlers with idempotency too (keyed by their topic). */
  countersOf(topic: string): Omit<MessageTopicStats, 'lag'> {
    let c = this.counters.get(topic);
    if (!c) {
      c = { consumed: 0, handled: 0, duplicates: 0, retried: 0, deadLettered: 0 };
      this.counters.set(topic, c);
    }
    return c;
  }

  /** Wraps an onChange handler with idempotency by source position. */
  idempotentChangeHandler(options: IdempotencyOptions, handler: (events: ChangeEvent[], context: MessageContext) => Promise<void> | void) {
    type Identified = { id: string; topic: string; event: ChangeEvent };
    const run = idempotent<Identified>(options, this.deps, this.stores, (fresh, context) =>
      handler(fresh.map((f) => f.event), context),
    );
    return async (events: ChangeEvent[]) => {
      const c = this.countersOf(events[0]?.topic ?? '');
      const attempt = this.attempt(events);
      if (attempt === 1) c.consumed += events.length;
      else c.retried += events.length;
      const { duplicates, handled } = await run(events.map((event) => ({ id: changeEventId(event), topic: event.topic, event })));
      c.handled += handled;
      c.duplicates += duplicates;
    };
  }

  /** stop() began: stores stop waiting out outages (their batches stay unacknowledged). */
  stopping(): void {
    for (const store of this.stores) store.stopping?.();
  }

  /** Once every engine stopped: waits for handlers still running, then closes the stores. */
  async close(): Promise<void> {
    await Promise.all(this.dispatchers.map((d) => d.drain()));
    await Promise.allSettled(this.stores.map((s) => s.close()));
  }
}
