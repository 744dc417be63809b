// publish(): application messages through the native idempotent producer (acks=all,
// enable.idempotence=true), produced on its own thread; the promise resolves once Kafka
// acknowledged every message of the call.

import { loadNative, type NativeProducer } from './native';

/** The header that carries a message's idempotency key (its message id). */
export const MESSAGE_ID_HEADER = 'cdc-cache-message-id';
/** Messages accepted by publish() and not yet acknowledged, by default; more is refused at once. */
export const DEFAULT_MAX_QUEUED = 100000;

export type PublishValue = Buffer | string | null | undefined | Record<string, unknown> | unknown[] | number | boolean;

export interface PublishMessage {
  key?: Buffer | string | null;
  /** A Buffer or a string goes as is; anything else as its JSON text; null is a tombstone. */
  value: PublishValue;
  headers?: Record<string, Buffer | string>;
  /** The message id: consumers with idempotency skip a second message with the same id. */
  idempotencyKey?: string;
}

export interface PublishResult {
  partition: number;
  /** 64-bit, as a string. */
  offset: string;
}

export interface ProducerSettings {
  brokers: string;
  config: Record<string, string | number | boolean>;
  maxQueued?: number;
  log?: (level: 'debug' | 'info' | 'warn' | 'error', message: string) => void;
}

function encodeValue(value: PublishValue): Buffer | string | null {
  if (value === null || value === undefined) return null;
  if (Buffer.isBuffer(value) || typeof value === 'string') return value;
  return JSON.stringify(value);
}

function nativeMessage(topic: string, message: PublishMessage, index: number) {
  if (typeof message !== 'object' || message === null) {
    throw new TypeError(`cdc-cache: publish(topic, messages): messages[${index}] must be an object`);
  }
  const headers: Array<[string, Buffer | string]> = Object.entries(message.headers ?? {});
  if (message.idempotencyKey !== undefined) {
    if (typeof message.idempotencyKey !== 'string' || message.idempotencyKey.length === 0) {
      throw new TypeError(`cdc-cache: publish(topic, messages): messages[${index}].idempotencyKey must be a non-empty string`);
    }
    headers.push([MESSAGE_ID_HEADER, message.idempotencyKey]);
  }
  return { topic, key: message.key ?? null, value: encodeValue(message.value), headers };
}

/** One native producer, created on the first publish(). */
export class MessageProducer {
  private producer: NativeProducer | undefined;
  private closed = false;

  constructor(private readonly settings: ProducerSettings) {}

  async publish(topic: string, messages: PublishMessage[]): Promise<PublishResult[]> {
    if (typeof topic !== 'string' || !/^[A-Za-z0-9._-]{1,249}$/.test(topic)) {
      throw new TypeError('cdc-cache: publish(topic, messages): topic must be a Kafka topic name');
    }
    if (!Array.isArray(messages)) throw new TypeError('cdc-cache: publish(topic, messages): messages must be an array');
    if (this.closed) throw new Error('cdc-cache: publish() after stop()');
    const batch = messages.map((m, i) => nativeMessage(topic, m, i));
    if (batch.length === 0) return [];
    try {
      return await this.native().publish(batch);
    } catch (error) {
      const wrapped = new Error(`cdc-cache: publish to ${topic} failed: ${(error as Error).message}`);
      (wrapped as Error & { results?: unknown }).results = (error as { results?: unknown }).results;
      throw wrapped;
    }
  }

  /** Messages accepted and not yet acknowledged. */
  queued(): number {
    return this.producer?.queued() ?? 0;
  }

  /** Waits for what was accepted (bounded by the native flush), then closes. */
  async close(): Promise<void> {
    this.closed = true;
    const producer = this.producer;
    this.producer = undefined;
    if (producer) await producer.close();
  }

  private native(): NativeProducer {
    if (this.producer) return this.producer;
    const Producer = loadNative().Producer;
    if (!Producer) throw new Error('cdc-cache: the native addon has no producer (stale build? run npm run build:native)');
    const properties = Object.entries(this.settings.config).map(([k, v]) => [k, String(v)] as [string, string]);
    this.producer = new Producer(
      { brokers: this.settings.brokers, properties, maxQueued: this.settings.maxQueued ?? DEFAULT_MAX_QUEUED },
      this.settings.log,
    );
    return this.producer;
  }
}
