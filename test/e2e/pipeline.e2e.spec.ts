// End-to-end proof that the local pipe is real: a row written to PostgreSQL comes out of Kafka as Debezium
// change events (JSON converter with schemas, the default shape cdc-cache consumes).
import { Consumer, Kafka, logLevel } from 'kafkajs';
import { Client } from 'pg';
import { infraEnv, pgClient, uniqueSuffix } from './infra';

const TOPIC = 'dbserver1.public.customers';
const WAIT_MS = 60_000;
// Explicit, because jest ignores a testTimeout set inside a project of jest.config.js.
jest.setTimeout(WAIT_MS + 30_000);

interface Row {
  id: number;
  first_name: string;
  last_name: string;
  email: string;
}
interface Envelope {
  op: string;
  before: Row | null;
  after: Row | null;
  source: { db: string; schema: string; table: string };
}
interface ChangeEvent {
  offset: string;
  key: { payload: { id: number } };
  value: { schema: unknown; payload: Envelope };
}

/** Reads TOPIC from the beginning until `done(events so far)` holds, or fails after WAIT_MS. */
async function readChangesOfRow(
  consumer: Consumer,
  rowId: number,
  done: (events: ChangeEvent[]) => boolean,
): Promise<ChangeEvent[]> {
  const events: ChangeEvent[] = [];
  await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
  return new Promise<ChangeEvent[]>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`within ${WAIT_MS} ms saw ${events.length} event(s) for row ${rowId}: ${JSON.stringify(events.map((e) => e.value.payload.op))}`)),
      WAIT_MS,
    );
    consumer
      .run({
        eachMessage: async ({ message }) => {
          if (!message.value || !message.key) return; // tombstones carry no row
          let value;
          try {
            value = JSON.parse(message.value.toString());
          } catch {
            return; // other suites put undecodable messages on this topic on purpose
          }
          const row: Row | null = value.payload?.after ?? value.payload?.before;
          if (row?.id !== rowId) return;
          events.push({ offset: message.offset, key: JSON.parse(message.key.toString()), value });
          if (done(events)) {
            clearTimeout(timer);
            resolve(events);
          }
        },
      })
      .catch((error) => {
        clearTimeout(timer);
        reject(error);
      });
  });
}

describe('PostgreSQL -> Debezium -> Kafka', () => {
  let pg: Client;
  let consumer: Consumer;

  beforeAll(async () => {
    pg = await pgClient();
    const kafka = new Kafka({
      clientId: 'cdc-cache-e2e',
      brokers: infraEnv().KAFKA_BROKERS.split(','),
      logLevel: logLevel.WARN,
    });
    consumer = kafka.consumer({ groupId: `cdc-cache-e2e-${uniqueSuffix()}` });
    await consumer.connect();
  });

  afterAll(async () => {
    await consumer?.disconnect();
    await pg?.end();
  });

  it('publishes an insert (op c) and an update (op u) with before and after images', async () => {
    const suffix = uniqueSuffix();
    const oldEmail = `ada.${suffix}@example.com`;
    const newEmail = `ada.lovelace.${suffix}@example.com`;

    const inserted = await pg.query<{ id: number }>(
      'INSERT INTO customers (first_name, last_name, email) VALUES ($1, $2, $3) RETURNING id',
      ['Ada', `Lovelace-${suffix}`, oldEmail],
    );
    const id = inserted.rows[0].id;
    await pg.query('UPDATE customers SET email = $1 WHERE id = $2', [newEmail, id]);

    const events = await readChangesOfRow(consumer, id, (seen) => seen.some((e) => e.value.payload.op === 'u'));
    const ops = events.map((e) => e.value.payload.op);
    expect(ops).toEqual(['c', 'u']);
    const [create, update] = events;

    // The default JsonConverter shape: {schema, payload} for key and value.
    expect(create.value.schema).toBeDefined();
    expect(create.key.payload).toEqual({ id });
    expect(create.value.payload.source).toMatchObject({ db: 'inventory', schema: 'public', table: 'customers' });
    expect(create.value.payload.before).toBeNull();
    expect(create.value.payload.after).toEqual({ id, first_name: 'Ada', last_name: `Lovelace-${suffix}`, email: oldEmail });

    // REPLICA IDENTITY FULL: the update carries the complete old row.
    expect(update.key.payload).toEqual({ id });
    expect(update.value.payload.before).toEqual({ id, first_name: 'Ada', last_name: `Lovelace-${suffix}`, email: oldEmail });
    expect(update.value.payload.after).toEqual({ id, first_name: 'Ada', last_name: `Lovelace-${suffix}`, email: newEmail });
    expect(BigInt(update.offset)).toBeGreaterThan(BigInt(create.offset));
  });
});
