#!/usr/bin/env node
// npm run test:chaos: the long chaos run (50,000 updates over 5,000 rows with Redis, Kafka and
// consumer faults). Options: --short (the small profile), --rows N, --updates N, --rate N (updates/s),
// --out FILE (default test/chaos/last-run.json), --cluster (against the Redis Cluster). Exit 0 only when no stale key remains and the counts reconcile.
'use strict';

const path = require('path');
const { ensureBuiltLib } = require('./built-lib');
const { runChaos } = require('./chaos');

function parseArgs(argv) {
  const params = { profile: 'long', out: path.join(__dirname, 'last-run.json') };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      return argv[++i];
    };
    if (arg === '--short') params.profile = 'short';
    else if (arg === '--long') params.profile = 'long';
    else if (arg === '--no-faults') params.faults = false; // debugging the workload and checker alone
    else if (arg === '--cluster') params.cluster = true; // Redis Cluster (scripts/infra's six nodes) instead of one Redis
    else if (arg === '--out') params.out = path.resolve(value());
    else if (['--rows', '--updates', '--rate', '--partitions'].includes(arg)) {
      const n = Number(value());
      if (!Number.isInteger(n) || n <= 0) throw new Error(`${arg} expects a positive integer`);
      params[arg.slice(2)] = n;
    } else throw new Error(`unknown argument ${arg} (expected --short, --cluster, --rows N, --updates N, --rate N, --partitions N, --out FILE)`);
  }
  return params;
}

async function main() {
  const params = parseArgs(process.argv.slice(2));
  ensureBuiltLib();
  const result = await runChaos(params);
  if (params.out) process.stdout.write(`chaos: wrote ${params.out}\n`);
  return result.ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`chaos: ${error && error.stack ? error.stack : error}\n`);
    process.exit(2);
  },
);
