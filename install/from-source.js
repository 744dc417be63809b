#!/usr/bin/env node
// cdc-cache's install step. A default install does nothing here: the addon comes prebuilt in the
// optional platform package (@cdc-cache/linux-x64-gnu). Only when asked, with
//   npm install cdc-cache cmake-js node-addon-api --build-from-source
//   CDC_CACHE_BUILD_FROM_SOURCE=1 npm install cdc-cache cmake-js node-addon-api
// does it compile the addon into build/native (needs cmake, g++, pkg-config, librdkafka-dev,
// libhiredis-dev, libsimdjson-dev). Plain JavaScript: it runs before anything is compiled.
'use strict';

const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const PREBUILT = '@cdc-cache/linux-x64-gnu';
const SYSTEM_PACKAGES = 'cmake g++ pkg-config librdkafka-dev libhiredis-dev libsimdjson-dev';

function asked(env) {
  return env.npm_config_build_from_source === 'true' || /^(1|true|yes)$/i.test(env.CDC_CACHE_BUILD_FROM_SOURCE || '');
}

function resolvable(request) {
  try {
    return require.resolve(request, { paths: [root] });
  } catch {
    return null;
  }
}

function buildFromSource() {
  const cmakeJs = resolvable('cmake-js/bin/cmake-js');
  const missing = ['cmake-js', 'node-addon-api'].filter((name) => !resolvable(`${name}/package.json`));
  if (!cmakeJs || missing.length > 0) {
    console.error(`cdc-cache: building from source needs ${missing.join(' and ')} next to cdc-cache: ` +
      `npm install cdc-cache cmake-js node-addon-api --build-from-source`);
    return 1;
  }
  console.error(`cdc-cache: building the native addon from source (needs ${SYSTEM_PACKAGES})`);
  const result = spawnSync(process.execPath, [cmakeJs, 'compile', '--out', 'build/native', '--log-level', 'warn', '--target', 'cdc_cache'],
    { cwd: root, stdio: 'inherit' });
  return result.status === null ? 1 : result.status;
}

function main() {
  if (asked(process.env)) return buildFromSource();
  // A clone of the repository builds with npm run build; only an installed package hints.
  const inClone = fs.existsSync(path.join(root, '.git'));
  const prebuilt = resolvable(`${PREBUILT}/cdc_cache.node`);
  const built = fs.existsSync(path.join(root, 'build', 'native', 'Release', 'cdc_cache.node'));
  if (!inClone && !prebuilt && !built) {
    console.error(`cdc-cache: no prebuilt addon for ${process.platform}-${process.arch} was installed (${PREBUILT} ` +
      'is for Linux x64 with glibc); build from source: npm install cdc-cache cmake-js node-addon-api --build-from-source');
  }
  return 0;
}

process.exitCode = main();
