#!/usr/bin/env node
// npx cdc-cache-build-from-source: compiles the native addon into build/native of the installed
// cdc-cache package, for platforms without a prebuilt package or to link the system's libraries.
// Run it after `npm install cdc-cache cmake-js node-addon-api`; it needs cmake, g++, pkg-config,
// librdkafka-dev, libhiredis-dev, libsimdjson-dev and libssl-dev. A command rather than an install script: the
// default install runs no script at all (nothing for npm's allowScripts, pnpm or bun to approve).
// Plain JavaScript: it runs before anything is compiled.
'use strict';

const { spawnSync } = require('child_process');
const path = require('path');

const root = path.resolve(__dirname, '..');
const SYSTEM_PACKAGES = 'cmake g++ pkg-config librdkafka-dev libhiredis-dev libsimdjson-dev libssl-dev';

function resolvable(request) {
  try {
    return require.resolve(request, { paths: [root] });
  } catch {
    return null;
  }
}

function main() {
  const missing = ['cmake-js', 'node-addon-api'].filter((name) => !resolvable(`${name}/package.json`));
  const cmakeJs = resolvable('cmake-js/bin/cmake-js');
  if (missing.length > 0 || !cmakeJs) {
    console.error(`cdc-cache: building from source needs ${missing.join(' and ') || 'cmake-js'} next to cdc-cache: ` +
      'npm install cmake-js node-addon-api, then npx cdc-cache-build-from-source');
    return 1;
  }
  console.error(`cdc-cache: building the native addon from source in ${root} (needs ${SYSTEM_PACKAGES})`);
  const result = spawnSync(process.execPath,
    [cmakeJs, 'compile', '--out', 'build/native', '--log-level', 'warn', '--target', 'cdc_cache'],
    { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) return result.status ?? 1;
  console.error(`cdc-cache: built ${path.join(root, 'build', 'native', 'Release', 'cdc_cache.node')}; the loader takes it first`);
  return 0;
}

process.exitCode = main();
