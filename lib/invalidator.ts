// createInvalidator(): the framework-agnostic API over the native Engine.
// The engine is created at start(), because its config carries the onChange selectors registered
// before it; options are validated at creation, so configuration errors surface immediately.

import { HandlerDispatcher, type ChangeHandler } from './dispatch';
import { CdcCacheConfigError } from './errors';
import { loadNative, type NativeEngine, type NativeEngineCallbacks } from './native';
import {
  validateOptions,
  validateSelector,
  type CdcCacheLogger,
  type CdcCacheOptions,
  type LogLevel,
  type ResolvedCdcCacheOptions,
} from './options';
import { MessageGroupEngines, nativeConfigWithMessages } from './message-groups';
import { MessageHandlers, type MessageContext, type MessageHandler, type MessageTopicStats, type OnMessageOptions } from './messages';
import type { IdempotencyOptions } from './idempotency';
import { MessageProducer, type PublishMessage, type PublishResult } from './producer';
import { ReadPath, type GetOrLoadOptions } from './read-path';
import { createRedactor, redactDeep, redactOptions, type Redactor } from './redact';
import { emptyStats, type CdcCacheStats, type ChangeEvent, type PartitionStats } from './types';

export type { ChangeHandler } from './dispatch';
export type { ChangeEvent, CdcCacheStats } from './types';

export type InvalidatorState = 'idle' | 'starting' | 'running' | 'stopping' | 'stopped';

export interface Invalidator {
  /** Subscribes and starts applying changes. Kafka/Redis being unreachable is not a failure (retried; unhealthy). */
  start(): Promise<void>;
  /** Drains in-flight handlers and Redis batches, commits, leaves the group. Idempotent. */
  stop(): Promise<void>;
  /** Deletes keys (keyPrefix applied) through the engine's pipeline; resolves with the count Redis deleted. */
  invalidate(keys: string[]): Promise<number>;
  /** A snapshot of the engine's counters (zeros before start) and of the read side's. */
  stats(): CdcCacheStats;
  /**
   * The cached value of `key` (keyPrefix applied), or the loader's, filled under a lease: a fill
   * that raced with an invalidation of the key is refused. Works before start() too (it needs only
   * Redis); rejects after stop(). Loader errors pass through unchanged.
   */
  getOrLoad<T>(key: string, loader: () => T | Promise<T>, options?: GetOrLoadOptions<T>): Promise<T>;
  /**
   * Registers a handler for changes whose source matches `selector` (rule glob syntax). Only before
   * start(). A handler's promise gates its events' offsets; after handlers.attempts failures the
   * batch is dead-lettered.
   */
  onChange(selector: string, handler: ChangeHandler, options?: OnChangeOptions): void;
  /**
   * Registers a handler for the application messages of `topic` (consumed as such, never decoded
   * as Debezium). Only before start(). Batches per partition, in order; the promise gates the
   * commit; failures are retried (handlers.attempts), then dead-lettered.
   */
  onMessage<T = unknown>(topic: string, handler: MessageHandler<T>, options?: OnMessageOptions): void;
  /** Per topic: consumed, handled, duplicates skipped, retried, dead-lettered, lag (onMessage, and onChange with idempotency). */
  messageStats(): Record<string, MessageTopicStats>;
  /**
   * Publishes application messages through an idempotent producer (acks=all); resolves with one
   * {partition, offset} per message once Kafka acknowledged them all. Works before start() too.
   */
  publish(topic: string, messages: PublishMessage[]): Promise<PublishResult[]>;
  /** Running, Kafka consumer subscribed and Redis connected, as reported by the engine. */
  isHealthy(): boolean;
  /** Lifecycle state. */
  readonly state: InvalidatorState;
  /** Selectors registered with onChange, in registration order. */
  selectors(): string[];
  /** The resolved options with secrets redacted (for diagnostics). */
  describeOptions(): Omit<ResolvedCdcCacheOptions, 'logger'>;
}

export interface OnChangeOptions {
  /** Skip change events already processed, by their source position (never their Kafka offset). */
  idempotency?: IdempotencyOptions;
}

/** @internal Seams for unit tests of the TypeScript layer; not part of the public API. */
export interface InvalidatorInternals {
  engineFactory?: (configJson: string, callbacks: NativeEngineCallbacks) => NativeEngine;
}

const LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** Console logger with a "[cdc-cache]" prefix; debug lines only with NODE_DEBUG=cdc-cache. */
export function consoleLogger(prefix = '[cdc-cache]'): CdcCacheLogger {
  const debugEnabled = /(^|,)\s*(cdc-cache|\*)\s*(,|$)/.test(process.env.NODE_DEBUG ?? '');
  return {
    debug: (m) => {
      if (debugEnabled) console.debug(`${prefix} ${m}`);
    },
    info: (m) => console.info(`${prefix} ${m}`),
    warn: (m) => console.warn(`${prefix} ${m}`),
    error: (m) => console.error(`${prefix} ${m}`),
  };
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

class NativeInvalidator implements Invalidator {
  private readonly resolved: ResolvedCdcCacheOptions;
  private readonly redact: Redactor;
  private readonly logger: CdcCacheLogger;
  private readonly dispatcher: HandlerDispatcher;
  private engine: NativeEngine | undefined;
  private currentState: InvalidatorState = 'idle';
  private startPromise: Promise<void> | undefined;
  private stopPromise: Promise<void> | undefined;
  private locked = false;
  private readonly readPath: ReadPath;
  private readonly producer: MessageProducer;
  private readonly messages: MessageHandlers;
  private groups: MessageGroupEngines | undefined;

  constructor(
    options: CdcCacheOptions,
    private readonly internals: InvalidatorInternals,
  ) {
    this.resolved = validateOptions(options);
    this.redact = createRedactor(options);
    this.logger = this.resolved.logger ?? consoleLogger();
    this.dispatcher = new HandlerDispatcher({
      attempts: this.resolved.handlers.attempts,
      retryDelayMs: this.resolved.handlers.retryDelayMs,
      ack: (token, ok, reason) => {
        if (!this.engine) throw new Error('engine is gone');
        if (reason === undefined) this.engine.ack(token, ok);
        else this.engine.ack(token, ok, this.redact(reason));
      },
      log: (level, message) => this.log(level, message),
    });
    this.readPath = new ReadPath({
      ...this.resolved.redis,
      keyPrefix: this.resolved.keyPrefix,
      read: this.resolved.read,
      pipelineLagMs: () => this.pipelineLagMs(),
      redact: this.redact,
    });
    this.messages = new MessageHandlers({
      attempts: this.resolved.handlers.attempts,
      retryDelayMs: this.resolved.handlers.retryDelayMs,
      redis: this.resolved.redis,
      log: (level, message) => this.log(level, message),
    });
    this.producer = new MessageProducer({
      brokers: this.resolved.kafka.brokers,
      config: this.resolved.kafka.config,
      log: (level, message) => this.log(level, `producer: ${message}`),
    });
  }

  publish(topic: string, messages: PublishMessage[]): Promise<PublishResult[]> {
    return this.producer.publish(topic, messages);
  }

  getOrLoad<T>(key: string, loader: () => T | Promise<T>, options?: GetOrLoadOptions<T>): Promise<T> {
    return this.readPath.getOrLoad(key, loader, options);
  }

  // The engine's recent source-to-Redis lag, when this process runs one that has seen events.
  private pipelineLagMs(): number | undefined {
    if (!this.engine) return undefined;
    const lag = this.engine.stats().lagMs?.source;
    return lag && lag.count > 0 ? Math.ceil(lag.p99) : undefined;
  }

  get state(): InvalidatorState {
    return this.currentState;
  }

  private log(level: LogLevel, message: string): void {
    const safeLevel = LEVELS.includes(level) ? level : 'info';
    try {
      this.logger[safeLevel](this.redact(message));
    } catch {
      // a throwing logger must not break the engine callbacks
    }
  }

  onChange(selector: string, handler: ChangeHandler, options: OnChangeOptions = {}): void {
    if (this.locked) {
      throw new Error(`cdc-cache: onChange("${this.redact(String(selector))}") must be called before start()`);
    }
    validateSelector(selector);
    if (typeof handler !== 'function') {
      throw new CdcCacheConfigError([{ path: 'onChange handler', message: 'onChange handler: expected a function' }]);
    }
    const idempotency = options?.idempotency;
    this.dispatcher.register(
      selector,
      idempotency ? this.messages.idempotentChangeHandler(idempotency, handler as (e: ChangeEvent[], c: MessageContext) => void) : handler,
    );
  }

  onMessage<T = unknown>(topic: string, handler: MessageHandler<T>, options?: OnMessageOptions): void {
    if (this.locked) throw new Error(`cdc-cache: onMessage("${this.redact(String(topic))}") must be called before start()`);
    this.messages.register(topic, handler, options);
  }

  messageStats(): Record<string, MessageTopicStats> {
    return this.messageStatsWith(undefined);
  }

  // engineStats: the engine's stats when the caller has them already (the engine builds every
  // field on each call); else they are read only if a topic has counters.
  private messageStatsWith(engineStats: CdcCacheStats | undefined): Record<string, MessageTopicStats> {
    let partitions: PartitionStats[] | undefined;
    return this.messages.stats((topic) => {
      partitions ??= [...((engineStats ?? this.engine?.stats())?.partitions ?? []), ...(this.groups?.partitions() ?? [])];
      return partitions.filter((p) => p.topic === topic).reduce((sum, p) => sum + p.lag, 0);
    });
  }

  selectors(): string[] {
    return this.dispatcher.registrations().map((r) => r.selector);
  }

  describeOptions(): Omit<ResolvedCdcCacheOptions, 'logger'> {
    const { logger: _logger, ...rest } = this.resolved;
    return redactOptions(rest);
  }

  start(): Promise<void> {
    if (this.currentState === 'running') return Promise.resolve();
    if (this.currentState === 'starting' && this.startPromise) return this.startPromise;
    if (this.currentState === 'stopping' || this.currentState === 'stopped') {
      return Promise.reject(new Error('cdc-cache: a stopped invalidator cannot be restarted; create a new one'));
    }
    this.locked = true;
    this.currentState = 'starting';
    this.startPromise = this.doStart();
    return this.startPromise;
  }

  private async doStart(): Promise<void> {
    const jsHandlers = this.dispatcher.registrations().map((r) => ({ id: r.id, source: r.selector }));
    this.messages.normaliseGroups(this.resolved.kafka.groupId);
    if (!this.resolved.kafka.topics && !this.resolved.kafka.topicPattern && this.messages.nativeSpecs(undefined).length === 0) {
      this.currentState = 'idle';
      this.startPromise = undefined;
      throw new CdcCacheConfigError([{
        path: 'kafka',
        message: 'kafka: expected exactly one of topics or topicPattern, got neither (or onMessage handlers in kafka.groupId)',
      }]);
    }
    const configJson = JSON.stringify(nativeConfigWithMessages(this.resolved, jsHandlers, this.messages.nativeSpecs(undefined)));
    const messageDispatcher = this.messages.dispatcherFor(undefined, (token, ok, reason) => {
      if (!this.engine) throw new Error('engine is gone');
      if (reason === undefined) this.engine.ack(token, ok);
      else this.engine.ack(token, ok, this.redact(reason));
    });
    const callbacks: NativeEngineCallbacks = {
      onEvents: (token, handlerId, events) => {
        if (this.messages.owns(handlerId)) void messageDispatcher.dispatch(token, handlerId, events as ChangeEvent[]);
        else void this.dispatcher.dispatch(token, handlerId, events as ChangeEvent[]);
      },
      onLog: (level, message) => this.log(level, message),
    };
    let engine: NativeEngine;
    try {
      const factory =
        this.internals.engineFactory ??
        ((json: string, cb: NativeEngineCallbacks) => new (loadNative().Engine)(json, cb));
      engine = factory(configJson, callbacks);
      this.groups = new MessageGroupEngines(this.resolved, this.messages, factory, (level, message) => this.log(level, message), this.redact);
    } catch (error) {
      this.currentState = 'idle';
      this.startPromise = undefined;
      const wrapped = new Error(`cdc-cache: the native engine rejected the configuration: ${this.redact(errorMessage(error))}`);
      if (error instanceof Error && error.name === 'CdcCacheNativeError') throw error;
      throw wrapped;
    }
    this.engine = engine;
    try {
      await engine.start();
      await this.groups?.start();
    } catch (error) {
      this.log('error', `start failed: ${errorMessage(error)}`);
      try {
        await Promise.all([engine.stop(), this.groups?.stop()]);
      } catch {
        // already failing; the start error is the one to report
      }
      this.engine = undefined;
      this.currentState = 'idle';
      this.startPromise = undefined;
      throw new Error(`cdc-cache: start failed: ${this.redact(errorMessage(error))}`);
    }
    this.currentState = 'running';
    const topics = this.resolved.kafka.topics ? this.resolved.kafka.topics.join(', ') : this.resolved.kafka.topicPattern;
    this.log(
      'info',
      `started: group "${this.resolved.kafka.groupId}", ${topics}; ${this.resolved.rules.length} rule(s), ${jsHandlers.length} handler(s)`,
    );
  }

  stop(): Promise<void> {
    if (this.stopPromise) return this.stopPromise;
    this.stopPromise = this.doStop();
    return this.stopPromise;
  }

  private async doStop(): Promise<void> {
    if (this.currentState === 'starting' && this.startPromise) {
      try {
        await this.startPromise;
      } catch {
        // never started: nothing to stop
      }
    }
    this.locked = true;
    this.messages.stopping();
    await this.readPath.close();
    const engine = this.engine;
    if (!engine) {
      await this.producer.close();
      this.currentState = 'stopped';
      return;
    }
    this.currentState = 'stopping';
    try {
      // The engine stops fetching, then waits for the acks of batches already handed to handlers
      // (they keep running here) and for Redis, commits and leaves the group.
      await Promise.all([engine.stop(), this.groups?.stop(), this.dispatcher.drain()]);
      await this.dispatcher.drain();
      await this.messages.close();
      // Only now: handlers still running during the drains may publish().
      await this.producer.close();
      this.log('info', 'stopped');
    } finally {
      this.currentState = 'stopped';
    }
  }

  async invalidate(keys: string[]): Promise<number> {
    if (!Array.isArray(keys) || keys.some((k) => typeof k !== 'string' || k.length === 0)) {
      throw new TypeError('cdc-cache: invalidate(keys) expects an array of non-empty strings');
    }
    if (this.currentState !== 'running' || !this.engine) {
      throw new Error(`cdc-cache: invalidate() needs a running invalidator (state: ${this.currentState})`);
    }
    if (keys.length === 0) return 0;
    // During a Redis outage the engine waits it out: the caller gets a clear error instead of a
    // promise that never settles (the delete may still happen once Redis is back).
    const timeoutMs = this.resolved.invalidateTimeoutMs;
    const work = this.engine.invalidate(keys);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new Error(`cdc-cache: invalidate() timed out after ${timeoutMs} ms without Redis acknowledging (Redis unavailable or behind); the keys may still be deleted later`));
      }, timeoutMs);
    });
    work.catch(() => undefined);  // settled later, after a timeout: nobody waits for it any more
    try {
      return await Promise.race([
        work.catch((error: unknown) => {
          throw new Error(`cdc-cache: invalidate failed: ${this.redact(errorMessage(error))}`);
        }),
        timedOut,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  stats(): CdcCacheStats {
    const native = this.engine?.stats();
    const engine = native ? redactDeep(native, this.redact) : emptyStats();
    return { ...engine, read: this.readPath.readStats(), consistency: this.readPath.consistencyStats(), messages: this.messageStatsWith(native) };
  }

  isHealthy(): boolean {
    if (this.currentState !== 'running' || !this.engine) return false;
    try {
      return this.engine.stats().healthy === true && (this.groups?.healthy() ?? true);
    } catch {
      return false;
    }
  }
}

/**
 * Validates options (throws CdcCacheConfigError naming the option path) and returns an Invalidator.
 * Nothing connects until start().
 */
export function createInvalidator(options: CdcCacheOptions, internals: InvalidatorInternals = {}): Invalidator {
  return new NativeInvalidator(options, internals);
}
