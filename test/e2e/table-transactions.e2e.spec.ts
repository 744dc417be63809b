// A log that ends in a transaction marker must still become ready (the KAFKA-12951 bug class: no
// record ever arrives at end - 1, so "ready when the last offset is seen" waits forever), and aborted
// records are never applied. Produced with librdkafka's transactional API (test/tools/txproduce.cc)
// on the real broker.
import { createTable, type Table } from '../../lib';
import { brokers, createTopic, deleteTopics, kcatProduce, kcatRead, produceTransaction, quietLogger, topicName, txproduceTool } from './table-helpers';

jest.setTimeout(180_000);

const topics: string[] = [];
const tables: Table[] = [];

function open(topic: string, config: Record<string, string> = {}): Table {
  const table = createTable({ kafka: { brokers: brokers(), topic, config }, logger: quietLogger });
  tables.push(table);
  return table;
}

beforeAll(() => {
  txproduceTool(); // build it once, outside the timed parts
});

afterEach(async () => {
  await Promise.all(tables.splice(0).map((t) => t.close()));
});

afterAll(async () => {
  await deleteTopics(topics);
});

describe('createTable on transactional logs', () => {
  it('a log ending in a commit marker becomes ready, with every committed record', async () => {
    const topic = topicName('tx-commit');
    topics.push(topic);
    await createTopic(topic, 2);
    produceTransaction(topic, 0, 'commit', 50, 'c');
    produceTransaction(topic, 1, 'commit', 7, 'd');
    // The marker takes an offset: the last record is at end - 2.
    const records = kcatRead(topic);
    expect(records.filter((r) => r.partition === 0).map((r) => r.offset).pop()).toBe(49);

    const table = open(topic);
    await table.ready({ timeoutMs: 30_000 });
    expect(table.size).toBe(57);
    expect(table.get('c49')).toEqual({ i: 49, outcome: 'commit' });
    const ends = table.stats().partitions.map((p) => p.end);
    expect(ends).toEqual([51, 8]);
  });

  it('a log ending in an aborted transaction becomes ready and holds none of its records', async () => {
    const topic = topicName('tx-abort');
    topics.push(topic);
    await createTopic(topic, 1);
    kcatProduce(topic, [['plain', JSON.stringify('before')]]);
    produceTransaction(topic, 0, 'commit', 3, 'c');
    produceTransaction(topic, 0, 'abort', 20, 'a');
    // Read uncommitted, kcat sees the aborted records: they are really in the log.
    expect(kcatRead(topic, 'read_uncommitted').filter((r) => r.key.startsWith('a'))).toHaveLength(20);
    expect(kcatRead(topic).filter((r) => r.key.startsWith('a'))).toHaveLength(0);

    const table = open(topic);
    await table.ready({ timeoutMs: 30_000 });
    expect(table.get('plain')).toBe('before');
    expect(table.get('c2')).toEqual({ i: 2, outcome: 'commit' });
    for (let i = 0; i < 20; i++) expect(table.get(`a${i}`)).toBeUndefined();
    expect(table.size).toBe(4);
    const [partition] = table.stats().partitions;
    expect(partition.end).toBe(1 + 3 + 1 + 20 + 1);
    expect(partition.position).toBeGreaterThanOrEqual(partition.end);
  });

  it('with isolation.level=read_uncommitted the aborted records are read, and the table still becomes ready', async () => {
    const topic = topicName('tx-uncommitted');
    topics.push(topic);
    await createTopic(topic, 1);
    produceTransaction(topic, 0, 'abort', 5, 'a');
    const table = open(topic, { 'isolation.level': 'read_uncommitted' });
    await table.ready({ timeoutMs: 30_000 });
    expect(table.get('a4')).toEqual({ i: 4, outcome: 'abort' });
  });
});
