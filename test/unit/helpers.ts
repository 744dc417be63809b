// Shared test helpers for unit specs (no infrastructure).
import type { NativeEngine, NativeEngineCallbacks } from '../../lib/native';
import type { CdcCacheOptions } from '../../lib/options';
import { emptyStats } from '../../lib/types';

/** A minimal valid options object; every call returns a fresh copy. */
export function validOptions(overrides: Partial<CdcCacheOptions> = {}): CdcCacheOptions {
  return {
    kafka: { brokers: '127.0.0.1:19092', groupId: 'invoices-cache', topics: ['dbserver1.public.customers'] },
    redis: { url: 'redis://127.0.0.1:16379' },
    rules: [{ source: 'public.customers', invalidate: ['customer:{id}', 'customer:email:{email}'] }],
    ...overrides,
  };
}

/** Runs fn, expecting it to throw; returns the error. */
export function thrown(fn: () => unknown): Error & { issues?: { path: string; message: string }[]; path?: string } {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}

export const silentLogger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };

/** The native engine's stand-in (the invalidator's engineFactory seam): keeps its config and the acks. */
export class EngineDouble implements NativeEngine {
  static all: EngineDouble[] = [];
  readonly config: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  acks: Array<[number, boolean, string | undefined]> = [];
  constructor(json: string, readonly callbacks: NativeEngineCallbacks) {
    this.config = JSON.parse(json);
    EngineDouble.all.push(this);
  }
  async start() {}
  async stop() {}
  async invalidate() {
    return 0;
  }
  ack(token: number, ok: boolean, reason?: string) {
    this.acks.push([token, ok, reason]);
  }
  stats() {
    return emptyStats();
  }
}
export const engineDoubles = { engineFactory: (json: string, cb: NativeEngineCallbacks) => new EngineDouble(json, cb) };
