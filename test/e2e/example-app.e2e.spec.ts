// The example Nest app (examples/nestjs), run as users run it, driven through its HTTP API.
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Client } from 'pg';
import { infraEnv } from './infra';

const root = path.resolve(__dirname, '../..');
const port = 3181;
const baseUrl = `http://127.0.0.1:${port}`;

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const getJson = async (url: string) => (await fetch(url)).json() as Promise<Record<string, any>>;

describe('examples/nestjs', () => {
  let app: ChildProcess;
  let output = '';
  const appEnv = { ...process.env, ...infraEnv(), PORT: String(port) };

  beforeAll(async () => {
    const build = spawnSync('npx', ['tsc', '-p', 'examples/nestjs'], { cwd: root, encoding: 'utf8' });
    if (build.status !== 0) throw new Error(`examples/nestjs does not compile:\n${build.stdout}${build.stderr}`);
    app = spawn(process.execPath, ['examples/nestjs/dist/main.js'], { cwd: root, env: appEnv });
    app.stdout!.on('data', (chunk) => (output += chunk));
    app.stderr!.on('data', (chunk) => (output += chunk));
    await waitUntil('the example app to answer /health', async () => (await fetch(`${baseUrl}/health`)).ok);
  });

  afterAll(async () => {
    if (!app || app.exitCode !== null) return;
    const exited = new Promise((resolve) => app.once('exit', resolve));
    app.kill('SIGTERM');
    await exited;
  });

  it('serves invoices through the cache and sees a PostgreSQL change invalidate it', async () => {
    const pg = new Client({ connectionString: infraEnv().PG_URL });
    await pg.connect();
    try {
      const email = `linus.${randomUUID().slice(0, 8)}@example.com`;
      const { rows } = await pg.query<{ id: number }>(
        'INSERT INTO customers (first_name, last_name, email) VALUES ($1, $2, $3) RETURNING id',
        ['Linus', 'Pauling', email],
      );
      const id = rows[0].id;
      await waitUntil('the insert to reach the @OnChange handler', async () =>
        (await getJson(`${baseUrl}/changes`)).recent.some((c: { id: number }) => c.id === id),
      );

      expect(await getJson(`${baseUrl}/invoices/${id}`)).toMatchObject({ cache: 'miss', email });
      expect(await getJson(`${baseUrl}/invoices/${id}`)).toMatchObject({ cache: 'hit', email });

      const newEmail = `pauling.${randomUUID().slice(0, 8)}@example.org`;
      await pg.query('UPDATE customers SET email = $1 WHERE id = $2', [newEmail, id]);
      await waitUntil('the invoice to show the new email', async () => {
        const invoice = await getJson(`${baseUrl}/invoices/${id}`);
        return invoice.email === newEmail;
      });
      // stats() is a snapshot published every 100 ms: poll it.
      await waitUntil('the delete to show in stats', async () => (await getJson(`${baseUrl}/health`)).stats.keysDeleted >= 1);
      expect((await getJson(`${baseUrl}/health`)).healthy).toBe(true);
    } finally {
      await pg.end();
    }
  });

  it('users flow: the same POST /users twice (one message id) gives one row and a counted duplicate', async () => {
    const messageId = `req-${randomUUID()}`;
    const post = () =>
      fetch(`${baseUrl}/users`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-message-id': messageId },
        body: JSON.stringify({ name: 'Grace', email: `grace.${messageId}@example.com` }),
      }).then((r) => r.json() as Promise<Record<string, any>>);
    const first = await post();
    expect(first).toMatchObject({ messageId, partition: expect.any(Number), offset: expect.stringMatching(/^\d+$/) });
    await waitUntil('the user row', async () => (await getJson(`${baseUrl}/users/${messageId}`)).rows.length === 1);
    // users.created has one partition: once this row exists, older messages were all processed.
    const before = (await getJson(`${baseUrl}/users/${messageId}`)).stats;
    const second = await post();
    expect(BigInt(second.offset)).toBeGreaterThan(BigInt(first.offset));  // the broker has it twice
    await waitUntil('the duplicate to be counted', async () => (await getJson(`${baseUrl}/users/${messageId}`)).stats.duplicates === before.duplicates + 1);
    const after = await getJson(`${baseUrl}/users/${messageId}`);
    expect(after.rows).toHaveLength(1);
    expect(after.stats.handled).toBe(before.handled);
  });

  it('runs the scripted walk-through of npm run demo to success', () => {
    const walk = spawnSync(process.execPath, ['examples/nestjs/dist/walkthrough.js'], {
      cwd: root,
      env: appEnv,
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect(walk.stderr).toBe('');
    expect(walk.status).toBe(0);
    expect(walk.stdout).toMatch(/Demo passed: PostgreSQL commit -> Redis delete in [\d.]+ ms/);
  });
});
