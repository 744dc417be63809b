// format "keyv": getOrLoad and cache-manager 7 + Keyv 5 + @keyv/redis read each other's entries,
// and the engine deletes what cache-manager wrote (keyPrefix defaults to Keyv's "keyv::keyv:").
// This is the storage @nestjs/cache-manager uses (CacheModule.register({ stores: [...] })): the
// README recipe "with @nestjs/cache-manager" is kept true by this test.
import { randomInt, randomUUID } from 'node:crypto';
import KeyvRedis from '@keyv/redis';
import { createCache, type Cache } from 'cache-manager';
import Redis from 'ioredis';
import { Keyv } from 'keyv';
import { infraEnv } from './infra';
import { createInvalidator, type Invalidator } from '../../lib';

const infra = infraEnv();

describe('format "keyv" next to cache-manager', () => {
  let cache: Cache;
  let invalidator: Invalidator;
  let redis: Redis;
  const id = `${randomUUID().slice(0, 8)}-${randomInt(1e9)}`;
  const key = `customer:${id}`;

  beforeAll(async () => {
    redis = new Redis(infra.REDIS_URL);
    cache = createCache({ stores: [new Keyv({ store: new KeyvRedis(infra.REDIS_URL) })] });
    invalidator = createInvalidator({
      kafka: { brokers: infra.KAFKA_BROKERS, groupId: `read-keyv-${id}`, topics: ['dbserver1.public.customers'], config: { 'auto.offset.reset': 'latest' } },
      redis: { url: infra.REDIS_URL },
      read: { format: 'keyv' },
      rules: [{ source: 'public.customers', invalidate: ['customer:{id}'] }],
      logger: { debug() {}, info() {}, warn() {}, error() {} },
    });
    await invalidator.start();
  });
  afterAll(async () => {
    await invalidator?.stop();
    await cache?.disconnect();
    await redis.del(`keyv::keyv:${key}`);
    redis.disconnect();
  });

  test('entries go both ways, and invalidation deletes what cache-manager wrote', async () => {
    await cache.set(key, { name: 'Anne', note: ':starts with a colon' }, 60_000);
    const raw = await redis.get(`keyv::keyv:${key}`);
    expect(raw).toMatch(/^\{"value":\{"name":"Anne","note":"::starts with a colon"\},"expires":\d+\}$/);

    // getOrLoad reads cache-manager's entry.
    expect(await invalidator.getOrLoad(key, async () => ({ name: 'never loaded' }))).toEqual({ name: 'Anne', note: ':starts with a colon' });

    // The engine's delete reaches it (no keyPrefix configured).
    expect(await invalidator.invalidate([key])).toBe(1);
    expect(await cache.get(key)).toBeUndefined();

    // While a lease stands cache-manager sees a miss, not the marker.
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let loading!: () => void;
    const loaderStarted = new Promise<void>((resolve) => (loading = resolve));
    const filled = invalidator.getOrLoad(key, async () => {
      loading();
      await gate;
      return { name: 'Anne', email: 'anne@example.com', visits: 3, note: ':x' };
    }, { ttlSeconds: 60 });
    await loaderStarted;
    expect(await redis.get(`keyv::keyv:${key}`)).toMatch(/^\{"cdcCacheLease":"[0-9a-f]{32}","expires":1\}$/);
    const duringLease = await cache.get(key); // Keyv deletes the expired-looking marker: our fill is then refused
    expect(duringLease).toBeUndefined();
    release();
    await filled;
    expect(invalidator.stats().consistency.fillsRefused).toBe(1);

    // A fill that stands is read back by cache-manager, with its expiry.
    const value = await invalidator.getOrLoad(key, async () => ({ name: 'Anne', email: 'anne@example.com', visits: 4, note: ':x' }), { ttlSeconds: 60 });
    expect(value).toEqual({ name: 'Anne', email: 'anne@example.com', visits: 4, note: ':x' });
    expect(await cache.get(key)).toEqual({ name: 'Anne', email: 'anne@example.com', visits: 4, note: ':x' });
    const ttl = await cache.ttl(key);
    expect(ttl).toBeGreaterThan(Date.now() + 50_000);
    expect(await redis.pttl(`keyv::keyv:${key}`)).toBeGreaterThan(50_000);
  });
});
