// Loads the native addon: a local source build (build/native/Release/cdc_cache.node below the package
// root, whether this file runs from lib/ or dist/lib/) when there is one, else the prebuilt platform
// package (@cdc-cache/linux-x64-gnu, an optional dependency). A source build exists only when someone
// asked for it (npm run build:native, npx cdc-cache-build-from-source), so it wins, as in sharp.

import * as fs from 'fs';
import * as path from 'path';

import { CdcCacheNativeError } from './errors';
import type { ResolvedRedisTlsOptions } from './redis-tls-options';
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
  tls?: ResolvedRedisTlsOptions;
  /** Redis Cluster seeds ("host:port"); absent: one node at `url`. */
  clusterNodes?: string[];
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

/** The application producer behind publish() (src/native/addon/producer.cc). */
export interface NativeProducer {
  publish(
    messages: Array<{ topic: string; key: Buffer | string | null; value: Buffer | string | null; headers: Array<[string, Buffer | string]> }>,
  ): Promise<Array<{ partition: number; offset: string }>>;
  close(): Promise<void>;
  queued(): number;
}

export interface NativeProducerConstructor {
  new (
    settings: { brokers: string; properties: Array<[string, string]>; maxQueued: number },
    onLog?: (level: NativeLogLevel, message: string) => void,
  ): NativeProducer;
}

export interface NativeEngineConstructor {
  new (configJson: string, callbacks: NativeEngineCallbacks): NativeEngine;
}

export interface NativeBinding {
  Engine: NativeEngineConstructor;
  explain(rulesJson: string, value: Buffer | null, key: Buffer | null): string;
  /** Absent in builds older than the read side. */
  Reader?: NativeReaderConstructor;
  /** Absent in builds older than publish(). */
  Producer?: NativeProducerConstructor;
}

export const PACKAGE_NAME = 'cdc-cache';
export const ADDON_RELATIVE_PATH = path.join('build', 'native', 'Release', 'cdc_cache.node');
/** Platform (as runtimePlatform() names it) -> the npm package holding its prebuilt addon. */
export const PLATFORM_PACKAGES: Readonly<Record<string, string>> = { 'linux-x64-glibc': '@cdc-cache/linux-x64-gnu' };
export const PREBUILT_ADDON_FILE = 'cdc_cache.node';
export const MISSING_ADDON_MESSAGE = 'cdc-cache: no native addon found';
export const SOURCE_BUILD_HINT =
  'build from source with: npm install cmake-js node-addon-api && npx cdc-cache-build-from-source ' +
  '(needs cmake, g++, pkg-config, librdkafka-dev, libhiredis-dev, libsimdjson-dev, libssl-dev), or in a clone: npm run build:native';

/** Where an addon was found. */
export interface NativeAddonLocation {
  kind: 'source build' | 'prebuilt';
  file: string;
}

/** "linux-x64-glibc", "linux-x64-musl", "darwin-arm64", ...: what a prebuilt package must match. */
export function runtimePlatform(): string {
  const base = `${process.platform}-${process.arch}`;
  if (process.platform !== 'linux') return base;
  const header = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header;
  return `${base}-${header?.glibcVersionRuntime ? 'glibc' : 'musl'}`;
}

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

/** Absolute path of the source-built addon for the package containing `from`. */
export function addonPath(from: string = __dirname): string {
  return path.join(findPackageRoot(from), ADDON_RELATIVE_PATH);
}

/** The prebuilt addon's file, resolved from the package root as Node resolves dependencies; null if absent. */
function prebuiltPath(root: string, platform: string): string | null {
  const pkg = PLATFORM_PACKAGES[platform];
  if (!pkg) return null;
  try {
    return require.resolve(`${pkg}/${PREBUILT_ADDON_FILE}`, { paths: [root] });
  } catch {
    return null;
  }
}

/** The "version" of the package.json in `dir` ('' when there is none). */
function versionIn(dir: string): string {
  try {
    const version = (JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { version?: unknown }).version;
    return typeof version === 'string' ? version : '';
  } catch {
    return '';
  }
}

function missingMessage(root: string, platform: string): string {
  const pkg = PLATFORM_PACKAGES[platform];
  const version = versionIn(root);
  const prebuilt = pkg
    ? `install the prebuilt addon for ${platform}: npm install ${pkg}${version ? `@${version}` : ''} (npm skips it when optional dependencies ` +
      `are omitted, e.g. --omit=optional), or ${SOURCE_BUILD_HINT}`
    : `no prebuilt addon exists for ${platform} (prebuilt: ${Object.keys(PLATFORM_PACKAGES).join(', ')}); ${SOURCE_BUILD_HINT}`;
  return `${MISSING_ADDON_MESSAGE} (looked for ${path.join(root, ADDON_RELATIVE_PATH)}${pkg ? ` and ${pkg}` : ''}): ${prebuilt}`;
}

/** Which addon loadNative would load: the source build, else the platform package; throws when neither exists. */
export function resolveNative(from: string = __dirname, platform?: string): NativeAddonLocation {
  const root = findPackageRoot(from);
  const local = path.join(root, ADDON_RELATIVE_PATH);
  if (fs.existsSync(local)) return { kind: 'source build', file: local };
  platform ??= runtimePlatform(); // only now: the process report costs a few milliseconds
  const prebuilt = prebuiltPath(root, platform);
  if (prebuilt) {
    // The addon and the JavaScript talk through a config format of their own: versions must match.
    const wanted = versionIn(root);
    const found = versionIn(path.dirname(prebuilt));
    if (wanted && found !== wanted) {
      const pkg = PLATFORM_PACKAGES[platform];
      throw new CdcCacheNativeError(
        `cdc-cache: ${pkg} ${found || '(no version)'} does not match cdc-cache ${wanted}: npm install ${pkg}@${wanted}`,
      );
    }
    return { kind: 'prebuilt', file: prebuilt };
  }
  throw new CdcCacheNativeError(missingMessage(root, platform));
}

const cache = new Map<string, NativeBinding>();

/**
 * Loads the addon (see resolveNative). Throws CdcCacheNativeError saying what to install or how to build
 * from source when there is none, or naming the load failure otherwise.
 */
export function loadNative(from: string = __dirname, platform?: string): NativeBinding {
  const { kind, file } = resolveNative(from, platform);
  const cached = cache.get(file);
  if (cached) return cached;
  let binding: NativeBinding;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    binding = require(file) as NativeBinding;
  } catch (e) {
    const hint = kind === 'prebuilt' ? `the prebuilt addon needs glibc >= 2.36 on x64; otherwise ${SOURCE_BUILD_HINT}` : 'rebuild it: npm run build:native';
    throw new CdcCacheNativeError(`cdc-cache: failed to load the native addon (${kind}) at ${file}: ${(e as Error).message}; ${hint}`);
  }
  if (typeof binding.Engine !== 'function' || typeof binding.explain !== 'function') {
    throw new CdcCacheNativeError(
      `cdc-cache: the native addon at ${file} does not export Engine and explain (stale build? run npm run build:native)`,
    );
  }
  cache.set(file, binding);
  return binding;
}

/** True when an addon (source build or prebuilt) exists; it may still fail to load. */
export function isNativeBuilt(from: string = __dirname): boolean {
  try {
    resolveNative(from);
    return true;
  } catch {
    return false;
  }
}
