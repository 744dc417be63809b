// Jest global teardown for the e2e project: stop the infrastructure only if global setup started it.
import { existsSync, rmSync } from 'fs';
import { STARTED_BY_JEST_FILE, runInfra } from './infra';

export default async function globalTeardown(): Promise<void> {
  if (!existsSync(STARTED_BY_JEST_FILE)) return;
  rmSync(STARTED_BY_JEST_FILE, { force: true });
  runInfra('down');
}
