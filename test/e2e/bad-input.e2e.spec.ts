// Hostile input and bad configuration against real Kafka and Redis. Every malformed message must be
// dead-lettered (header cdc-cache-error naming the reason) or, without a dead-letter topic, counted
// and skipped; it must never crash the engine nor block its partition: the valid message that follows
// each bad one is applied (its key deleted). Bad options fail early, naming the option.
import { randomUUID } from 'node:crypto';
import * as net from 'node:net';
import Redis from 'ioredis';
import { Kafka, logLevel, type Admin, type Producer } from 'kafkajs';
import { infraEnv } from './infra';
import { CdcCacheConfigError, createInvalidator, type CdcCacheOptions, type CdcCacheStats, type Invalidator } from '../../lib';

jest.setTimeout(240_000);

const infra = infraEnv();
const run = randomUUID().slice(0, 8);
const TOPIC = `cdc-cache.e2e.bad-input.${run}`;
const DEAD_LETTER_TOPIC = `cdc-cache.e2e.bad-input.${run}.dead-letter`;
const CONFIG_TOPIC = `cdc-cache.e2e.bad-config.${run}`;
const BIG = 16 * 1024 * 1024; // room for the 10 MB messages on both topics and in librdkafka
const RULES = [{ source: 'public.customers', invalidate: ['customer:{id}', 'customer:email:{email}'] }];

const silentLogger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

function source() {
  return {
    version: '2.7.0.Final',
    connector: 'postgresql',
    name: 'dbserver1',
    ts_ms: Date.now(),
    snapshot: 'false',
    db: 'inventory',
    schema: 'public',
    table: 'customers',
    txId: 1,
    lsn: 1,
  };
}

/** A valid schemaless Debezium create for public.customers. */
function createEvent(id: number, extra: Record<string, unknown> = {}) {
  return {
    before: null,
    after: { id, first_name: 'Valid', last_name: 'Row', email: `valid.${id}.${run}@example.com`, ...extra },
    source: source(),
    op: 'c',
    ts_ms: Date.now(),
  };
}

const json = (value: unknown) => Buffer.from(JSON.stringify(value));

interface Case {
  name: string;
  value: Buffer;
  /**
   * 'either': valid JSON the decoder may accept; it must only never crash nor block the partition.
   * 'applied': the fault is in a column no rule reads, which the engine skips unread (README, Rules).
   */
  outcome?: 'dead-letter' | 'either' | 'applied';
}

// The hostile messages, each produced right before a valid create.
function badCases(): Case[] {
  const valid = JSON.stringify(createEvent(1));
  const nested = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
  const deepObject = (depth: number) => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
  const utf8Head = Buffer.from(JSON.stringify(createEvent(2)).replace('"Valid"', '"INVALID_UTF8"'));
  const at = utf8Head.indexOf('INVALID_UTF8');
  const invalidUtf8 = Buffer.concat([utf8Head.subarray(0, at), Buffer.from([0xc3, 0x28, 0xff, 0xfe]), utf8Head.subarray(at + 12)]);
  const { source: _dropped, ...withoutSource } = createEvent(3);
  return [
    { name: 'malformed JSON', value: Buffer.from('{"before": null, "after": {"id": 1,, "email": }') },
    { name: 'truncated message', value: Buffer.from(valid.slice(0, Math.floor(valid.length / 2))) },
    { name: 'not JSON at all (binary)', value: Buffer.from([0x00, 0x01, 0x02, 0xff, 0x10, 0x7b]) },
    { name: 'wrong type: value is a JSON string', value: json('just a string') },
    { name: 'wrong type: value is an array', value: json([1, 2, 3]) },
    { name: 'wrong type: after is a number', value: json({ ...createEvent(4), after: 42 }) },
    { name: 'wrong type: source is a string', value: json({ ...createEvent(5), source: 'public.customers' }) },
    { name: 'wrong type: payload is an array in the schema envelope', value: json({ schema: null, payload: [createEvent(6)] }) },
    { name: '10 MB value that is not JSON', value: Buffer.from(`{"before":null,"after":{"id":7,"email":"${'x'.repeat(10 * 1024 * 1024)}`) },
    { name: 'deep nesting of objects (100,000 levels)', value: Buffer.from(JSON.stringify(createEvent(8)).replace(`"valid.8.${run}@example.com"`, deepObject(100_000))) },
    { name: 'deep nesting of objects in a column no rule reads', value: Buffer.from(JSON.stringify(createEvent(11)).replace('"Valid"', deepObject(100_000))), outcome: 'applied' },
    { name: 'deep nesting of arrays (100,000 levels)', value: Buffer.from(JSON.stringify(createEvent(10)).replace('"Valid"', nested(100_000))), outcome: 'either' },
    { name: 'invalid UTF-8 in a string', value: invalidUtf8 },
    { name: 'unknown op', value: json({ ...createEvent(9), op: 'x' }) },
    { name: 'missing source', value: json(withoutSource) },
  ];
}

/** A TCP forwarder started later on a port nothing listens on yet: "the service appears". */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function forward(port: number, target: { host: string; port: number }): Promise<net.Server> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => s.destroy());
    }
    client.pipe(upstream).pipe(client);
  });
  const close = server.close.bind(server);
  server.close = ((cb?: (err?: Error) => void) => {
    for (const s of sockets) s.destroy();
    return close(cb);
  }) as typeof server.close;
  return new Promise((resolve) => server.listen(port, '127.0.0.1', () => resolve(server)));
}

const closeServer = (server: net.Server) => new Promise<void>((resolve) => server.close(() => resolve()));

const kafka = new Kafka({ clientId: 'cdc-cache-e2e-bad-input', brokers: infra.KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
let admin: Admin;

beforeAll(async () => {
  admin = kafka.admin();
  await admin.connect();
  const configEntries = [{ name: 'max.message.bytes', value: String(BIG) }];
  await admin.createTopics({
    waitForLeaders: true,
    topics: [
      { topic: TOPIC, numPartitions: 1, configEntries },
      { topic: DEAD_LETTER_TOPIC, numPartitions: 1, configEntries },
      { topic: CONFIG_TOPIC, numPartitions: 1 },
    ],
  });
});

afterAll(async () => {
  await admin?.deleteTopics({ topics: [TOPIC, DEAD_LETTER_TOPIC, CONFIG_TOPIC] }).catch(() => {});
  await admin?.disconnect();
});

describe('bad input on a real topic', () => {
  let producer: Producer;
  let redis: Redis;
  const cases = badCases();
  // Per case: the offset of the bad message and the id of the valid create after it.
  const produced: Array<{ name: string; offset: string; nextId: number }> = [];
  const idBase = 3_000_000 + Math.floor(Math.random() * 1_000_000) * 10;
  const bigValidId = idBase - 1;
  const keysOf = (prefix: string, id: number) => [`${prefix}customer:${id}`, `${prefix}customer:email:valid.${id}.${run}@example.com`];

  const options = (groupId: string, keyPrefix: string, deadLetterTopic?: string): CdcCacheOptions => ({
    kafka: {
      brokers: infra.KAFKA_BROKERS,
      groupId,
      topics: [TOPIC],
      config: {
        'auto.offset.reset': 'earliest',
        'fetch.message.max.bytes': BIG,
        'message.max.bytes': BIG, // the dead-letter producer copies the 10 MB messages
      },
    },
    redis: { url: infra.REDIS_URL },
    rules: RULES,
    keyPrefix,
    ...(deadLetterTopic ? { deadLetterTopic } : {}),
    logger: silentLogger,
  });

  const deadLetterCases = cases.filter((c) => (c.outcome ?? 'dead-letter') === 'dead-letter');
  const mustDeadLetter = deadLetterCases.length;
  const mayDeadLetter = cases.filter((c) => c.outcome !== 'applied').length;
  const expectedConsumed = 1 + 2 * cases.length;
  const skippedOf = (stats: CdcCacheStats) => Object.values(stats.skipped).reduce((a, b) => a + b, 0);
  const settled = (stats: CdcCacheStats) =>
    stats.consumed === expectedConsumed && stats.consumed === stats.applied + skippedOf(stats) + stats.deadLettered;
  /** Every bad message dead-lettered (the tolerated ones may be applied), every valid one applied. */
  const expectCounts = (stats: CdcCacheStats, deadLettered?: number) => {
    expect(stats.consumed).toBe(expectedConsumed);
    expect(stats.consumed).toBe(stats.applied + skippedOf(stats) + stats.deadLettered);
    expect(stats.deadLettered).toBeGreaterThanOrEqual(mustDeadLetter);
    expect(stats.deadLettered).toBeLessThanOrEqual(mayDeadLetter);
    if (deadLettered !== undefined) expect(stats.deadLettered).toBe(deadLettered);
    expect(stats.applied).toBe(expectedConsumed - stats.deadLettered - skippedOf(stats));
    expect(skippedOf(stats)).toBe(0);
  };
  const allValidIds = () => [bigValidId, ...produced.map((p) => p.nextId)];
  const fill = async (prefix: string) => {
    for (const id of allValidIds()) for (const key of keysOf(prefix, id)) await redis.set(key, 'stale');
  };
  const remaining = async (prefix: string) => {
    const keys = allValidIds().flatMap((id) => keysOf(prefix, id));
    return (await redis.exists(...keys)) as number;
  };

  beforeAll(async () => {
    redis = new Redis(infra.REDIS_URL);
    producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    // A 10 MB valid event first: large is not bad.
    await producer.send({
      topic: TOPIC,
      messages: [{ key: JSON.stringify({ id: bigValidId }), value: json(createEvent(bigValidId, { last_name: 'L'.repeat(10 * 1024 * 1024) })) }],
    });
    for (const [i, c] of cases.entries()) {
      const nextId = idBase + i;
      const [meta] = await producer.send({ topic: TOPIC, messages: [{ key: JSON.stringify({ id: nextId }), value: c.value }] });
      await producer.send({ topic: TOPIC, messages: [{ key: JSON.stringify({ id: nextId }), value: json(createEvent(nextId)) }] });
      produced.push({ name: c.name, offset: String(meta.baseOffset), nextId });
    }
  });

  afterAll(async () => {
    await producer?.disconnect();
    redis?.disconnect();
  });

  describe('with a dead-letter topic', () => {
    const prefix = `bad:${run}:dlq:`;
    let invalidator: Invalidator;
    let stats: CdcCacheStats;
    const deadLetters = new Map<string, { error: string; topic: string; size: number }>();

    beforeAll(async () => {
      await fill(prefix);
      invalidator = createInvalidator(options(`cdc-cache-e2e-bad-${run}-dlq`, prefix, DEAD_LETTER_TOPIC));
      await invalidator.start();
      try {
        await waitUntil('every valid message to be applied', async () => (await remaining(prefix)) === 0, 120_000);
        await waitUntil('the counters to settle', () => settled(invalidator.stats()), 10_000).catch(() => {});
      } finally {
        stats = invalidator.stats();
      }
      const consumer = kafka.consumer({ groupId: `cdc-cache-e2e-bad-${run}-reader`, maxBytesPerPartition: 2 * BIG, maxBytes: 4 * BIG });
      await consumer.connect();
      try {
        await consumer.subscribe({ topic: DEAD_LETTER_TOPIC, fromBeginning: true });
        await consumer.run({
          eachMessage: async ({ message }) => {
            const h = (name: string) => message.headers?.[name]?.toString() ?? '';
            deadLetters.set(h('cdc-cache-offset'), { error: h('cdc-cache-error'), topic: h('cdc-cache-topic'), size: message.value?.length ?? 0 });
          },
        });
        await waitUntil(`${mayDeadLetter} dead letters`, () => deadLetters.size >= mayDeadLetter, 60_000).catch(() => {});
      } finally {
        await consumer.disconnect();
      }
    });

    afterAll(async () => {
      await invalidator?.stop();
    });

    it('applies every valid message, including the one after each bad message and a 10 MB one', async () => {
      expect(await remaining(prefix)).toBe(0);
      expect(stats.running).toBe(true);
      expect(invalidator.state).toBe('running');
    });

    it.each(deadLetterCases.map((c) => [c.name]))('%s: dead-lettered with a cdc-cache-error header', (name) => {
      const entry = produced.find((p) => p.name === name)!;
      const letter = deadLetters.get(entry.offset);
      expect({ name, deadLettered: letter !== undefined }).toEqual({ name, deadLettered: true });
      expect(letter!.topic).toBe(TOPIC);
      expect(letter!.error.length).toBeGreaterThan(0);
      console.log(`bad input "${name}" -> cdc-cache-error: ${letter!.error.slice(0, 160)}`);
    });

    it.each(cases.filter((c) => c.outcome === 'either').map((c) => [c.name]))('%s: survived (applied or dead-lettered)', (name) => {
      const entry = produced.find((p) => p.name === name)!;
      const letter = deadLetters.get(entry.offset);
      console.log(`bad input "${name}" -> ${letter ? `dead-lettered: ${letter.error.slice(0, 160)}` : 'accepted (applied)'}`);
      expect(stats.consumed).toBe(expectedConsumed);
    });

    it.each(cases.filter((c) => c.outcome === 'applied').map((c) => [c.name]))('%s: applied, not dead-lettered', (name) => {
      const entry = produced.find((p) => p.name === name)!;
      expect({ name, deadLettered: deadLetters.has(entry.offset) }).toEqual({ name, deadLettered: false });
    });

    it('counts them: dead-lettered = bad messages, and consumed = applied + skipped + dead-lettered', () => {
      expectCounts(stats, deadLetters.size);
      expect(deadLetters.size).toBe(stats.deadLettered);
    });
  });

  describe('without a dead-letter topic', () => {
    it('counts and skips each bad message and applies the next valid one', async () => {
      const prefix = `bad:${run}:nodlq:`;
      await fill(prefix);
      const invalidator = createInvalidator(options(`cdc-cache-e2e-bad-${run}-nodlq`, prefix));
      await invalidator.start();
      try {
        await waitUntil('every valid message to be applied', async () => (await remaining(prefix)) === 0, 120_000);
        await waitUntil('the counters to settle', () => settled(invalidator.stats()), 10_000).catch(() => {});
        expectCounts(invalidator.stats());
        expect(invalidator.isHealthy()).toBe(true);
      } finally {
        await invalidator.stop();
      }
    });
  });
});

describe('bad configuration', () => {
  const base = (): CdcCacheOptions => ({
    kafka: { brokers: infra.KAFKA_BROKERS, groupId: `cdc-cache-e2e-badconf-${run}`, topics: [CONFIG_TOPIC] },
    redis: { url: infra.REDIS_URL },
    rules: RULES,
    logger: silentLogger,
  });

  const configError = (make: () => unknown): CdcCacheConfigError => {
    try {
      make();
    } catch (error) {
      expect(error).toBeInstanceOf(CdcCacheConfigError);
      return error as CdcCacheConfigError;
    }
    throw new Error('expected a CdcCacheConfigError, nothing was thrown');
  };

  it('rejects an unknown option, naming it', () => {
    const top = configError(() => createInvalidator({ ...base(), bogusOption: true } as unknown as CdcCacheOptions));
    expect(top.message).toContain('bogusOption');
    const nested = configError(() => createInvalidator({ ...base(), redis: { url: infra.REDIS_URL, timeoutMs: 5 } } as unknown as CdcCacheOptions));
    expect(nested.message).toContain('redis.timeoutMs');
  });

  it('rejects a malformed template, naming the rule and the fragment', () => {
    const error = configError(() =>
      createInvalidator({ ...base(), rules: [{ source: 'public.customers', invalidate: ['customer:{id}', 'customer:{email'] }] }),
    );
    expect(error.message).toContain('rules[0].invalidate[1]');
    expect(error.message).toContain('unknown placeholder syntax');
  });

  it('rejects an unknown librdkafka property at start, naming it', async () => {
    const invalidator = createInvalidator({ ...base(), kafka: { ...base().kafka, config: { 'no.such.property': 'x' } } });
    await expect(invalidator.start()).rejects.toThrow(/kafka\.config.*no\.such\.property|no\.such\.property/);
    await invalidator.stop();
  });

  it.each([['Kafka brokers'], ['Redis']])('%s unreachable at start: start() resolves, unhealthy, recovers when the service appears', async (which) => {
    const port = await freePort();
    const kafkaDown = which === 'Kafka brokers';
    const prefix = `badconf:${run}:${kafkaDown ? 'kafka' : 'redis'}:`;
    const id = 4_000_000 + Math.floor(Math.random() * 1_000_000);
    const key = `${prefix}customer:${id}`;
    const redis = new Redis(infra.REDIS_URL);
    const producer = kafka.producer();
    const invalidator = createInvalidator({
      ...base(),
      kafka: {
        ...base().kafka,
        groupId: `cdc-cache-e2e-badconf-${run}-${port}`,
        brokers: kafkaDown ? `127.0.0.1:${port}` : infra.KAFKA_BROKERS,
        config: { 'auto.offset.reset': 'earliest', 'reconnect.backoff.max.ms': 1000 },
      },
      redis: { url: kafkaDown ? infra.REDIS_URL : `redis://127.0.0.1:${port}`, connectTimeoutMs: 500 },
      keyPrefix: prefix,
    });
    let server: net.Server | undefined;
    try {
      await redis.set(key, 'stale');
      await producer.connect();
      await producer.send({ topic: CONFIG_TOPIC, messages: [{ key: JSON.stringify({ id }), value: json(createEvent(id)) }] });

      const t0 = Date.now();
      await invalidator.start();
      expect(Date.now() - t0).toBeLessThan(15_000);
      await sleep(3000);
      expect(invalidator.isHealthy()).toBe(false);
      expect(invalidator.stats().healthy).toBe(false);
      if (!kafkaDown) expect(invalidator.stats().redisConnected).toBe(false);
      expect(await redis.exists(key)).toBe(1);

      const redisUrl = new URL(infra.REDIS_URL);
      const [kafkaHost, kafkaPort] = infra.KAFKA_BROKERS.split(',')[0].split(':');
      server = await forward(
        port,
        kafkaDown ? { host: kafkaHost, port: Number(kafkaPort) } : { host: redisUrl.hostname, port: Number(redisUrl.port) },
      );
      await waitUntil('health after the service appeared', () => invalidator.isHealthy(), 90_000);
      await waitUntil('the pending change to be applied', async () => (await redis.exists(key)) === 0, 90_000);
    } finally {
      await invalidator.stop();
      if (server) await closeServer(server);
      await producer.disconnect();
      redis.disconnect();
    }
  });
});
