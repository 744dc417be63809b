import {
  REDACTED,
  collectSecrets,
  createRedactor,
  isSecretConfigKey,
  redactDeep,
  redactOptions,
  redactText,
  redactUrl,
} from '../../lib/redact';
import { validOptions } from './helpers';

describe('isSecretConfigKey', () => {
  it.each([
    'sasl.password',
    'ssl.key.password',
    'ssl.keystore.password',
    'ssl.truststore.password',
    'ssl.key.pem',
    'sasl.oauthbearer.client.secret',
    'sasl.oauthbearer.config',
    'sasl.jaas.config',
  ])('%s is a secret', (key) => expect(isSecretConfigKey(key)).toBe(true));

  it.each(['sasl.username', 'security.protocol', 'ssl.ca.location', 'session.timeout.ms', 'client.id', 'sasl.mechanisms'])(
    '%s is not a secret',
    (key) => expect(isSecretConfigKey(key)).toBe(false),
  );
});

describe('redactUrl', () => {
  it('hides the password and keeps user, host, port and db', () => {
    expect(redactUrl('redis://app:s3cret@cache:6379/2')).toBe(`redis://app:${REDACTED}@cache:6379/2`);
    expect(redactUrl('rediss://:s3cret@cache')).toBe(`rediss://:${REDACTED}@cache`);
  });
  it('leaves URLs without a password alone', () => {
    expect(redactUrl('redis://cache:6379')).toBe('redis://cache:6379');
    expect(redactUrl('redis://user@cache')).toBe('redis://user@cache');
  });
});

describe('redactText', () => {
  it('removes known secrets wherever they occur', () => {
    expect(redactText('auth failed for hunter22 at broker', ['hunter22'])).toBe(`auth failed for ${REDACTED} at broker`);
  });
  it('removes URL passwords and key=value secrets without knowing them', () => {
    expect(redactText('connect redis://u:p4ss@h:1 failed')).toBe(`connect redis://u:${REDACTED}@h:1 failed`);
    expect(redactText('sasl.password=abc123 next')).toBe(`sasl.password=${REDACTED} next`);
    expect(redactText('org.apache.kafka.common.security.plain.PlainLoginModule required username="u" password="pw";')).toContain(
      `password=${REDACTED}`,
    );
    expect(redactText('ssl.key.password: xyz')).toBe(`ssl.key.password: ${REDACTED}`);
  });
  it('removes the longest secret first (one secret containing another)', () => {
    expect(redactText('abcdef', ['abc', 'abcdef'])).toBe(REDACTED);
  });
  it('leaves ordinary text untouched', () => {
    expect(redactText('kafka.groupId: expected a non-empty string')).toBe('kafka.groupId: expected a non-empty string');
  });
});

describe('collectSecrets / createRedactor / redactOptions', () => {
  const options = validOptions({
    kafka: {
      brokers: 'k:1',
      groupId: 'g',
      topics: ['t'],
      config: { 'sasl.username': 'svc', 'sasl.password': 'kafka-pw-1', 'ssl.key.password': 'key-pw-2', 'client.id': 'x' },
    },
    redis: { url: 'redis://app:redis%40pw@cache:6379/0' },
  });

  it('collects kafka.config secrets and the Redis password in both encodings', () => {
    expect(collectSecrets(options)).toEqual(expect.arrayContaining(['kafka-pw-1', 'key-pw-2', 'redis%40pw', 'redis@pw']));
    expect(collectSecrets(options)).not.toContain('svc');
  });

  it('redacts every collected secret from free text', () => {
    const redact = createRedactor(options);
    const text = redact('login kafka-pw-1 / key-pw-2 / redis@pw / redis%40pw');
    expect(text).not.toMatch(/kafka-pw-1|key-pw-2|redis@pw|redis%40pw/);
  });

  it('returns a redacted deep copy of options without functions', () => {
    const logger = { debug() {}, info() {}, warn() {}, error() {} };
    const copy = redactOptions({ ...options, logger });
    expect(copy.kafka.config).toEqual({ 'sasl.username': 'svc', 'sasl.password': REDACTED, 'ssl.key.password': REDACTED, 'client.id': 'x' });
    expect(copy.redis.url).toBe(`redis://app:${REDACTED}@cache:6379/0`);
    expect('logger' in copy).toBe(false);
    expect(JSON.stringify(copy)).not.toMatch(/kafka-pw-1|key-pw-2|redis%40pw/);
    // the original is not modified
    expect(options.kafka.config!['sasl.password']).toBe('kafka-pw-1');
  });

  it('redactDeep redacts strings inside nested objects and arrays', () => {
    const redact = createRedactor(options);
    expect(redactDeep({ a: ['x kafka-pw-1'], b: { c: 'redis://u:zz@h' }, n: 1 }, redact)).toEqual({
      a: [`x ${REDACTED}`],
      b: { c: `redis://u:${REDACTED}@h` },
      n: 1,
    });
  });
});
