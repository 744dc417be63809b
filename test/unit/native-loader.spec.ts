import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { CdcCacheNativeError } from '../../lib/errors';
import { ADDON_RELATIVE_PATH, MISSING_ADDON_MESSAGE, addonPath, findPackageRoot, loadNative } from '../../lib/native';

const repoRoot = path.resolve(__dirname, '..', '..');

function tempPackage(name: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdc-cache-loader-'));
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name }));
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

  it('throws a clear error when the addon is not built', () => {
    const root = tempPackage('cdc-cache');
    let error: unknown;
    try {
      loadNative(path.join(root, 'dist', 'lib'));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(CdcCacheNativeError);
    expect((error as Error).message).toContain(MISSING_ADDON_MESSAGE);
    expect((error as Error).message).toContain('cdc-cache: native addon not built; run npm run build:native');
    expect((error as Error).message).toContain(path.join(root, ADDON_RELATIVE_PATH));
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
    expect(() => loadNative(path.join(root, 'dist', 'lib'))).toThrow(/failed to load the native addon at .*cdc_cache\.node/);
  });
});
