// Shared test helpers for unit specs (no infrastructure).
import type { CdcCacheOptions } from '../../lib/options';

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
