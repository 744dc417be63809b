// Redis over TLS on the real pipe: PostgreSQL -> Debezium -> Kafka -> cdc-cache -> rediss:// (the
// TLS-only redis-servers scripts/infra starts on 16390, and 16391 with client certificates required).
// Rows of public.products (a quiet topic) with random ids; keys under a per-run prefix.
import { randomInt, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Redis from 'ioredis';
import { Client } from 'pg';
import { INFRA_DIR, readInfraEnv } from './infra';
import { CdcCacheConfigError, createInvalidator, type CdcCacheOptions, type Invalidator } from '../../lib';

// REDIS_TLS_* from .infra/env; the fixed defaults of scripts/infra-lib/redis-tls.sh while another
// checkout's scripts/infra (without them) wrote that file last.
const written = readInfraEnv() as unknown as Record<string, string>;
const tlsDir = join(INFRA_DIR, 'tls');
const env: Record<string, string> = {
  REDIS_TLS_URL: 'rediss://127.0.0.1:16390',
  REDIS_MTLS_URL: 'rediss://127.0.0.1:16391',
  REDIS_TLS_CA_FILE: join(tlsDir, 'ca.crt'),
  REDIS_TLS_CERT_FILE: join(tlsDir, 'redis-client.crt'),
  REDIS_TLS_KEY_FILE: join(tlsDir, 'redis-client.key'),
  REDIS_TLS_OTHER_CA_FILE: join(tlsDir, 'other-ca.crt'),
  ...written,
};
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

async function waitUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('Redis over TLS (rediss://)', () => {
  const run = randomUUID().slice(0, 8);
  const prefix = `cdc-tls-e2e:${run}:`;
  const id = 3_000_000 + randomInt(1_000_000);
  const key = `${prefix}product:${id}`;
  const tls = { ca: env.REDIS_TLS_CA_FILE };
  const invalidators: Invalidator[] = [];
  let pg: Client;
  let redis: Redis; // ioredis over TLS, to look at what cdc-cache did

  const make = (overrides: Partial<CdcCacheOptions>): Invalidator => {
    const invalidator = createInvalidator({
      kafka: {
        brokers: env.KAFKA_BROKERS,
        groupId: `cdc-cache-tls-e2e-${run}-${invalidators.length}`,
        topics: ['dbserver1.public.products'],
        config: { 'auto.offset.reset': 'earliest' },
      },
      redis: { url: env.REDIS_TLS_URL, tls },
      keyPrefix: prefix,
      rules: [{ source: 'public.products', invalidate: ['product:{id}'] }],
      logger: quiet,
      ...overrides,
    });
    invalidators.push(invalidator);
    return invalidator;
  };

  beforeAll(async () => {
    pg = new Client({ connectionString: env.PG_URL });
    await pg.connect();
    redis = new Redis(env.REDIS_TLS_URL, { tls: { ca: readFileSync(env.REDIS_TLS_CA_FILE) }, lazyConnect: true });
    await redis.connect();
  });

  afterAll(async () => {
    await Promise.all(invalidators.map((i) => i.stop()));
    await pg?.query('DELETE FROM products WHERE id = $1', [id]);
    await pg?.end();
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length > 0) await redis.del(...keys);
    redis?.disconnect();
  });

  test('the invalidator deletes over TLS what a real Debezium change names', async () => {
    const invalidator = make({});
    await invalidator.start();
    await redis.set(key, 'stale');
    await pg.query('INSERT INTO products (id, name, price_cents) OVERRIDING SYSTEM VALUE VALUES ($1, $2, 100)', [id, `tls ${run}`]);
    await waitUntil('the insert to delete the key', async () => (await redis.exists(key)) === 0);

    await redis.set(key, 'stale again');
    await pg.query('UPDATE products SET price_cents = 200 WHERE id = $1', [id]);
    await waitUntil('the update to delete the key', async () => (await redis.exists(key)) === 0);
    expect(invalidator.stats().redisConnected).toBe(true);
    expect(invalidator.stats().deadLettered).toBe(0);
  });

  test('getOrLoad fills and hits over TLS, and mutual TLS with a client certificate', async () => {
    const cache = make({});
    let loads = 0;
    const loader = async () => ({ id, loads: ++loads });
    expect(await cache.getOrLoad(`product:${id}:view`, loader)).toEqual({ id, loads: 1 });
    expect(await redis.get(`${prefix}product:${id}:view`)).toBe(JSON.stringify({ id, loads: 1 }));
    expect(await cache.getOrLoad(`product:${id}:view`, loader)).toEqual({ id, loads: 1 });
    expect(cache.stats().read).toMatchObject({ hits: 1, misses: 1, fills: 1, connected: true });

    const mutual = make({
      redis: { url: env.REDIS_MTLS_URL, tls: { ...tls, cert: env.REDIS_TLS_CERT_FILE, key: env.REDIS_TLS_KEY_FILE } },
    });
    expect(await mutual.getOrLoad(`product:${id}:mtls`, async () => 'through mutual TLS')).toBe('through mutual TLS');
    expect(mutual.stats().read).toMatchObject({ fills: 1, redisErrors: 0 });

    const noCert = make({ redis: { url: env.REDIS_MTLS_URL, tls }, read: { onRedisError: 'fail' } });
    await expect(noCert.getOrLoad(`product:${id}:refused`, async () => 'never cached')).rejects.toThrow(/client certificate/);
  });

  test('a server certificate from an unknown CA is refused, and the log says so', async () => {
    const warnings: string[] = [];
    const invalidator = make({
      redis: { url: env.REDIS_TLS_URL, tls: { ca: env.REDIS_TLS_OTHER_CA_FILE } },
      logger: { ...quiet, warn: (message: string) => warnings.push(message) },
    });
    await invalidator.start();
    await waitUntil('the refusal in the log', () => warnings.some((w) => w.includes('certificate verify failed: unknown CA')));
    expect(invalidator.stats().redisConnected).toBe(false);
  });

  test('bad TLS settings fail createInvalidator naming the field', () => {
    expect(() => make({ redis: { url: env.REDIS_TLS_URL, tls: { ca: '/nonexistent/ca.pem' } } })).toThrow(CdcCacheConfigError);
    expect(() => make({ redis: { url: env.REDIS_TLS_URL, tls: { ca: '/nonexistent/ca.pem' } } })).toThrow(
      'redis.tls.ca: cannot read the file "/nonexistent/ca.pem" (ENOENT)',
    );
  });
});
