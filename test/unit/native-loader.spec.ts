import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { CdcCacheNativeError } from '../../lib/errors';
import {
  ADDON_RELATIVE_PATH,
  MISSING_ADDON_MESSAGE,
  PLATFORM_PACKAGES,
  addonPath,
  findPackageRoot,
  loadNative,
  resolveNative,
  runtimePlatform,
} from '../../lib/native';

const repoRoot = path.resolve(__dirname, '..', '..');
const PREBUILT = '@cdc-cache/linux-x64-gnu';

/** A platform package inside `root`'s node_modules whose cdc_cache.node holds `contents`. */
function installPlatformPackage(root: string, contents: Buffer | string): string {
  const dir = path.join(root, 'node_modules', ...PREBUILT.split('/'));
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(path.join(repoRoot, 'npm', 'linux-x64-gnu', 'package.json'), path.join(dir, 'package.json'));
  fs.writeFileSync(path.join(dir, 'cdc_cache.node'), contents);
  return path.join(dir, 'cdc_cache.node');
}

function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

const repoVersion: string = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')).version;

function tempPackage(name: string, version: string = repoVersion): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdc-cache-loader-'));
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name, version }));
  fs.mkdirSync(path.join(dir, 'dist', 'lib'), { recursive: true });
  return dir;
}

describe('native addon loader', () => {
  it('finds the package root from lib/ and from a nested dist/lib/', () => {
    expect(findPackageRoot(path.join(repoRoot, 'lib'))).toBe(repoRoot);
    expect(findPackageRoot(path.join(repoRoot, 'dist', 'lib'))).toBe(repoRoot);
    expect(addonPath(path.join(repoRoot, 'lib'))).toBe(path.join(repoRoot, 'build', 'native', 'Release', 'cdc_cache.node'));
  });

  it('skips package.json files of other packages on the way up', () => {
    const root = tempPackage('cdc-cache');
    const nested = path.join(root, 'node_modules', 'other');
    fs.mkdirSync(path.join(nested, 'lib'), { recursive: true });
    fs.writeFileSync(path.join(nested, 'package.json'), JSON.stringify({ name: 'other' }));
    expect(findPackageRoot(path.join(nested, 'lib'))).toBe(root);
  });

  it('says what to install, or how to build from source, when there is no addon at all', () => {
    const root = tempPackage('cdc-cache');
    const error = errorOf(() => loadNative(path.join(root, 'dist', 'lib'), 'linux-x64-glibc'));
    expect(error).toBeInstanceOf(CdcCacheNativeError);
    expect(error.message).toContain(MISSING_ADDON_MESSAGE);
    expect(error.message).toContain(path.join(root, ADDON_RELATIVE_PATH));
    expect(error.message).toContain(`npm install ${PREBUILT}@${repoVersion}`);
    expect(error.message).toContain('npm install cmake-js node-addon-api && npx cdc-cache-build-from-source');
  });

  it('names the platform that has no prebuilt addon and points to the source build', () => {
    const root = tempPackage('cdc-cache');
    const error = errorOf(() => loadNative(path.join(root, 'dist', 'lib'), 'linux-x64-musl'));
    expect(error.message).toContain('no prebuilt addon exists for linux-x64-musl (prebuilt: linux-x64-glibc)');
    expect(error.message).toContain('npm install cmake-js node-addon-api && npx cdc-cache-build-from-source');
    expect(error.message).not.toContain(`npm install ${PREBUILT}`);
  });

  it('loads the prebuilt platform package when there is no source build', () => {
    const root = tempPackage('cdc-cache');
    const file = installPlatformPackage(root, fs.readFileSync(path.join(repoRoot, ADDON_RELATIVE_PATH)));
    expect(resolveNative(path.join(root, 'dist', 'lib'), 'linux-x64-glibc')).toEqual({ kind: 'prebuilt', file });
    const binding = loadNative(path.join(root, 'dist', 'lib'), 'linux-x64-glibc');
    expect(typeof binding.Engine).toBe('function');
    expect(typeof binding.explain).toBe('function');
  });

  it('prefers a source build over the platform package', () => {
    const root = tempPackage('cdc-cache');
    installPlatformPackage(root, 'a prebuilt');
    const local = path.join(root, ADDON_RELATIVE_PATH);
    fs.mkdirSync(path.dirname(local), { recursive: true });
    fs.writeFileSync(local, 'a source build');
    expect(resolveNative(path.join(root, 'dist', 'lib'), 'linux-x64-glibc')).toEqual({ kind: 'source build', file: local });
  });

  it('ignores a platform package built for another platform', () => {
    const root = tempPackage('cdc-cache');
    installPlatformPackage(root, 'a prebuilt');
    expect(() => resolveNative(path.join(root, 'dist', 'lib'), 'darwin-arm64')).toThrow('no prebuilt addon exists for darwin-arm64');
  });

  it('refuses a platform package of another version than cdc-cache', () => {
    const root = tempPackage('cdc-cache', '9.9.9');
    installPlatformPackage(root, 'a prebuilt');
    const version = JSON.parse(fs.readFileSync(path.join(repoRoot, 'npm', 'linux-x64-gnu', 'package.json'), 'utf8')).version;
    expect(() => resolveNative(path.join(root, 'dist', 'lib'), 'linux-x64-glibc')).toThrow(
      `${PREBUILT} ${version} does not match cdc-cache 9.9.9: npm install ${PREBUILT}@9.9.9`,
    );
  });

  it('reports a platform package whose addon cannot be loaded', () => {
    const root = tempPackage('cdc-cache');
    installPlatformPackage(root, 'not a shared object');
    const error = errorOf(() => loadNative(path.join(root, 'dist', 'lib'), 'linux-x64-glibc'));
    expect(error.message).toMatch(/failed to load the native addon \(prebuilt\) at .*linux-x64-gnu.cdc_cache\.node/);
    expect(error.message).toContain('glibc >= 2.36');
  });

  it('detects this machine as linux-x64-glibc (the platform the CI builds a prebuilt for)', () => {
    expect(runtimePlatform()).toBe('linux-x64-glibc');
  });

  it('keeps the platform package and the main package in step', () => {
    const main = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8'));
    const platform = JSON.parse(fs.readFileSync(path.join(repoRoot, 'npm', 'linux-x64-gnu', 'package.json'), 'utf8'));
    expect(PLATFORM_PACKAGES['linux-x64-glibc']).toBe(platform.name);
    expect(platform).toMatchObject({ version: main.version, os: ['linux'], cpu: ['x64'], libc: ['glibc'] });
    expect(main.optionalDependencies).toEqual({ [platform.name]: main.version });
    // No registry dependency at run time, and no install script (nothing for allowScripts to approve).
    expect(main.dependencies ?? {}).toEqual({});
    expect(main.devDependencies).toHaveProperty('cmake-js');
    expect(main.devDependencies).toHaveProperty('node-addon-api');
    for (const hook of ['preinstall', 'install', 'postinstall']) expect(main.scripts).not.toHaveProperty(hook);
    expect(main.bin['cdc-cache-build-from-source']).toBe('install/from-source.js');
  });

  it('throws when no cdc-cache package root exists above the directory', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdc-cache-none-'));
    expect(() => findPackageRoot(dir)).toThrow('package root not found');
  });

  it('reports an addon that exists but cannot be loaded', () => {
    const root = tempPackage('cdc-cache');
    const file = path.join(root, ADDON_RELATIVE_PATH);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, 'not a shared object');
    expect(() => loadNative(path.join(root, 'dist', 'lib'))).toThrow(/failed to load the native addon \(source build\) at .*cdc_cache\.node/);
  });
});
