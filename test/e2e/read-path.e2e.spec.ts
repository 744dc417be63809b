// getOrLoad against the real Redis: hits, leases, refused fills, waits, coalescing, Redis down.
// Each test has its own key prefix; nothing else in Redis is touched.
import { randomUUID } from 'node:crypto';
import Redis from 'ioredis';
import { infraEnv } from './infra';
import { CdcCacheReadError, createInvalidator, type CdcCacheOptions, type Invalidator } from '../../lib';

const infra = infraEnv();

function deferred<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe('getOrLoad on the real Redis', () => {
  let redis: Redis;
  let prefix: string;
  const invalidators: Invalidator[] = [];

  const reader = (overrides: Partial<CdcCacheOptions> = {}): Invalidator => {
    const invalidator = createInvalidator({
      kafka: { brokers: infra.KAFKA_BROKERS, groupId: `read-path-${prefix}`, topics: ['unused'] },
      redis: { url: infra.REDIS_URL },
      keyPrefix: prefix,
      logger: { debug() {}, info() {}, warn() {}, error() {} },
      ...overrides,
    });
    invalidators.push(invalidator);
    return invalidator;
  };

  beforeAll(() => {
    redis = new Redis(infra.REDIS_URL);
  });
  beforeEach(() => {
    prefix = `cdc-read-e2e:${randomUUID().slice(0, 8)}:`;
  });
  afterEach(async () => {
    await Promise.all(invalidators.splice(0).map((i) => i.stop()));
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
  });
  afterAll(() => redis.disconnect());

  test('a miss loads and fills (JSON, with its TTL); the next call is a hit', async () => {
    const cache = reader();
    let loads = 0;
    const loader = async () => ({ id: 1004, name: 'Anne', loads: ++loads });
    expect(await cache.getOrLoad('customer:1004', loader, { ttlSeconds: 300 })).toEqual({ id: 1004, name: 'Anne', loads: 1 });
    expect(await redis.get(`${prefix}customer:1004`)).toBe('{"id":1004,"name":"Anne","loads":1}');
    const ttl = await redis.pttl(`${prefix}customer:1004`);
    expect(ttl).toBeGreaterThan(290_000);
    expect(ttl).toBeLessThanOrEqual(300_000);
    expect(await cache.getOrLoad('customer:1004', loader, { ttlSeconds: 300 })).toEqual({ id: 1004, name: 'Anne', loads: 1 });
    expect(loads).toBe(1);
    const stats = cache.stats();
    expect(stats.read).toMatchObject({ hits: 1, misses: 1, loads: 1, fills: 1, connected: true });
    expect(stats.consistency.fillsRefused).toBe(0);
  });

  test('64-bit integers come back exact (bigint beyond 2^53)', async () => {
    const cache = reader();
    const value = { id: 9_223_372_036_854_775_807n, small: 42, price: 1.5, text: '12345678901234567890' };
    await cache.getOrLoad('big', async () => value);
    expect(await redis.get(`${prefix}big`)).toBe('{"id":9223372036854775807,"small":42,"price":1.5,"text":"12345678901234567890"}');
    const again = await reader().getOrLoad('big', async () => {
      throw new Error('must be a hit');
    });
    expect(again).toEqual(value);
  });

  test('an invalidation between the lease and the fill refuses the fill; the caller still gets its value', async () => {
    const cache = reader();
    const value = await cache.getOrLoad('customer:1', async () => {
      await redis.unlink(`${prefix}customer:1`); // what the engine does when the row changes meanwhile
      return { name: 'old' };
    });
    expect(value).toEqual({ name: 'old' });
    expect(await redis.exists(`${prefix}customer:1`)).toBe(0);
    expect(cache.stats().consistency.fillsRefused).toBe(1);
    expect(cache.stats().read.fills).toBe(0);
  });

  test('a refresh (SET) between the lease and the fill wins over the fill', async () => {
    const cache = reader();
    await cache.getOrLoad('customer:2', async () => {
      await redis.set(`${prefix}customer:2`, '{"name":"refreshed"}');
      return { name: 'old' };
    });
    expect(await redis.get(`${prefix}customer:2`)).toBe('{"name":"refreshed"}');
    expect(await cache.getOrLoad('customer:2', async () => ({ name: 'never' }))).toEqual({ name: 'refreshed' });
  });

  test('in-process callers of one key share one load', async () => {
    const cache = reader();
    let loads = 0;
    const gate = deferred<void>();
    const calls = Array.from({ length: 50 }, () =>
      cache.getOrLoad('hot', async () => {
        loads++;
        await gate.promise;
        return 'v';
      }),
    );
    gate.resolve();
    expect(await Promise.all(calls)).toEqual(Array(50).fill('v'));
    expect(loads).toBe(1);
    expect(cache.stats().consistency.coalesced).toBe(49);
  });

  test('a second instance waits for the lease holder and gets its fill', async () => {
    const a = reader();
    const b = reader();
    const gate = deferred<void>();
    const started = deferred<void>();
    const first = a.getOrLoad('k', async () => {
      started.resolve();
      await gate.promise;
      return 'from-a';
    });
    await started.promise;
    const second = b.getOrLoad('k', async () => 'from-b');
    while (b.stats().read.leaseWaits === 0) await new Promise((r) => setTimeout(r, 5)); // b met a's lease
    gate.resolve();
    expect(await first).toBe('from-a');
    expect(await second).toBe('from-a');
    expect(b.stats().read).toMatchObject({ loads: 0, leaseWaits: 1, waitTimeouts: 0 });
  });

  test('a wait that runs out loads without filling', async () => {
    const a = reader({ read: { leaseWaitMs: 50 } });
    const b = reader({ read: { leaseWaitMs: 50 } });
    const gate = deferred<void>();
    const started = deferred<void>();
    const first = a.getOrLoad('slow', async () => {
      started.resolve();
      await gate.promise;
      return 'from-a';
    });
    await started.promise;
    expect(await b.getOrLoad('slow', async () => 'from-b')).toBe('from-b');
    expect(b.stats().read).toMatchObject({ loads: 1, leaseWaits: 1, waitTimeouts: 1, fills: 0 });
    gate.resolve();
    expect(await first).toBe('from-a');
    expect(await redis.get(`${prefix}slow`)).toBe('"from-a"');
  });

  test('a loader rejection passes through unchanged and releases the lease at once', async () => {
    const cache = reader();
    const failure = new Error('database said no');
    await expect(cache.getOrLoad('k', async () => Promise.reject(failure))).rejects.toBe(failure);
    await expect(cache.getOrLoad('k', () => {
      throw failure;
    })).rejects.toBe(failure);
    const other = reader({ read: { leaseWaitMs: 10_000 } });
    const started = Date.now();
    expect(await other.getOrLoad('k', async () => 'ok')).toBe('ok');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(other.stats().read.leaseWaits).toBe(0);
  });

  test('null is not cached unless asked, then it is a negative entry', async () => {
    const cache = reader();
    let loads = 0;
    const loader = async () => {
      loads++;
      return null;
    };
    expect(await cache.getOrLoad('none', loader)).toBeNull();
    expect(await redis.exists(`${prefix}none`)).toBe(0);
    expect(await cache.getOrLoad('none', loader, { cacheNull: true, nullTtlSeconds: 30 })).toBeNull();
    expect(await redis.get(`${prefix}none`)).toBe('null');
    expect(await redis.pttl(`${prefix}none`)).toBeGreaterThan(25_000);
    expect(await cache.getOrLoad('none', loader, { cacheNull: true })).toBeNull();
    expect(loads).toBe(2);
  });

  test('a codec stores its own text', async () => {
    const cache = reader();
    const codec = { encode: (v: Date) => v.toISOString(), decode: (t: string) => new Date(t) };
    const at = new Date('2026-01-02T03:04:05.000Z');
    await cache.getOrLoad('date', async () => at, { codec });
    expect(await redis.get(`${prefix}date`)).toBe('2026-01-02T03:04:05.000Z');
    const hit = await cache.getOrLoad('date', async () => new Date(0), { codec });
    expect(hit).toEqual(at);
  });

  test('Redis down: the loader is called and nothing fills; with onRedisError "fail" it rejects', async () => {
    const down = reader({ redis: { url: 'redis://127.0.0.1:1', connectTimeoutMs: 500 } });
    expect(await down.getOrLoad('k', async () => 'loaded')).toBe('loaded');
    expect(down.stats().read).toMatchObject({ redisErrors: 1, loads: 1, fills: 0, connected: false });
    const strict = reader({ redis: { url: 'redis://127.0.0.1:1', connectTimeoutMs: 500 }, read: { onRedisError: 'fail' } });
    let loaded = false;
    const error = await strict.getOrLoad('k', async () => (loaded = true)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CdcCacheReadError);
    expect((error as Error).message).toMatch(/127\.0\.0\.1:1/);
    expect(loaded).toBe(false);
  });

  test('the consistency probe counts a hit that still differs after the lag as stale, not one invalidated meanwhile', async () => {
    const cache = reader({ read: { consistency: { sampleRate: 1, lagMs: 300 } } });
    const settled = async (checked: number) => {
      const deadline = Date.now() + 20_000;
      while (cache.stats().consistency.checked < checked || cache.stats().read.probesInFlight > 0) {
        if (Date.now() > deadline) throw new Error('probes did not settle');
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await redis.set(`${prefix}stale`, '"old"'); // as a stale fill would have left it
    await redis.set(`${prefix}moving`, '"old"');
    let row = 'new';
    expect(await cache.getOrLoad('stale', async () => row)).toBe('old');
    expect(await cache.getOrLoad('moving', async () => row)).toBe('old');
    await redis.unlink(`${prefix}moving`); // its invalidation arrives within the lag
    await settled(2);
    expect(cache.stats().consistency).toMatchObject({ checked: 2, stale: 1 });
    row = 'old';
    expect(await cache.getOrLoad('stale', async () => row)).toBe('old'); // equal: not stale
    await settled(3);
    expect(cache.stats().consistency).toMatchObject({ checked: 3, stale: 1 });
  });

  test('bad call options are rejected before any Redis work', async () => {
    const cache = reader();
    await expect(cache.getOrLoad('', async () => 1)).rejects.toThrow(/key must be a non-empty string/);
    await expect(cache.getOrLoad('k', 'x' as never)).rejects.toThrow(/loader must be a function/);
    await expect(cache.getOrLoad('k', async () => 1, { ttlSeconds: -1 })).rejects.toThrow(/options\.ttlSeconds/);
    await expect(cache.getOrLoad('k', async () => 1, { codec: {} as never })).rejects.toThrow(/options\.codec/);
    expect(cache.stats().read.roundTrips).toBe(0);
  });

  test('getOrLoad after stop() rejects', async () => {
    const cache = reader();
    await cache.getOrLoad('k', async () => 1);
    await cache.stop();
    await expect(cache.getOrLoad('k', async () => 1)).rejects.toThrow(/after stop/);
  });
});
