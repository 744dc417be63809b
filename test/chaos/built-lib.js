// The compiled package (dist/lib) for child processes and worker threads, which run plain Node
// (no ts-jest there). ensureBuiltLib() recompiles when lib/ is newer than dist/lib.
'use strict';

const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const LIB_DIR = path.join(REPO_ROOT, 'lib');
const DIST_LIB_DIR = path.join(REPO_ROOT, 'dist', 'lib');
const DIST_INDEX = path.join(DIST_LIB_DIR, 'index.js');

/** lib/*.ts files whose compiled .js is missing or older. */
function staleSources() {
  const stale = [];
  for (const file of fs.readdirSync(LIB_DIR)) {
    if (!file.endsWith('.ts') || file.endsWith('.d.ts')) continue;
    const compiled = path.join(DIST_LIB_DIR, file.replace(/\.ts$/, '.js'));
    if (!fs.existsSync(compiled) || fs.statSync(compiled).mtimeMs < fs.statSync(path.join(LIB_DIR, file)).mtimeMs) {
      stale.push(file);
    }
  }
  return stale;
}

/** Compiles lib/ (npm run build:ts) when dist/lib is missing or older than its sources. */
function ensureBuiltLib() {
  const stale = staleSources();
  if (stale.length === 0) return;
  process.stderr.write(`chaos: dist/lib is stale (${stale.slice(0, 3).join(', ')}...): running tsc -p tsconfig.build.json\n`);
  try {
    execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
  } catch (error) {
    // tsc emits despite type errors elsewhere (nest-module/...); only a missing lib output is fatal.
    if (staleSources().length > 0) throw new Error(`tsc -p tsconfig.build.json failed and dist/lib is stale: ${error.message}`);
  }
}

/** require('dist/lib'); throws a clear error when it was not built. */
function loadBuiltLib() {
  if (!fs.existsSync(DIST_INDEX)) {
    throw new Error(`${DIST_INDEX} is missing: run npm run build:ts (tsc -p tsconfig.build.json)`);
  }
  return require(DIST_INDEX);
}

module.exports = { REPO_ROOT, DIST_INDEX, ensureBuiltLib, loadBuiltLib, staleSources };
