// Loads the native addon (build/native/Release/cdc_cache.node) from the package root, whether this
// file runs from lib/ (ts-jest) or dist/lib/ (compiled).

import * as fs from 'fs';
import * as path from 'path';

import { CdcCacheNativeError } from './errors';
import type { CdcCacheStats, ChangeEvent } from './types';

export type NativeLogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface NativeEngineCallbacks {
  onEvents?: (token: number, handlerId: number, events: ChangeEvent[]) => void;
  onLog?: (level: NativeLogLevel, message: string) => void;
}

export interface NativeEngine {
  start(): Promise<void>;
  stop(): Promise<void>;
  invalidate(keys: string[]): Promise<number>;
  ack(token: number, ok: boolean, reason?: string): void;
  stats(): CdcCacheStats;
}

export interface NativeReaderOptions {
  url: string;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  leaseMs: number;
  markerPrefix: string;
  markerSuffix: string;
}

/** The read side's LeaseClient (src/native/addon/reader.cc). */
export interface NativeReader {
  /** Flat ops, 6 entries each: op, id, key, token, value, ttlMs. False when nothing was queued. */
  submit(ops: Array<number | string | undefined>): boolean;
  /** No answer pending: the reader stops holding the process open. */
  idle(): void;
  close(): Promise<void>;
  stats(): { roundTrips: number; commands: number; errors: number; reconnects: number; noscript: number; connected: boolean };
}

export interface NativeReaderConstructor {
  new (
    options: NativeReaderOptions,
    onResults: (ids: number[], outcomes: number[], values: Array<string | undefined>) => void,
  ): NativeReader;
}

export interface NativeEngineConstructor {
  new (configJson: string, callbacks: NativeEngineCallbacks): NativeEngine;
}

export interface NativeBinding {
  Engine: NativeEngineConstructor;
  explain(rulesJson: string, value: Buffer | null, key: Buffer | null): string;
  /** Absent in builds older than the read side. */
  Reader?: NativeReaderConstructor;
}

export const PACKAGE_NAME = 'cdc-cache';
export const ADDON_RELATIVE_PATH = path.join('build', 'native', 'Release', 'cdc_cache.node');
export const MISSING_ADDON_MESSAGE = 'cdc-cache: native addon not built; run npm run build:native';

/** Walks up from `from` to the directory whose package.json is named "cdc-cache". */
export function findPackageRoot(from: string = __dirname): string {
  let dir = path.resolve(from);
  for (;;) {
    const manifest = path.join(dir, 'package.json');
    try {
      const parsed = JSON.parse(fs.readFileSync(manifest, 'utf8')) as { name?: unknown };
      if (parsed.name === PACKAGE_NAME) return dir;
    } catch {
      // no (readable) package.json here: keep walking
    }
    const parent = path.dirname(dir);
    if (parent === dir) throw new CdcCacheNativeError(`cdc-cache: package root not found above ${from}`);
    dir = parent;
  }
}

/** Absolute path of the addon for the package containing `from`. */
export function addonPath(from: string = __dirname): string {
  return path.join(findPackageRoot(from), ADDON_RELATIVE_PATH);
}

const cache = new Map<string, NativeBinding>();

/**
 * Loads the addon. Throws CdcCacheNativeError with "native addon not built; run npm run build:native"
 * when the file is missing, or naming the load failure otherwise.
 */
export function loadNative(from: string = __dirname): NativeBinding {
  const file = addonPath(from);
  const cached = cache.get(file);
  if (cached) return cached;
  if (!fs.existsSync(file)) throw new CdcCacheNativeError(`${MISSING_ADDON_MESSAGE} (looked for ${file})`);
  let binding: NativeBinding;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    binding = require(file) as NativeBinding;
  } catch (e) {
    throw new CdcCacheNativeError(`cdc-cache: failed to load the native addon at ${file}: ${(e as Error).message}`);
  }
  if (typeof binding.Engine !== 'function' || typeof binding.explain !== 'function') {
    throw new CdcCacheNativeError(
      `cdc-cache: the native addon at ${file} does not export Engine and explain (stale build? run npm run build:native)`,
    );
  }
  cache.set(file, binding);
  return binding;
}

/** True when the addon file exists (it may still fail to load). */
export function isNativeBuilt(from: string = __dirname): boolean {
  try {
    return fs.existsSync(addonPath(from));
  } catch {
    return false;
  }
}
