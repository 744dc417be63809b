// Jest global setup for the e2e project: make sure the local infrastructure runs (starting it if needed,
// and remembering that we did), then expose .infra/env to the tests through process.env.
import { existsSync, rmSync, writeFileSync } from 'fs';
import { ENV_FILE, STARTED_BY_JEST_FILE, readInfraEnv, runInfra } from './infra';

export default async function globalSetup(): Promise<void> {
  const alreadyUp = existsSync(ENV_FILE) && runInfra('status', true) === 0;
  if (!alreadyUp) {
    process.stdout.write('\ne2e: starting local infrastructure (scripts/infra up)\n');
    if (runInfra('up') !== 0) throw new Error('scripts/infra up failed (see its output above)');
    writeFileSync(STARTED_BY_JEST_FILE, `${new Date().toISOString()}\n`);
  } else {
    rmSync(STARTED_BY_JEST_FILE, { force: true });
  }
  Object.assign(process.env, readInfraEnv());
}
