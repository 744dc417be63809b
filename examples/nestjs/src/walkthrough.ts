// The scripted demo: cache miss, hit, a change committed in the source database (PostgreSQL, or
// MariaDB with DEMO_SOURCE=mariadb), the invalidation seen in Redis, and a fresh read. Exits non-zero
// naming the step that failed.
import Redis from 'ioredis';
import { customerKey } from './customer-cache';
import { openCustomerStore } from './customer-store';
import { loadConfig } from './config';

const config = loadConfig();
const database = config.source === 'mariadb' ? 'MariaDB' : 'PostgreSQL';
const baseUrl = `http://127.0.0.1:${config.port}`;

class StepFailed extends Error {}

function step(n: number, text: string): void {
  console.log(`\n[${n}] ${text}`);
}

async function getInvoice(id: number): Promise<{ email: string; cache: string }> {
  const response = await fetch(`${baseUrl}/invoices/${id}`);
  if (!response.ok) throw new StepFailed(`GET /invoices/${id} answered ${response.status}`);
  const body = (await response.json()) as { email: string; cache: string };
  console.log(`    GET /invoices/${id} -> ${JSON.stringify(body)}`);
  return body;
}

function expect(condition: boolean, message: string): void {
  if (!condition) throw new StepFailed(message);
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new StepFailed(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
}

async function main(): Promise<void> {
  const store = openCustomerStore(config);
  const redis = new Redis(config.redisUrl);
  let current = 0;
  try {
    current = 1;
    step(current, `A customer row owned by the customer service (${database}, database inventory)`);
    const suffix = Date.now().toString(36);
    const id = await store.insert('Ada', 'Lovelace', `ada.${suffix}@example.com`);
    console.log(`    inserted customer ${id} <ada.${suffix}@example.com>`);

    current = 2;
    step(current, 'GET the invoice: cache miss, the invoice service fills Redis');
    // The insert's own change event may still be on its way and would delete a fresh fill:
    // wait for the listener to have seen it, so the walk-through shows one change at a time.
    await waitFor('the insert to reach the @OnChange handler', 60_000, async () => {
      const seen = (await (await fetch(`${baseUrl}/changes`)).json()) as { recent: { id: number }[] };
      return seen.recent.some((c) => c.id === id) ? true : undefined;
    });
    const first = await getInvoice(id);
    expect(first.cache === 'miss', `expected a cache miss, got ${first.cache}`);

    current = 3;
    step(current, 'GET it again: served from Redis');
    const second = await getInvoice(id);
    expect(second.cache === 'hit', `expected a cache hit, got ${second.cache}`);

    current = 4;
    step(current, `UPDATE the customer's email in ${database}`);
    const newEmail = `ada.lovelace.${suffix}@example.org`;
    await store.updateEmail(id, newEmail);
    const committedAt = process.hrtime.bigint();
    console.log(`    committed: email is now ${newEmail}`);

    current = 5;
    step(current, `Wait for cdc-cache to delete ${customerKey(id, config)} from Redis`);
    await waitFor(`${customerKey(id, config)} to be deleted`, 60_000, async () =>
      (await redis.exists(customerKey(id, config))) === 0 ? true : undefined,
    );
    const elapsedMs = Number(process.hrtime.bigint() - committedAt) / 1e6;
    console.log(`    deleted ${elapsedMs.toFixed(1)} ms after the ${database} commit`);

    current = 6;
    step(current, 'The in-memory customers table follows too: GET /invoices/:id/local (no Redis read)');
    const local = await waitFor('the customers table to hold the new email', 60_000, async () => {
      const response = await fetch(`${baseUrl}/invoices/${id}/local`);
      const body = response.ok ? ((await response.json()) as { email: string }) : undefined;
      return body?.email === newEmail ? body : undefined;
    });
    const tableMs = Number(process.hrtime.bigint() - committedAt) / 1e6;
    console.log(`    GET /invoices/${id}/local -> ${JSON.stringify(local)}`);
    console.log(`    in the table ${tableMs.toFixed(1)} ms after the ${database} commit`);

    current = 7;
    step(current, 'GET the invoice again: a miss, with the fresh email');
    const third = await getInvoice(id);
    expect(third.cache === 'miss', `expected a cache miss after invalidation, got ${third.cache}`);
    expect(third.email === newEmail, `expected email ${newEmail}, got ${third.email}`);

    current = 8;
    step(current, 'What the @OnChange handler saw');
    const seen = (await (await fetch(`${baseUrl}/changes`)).json()) as { total: number; recent: unknown[] };
    console.log(`    ${seen.total} change events so far; latest: ${JSON.stringify(seen.recent.at(-1))}`);

    console.log(`\nDemo passed: ${database} commit -> Redis delete in ${elapsedMs.toFixed(1)} ms, in the customers table in ${tableMs.toFixed(1)} ms.`);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    console.error(`\nDemo failed at step ${current}: ${message}`);
    process.exitCode = 1;
  } finally {
    await store.end();
    redis.disconnect();
  }
}

void main();
