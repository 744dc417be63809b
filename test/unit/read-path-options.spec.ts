// The read side's options (validated by path) and its JSON codec (exact 64-bit integers).
import { decodeJson, encodeJson, validateOptions, KEYV_KEY_PREFIX, READ_DEFAULTS } from '../../lib';
import { thrown, validOptions } from './helpers';

describe('read options', () => {
  test('defaults', () => {
    expect(validateOptions(validOptions()).read).toEqual(READ_DEFAULTS);
  });

  test('each bad value fails naming its path', () => {
    const error = thrown(() =>
      validateOptions(
        validOptions({
          read: {
            format: 'xml' as never,
            leaseMs: 0,
            leaseWaitMs: -1,
            ttlSeconds: 1.5,
            onRedisError: 'ignore' as never,
            consistency: { sampleRate: 2, lagMs: 'x' as never },
            extra: 1,
          } as never,
        }),
      ),
    );
    expect(error.issues?.map((i) => i.path).sort()).toEqual(
      [
        'read.consistency.lagMs',
        'read.consistency.sampleRate',
        'read.extra',
        'read.format',
        'read.leaseMs',
        'read.leaseWaitMs',
        'read.onRedisError',
        'read.ttlSeconds',
      ].sort(),
    );
    expect(error.message).toMatch(/read\.format: expected "json" or "keyv", got "xml"/);
  });

  test('format "keyv" defaults keyPrefix to Keyv\'s, an explicit keyPrefix wins', () => {
    expect(validateOptions(validOptions({ read: { format: 'keyv' } })).keyPrefix).toBe(KEYV_KEY_PREFIX);
    expect(validateOptions(validOptions({ read: { format: 'keyv' }, keyPrefix: 'app:' })).keyPrefix).toBe('app:');
    expect(validateOptions(validOptions()).keyPrefix).toBe('');
  });
});

describe('JSON with exact 64-bit integers', () => {
  test('integers beyond 2^53 round-trip as bigint, everything else as JSON.parse reads it', () => {
    const text = '{"a":9223372036854775807,"b":-9223372036854775808,"c":9007199254740991,"d":1.5e300,"e":"12345678901234567890","f":[18446744073709551615]}';
    const value = decodeJson(text) as Record<string, unknown>;
    expect(value.a).toBe(9223372036854775807n);
    expect(value.b).toBe(-9223372036854775808n);
    expect(value.c).toBe(9007199254740991);
    expect(value.d).toBe(1.5e300);
    expect(value.e).toBe('12345678901234567890');
    expect(value.f).toEqual([18446744073709551615n]);
    expect(encodeJson(value)).toBe(text.replace('1.5e300', '1.5e+300'));
  });

  test('escaped quotes inside strings do not confuse the scan', () => {
    const text = '{"s":"a\\"12345678901234567890\\"","n":12345678901234567890}';
    expect(decodeJson(text)).toEqual({ s: 'a"12345678901234567890"', n: 12345678901234567890n });
  });

  test('plain values take JSON.stringify as is', () => {
    expect(encodeJson({ a: 1, b: [true, null] })).toBe('{"a":1,"b":[true,null]}');
    expect(() => encodeJson(undefined)).toThrow(/not representable/);
  });
});

describe('format "keyv" against Keyv\'s own serializer', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const keyv = require('@keyv/serialize') as { defaultSerialize(v: unknown): string; defaultDeserialize(t: string): unknown };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { keyvFormat } = require('../../lib/read-codec') as typeof import('../../lib/read-codec');
  const value = { name: ':colon', plain: 'text', list: [':a', 'b', 1, null], nested: { bytes: Buffer.from('héllo') }, n: 1.5 };

  test('what we write is what Keyv writes, and each reads the other', () => {
    const format = keyvFormat();
    const ours = format.encode(value, 60_000);
    const expires = (JSON.parse(ours) as { expires: number }).expires;
    expect(ours).toBe(keyv.defaultSerialize({ value, expires }));
    expect(format.decode(keyv.defaultSerialize({ value, expires }))).toEqual({ value, expired: false });
    expect(keyv.defaultDeserialize(ours)).toEqual({ value, expires });
    expect(format.encode(value, 0)).toBe(keyv.defaultSerialize({ value }));
    expect(format.decode(keyv.defaultSerialize({ value: 1, expires: Date.now() - 1 })).expired).toBe(true);
  });
});
