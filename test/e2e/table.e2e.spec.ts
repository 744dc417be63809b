// Log-backed tables on the real broker: a fresh table equals the topic's compacted content as kcat
// reads it, empty topics are ready at once, put -> get read-your-writes, waitFor across two
// instances, and maxBytes reported.
import { setFlagsFromString } from 'v8';
import { runInNewContext } from 'vm';
import { createTable, type Table } from '../../lib';
import { loadNative } from '../../lib/native';
import { brokers, compacted, createTopic, deleteTopics, kcatProduce, kcatRead, quietLogger, topicName } from './table-helpers';

jest.setTimeout(240_000);

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

// A deterministic pseudo-random sequence, so a failure can be replayed.
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32;
}

describe('createTable on a compacted topic', () => {
  it('a fresh table equals the compacted content of 12 partitions, 200,000 keys with overwrites and tombstones', async () => {
    const topic = topicName('content');
    topics.push(topic);
    await createTopic(topic, 12, { 'cleanup.policy': 'compact' });
    const random = lcg(11);
    const model = new Map<string, string>();
    const records: [string, string | null][] = [];
    for (let i = 0; i < 200_000; i++) {
      const value = JSON.stringify({ k: i, v: 0, pad: 'x'.repeat(i % 50) });
      records.push([`key-${i}`, value]);
      model.set(`key-${i}`, value);
    }
    for (let n = 0; n < 130_000; n++) {
      const key = `key-${Math.floor(random() * 200_000)}`;
      const value = random() < 0.25 ? null : JSON.stringify({ k: key, v: n + 1 });
      records.push([key, value]);
      if (value === null) model.delete(key);
      else model.set(key, value);
    }
    kcatProduce(topic, records);

    const fromKcat = compacted(kcatRead(topic));
    expect(fromKcat.size).toBe(model.size); // the log holds what was written
    const table = open({ kafka: { brokers: brokers(), topic } });
    await table.ready({ timeoutMs: 120_000 });

    expect(table.size).toBe(fromKcat.size);
    let mismatches = 0;
    for (const [key, value] of fromKcat) if (JSON.stringify(table.get(key)) !== JSON.stringify(JSON.parse(value))) mismatches++;
    expect(mismatches).toBe(0);
    for (let i = 0; i < 200_000; i += 997) if (!fromKcat.has(`key-${i}`)) expect(table.get(`key-${i}`)).toBeUndefined();
    const stats = table.stats();
    expect(stats.ready).toBe(true);
    expect(stats.healthy).toBe(true);
    expect(stats.partitions).toHaveLength(12);
    for (const p of stats.partitions) {
      expect(p.position).toBeGreaterThanOrEqual(p.end);
      expect(p.lag).toBe(0);
    }
    expect(stats.partitions.reduce((sum, p) => sum + p.end, 0)).toBe(records.length);
  });

  it('an empty topic is ready at once', async () => {
    const topic = topicName('empty');
    topics.push(topic);
    await createTopic(topic, 6);
    const table = open({ kafka: { brokers: brokers(), topic } });
    await table.ready({ timeoutMs: 10_000 });
    expect(table.size).toBe(0);
    expect(table.stats().partitions.map((p) => [p.position, p.end])).toEqual(Array(6).fill([0, 0]));
  });

  it('put resolves once get sees it (read-your-writes), a tombstone removes, and another instance sees it after waitFor', async () => {
    const topic = topicName('put');
    topics.push(topic);
    await createTopic(topic, 4, { 'cleanup.policy': 'compact' });
    const writer = open<string, { user: number }>({ kafka: { brokers: brokers(), topic }, readOnly: false });
    const reader = open<string, { user: number }>({ kafka: { brokers: brokers(), topic } });
    await Promise.all([writer.ready({ timeoutMs: 10_000 }), reader.ready({ timeoutMs: 10_000 })]);

    for (let i = 0; i < 20; i++) {
      const position = await writer.put(`session-${i}`, { user: i });
      expect(writer.get(`session-${i}`)).toEqual({ user: i }); // no wait: visible when put resolves
      await reader.waitFor(position, { timeoutMs: 10_000 });
      expect(reader.get(`session-${i}`)).toEqual({ user: i });
    }
    const removed = await writer.put('session-3', null);
    expect(writer.get('session-3')).toBeUndefined();
    await reader.waitFor(removed, { timeoutMs: 10_000 });
    expect(reader.get('session-3')).toBeUndefined();
    expect(reader.size).toBe(19);

    await expect(reader.put('x', { user: 1 })).rejects.toThrow(/read-only/);

    // What was written is in the log, as kcat reads it.
    const content = compacted(kcatRead(topic));
    expect(content.size).toBe(19);
    expect(JSON.parse(content.get('session-7')!)).toEqual({ user: 7 });
  });

  it('sync() waits for records written after open', async () => {
    const topic = topicName('sync');
    topics.push(topic);
    await createTopic(topic, 3);
    const table = open({ kafka: { brokers: brokers(), topic } });
    await table.ready({ timeoutMs: 10_000 });
    kcatProduce(topic, Array.from({ length: 500 }, (_, i): [string, string] => [`k${i}`, JSON.stringify(i)]));
    await table.sync({ timeoutMs: 30_000 });
    expect(table.size).toBe(500);
    expect(table.get('k499')).toBe(499);
  });

  it('maxBytes exceeded: ready rejects naming it, the table is unhealthy and stops loading', async () => {
    const topic = topicName('maxbytes');
    topics.push(topic);
    await createTopic(topic, 2);
    kcatProduce(topic, Array.from({ length: 2000 }, (_, i): [string, string] => [`k${i}`, JSON.stringify({ pad: 'y'.repeat(1000) })]));
    const table = open({ kafka: { brokers: brokers(), topic }, maxBytes: 200_000 });
    const errors: Error[] = [];
    table.on('error', (error) => errors.push(error));
    await expect(table.ready({ timeoutMs: 60_000 })).rejects.toThrow(/maxBytes exceeded: \d+ bytes in \d+ entries > maxBytes 200000/);
    const stats = table.stats();
    expect(stats.healthy).toBe(false);
    expect(stats.ready).toBe(false);
    expect(stats.error).toMatch(/maxBytes exceeded/);
    expect(stats.bytes).toBeLessThan(200_000 + 3 * 1024);
    expect(errors).toHaveLength(1);
  });

  it('a closed table is freed once unreachable, not kept by its environment-teardown hook until exit', async () => {
    const topic = topicName('freed');
    topics.push(topic);
    await createTopic(topic, 2);
    const tablesAlive = (loadNative() as unknown as { tablesAlive(): number }).tablesAlive;
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const collect = async (done: () => boolean) => {
      for (let i = 0; i < 50 && !done(); i++) {
        gc();
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    };
    let settled = -1;
    await collect(() => settled === (settled = tablesAlive()));  // earlier tests' closed tables go first
    const before = tablesAlive();
    await (async () => {
      for (let i = 0; i < 3; i++) {
        const table = createTable({ kafka: { brokers: brokers(), topic }, logger: quietLogger });
        await table.ready({ timeoutMs: 20_000 });
        await table.close();
      }
    })();
    expect(tablesAlive()).toBe(before + 3);
    await collect(() => tablesAlive() <= before);
    expect(tablesAlive()).toBe(before);
  });

  it('bad options fail at once naming the field', () => {
    expect(() => createTable({ kafka: { brokers: brokers(), topic: '' } })).toThrow(/kafka.topic: expected a non-empty string/);
    expect(() => createTable({ kafka: { brokers: brokers(), topic: 't' }, keyEncoding: 'latin1' as never })).toThrow(/keyEncoding: expected one of/);
    expect(() => createTable({ debezium: { brokers: brokers(), topic: 't' }, readOnly: false })).toThrow(/readOnly: a Debezium table is read-only/);
    expect(() => createTable({ kafka: { brokers: brokers(), topic: 't', config: { 'no.such.property': 1 } } })).toThrow(/kafka.config.no.such.property/);
  });
});
