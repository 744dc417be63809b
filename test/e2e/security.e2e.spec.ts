// Security on the real pipe (PostgreSQL -> Debezium -> Kafka -> cdc-cache -> Redis):
//  (a) consuming through the broker's SASL_SSL listener with credentials given as librdkafka properties;
//  (b) a Redis ACL user allowed only what cdc-cache needs, and a wrong password failing clearly;
//  (c) hostile column values reaching Redis as exactly one key each, byte for byte;
//  (d) no secret in log lines, errors, stats(), describeOptions() or Prometheus metrics.
// scripts/infra provides the SASL_SSL listener (127.0.0.1:19094) and writes its credentials to .infra/env.
import 'reflect-metadata';
import { execFileSync } from 'child_process';
import { randomBytes, randomInt } from 'crypto';
import { existsSync, readFileSync } from 'fs';
import { connect } from 'net';
import Redis from 'ioredis';
import { Client } from 'pg';
import { Registry } from 'prom-client';
import { ENV_FILE, infraEnv, positioned, uniqueSuffix } from './infra';
import {
  createInvalidator,
  type CdcCacheLogger,
  type CdcCacheOptions,
  type Invalidator,
  type KafkaConfigValue,
} from '../../lib';
import { CacheInvalidationMetrics } from '../../nest-module/metrics';
import type { CacheInvalidationService } from '../../nest-module/cache-invalidation.service';

const infra = infraEnv();
const TOPIC = 'dbserver1.public.customers';

interface SaslEnv {
  KAFKA_SASL_BROKERS: string;
  KAFKA_SASL_USER: string;
  KAFKA_SASL_PASSWORD: string;
  KAFKA_CA_FILE: string;
}

/** The SASL_SSL listener's settings: process.env (global setup copies .infra/env), else .infra/env. */
function saslEnv(): SaslEnv {
  const keys: (keyof SaslEnv)[] = ['KAFKA_SASL_BROKERS', 'KAFKA_SASL_USER', 'KAFKA_SASL_PASSWORD', 'KAFKA_CA_FILE'];
  const values: Record<string, string | undefined> = { ...process.env };
  if (!keys.every((key) => values[key]) && existsSync(ENV_FILE)) {
    for (const line of readFileSync(ENV_FILE, 'utf8').split('\n')) {
      const match = /^([A-Z_]+)=(.*)$/.exec(line.trim());
      if (match && !values[match[1]]) values[match[1]] = match[2];
    }
  }
  for (const key of keys) {
    if (!values[key]) throw new Error(`${key} is not set: run scripts/infra up (it writes .infra/env)`);
  }
  return values as unknown as SaslEnv;
}
const sasl = saslEnv();

function portOpen(hostPort: string): Promise<boolean> {
  const [host, port] = hostPort.split(':');
  return new Promise((resolve) => {
    const socket = connect({ host, port: Number(port) });
    socket.setTimeout(2000);
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => (socket.destroy(), resolve(false)));
  });
}

async function waitUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** librdkafka before 2.6.1 sends a SCRAM nonce that Kafka 4 brokers reject (confluentinc/librdkafka#4895). */
function librdkafkaHasScramFix(): boolean {
  const version = execFileSync('pkg-config', ['--modversion', 'rdkafka'], { encoding: 'utf8' }).trim();
  const [major, minor, patch] = version.split('.').map(Number);
  return major > 2 || (major === 2 && (minor > 6 || (minor === 6 && patch >= 1)));
}

// Everything any invalidator here says or shows, searched for secrets at the end.
const logLines: string[] = [];
const errorMessages: string[] = [];
const exposed: string[] = [];
const secrets: string[] = [sasl.KAFKA_SASL_PASSWORD];

function captureLogger(name: string): CdcCacheLogger {
  const line = (level: string) => (message: string) => logLines.push(`${name} ${level} ${message}`);
  return { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };
}
function linesOf(name: string): string[] {
  return logLines.filter((l) => l.startsWith(`${name} `));
}

/** Records stats, options and Prometheus metrics of an invalidator (through the Nest metrics provider). */
async function recordExposure(invalidator: Invalidator): Promise<void> {
  exposed.push(JSON.stringify(invalidator.stats()));
  exposed.push(JSON.stringify(invalidator.describeOptions()));
  const metrics = new CacheInvalidationMetrics(invalidator as unknown as CacheInvalidationService, new Registry());
  metrics.onModuleInit();
  exposed.push(await metrics.metrics());
  metrics.onModuleDestroy();
}

function saslKafkaConfig(mechanism: string, password: string): Record<string, KafkaConfigValue> {
  return {
    'security.protocol': 'SASL_SSL',
    'sasl.mechanisms': mechanism,
    'sasl.username': sasl.KAFKA_SASL_USER,
    'sasl.password': password,
    'ssl.ca.location': sasl.KAFKA_CA_FILE,
    'auto.offset.reset': 'latest',
  };
}

describe('security', () => {
  const run = uniqueSuffix();
  const invalidators: Invalidator[] = [];
  let pg: Client;
  let admin: Redis;
  let nextId = 3_000_000 + randomInt(1_000_000);

  const make = (name: string, options: Omit<CdcCacheOptions, 'logger'>): Invalidator => {
    const invalidator = createInvalidator({ ...options, logger: captureLogger(name) });
    invalidators.push(invalidator);
    return invalidator;
  };
  const insertCustomer = async (email: string): Promise<number> => {
    const id = nextId++;
    await pg.query(
      'INSERT INTO customers (id, first_name, last_name, email) OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, $4)',
      [id, 'Sec', 'Test', email],
    );
    return id;
  };
  // "latest" sees only changes after the partitions' start positions: wait until they are known.
  const waitAssigned = (invalidator: Invalidator, what: string) =>
    waitUntil(`${what}: healthy with ${TOPIC} assigned and positioned`, () => {
      const s = invalidator.stats();
      return s.healthy && positioned(s, TOPIC);
    });

  beforeAll(async () => {
    pg = new Client({ connectionString: infra.PG_URL });
    await pg.connect();
    admin = new Redis(infra.REDIS_URL);
  });

  afterAll(async () => {
    await Promise.all(invalidators.map((invalidator) => invalidator.stop().catch(() => undefined)));
    await pg?.end();
    admin?.disconnect();
  }, 120_000);

  describe('(a) Kafka over SASL_SSL', () => {
    beforeAll(async () => {
      if (!(await portOpen(sasl.KAFKA_SASL_BROKERS))) {
        throw new Error(
          `nothing listens on ${sasl.KAFKA_SASL_BROKERS}: Kafka was started by an older scripts/infra; ` +
            'run scripts/infra down && scripts/infra up',
        );
      }
    });

    it('consumes with SASL PLAIN over TLS and deletes the key of a real PostgreSQL change', async () => {
      const invalidator = make('sasl-plain', {
        kafka: {
          brokers: sasl.KAFKA_SASL_BROKERS,
          groupId: `cdc-cache-e2e-sasl-plain-${run}`,
          topics: [TOPIC],
          config: saslKafkaConfig('PLAIN', sasl.KAFKA_SASL_PASSWORD),
        },
        redis: { url: infra.REDIS_URL },
        keyPrefix: `e2e-sec-a-${run}:`,
        rules: [{ source: 'public.customers', invalidate: ['customer:{id}'] }],
      });
      await invalidator.start();
      await waitAssigned(invalidator, 'SASL PLAIN consumer');

      const id = nextId; // the id insertCustomer will use
      const key = `e2e-sec-a-${run}:customer:${id}`;
      await admin.set(key, 'stale');
      await insertCustomer(`sasl.plain.${run}@example.com`);
      await waitUntil(`${key} to be deleted`, async () => (await admin.exists(key)) === 0);
      await waitUntil('stats to count the delete', () => invalidator.stats().keysDeleted >= 1, 5000);
      await recordExposure(invalidator);
      await invalidator.stop();
    });

    it('SCRAM-SHA-512 works when librdkafka has the Kafka 4 nonce fix, else fails authentication without leaking the password', async () => {
      const name = 'sasl-scram';
      const invalidator = make(name, {
        kafka: {
          brokers: sasl.KAFKA_SASL_BROKERS,
          groupId: `cdc-cache-e2e-sasl-scram-${run}`,
          topics: [TOPIC],
          config: saslKafkaConfig('SCRAM-SHA-512', sasl.KAFKA_SASL_PASSWORD),
        },
        redis: { url: infra.REDIS_URL },
        keyPrefix: `e2e-sec-a2-${run}:`,
        rules: [{ source: 'public.customers', invalidate: ['customer:{id}'] }],
      });
      await invalidator.start();
      if (librdkafkaHasScramFix()) {
        await waitAssigned(invalidator, 'SCRAM consumer');
        const id = nextId;
        const key = `e2e-sec-a2-${run}:customer:${id}`;
        await admin.set(key, 'stale');
        await insertCustomer(`sasl.scram.${run}@example.com`);
        await waitUntil(`${key} to be deleted`, async () => (await admin.exists(key)) === 0);
      } else {
        // Debian 12's librdkafka 2.0.2: the broker rejects the proof. That must be visible and must not hang.
        await waitUntil('an authentication error in the log', () =>
          linesOf(name).some((l) => /authentication/i.test(l) && /SCRAM-SHA-512|SASL/.test(l)),
        );
        await waitUntil('the invalidator to report unhealthy', () => !invalidator.isHealthy(), 10_000);
        await sleep(2000);
        expect(invalidator.stats().partitions).toEqual([]);
        expect(invalidator.isHealthy()).toBe(false);
      }
      await recordExposure(invalidator);
      await invalidator.stop();
    });

    it('a wrong SASL password is reported as an authentication failure, without the password', async () => {
      const wrong = `wrong-${randomBytes(12).toString('hex')}`;
      secrets.push(wrong);
      const name = 'sasl-wrong';
      const invalidator = make(name, {
        kafka: {
          brokers: sasl.KAFKA_SASL_BROKERS,
          groupId: `cdc-cache-e2e-sasl-wrong-${run}`,
          topics: [TOPIC],
          config: saslKafkaConfig('PLAIN', wrong),
        },
        redis: { url: infra.REDIS_URL },
        rules: [{ source: 'public.customers', invalidate: ['customer:{id}'] }],
      });
      await invalidator.start();
      await waitUntil('an authentication error in the log', () =>
        linesOf(name).some((l) => /authentication/i.test(l)),
      );
      await waitUntil('the invalidator to report unhealthy', () => !invalidator.isHealthy(), 10_000);
      await sleep(2000);
      expect(invalidator.isHealthy()).toBe(false);
      expect(invalidator.stats().partitions).toEqual([]);
      await recordExposure(invalidator);
      await invalidator.stop();
    });
  });

  describe('(b) Redis ACL', () => {
    const user = `cdc_e2e_${run.replace(/-/g, '_')}`;
    const password = randomBytes(18).toString('base64url');
    secrets.push(password);
    const prefix = `app:e2e-sec-b-${run}:`;

    beforeAll(async () => {
      // Exactly what the engine sends: UNLINK (the default delete command) and the versioned refresh
      // script (SCRIPT LOAD, EVALSHA; inside it GET, SET, DEL) on app:* keys and their version keys
      // {app:*}:cdc-version, and PING (health). AUTH needs no permission.
      await admin.call('ACL', 'SETUSER', user, 'reset', 'on', `>${password}`, '~app:*', '~{app:*', 'resetchannels', '-@all',
        '+ping', '+unlink', '+set', '+get', '+del', '+evalsha', '+script|load');
      await admin.call('ACL', 'LOG', 'RESET');
    });
    afterAll(async () => {
      await admin.call('ACL', 'DELUSER', user);
    });

    it('a user allowed only UNLINK and the refresh script on app:* is enough to invalidate and refresh', async () => {
      const invalidator = make('redis-acl', {
        kafka: { brokers: infra.KAFKA_BROKERS, groupId: `cdc-cache-e2e-acl-${run}`, topics: [TOPIC], config: { 'auto.offset.reset': 'latest' } },
        redis: { url: `redis://${user}:${password}@${new URL(infra.REDIS_URL).host}` },
        keyPrefix: prefix,
        rules: [
          {
            source: 'public.customers',
            invalidate: ['customer:{id}'],
            refresh: { key: 'customer:json:{id}', fields: ['id', 'email'], ttlSeconds: 300 },
          },
        ],
      });
      await invalidator.start();
      await waitAssigned(invalidator, 'ACL-restricted invalidator');
      expect(invalidator.stats().redisConnected).toBe(true);

      const id = nextId;
      const email = `acl.${run}@example.com`;
      await admin.set(`${prefix}customer:${id}`, 'stale');
      await insertCustomer(email);
      await waitUntil('the delete and the refresh', async () => (await admin.exists(`${prefix}customer:${id}`)) === 0 && (await admin.exists(`${prefix}customer:json:${id}`)) === 1);
      expect(JSON.parse((await admin.get(`${prefix}customer:json:${id}`)) ?? 'null')).toEqual({ id, email });
      expect(await admin.ttl(`${prefix}customer:json:${id}`)).toBeGreaterThan(0);

      await admin.set(`${prefix}manual`, 'x');
      await expect(invalidator.invalidate(['manual'])).resolves.toBe(1);

      // Nothing the engine sent was refused.
      const denied = (await admin.call('ACL', 'LOG')) as unknown[];
      expect(JSON.stringify(denied)).not.toContain(user);
      await recordExposure(invalidator);
      await invalidator.stop();
    });

    it('a wrong password leaves the invalidator unhealthy with a clear log line, and the password appears nowhere', async () => {
      const wrong = `nope-${randomBytes(12).toString('hex')}`;
      secrets.push(wrong);
      const name = 'redis-wrongpass';
      const invalidator = make(name, {
        kafka: { brokers: infra.KAFKA_BROKERS, groupId: `cdc-cache-e2e-acl-wrong-${run}`, topics: [TOPIC] },
        redis: { url: `redis://${user}:${wrong}@${new URL(infra.REDIS_URL).host}` },
        keyPrefix: prefix,
        rules: [{ source: 'public.customers', invalidate: ['customer:{id}'] }],
      });
      await invalidator.start(); // Redis refusing us is not a start failure: retried, unhealthy
      await waitUntil('a Redis authentication error in the log', () =>
        linesOf(name).some((l) => /WRONGPASS|AUTH/.test(l)),
      );
      await waitUntil('the invalidator to report unhealthy', () => !invalidator.isHealthy(), 10_000);
      expect(invalidator.stats().redisConnected).toBe(false);
      // invalidate() waits for Redis (it is retried like any batch) and fails when the engine stops.
      const settled = invalidator.invalidate(['k']).then(
        () => 'resolved',
        (e: unknown) => (errorMessages.push(String((e as Error).message)), 'rejected'),
      );
      await recordExposure(invalidator);
      await invalidator.stop();
      expect(await settled).toBe('rejected');
    });

    it('a configuration error does not echo the password', async () => {
      const secret = `cfg-${randomBytes(12).toString('hex')}`;
      secrets.push(secret);
      const attempts: Array<() => Promise<unknown>> = [
        async () =>
          make('cfg-redis', {
            kafka: { brokers: infra.KAFKA_BROKERS, groupId: `g-${run}`, topics: [TOPIC] },
            redis: { url: `redis://${user}:${secret}@127.0.0.1:notaport` },
          }).start(),
        async () =>
          make('cfg-kafka', {
            kafka: {
              brokers: infra.KAFKA_BROKERS,
              groupId: `g-${run}`,
              topics: [TOPIC],
              config: { 'sasl.password': secret, 'no.such.property': secret },
            },
            redis: { url: infra.REDIS_URL },
          }).start(),
      ];
      for (const attempt of attempts) {
        const error = await attempt().then(
          () => undefined,
          (e: unknown) => e as Error,
        );
        expect(error).toBeInstanceOf(Error);
        errorMessages.push(String(error?.message), String(error?.stack));
      }
    });
  });

  describe('(c) hostile values become exactly one key each', () => {
    const prefix = `e2e-sec-c-${run}:`;
    const tag = run.replace(/-/g, '');
    const hostile: Record<string, string> = {
      spaces: `${tag} a  b\tc `,
      crlf: `${tag}\r\nDEL *\r\nSET x y\r\n`,
      star: `${tag}*`,
      braces: `${tag}{id}{{}}{`,
      quotes: `${tag}"'\\"\\\\`,
      control: `${tag}\u0001\u001f\u007f`,
      unicode: `${tag}-ünïcødé-日本語-🙂-\u200b-\u202e`,
      long: `${tag}-${'x'.repeat(60_000)}`,
    };
    // Keys a broken renderer would touch instead: cut at a space, CR or LF, trimmed, or globbed.
    const decoys = [`${tag}`, `${tag} a`, `${tag} a  b`, `${tag}\r`, `${tag}\r\n`, `${tag}-ünïcødé`, `${tag}{id}`, `${tag}x`];

    it('deletes customer:email:<value> for each value, byte for byte, and touches no other key', async () => {
      const invalidator = make('hostile', {
        kafka: { brokers: infra.KAFKA_BROKERS, groupId: `cdc-cache-e2e-hostile-${run}`, topics: [TOPIC], config: { 'auto.offset.reset': 'latest' } },
        redis: { url: infra.REDIS_URL },
        keyPrefix: prefix,
        rules: [
          {
            source: 'public.customers',
            invalidate: ['customer:email:{email}'],
            refresh: { key: 'customer:by-email:{email}', fields: ['email'] },
          },
        ],
      });
      await invalidator.start();
      await waitAssigned(invalidator, 'hostile-values invalidator');

      const key = (value: string) => Buffer.from(`${prefix}customer:email:${value}`, 'utf8');
      const refreshed = (value: string) => Buffer.from(`${prefix}customer:by-email:${value}`, 'utf8');
      const decoyKeys = decoys.map((d) => key(d));
      for (const value of Object.values(hostile)) await admin.set(key(value), 'stale');
      for (const decoy of decoyKeys) await admin.set(decoy, 'decoy');

      for (const value of Object.values(hostile)) await insertCustomer(value);

      await waitUntil(
        'every hostile key deleted and refreshed',
        async () => {
          for (const value of Object.values(hostile)) {
            if ((await admin.exists(key(value))) !== 0 || (await admin.exists(refreshed(value))) !== 1) return false;
          }
          return true;
        },
        90_000,
      );
      for (const [name, value] of Object.entries(hostile)) {
        const stored = await admin.getBuffer(refreshed(value));
        expect({ name, email: JSON.parse(stored!.toString('utf8')).email }).toEqual({ name, email: value });
      }

      // Exactly the decoys (untouched) and one refreshed key per value exist under the prefix (keys
      // without this run's tag come from other writers of the customers table and are ignored).
      const found: string[] = [];
      let cursor = '0';
      do {
        const [next, keys] = await admin.scanBuffer(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        cursor = String(next);
        found.push(...keys.filter((k) => k.toString('utf8').includes(tag)).map((k) => k.toString('hex')));
      } while (cursor !== '0');
      // A refreshed key's version lives beside it: "<key>:cdc-version" when the key holds a hash tag
      // (the value with braces), else "{<key>}:cdc-version" (outside this prefix).
      const versionOf = (k: Buffer) => Buffer.concat([k, Buffer.from(':cdc-version')]);
      const tagged = (k: Buffer) => /\{[^}]+\}/.test(k.toString('latin1'));
      const versions = Object.values(hostile).map(refreshed).filter(tagged).map(versionOf);
      const expected = [...decoyKeys, ...Object.values(hostile).map(refreshed), ...versions].map((k) => k.toString('hex'));
      expect(found.sort()).toEqual(expected.sort());
      expect(invalidator.stats().deadLettered).toBe(0);
      await recordExposure(invalidator);
      await invalidator.stop();
    });
  });

  describe('(d) secrets', () => {
    it('appear in no log line, error, stats(), describeOptions() or Prometheus metric', () => {
      expect(logLines.length).toBeGreaterThan(0);
      expect(exposed.length).toBeGreaterThanOrEqual(3);
      const haystacks = { logs: logLines.join('\n'), errors: errorMessages.join('\n'), exposed: exposed.join('\n') };
      for (const secret of secrets) {
        for (const form of new Set([secret, encodeURIComponent(secret)])) {
          for (const [where, text] of Object.entries(haystacks)) {
            expect({ where, leaked: text.includes(form) }).toEqual({ where, leaked: false });
          }
        }
      }
    });
  });
});
