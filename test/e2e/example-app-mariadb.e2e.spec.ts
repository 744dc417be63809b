// The example Nest app (examples/nestjs) on the second source, as `npm run demo -- --source mariadb` runs it.
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { infraEnv, mariadbUrl } from './infra';

const root = path.resolve(__dirname, '../..');
const port = 3182;
const baseUrl = `http://127.0.0.1:${port}`;

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe('examples/nestjs on MariaDB (DEMO_SOURCE=mariadb)', () => {
  let app: ChildProcess;
  let output = ''; // the app's log, shown when it fails to start
  const appEnv = { ...process.env, ...infraEnv(), MARIADB_URL: mariadbUrl(), DEMO_SOURCE: 'mariadb', PORT: String(port) };

  beforeAll(async () => {
    const build = spawnSync('npx', ['tsc', '-p', 'examples/nestjs'], { cwd: root, encoding: 'utf8' });
    if (build.status !== 0) throw new Error(`examples/nestjs does not compile:\n${build.stdout}${build.stderr}`);
    app = spawn(process.execPath, ['examples/nestjs/dist/main.js'], { cwd: root, env: appEnv });
    app.stdout!.on('data', (chunk) => (output += chunk));
    app.stderr!.on('data', (chunk) => (output += chunk));
    await waitUntil('the example app to answer /health', async () => (await fetch(`${baseUrl}/health`)).ok).catch((error) => {
      throw new Error(`${(error as Error).message}; its output:\n${output}`);
    });
  });

  afterAll(async () => {
    if (!app || app.exitCode !== null) return;
    const exited = new Promise((resolve) => app.once('exit', resolve));
    app.kill('SIGTERM');
    await exited;
  });

  it('runs the scripted walk-through: a MariaDB commit deletes the cached customer', async () => {
    const walk = spawnSync(process.execPath, ['examples/nestjs/dist/walkthrough.js'], {
      cwd: root,
      env: appEnv,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(walk.stderr).toBe('');
    expect(walk.status).toBe(0);
    expect(walk.stdout).toMatch(/UPDATE the customer's email in MariaDB/);
    expect(walk.stdout).toMatch(/Wait for cdc-cache to delete mariadb:customer:\d+ from Redis/);
    expect(walk.stdout).toMatch(/Demo passed: MariaDB commit -> Redis delete in [\d.]+ ms, in the customers table in [\d.]+ ms/);
    const id = Number(/inserted customer (\d+)/.exec(walk.stdout)?.[1]);
    // The @OnChange handler got the update too (its batches are delivered apart from the Redis delete).
    await waitUntil('the update to reach the @OnChange handler', async () => {
      const seen = (await (await fetch(`${baseUrl}/changes`)).json()) as { recent: { op: string; id: number }[] };
      return seen.recent.some((c) => c.op === 'u' && c.id === id);
    });
  });
});
