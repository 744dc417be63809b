// A Debezium topic as a table, on the real pipe: rows inserted, updated and deleted in PostgreSQL
// arrive in the table by primary key, with their after image.
import { Client } from 'pg';

import { createTable, type Table } from '../../lib';
import { pgClient, uniqueSuffix } from './infra';
import { brokers, quietLogger } from './table-helpers';

jest.setTimeout(180_000);

const TOPIC = 'dbserver1.public.customers';

interface Customer {
  id: number;
  first_name: string;
  last_name: string;
  email: string;
}

async function until(what: string, check: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('createTable({ debezium }) on PostgreSQL -> Debezium -> Kafka', () => {
  let pg: Client;
  let table: Table<string, Customer>;

  beforeAll(async () => {
    pg = await pgClient();
    table = createTable<string, Customer>({ debezium: { brokers: brokers(), topic: TOPIC }, logger: quietLogger });
    await table.ready({ timeoutMs: 60_000 });
  });

  afterAll(async () => {
    await table?.close();
    await pg?.end();
  });

  it('holds every current row of the table, keyed by primary key text', async () => {
    const { rows } = await pg.query<Customer>('SELECT id, first_name, last_name, email FROM customers');
    // Rows committed before ready() are in the table once it caught up with the end as of now.
    await table.sync({ timeoutMs: 30_000 });
    for (const row of rows.slice(0, 200)) expect(table.get(String(row.id))).toEqual(row);
  });

  it('follows an insert, an update and a delete', async () => {
    const suffix = uniqueSuffix();
    const changes: string[] = [];
    table.on('change', (key, value) => {
      if (value?.last_name === `Table-${suffix}` || changes.length > 0) changes.push(`${key}:${value ? value.email : 'deleted'}`);
    });
    const inserted = await pg.query<{ id: number }>(
      'INSERT INTO customers (first_name, last_name, email) VALUES ($1, $2, $3) RETURNING id',
      ['Grace', `Table-${suffix}`, `grace.${suffix}@example.com`],
    );
    const id = inserted.rows[0].id;
    const key = String(id);
    const committedAt = Date.now();
    await until('the insert', () => table.get(key) !== undefined);
    const insertDelayMs = Date.now() - committedAt;
    expect(table.get(key)).toEqual({ id, first_name: 'Grace', last_name: `Table-${suffix}`, email: `grace.${suffix}@example.com` });

    await pg.query('UPDATE customers SET email = $1 WHERE id = $2', [`grace.hopper.${suffix}@example.com`, id]);
    await until('the update', () => table.get(key)?.email === `grace.hopper.${suffix}@example.com`);

    await pg.query('DELETE FROM customers WHERE id = $1', [id]);
    await until('the delete', () => table.get(key) === undefined);
    expect(table.has(key)).toBe(false);
    // The delete (op d) removes the row; its tombstone after it changes nothing more.
    await table.sync({ timeoutMs: 30_000 });
    expect(table.get(key)).toBeUndefined();
    expect(changes.filter((c) => c.startsWith(`${key}:`))).toEqual([
      `${key}:grace.${suffix}@example.com`,
      `${key}:grace.hopper.${suffix}@example.com`,
      `${key}:deleted`,
    ]);
    process.stdout.write(`table-debezium: insert visible in the table ${insertDelayMs} ms after its commit\n`);
  });
});
