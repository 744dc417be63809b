// Options of the read side (getOrLoad): types, defaults and validation with path-naming issues.

import type { ConfigIssue } from './errors';

/** How values are stored: JSON text, or the way Keyv (cache-manager 6+, @keyv/redis) stores them. */
export type ReadFormat = 'json' | 'keyv';

export interface ConsistencyOptions {
  /** Share of hits (0..1) whose loader is re-run in the background and compared. Default 0 (off). */
  sampleRate?: number;
  /**
   * How long a mismatch must survive before it counts as stale, when the pipeline's own lag is not
   * known (no running engine in this process, or no event yet). Default 1000 ms.
   */
  lagMs?: number;
}

export interface ReadOptions {
  /** Default "json". "keyv": values as {"value":...,"expires":...} and keyPrefix defaulting to "keyv::keyv:". */
  format?: ReadFormat;
  /** Expiry of filled values when getOrLoad is not given ttlSeconds; 0: none. Default 0. */
  ttlSeconds?: number;
  /** How long a lease stands when its holder never fills (a crashed loader). Default 10000 ms. */
  leaseMs?: number;
  /** How long a miss waits for another holder's fill before loading without filling. Default 3000 ms. */
  leaseWaitMs?: number;
  /** Redis unreachable: "load" calls the loader and does not fill (default); "fail" rejects. */
  onRedisError?: 'load' | 'fail';
  consistency?: ConsistencyOptions;
}

export interface ResolvedReadOptions {
  format: ReadFormat;
  ttlSeconds: number;
  leaseMs: number;
  leaseWaitMs: number;
  onRedisError: 'load' | 'fail';
  consistency: { sampleRate: number; lagMs: number };
}

export const READ_DEFAULTS: Readonly<ResolvedReadOptions> = Object.freeze({
  format: 'json',
  ttlSeconds: 0,
  leaseMs: 10_000,
  leaseWaitMs: 3_000,
  onRedisError: 'load',
  consistency: Object.freeze({ sampleRate: 0, lagMs: 1000 }),
});

/** The key prefix @nestjs/cache-manager + Keyv + @keyv/redis write under by default. */
export const KEYV_KEY_PREFIX = 'keyv::keyv:';

const READ_KEYS = ['format', 'ttlSeconds', 'leaseMs', 'leaseWaitMs', 'onRedisError', 'consistency'];

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return typeof value;
}

function integer(issues: ConfigIssue[], path: string, value: unknown, min: number, max: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    issues.push({ path, message: `${path}: expected an integer from ${min} to ${max}, got ${describe(value)}` });
  }
}

function unknownKeys(issues: ConfigIssue[], path: string, value: object, allowed: string[]): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      issues.push({ path: `${path}.${key}`, message: `${path}.${key}: unknown option (expected one of ${allowed.join(', ')})` });
    }
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Validates options.read; pushes issues naming their paths ("read.leaseMs: ..."). */
export function checkReadOptions(value: unknown, issues: ConfigIssue[]): ResolvedReadOptions {
  const resolved: ResolvedReadOptions = { ...READ_DEFAULTS, consistency: { ...READ_DEFAULTS.consistency } };
  if (value === undefined) return resolved;
  if (!isPlainObject(value)) {
    issues.push({ path: 'read', message: `read: expected an object, got ${describe(value)}` });
    return resolved;
  }
  unknownKeys(issues, 'read', value, READ_KEYS);
  const v = value as ReadOptions;
  if (v.format !== undefined) {
    if (v.format !== 'json' && v.format !== 'keyv') {
      issues.push({ path: 'read.format', message: `read.format: expected "json" or "keyv", got ${describe(v.format)}` });
    } else resolved.format = v.format;
  }
  if (v.onRedisError !== undefined) {
    if (v.onRedisError !== 'load' && v.onRedisError !== 'fail') {
      issues.push({ path: 'read.onRedisError', message: `read.onRedisError: expected "load" or "fail", got ${describe(v.onRedisError)}` });
    } else resolved.onRedisError = v.onRedisError;
  }
  const numbers: Array<[keyof ResolvedReadOptions & ('ttlSeconds' | 'leaseMs' | 'leaseWaitMs'), number, number]> = [
    ['ttlSeconds', 0, 2_147_483],
    ['leaseMs', 10, 600_000],
    ['leaseWaitMs', 0, 600_000],
  ];
  for (const [name, min, max] of numbers) {
    if (v[name] === undefined) continue;
    integer(issues, `read.${name}`, v[name], min, max);
    resolved[name] = v[name] as number;
  }
  if (v.consistency !== undefined) {
    if (!isPlainObject(v.consistency)) {
      issues.push({ path: 'read.consistency', message: `read.consistency: expected an object, got ${describe(v.consistency)}` });
    } else {
      unknownKeys(issues, 'read.consistency', v.consistency, ['sampleRate', 'lagMs']);
      const { sampleRate, lagMs } = v.consistency as { sampleRate?: unknown; lagMs?: unknown };
      if (sampleRate !== undefined) {
        if (typeof sampleRate !== 'number' || !(sampleRate >= 0 && sampleRate <= 1)) {
          issues.push({
            path: 'read.consistency.sampleRate',
            message: `read.consistency.sampleRate: expected a number from 0 to 1, got ${describe(sampleRate)}`,
          });
        } else resolved.consistency.sampleRate = sampleRate;
      }
      if (lagMs !== undefined) {
        integer(issues, 'read.consistency.lagMs', lagMs, 0, 600_000);
        resolved.consistency.lagMs = lagMs as number;
      }
    }
  }
  return resolved;
}
