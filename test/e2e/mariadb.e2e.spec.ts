// End to end on the second real source: MariaDB 10.11 -> Debezium's MySQL connector (connector.adapter=mariadb)
// -> Kafka -> cdc-cache -> Redis. Every effect is checked in Redis, under a key prefix of this run.
import { randomInt, randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { Kafka, logLevel } from 'kafkajs';
import { infraEnv, mariadbQuery } from './infra';
import { createInvalidator, type ChangeEvent, type Invalidator } from '../../lib';

const infra = infraEnv();
const TOPICS = {
  customers: 'mariadb1.inventory.customers',
  orders: 'mariadb1.inventory.orders',
  samples: 'mariadb1.inventory.type_samples',
  transactions: 'mariadb1.transaction', // provide.transaction.metadata=true
  schemaChanges: 'mariadb1', // include.schema.changes=true
};

async function waitUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('cdc-cache on real MariaDB, Debezium, Kafka and Redis', () => {
  const run = randomUUID().slice(0, 8);
  const prefix = `e2e-maria-${run}:`;
  // customers.id is a signed INT: ids of this run, far from the seed rows.
  const id = 100_000_000 + randomInt(1_000_000_000);
  const [movedId, txId, ddlId] = [id + 1, id + 2, id + 3];
  const email = (name: string) => `${name}.${run}@example.com`;
  const nickColumn = `nick_${run}`; // added and dropped by the DDL test
  // type_samples.id is a BIGINT UNSIGNED: above 2^63, where a signed 64-bit integer or a double would break.
  const sampleId = (2n ** 64n - 1n - BigInt(randomInt(1_000_000_000_000))).toString();
  const kafka = new Kafka({ brokers: [infra.KAFKA_BROKERS], clientId: `e2e-maria-${run}`, logLevel: logLevel.NOTHING });
  const seen: ChangeEvent[] = [];
  let redis: Redis;
  let invalidator: Invalidator;

  const key = (name: string) => prefix + name;
  const exists = async (...names: string[]) => redis.exists(...names.map(key));
  const fill = async (...names: string[]) => {
    for (const name of names) await redis.set(key(name), 'stale');
  };
  const gone = (what: string, ...names: string[]) => waitUntil(what, async () => (await exists(...names)) === 0);
  // Handlers get their batches apart from the Redis pipeline: wait for the event rather than assume it came first.
  const event = async (what: string, match: (e: ChangeEvent) => boolean) => {
    await waitUntil(what, () => seen.some(match));
    return seen.find(match) as ChangeEvent;
  };
  const rowId = (image: Record<string, unknown> | null) => image?.id;

  // Every message of the topic has been processed and acknowledged (the group reads from the earliest offset).
  const caughtUp = async (topic: string) => {
    const admin = kafka.admin();
    await admin.connect();
    const [{ high }] = await admin.fetchTopicOffsets(topic);
    await admin.disconnect();
    await waitUntil(`${topic} to be consumed up to ${high}`, () =>
      invalidator.stats().partitions.some((p) => p.topic === topic && BigInt(p.committed) >= BigInt(high)),
    );
  };
  // How many messages the topic holds: all of them are read by a new group.
  const messagesIn = async (topic: string) => {
    const admin = kafka.admin();
    await admin.connect();
    const [{ low, high }] = await admin.fetchTopicOffsets(topic);
    await admin.disconnect();
    return Number(BigInt(high) - BigInt(low));
  };

  beforeAll(async () => {
    // On a fresh infrastructure the transaction topic appears with the first streamed change, the table
    // topics with the end of the snapshot: create whichever is missing so the subscription finds them.
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: Object.values(TOPICS).map((topic) => ({ topic, numPartitions: 1 })) });
    await admin.disconnect();
    redis = new Redis(infra.REDIS_URL);
    invalidator = createInvalidator({
      kafka: { brokers: infra.KAFKA_BROKERS, groupId: `cdc-cache-e2e-maria-${run}`, topics: Object.values(TOPICS) },
      redis: { url: infra.REDIS_URL },
      keyPrefix: prefix,
      rules: [
        { source: 'inventory.customers', invalidate: ['customer:{id}', 'customer:email:{email}', `customer:nick:{${nickColumn}}`] },
        { source: 'inventory.orders', invalidate: ['order:{id}', 'customer:{customer_id}:orders'] },
        {
          source: 'inventory.type_samples',
          invalidate: ['sample:{id}:{active}:{price}:{placed_at}:{size}:{counter}', 'sample:attrs:{attrs}'],
        },
        { source: 'inventory.type_samples', refresh: { key: 'sample:{id}' } },
      ],
    });
    invalidator.onChange('inventory.*', (events) => {
      seen.push(...events);
    });
    await invalidator.start();
  });

  afterAll(async () => {
    await invalidator?.stop();
    await mariadbQuery(
      `DELETE FROM orders WHERE id = ${txId}; DELETE FROM customers WHERE id IN (${[id, movedId, txId, ddlId].join(',')});` +
        ` DELETE FROM type_samples WHERE id = ${sampleId}; ALTER TABLE customers DROP COLUMN IF EXISTS ${nickColumn};`,
    ).catch(() => undefined);
    if (redis) {
      const leftovers = await redis.keys(`${prefix}*`);
      if (leftovers.length > 0) await redis.del(...leftovers);
      redis.disconnect();
    }
  });

  it('an insert deletes the keys of the new row and no others', async () => {
    await fill(`customer:${id}`, `customer:email:${email('old')}`, `customer:email:${email('new')}`);
    await mariadbQuery(
      `INSERT INTO customers (id, first_name, last_name, email) VALUES (${id}, 'Grace', 'Hopper', '${email('old')}')`,
    );
    await gone('the insert to be applied', `customer:${id}`, `customer:email:${email('old')}`);
    expect(await exists(`customer:email:${email('new')}`)).toBe(1);
    const insert = await event('the insert event', (e) => e.op === 'c' && rowId(e.after) === id);
    expect(insert.source).toMatchObject({ connector: 'mysql', db: 'inventory', table: 'customers', name: 'inventory.customers' });
    expect(insert.source.position).toMatch(/^mariadb-bin\.\d+:\d+$/);
    expect(insert.topic).toBe(TOPICS.customers);
  });

  it("an email change deletes the row's key, the old email's key and the new one's", async () => {
    await fill(`customer:${id}`, `customer:email:${email('old')}`, `customer:email:${email('new')}`);
    await mariadbQuery(`UPDATE customers SET email = '${email('new')}' WHERE id = ${id}`);
    await gone('the update to be applied', `customer:${id}`, `customer:email:${email('old')}`, `customer:email:${email('new')}`);
    const update = await event('the update event', (e) => e.op === 'u' && rowId(e.after) === id);
    expect(update.before?.email).toBe(email('old'));
    expect(update.after?.email).toBe(email('new'));
  });

  it('a changed primary key (a delete, a tombstone and a create) deletes the keys of the old id and the new one', async () => {
    await fill(`customer:${id}`, `customer:${movedId}`, `customer:email:${email('new')}`);
    await mariadbQuery(`UPDATE customers SET id = ${movedId} WHERE id = ${id}`);
    await gone('the key change to be applied', `customer:${id}`, `customer:${movedId}`, `customer:email:${email('new')}`);
    await event('the delete of the old id', (e) => e.op === 'd' && rowId(e.before) === id);
    await event('the create of the new id', (e) => e.op === 'c' && rowId(e.after) === movedId);
  });

  it('a delete deletes the keys of the old row', async () => {
    await fill(`customer:${movedId}`, `customer:email:${email('new')}`);
    await mariadbQuery(`DELETE FROM customers WHERE id = ${movedId}`);
    await gone('the delete to be applied', `customer:${movedId}`, `customer:email:${email('new')}`);
  });

  it('a transaction over two tables invalidates the keys of both', async () => {
    await fill(`customer:${txId}`, `customer:${txId}:orders`, `order:${txId}`);
    await mariadbQuery(
      `START TRANSACTION;` +
        ` INSERT INTO customers (id, first_name, last_name, email) VALUES (${txId}, 'Ada', 'Lovelace', '${email('tx')}');` +
        ` INSERT INTO orders (id, customer_id, product_id, quantity) VALUES (${txId}, ${txId}, 1, 2);` +
        ` COMMIT`,
    );
    await gone('both rows of the transaction to be applied', `customer:${txId}`, `customer:${txId}:orders`, `order:${txId}`);
  });

  it('a DDL change (a column added, then dropped) is followed: the new column yields keys', async () => {
    await mariadbQuery(`ALTER TABLE customers ADD COLUMN ${nickColumn} VARCHAR(40) NULL`);
    await fill(`customer:${ddlId}`, `customer:nick:ada-${run}`, `customer:nick:countess-${run}`);
    await mariadbQuery(
      `INSERT INTO customers (id, first_name, last_name, email, ${nickColumn}) VALUES (${ddlId}, 'Ada', 'King', '${email('ddl')}', 'ada-${run}')`,
    );
    await gone('the insert with the new column to be applied', `customer:${ddlId}`, `customer:nick:ada-${run}`);
    expect(await exists(`customer:nick:countess-${run}`)).toBe(1);
    await fill(`customer:nick:ada-${run}`);
    await mariadbQuery(`UPDATE customers SET ${nickColumn} = 'countess-${run}' WHERE id = ${ddlId}`);
    await gone('the update of the new column to be applied', `customer:nick:ada-${run}`, `customer:nick:countess-${run}`);

    await mariadbQuery(`ALTER TABLE customers DROP COLUMN ${nickColumn}`);
    await fill(`customer:${ddlId}`, `customer:email:${email('ddl')}`, `customer:nick:countess-${run}`);
    await mariadbQuery(`UPDATE customers SET email = '${email('ddl2')}' WHERE id = ${ddlId}`);
    await gone('the update after the column was dropped to be applied', `customer:${ddlId}`, `customer:email:${email('ddl')}`);
    expect(await exists(`customer:nick:countess-${run}`)).toBe(1); // the column is gone from the row images
  });

  describe('MySQL-family column types in keys and refreshes', () => {
    // TINYINT(1) -> boolean (TinyIntOneToBooleanConverter), DECIMAL -> string (decimal.handling.mode=string),
    // DATETIME -> epoch ms (time.precision.mode=connect; decoded from its schema to MariaDB's text), ENUM -> string, JSON -> its text,
    // BIGINT UNSIGNED -> exact integer (bigint.unsigned.handling.mode=precise with decimal.format=NUMERIC).
    const attrs = '{"color": "red", "tags": [1, 2]}';
    const before = `sample:${sampleId}:true:-98765432.1234:1999-12-31 23:59:59:medium:18446744073709551614`;
    const after = `sample:${sampleId}:false:0.5000:2024-02-29 13:45:10:small:0`;
    const cached = () => redis.get(key(`sample:${sampleId}`));

    it('an insert renders every type in a key template and refreshes the row with exact values', async () => {
      await fill(before, `sample:attrs:${attrs}`);
      await mariadbQuery(
        `INSERT INTO type_samples (id, active, price, placed_at, size, attrs, counter) VALUES` +
          ` (${sampleId}, 1, -98765432.1234, '1999-12-31 23:59:59', 'medium', '${attrs}', 18446744073709551614)`,
      );
      await gone('the typed insert to be applied', before, `sample:attrs:${attrs}`);
      await waitUntil('the refresh of the typed row', async () => (await cached()) !== null);
      expect(await cached()).toBe(
        `{"id":${sampleId},"active":true,"price":"-98765432.1234","placed_at":"1999-12-31 23:59:59","size":"medium",` +
          `"attrs":${JSON.stringify(attrs)},"counter":18446744073709551614}`,
      );
    });

    it('an update deletes the keys of both images and refreshes the new values', async () => {
      await fill(before, after);
      await mariadbQuery(
        `UPDATE type_samples SET active = 0, price = 0.5, placed_at = '2024-02-29 13:45:10', size = 'small',` +
          ` attrs = NULL, counter = 0 WHERE id = ${sampleId}`,
      );
      await gone('the typed update to be applied', before, after);
      await waitUntil('the refreshed value', async () => (await cached())?.includes('"active":false') ?? false);
      expect(await cached()).toBe(
        `{"id":${sampleId},"active":false,"price":"0.5000","placed_at":"2024-02-29 13:45:10","size":"small","attrs":null,"counter":0}`,
      );
    });

    it('the snapshot row (id 2^64-1) was refreshed from its read event', async () => {
      const snapshotRow = key('sample:18446744073709551615');
      await waitUntil('the refresh of the snapshot row', async () => (await redis.exists(snapshotRow)) === 1);
      expect(await redis.get(snapshotRow)).toBe(
        '{"id":18446744073709551615,"active":true,"price":"1234.5000","placed_at":"2024-02-29 13:45:10","size":"large",' +
          '"attrs":"{\\"color\\": \\"red\\", \\"tags\\": [1, 2]}","counter":9223372036854775808}',
      );
    });

    it('a delete deletes the refreshed key and the keys of the old image', async () => {
      await fill(after);
      await mariadbQuery(`DELETE FROM type_samples WHERE id = ${sampleId}`);
      await gone('the typed delete to be applied', `sample:${sampleId}`, after);
    });
  });

  it('skips and counts every transaction-metadata and schema-change message, dead-letters nothing', async () => {
    for (const topic of Object.values(TOPICS)) await caughtUp(topic);
    await waitUntil('stats to include the last messages', async () => {
      const s = invalidator.stats();
      return s.skipped.transaction === (await messagesIn(TOPICS.transactions)) &&
        s.skipped.schemaChange === (await messagesIn(TOPICS.schemaChanges));
    }, 10_000);
    const stats = invalidator.stats();
    // This run alone made 11 transactions with BEGIN and END each, and two ALTER TABLEs.
    expect(stats.skipped.transaction).toBeGreaterThanOrEqual(22);
    expect(stats.skipped.schemaChange).toBeGreaterThanOrEqual(2);
    expect(stats.skipped.tombstone).toBeGreaterThanOrEqual(2);
    expect(stats.deadLettered).toBe(0);
    expect(stats.healthy).toBe(true);
  });
});
