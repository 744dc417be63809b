// ready() timing out, JSON values parsed on their first get(), the key and value encodings and
// change events with their previous values, on the real broker.
import { createTable, TableNotReadyError, type Table } from '../../lib';
import { brokers, createTopic, deleteTopics, kcatProduce, quietLogger, topicName } from './table-helpers';

jest.setTimeout(120_000);

const topics: string[] = [];
const tables: Table<unknown, unknown>[] = [];

function open<K = string, V = unknown>(options: Parameters<typeof createTable>[0]): Table<K, V> {
  const table = createTable<K, V>({ logger: quietLogger, ...options });
  tables.push(table as Table<unknown, unknown>);
  return table;
}

afterEach(async () => {
  await Promise.all(tables.splice(0).map((t) => t.close()));
});

afterAll(async () => {
  await deleteTopics(topics);
});

describe('createTable', () => {
  it('ready() rejects naming the timeoutMs option and the partitions behind when the log cannot be read to its end in time', async () => {
    const topic = topicName('ready-timeout');
    topics.push(topic);
    await createTopic(topic, 1);
    kcatProduce(topic, [['big', JSON.stringify({ pad: 'z'.repeat(20_000) })]]);
    // A consumer that may receive at most ~1.5 KB per response can never fetch that 20 KB record:
    // the table opens (metadata and end offsets are small) and then stays at position 0 of 1.
    const table = open({
      kafka: { brokers: brokers(), topic, config: { 'message.max.bytes': 1000, 'fetch.max.bytes': 1000, 'receive.message.max.bytes': 1512 } },
    });
    const error = await table.ready({ timeoutMs: 3000 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TableNotReadyError);
    expect((error as Error).message).toMatch(/not ready within ready\(\{ timeoutMs: 3000 \}\): topic \S+ not read to its end; partitions behind: 0 \(position 0, end 1\)/);
    expect((error as TableNotReadyError).behind).toEqual([expect.objectContaining({ partition: 0, position: 0, end: 1 })]);
    expect(table.isReady()).toBe(false);
    expect(table.stats().ready).toBe(false);
  });

  it('JSON values: invalid ones are skipped and counted, the rest parsed once on first get and replaced by later records', async () => {
    const topic = topicName('lazy-json');
    topics.push(topic);
    await createTopic(topic, 1);
    kcatProduce(topic, [
      ['a', '{"v":1}'],
      ['bad', '{"v":'],
      ['big', '{"n":123456789012345678901234567890}'],
      ['gone', '{"v":2}'],
      ['gone', null],
    ]);
    const table = open<string, { v?: number; n?: number }>({ kafka: { brokers: brokers(), topic } });
    await table.ready({ timeoutMs: 30_000 });
    expect(table.stats().decodeErrors).toBe(1);
    expect(table.size).toBe(2);
    expect([...table.keys()].sort()).toEqual(['a', 'big']);
    const first = table.get('a');
    expect(first).toEqual({ v: 1 });
    expect(table.get('a')).toBe(first); // parsed once, then the same object
    expect(table.get('big')).toEqual({ n: 123456789012345678901234567890 });
    expect(table.get('bad')).toBeUndefined();
    expect(table.get('gone')).toBeUndefined();
    expect(table.has('a') && table.has('big') && !table.has('gone')).toBe(true);

    kcatProduce(topic, [['a', '{"v":3}']]);
    await table.sync({ timeoutMs: 30_000 });
    expect(table.get('a')).toEqual({ v: 3 });
    expect(table.size).toBe(2);
    expect(Object.fromEntries(table.entries())).toEqual({ a: { v: 3 }, big: { n: 123456789012345678901234567890 } });
  });

  it('JSON keys are found as JSON.stringify writes them, whatever the producer wrote; utf8 and Buffer values come back as written', async () => {
    const topic = topicName('encodings');
    topics.push(topic);
    await createTopic(topic, 1);
    kcatProduce(topic, [
      ['{ "id": 1, "region": "eu" }', 'first'],
      ['{"id":2}', 'second'],
      ['{"id":3.0}', 'third'],
      ['"caf\\u00e9"', 'fourth'],
    ]);
    const byJson = open<{ id: number; region?: string }, string>({ kafka: { brokers: brokers(), topic }, keyEncoding: 'json', valueEncoding: 'utf8' });
    const asBuffer = open<Buffer, Buffer>({ kafka: { brokers: brokers(), topic }, keyEncoding: 'buffer', valueEncoding: 'buffer' });
    await Promise.all([byJson.ready({ timeoutMs: 30_000 }), asBuffer.ready({ timeoutMs: 30_000 })]);
    expect(byJson.get({ id: 1, region: 'eu' })).toBe('first');
    expect(byJson.get({ id: 2 })).toBe('second');
    expect(byJson.get({ id: 3 })).toBe('third'); // as JSON.stringify(JSON.parse(key)): 3.0 is 3
    expect(byJson.get('café' as never)).toBe('fourth');
    expect([...byJson.keys()]).toEqual([{ id: 1, region: 'eu' }, { id: 2 }, { id: 3 }, 'café']);
    expect(asBuffer.get(Buffer.from('{"id":2}'))).toEqual(Buffer.from('second'));
    expect(asBuffer.get(Buffer.from('{"id":1}'))).toBeUndefined();
  });

  it("'change' listeners get every record with its previous value; keys nobody listens to or read cost nothing", async () => {
    const topic = topicName('changes');
    topics.push(topic);
    await createTopic(topic, 1);
    kcatProduce(topic, [['a', '{"v":1}']]);
    const table = open<string, { v: number }>({ kafka: { brokers: brokers(), topic } });
    const changes: unknown[] = [];
    table.on('change', (key, value, previous) => changes.push([key, value, previous]));
    await table.ready({ timeoutMs: 30_000 });
    kcatProduce(topic, [['a', '{"v":2}'], ['b', '{"v":1}'], ['a', null], ['never', null]]);
    await table.sync({ timeoutMs: 30_000 });
    expect(changes).toEqual([
      ['a', { v: 1 }, undefined],
      ['a', { v: 2 }, { v: 1 }],
      ['b', { v: 1 }, undefined],
      ['a', undefined, { v: 2 }],
    ]);
  });
});
