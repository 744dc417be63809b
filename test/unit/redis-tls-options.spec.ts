import { execFileSync } from 'child_process';
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import { CdcCacheConfigError } from '../../lib/errors';
import { redactOptions } from '../../lib/redact';
import { toNativeConfig, validateOptions } from '../../lib/options';
import { thrown, validOptions } from './helpers';

// Test certificates from the script scripts/infra uses (openssl, EC keys: a fraction of a second).
let root: string;
let dir: string;
const file = (name: string) => join(dir, name);

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'cdc-tls-unit-'));
  dir = join(root, 'certs');
  execFileSync('bash', [resolve(__dirname, '../../scripts/infra-lib/redis-tls.sh'), 'certs', dir]);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function messagesFor(tls: unknown, url = 'rediss://127.0.0.1:16390'): string[] {
  const error = thrown(() => validateOptions(validOptions({ redis: { url, tls: tls as never } })));
  expect(error).toBeInstanceOf(CdcCacheConfigError);
  return (error as CdcCacheConfigError).issues.map((i) => i.message);
}

describe('redis.tls validation', () => {
  it('accepts file paths and PEM text, and passes them to the native config as given', () => {
    const tls = { ca: file('ca.crt'), cert: file('redis-client.crt'), key: readFileSync(file('redis-client.key'), 'utf8'), servername: 'localhost' };
    const resolved = validateOptions(validOptions({ redis: { url: 'redis://127.0.0.1:16390', tls } }));
    expect(resolved.redis.tls).toEqual({ ...tls, rejectUnauthorized: true });
    expect(toNativeConfig(resolved).redis.tls).toEqual({ ...tls, rejectUnauthorized: true });
    expect(validateOptions(validOptions()).redis.tls).toBeUndefined();
  });

  it('names the field of a missing file, an unreadable PEM, and a wrong type', () => {
    expect(messagesFor({ ca: '/nonexistent/ca.pem' })).toEqual(['redis.tls.ca: cannot read the file "/nonexistent/ca.pem" (ENOENT)']);
    expect(messagesFor({ ca: file('redis-server.key') })).toEqual(['redis.tls.ca: not a PEM certificate']);
    expect(messagesFor({ ca: '-----BEGIN CERTIFICATE-----\ngarbage\n-----END CERTIFICATE-----\n' })).toEqual([
      'redis.tls.ca: not a PEM certificate',
    ]);
    expect(messagesFor({ rejectUnauthorized: 'no' })).toEqual(['redis.tls.rejectUnauthorized: expected a boolean']);
    expect(messagesFor({ cafile: 'x' })[0]).toMatch(/^unknown option "redis.tls.cafile"/);
    expect(messagesFor('yes')).toEqual(['redis.tls: expected an object { ca, cert, key, servername, rejectUnauthorized }']);
  });

  it('checks the client certificate and key together, and never shows a key or its path', () => {
    expect(messagesFor({ cert: file('redis-client.crt') })).toEqual(['redis.tls.cert: given without redis.tls.key']);
    expect(messagesFor({ cert: file('redis-client.crt'), key: '/secret/place/client.key' })).toEqual([
      'redis.tls.key: cannot read the file given (ENOENT)',
    ]);
    const otherKey = readFileSync(file('redis-server.key'), 'utf8');
    const mismatch = messagesFor({ cert: file('redis-client.crt'), key: otherKey });
    expect(mismatch).toEqual(['redis.tls.key: does not match the certificate in redis.tls.cert']);
    const truncated = otherKey.slice(0, otherKey.length / 2);
    const bad = messagesFor({ cert: file('redis-client.crt'), key: truncated });
    expect(bad).toEqual(['redis.tls.key: not an unencrypted PEM private key (encrypted keys are not supported)']);
  });

  it('redacts a key given as PEM text', () => {
    const key = readFileSync(file('redis-client.key'), 'utf8');
    const redacted = redactOptions(validOptions({ redis: { url: 'rediss://h', tls: { cert: file('redis-client.crt'), key } } }));
    expect(JSON.stringify(redacted)).not.toContain(key.split('\n')[1]);
    expect(redacted.redis.tls?.cert).toBe(file('redis-client.crt'));
  });
});
