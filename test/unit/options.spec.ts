import { CdcCacheConfigError } from '../../lib/errors';
import { DEFAULTS, toNativeConfig, validateOptions, validateRules } from '../../lib/options';
import { thrown, validOptions } from './helpers';

function errorFor(options: unknown): CdcCacheConfigError {
  const error = thrown(() => validateOptions(options));
  expect(error).toBeInstanceOf(CdcCacheConfigError);
  expect(error.name).toBe('CdcCacheConfigError');
  return error as CdcCacheConfigError;
}

describe('validateOptions: accepted options and defaults', () => {
  it('fills every default', () => {
    const r = validateOptions(validOptions());
    expect(r.kafka).toEqual({
      brokers: '127.0.0.1:19092',
      groupId: 'invoices-cache',
      topics: ['dbserver1.public.customers'],
      config: {},
      prefetchBytes: 32 * 1024 * 1024,
    });
    expect(r.redis).toEqual({ url: 'redis://127.0.0.1:16379', connectTimeoutMs: 2000, commandTimeoutMs: 5000, waitReplicas: 0, waitTimeoutMs: 1000 });
    expect(r.keyPrefix).toBe('');
    expect(r.deleteCommand).toBe('UNLINK');
    expect(r.batch).toEqual({ maxEvents: 1000, maxWaitMs: 0, maxInFlight: 4 });
    expect(r.commitIntervalMs).toBe(1000);
    expect(r.handlers).toEqual({ maxBatchSize: 500, maxInFlight: 2, attempts: 3, retryDelayMs: 200 });
    expect(r.deadLetterTopic).toBeUndefined();
    expect(r.rules).toEqual([
      { source: 'public.customers', invalidate: ['customer:{id}', 'customer:email:{email}'], onTruncate: [] },
    ]);
  });

  it('keeps explicit values and merges partial sections with defaults', () => {
    const r = validateOptions(
      validOptions({
        keyPrefix: 'app1:',
        deleteCommand: 'DEL',
        deadLetterTopic: 'cdc-cache.dead-letter',
        batch: { maxEvents: 10 },
        handlers: { attempts: 5 },
        commitIntervalMs: 250,
      }),
    );
    expect(r.keyPrefix).toBe('app1:');
    expect(r.deleteCommand).toBe('DEL');
    expect(r.deadLetterTopic).toBe('cdc-cache.dead-letter');
    expect(r.batch).toEqual({ ...DEFAULTS.batch, maxEvents: 10 });
    expect(r.handlers).toEqual({ ...DEFAULTS.handlers, attempts: 5 });
    expect(r.commitIntervalMs).toBe(250);
  });

  it('joins a broker list and accepts a comma-separated string', () => {
    expect(validateOptions(validOptions({ kafka: { brokers: ['a:9092', 'b:9092'], groupId: 'g', topics: ['t'] } })).kafka.brokers).toBe('a:9092,b:9092');
    expect(validateOptions(validOptions({ kafka: { brokers: 'a:9092, b:9092', groupId: 'g', topics: ['t'] } })).kafka.brokers).toBe('a:9092,b:9092');
  });

  it('accepts topicPattern as a string or RegExp and anchors it with "^"', () => {
    const a = validateOptions(validOptions({ kafka: { brokers: 'k:1', groupId: 'g', topicPattern: '^dbserver1\\.public\\..*' } }));
    expect(a.kafka.topicPattern).toBe('^dbserver1\\.public\\..*');
    expect(a.kafka.topics).toBeUndefined();
    const b = validateOptions(validOptions({ kafka: { brokers: 'k:1', groupId: 'g', topicPattern: /dbserver1\..*/ } }));
    expect(b.kafka.topicPattern).toBe('^dbserver1\\..*');
  });

  it('accepts rediss:// URLs with credentials and a database number', () => {
    expect(validateOptions(validOptions({ redis: { url: 'rediss://user:pw@cache.example:6380/2' } })).redis.url).toBe(
      'rediss://user:pw@cache.example:6380/2',
    );
  });

  it('accepts librdkafka properties of every scalar type', () => {
    const r = validateOptions(
      validOptions({
        kafka: {
          brokers: 'k:1',
          groupId: 'g',
          topics: ['t'],
          config: { 'security.protocol': 'SASL_SSL', 'session.timeout.ms': 10000, 'allow.auto.create.topics': false },
        },
      }),
    );
    expect(r.kafka.config).toEqual({ 'security.protocol': 'SASL_SSL', 'session.timeout.ms': 10000, 'allow.auto.create.topics': false });
  });

  it('accepts rules with refresh, onTruncate, key placeholders, nested paths and literal braces', () => {
    const r = validateOptions(
      validOptions({
        rules: [
          {
            source: 'inventory.*',
            invalidate: ['order:{key.id}', 'city:{address.city}', 'json:{{literal}}'],
            refresh: { key: 'customer:{id}', fields: ['id', 'address.city'], ttlSeconds: 60 },
            onTruncate: ['orders:all'],
          },
          { source: '*', onTruncate: ['everything'] },
          { source: 'public.x', refresh: { key: 'x:{id}' } },
        ],
      }),
    );
    expect(r.rules[0].refresh).toEqual({ key: 'customer:{id}', fields: ['id', 'address.city'], ttlSeconds: 60 });
    expect(r.rules[2]).toEqual({ source: 'public.x', invalidate: [], refresh: { key: 'x:{id}', fields: [], ttlSeconds: 0 }, onTruncate: [] });
  });

  it('accepts no rules at all (handlers only)', () => {
    const o = validOptions();
    delete o.rules;
    expect(validateOptions(o).rules).toEqual([]);
  });

  it('keeps a custom logger', () => {
    const logger = { debug() {}, info() {}, warn() {}, error() {} };
    expect(validateOptions(validOptions({ logger })).logger).toBe(logger);
  });
});

describe('validateOptions: errors name the option path and what was expected', () => {
  const cases: Array<[string, () => unknown, string]> = [
    ['options not an object', () => 'nope', 'options: expected an object, got "nope"'],
    ['missing kafka', () => ({ redis: { url: 'redis://h' } }), 'kafka: required option is missing'],
    ['missing redis', () => ({ kafka: validOptions().kafka }), 'redis: required option is missing'],
    ['empty groupId', () => validOptions({ kafka: { brokers: 'k:1', groupId: '', topics: ['t'] } }), 'kafka.groupId: expected a non-empty string, got ""'],
    ['missing groupId', () => validOptions({ kafka: { brokers: 'k:1', topics: ['t'] } as never }), 'kafka.groupId: expected a non-empty string, got undefined'],
    ['numeric groupId', () => validOptions({ kafka: { brokers: 'k:1', groupId: 7 as never, topics: ['t'] } }), 'kafka.groupId: expected a non-empty string, got 7'],
    ['brokers wrong type', () => validOptions({ kafka: { brokers: 9092 as never, groupId: 'g', topics: ['t'] } }), 'kafka.brokers: expected "host:port[,host:port...]"'],
    ['empty brokers', () => validOptions({ kafka: { brokers: '', groupId: 'g', topics: ['t'] } }), 'kafka.brokers: expected at least one broker'],
    ['broker with a space', () => validOptions({ kafka: { brokers: ['a:1', 'b c:2'], groupId: 'g', topics: ['t'] } }), 'kafka.brokers[1]: expected a broker address'],
    ['topics and topicPattern', () => validOptions({ kafka: { brokers: 'k:1', groupId: 'g', topics: ['t'], topicPattern: '^t' } }), 'kafka: expected exactly one of topics or topicPattern, got both'],
    ['empty topics', () => validOptions({ kafka: { brokers: 'k:1', groupId: 'g', topics: [] } }), 'kafka.topics: expected at least 1 entry'],
    ['bad topic name', () => validOptions({ kafka: { brokers: 'k:1', groupId: 'g', topics: ['ok', 'bad topic'] } }), 'kafka.topics[1]: expected a Kafka topic name'],
    ['duplicate topic', () => validOptions({ kafka: { brokers: 'k:1', groupId: 'g', topics: ['t', 't'] } }), 'kafka.topics[1]: duplicate topic "t"'],
    ['bad regex', () => validOptions({ kafka: { brokers: 'k:1', groupId: 'g', topicPattern: '^(' } }), 'kafka.topicPattern: invalid regular expression'],
    ['regex flags', () => validOptions({ kafka: { brokers: 'k:1', groupId: 'g', topicPattern: /t/i } }), 'kafka.topicPattern: regular expression flags are not supported'],
    ['config not an object', () => validOptions({ kafka: { brokers: 'k:1', groupId: 'g', topics: ['t'], config: 'x' as never } }), 'kafka.config: expected an object of librdkafka properties'],
    ['config object value', () => validOptions({ kafka: { brokers: 'k:1', groupId: 'g', topics: ['t'], config: { 'client.id': {} as never } } }), 'kafka.config["client.id"]: expected a string, number or boolean, got object'],
    ['reserved group.id', () => validOptions({ kafka: { brokers: 'k:1', groupId: 'g', topics: ['t'], config: { 'group.id': 'x' } } }), 'kafka.config["group.id"]: not allowed: set kafka.groupId instead'],
    ['reserved enable.auto.commit', () => validOptions({ kafka: { brokers: 'k:1', groupId: 'g', topics: ['t'], config: { 'enable.auto.commit': true } } }), 'kafka.config["enable.auto.commit"]: not allowed'],
    ['redis not an object', () => validOptions({ redis: 'redis://h' as never }), 'redis: expected an object, got "redis://h"'],
    ['redis url missing', () => validOptions({ redis: {} as never }), 'redis.url: expected a URL redis://'],
    ['redis url not a URL', () => validOptions({ redis: { url: 'localhost:6379' } }), 'redis.url: expected'],
    ['redis url http', () => validOptions({ redis: { url: 'http://localhost:6379' } }), 'redis.url: expected the scheme redis:// or rediss://, got "http://"'],
    ['redis url bad path', () => validOptions({ redis: { url: 'redis://h:1/abc' } }), 'redis.url: expected an optional database number as the path'],
    ['redis url query', () => validOptions({ redis: { url: 'redis://h:1/0?x=1' } }), 'redis.url: query parameters and fragments are not supported'],
    ['redis timeout negative', () => validOptions({ redis: { url: 'redis://h', connectTimeoutMs: -1 } }), 'redis.connectTimeoutMs: expected an integer from 1 to 600000, got -1'],
    ['redis timeout fraction', () => validOptions({ redis: { url: 'redis://h', commandTimeoutMs: 1.5 } }), 'redis.commandTimeoutMs: expected an integer from 1 to 600000, got 1.5'],
    ['rules not an array', () => validOptions({ rules: {} as never }), 'rules: expected an array, got an object'],
    ['rule not an object', () => validOptions({ rules: ['x' as never] }), 'rules[0]: expected an object, got "x"'],
    ['rule without source', () => validOptions({ rules: [{ invalidate: ['a'] } as never] }), 'rules[0].source: expected a source selector'],
    ['rule source with space', () => validOptions({ rules: [{ source: 'public customers', invalidate: ['a'] }] }), 'rules[0].source: expected a source selector'],
    ['rule without action', () => validOptions({ rules: [{ source: 'a.b' }] }), 'rules[0]: expected at least one of invalidate, refresh or onTruncate'],
    ['invalidate not an array', () => validOptions({ rules: [{ source: 'a.b', invalidate: 'k:{id}' as never }] }), 'rules[0].invalidate: expected an array, got "k:{id}"'],
    ['empty template', () => validOptions({ rules: [{ source: 'a.b', invalidate: [''] }] }), 'rules[0].invalidate[0]: expected a non-empty string'],
    [
      'unclosed placeholder at rules[2]',
      () => validOptions({ rules: [{ source: 'a', invalidate: ['a'] }, { source: 'b', invalidate: ['b'] }, { source: 'c', invalidate: ['{id'] }] }),
      'rules[2].invalidate[0]: unknown placeholder syntax "{id"',
    ],
    ['refresh key template', () => validOptions({ rules: [{ source: 'a', refresh: { key: 'c:{id-x}' } }] }), 'rules[0].refresh.key: unknown placeholder syntax "{id-x}" in "c:{id-x}"'],
    ['refresh missing key', () => validOptions({ rules: [{ source: 'a', refresh: {} as never }] }), 'rules[0].refresh.key: expected a non-empty string'],
    ['refresh field path', () => validOptions({ rules: [{ source: 'a', refresh: { key: 'k', fields: ['ok', 'not ok'] } }] }), 'rules[0].refresh.fields[1]: expected a field path'],
    ['refresh ttl', () => validOptions({ rules: [{ source: 'a', refresh: { key: 'k', ttlSeconds: -5 } }] }), 'rules[0].refresh.ttlSeconds: expected an integer from 0 to 2147483647, got -5'],
    ['onTruncate placeholder', () => validOptions({ rules: [{ source: 'a', onTruncate: ['x:{id}'] }] }), 'rules[0].onTruncate[0]: placeholders are not available on truncate'],
    ['onTruncate bad syntax', () => validOptions({ rules: [{ source: 'a', onTruncate: ['x}'] }] }), 'rules[0].onTruncate[0]: unknown placeholder syntax "}"'],
    ['keyPrefix type', () => validOptions({ keyPrefix: 1 as never }), 'keyPrefix: expected a string, got 1'],
    ['deleteCommand', () => validOptions({ deleteCommand: 'unlink' as never }), 'deleteCommand: expected "UNLINK" or "DEL", got "unlink"'],
    ['deadLetterTopic', () => validOptions({ deadLetterTopic: 'dead letters' }), 'deadLetterTopic: expected a Kafka topic name'],
    ['batch.maxEvents zero', () => validOptions({ batch: { maxEvents: 0 } }), 'batch.maxEvents: expected an integer from 1 to 100000, got 0'],
    ['batch.maxWaitMs string', () => validOptions({ batch: { maxWaitMs: '5' as never } }), 'batch.maxWaitMs: expected an integer from 0 to 60000, got "5"'],
    ['batch.maxInFlight', () => validOptions({ batch: { maxInFlight: 0 } }), 'batch.maxInFlight: expected an integer from 1 to 1024, got 0'],
    ['commitIntervalMs', () => validOptions({ commitIntervalMs: 0 }), 'commitIntervalMs: expected an integer from 1 to 3600000, got 0'],
    ['kafka.prefetchBytes', () => validOptions({ kafka: { brokers: 'k:1', groupId: 'g', topics: ['t'], prefetchBytes: 1024 } }),
      'kafka.prefetchBytes: expected an integer from 65536 to 4294967296, got 1024'],
    ['handlers.attempts', () => validOptions({ handlers: { attempts: 0 } }), 'handlers.attempts: expected an integer from 1 to 100, got 0'],
    ['handlers.retryDelayMs', () => validOptions({ handlers: { retryDelayMs: -1 } }), 'handlers.retryDelayMs: expected an integer from 0 to 600000, got -1'],
    ['handlers.maxBatchSize', () => validOptions({ handlers: { maxBatchSize: 0 } }), 'handlers.maxBatchSize: expected an integer from 1 to 100000, got 0'],
    ['handlers.maxInFlight', () => validOptions({ handlers: { maxInFlight: 1.2 } }), 'handlers.maxInFlight: expected an integer from 1 to 1024, got 1.2'],
    ['logger not an object', () => validOptions({ logger: 'console' as never }), 'logger: expected an object with debug, info, warn and error methods'],
    ['logger missing method', () => validOptions({ logger: { debug() {}, info() {}, warn() {} } as never }), 'logger.error: expected a function, got undefined'],
  ];

  it.each(cases)('%s', (_name, make, expected) => {
    const error = errorFor(make());
    expect(error.message).toContain(expected);
    // The reported path is the prefix of the message.
    expect(error.issues[0].message.startsWith(error.issues[0].path ? `${error.issues[0].path}: ` : 'options')).toBe(true);
  });

  it('reports the exact example messages of the contract', () => {
    expect(errorFor(validOptions({ kafka: { brokers: 'k:1', groupId: '', topics: ['t'] } })).message).toMatch(
      /^kafka\.groupId: expected a non-empty string/,
    );
    const e = errorFor(
      validOptions({ rules: [{ source: 'a', invalidate: ['a'] }, { source: 'b', invalidate: ['b'] }, { source: 'c', invalidate: ['{id'] }] }),
    );
    expect(e.message).toBe('rules[2].invalidate[0]: unknown placeholder syntax "{id"');
    expect(e.path).toBe('rules[2].invalidate[0]');
  });

  it('collects several problems in one error, each with its path', () => {
    const e = errorFor(validOptions({ kafka: { brokers: 'k:1', groupId: '', topics: ['t'] }, deleteCommand: 'X' as never, batch: { maxEvents: -1 } }));
    expect(e.issues.map((i) => i.path)).toEqual(['kafka.groupId', 'deleteCommand', 'batch.maxEvents']);
    expect(e.message.split('; ')).toHaveLength(3);
  });
});

describe('validateOptions: unknown options are rejected', () => {
  it('rejects an unknown top-level option with a suggestion', () => {
    const o = { ...validOptions(), kafak: {} };
    const e = errorFor(o);
    expect(e.message).toContain('unknown option "kafak" (did you mean "kafka"?)');
    expect(e.issues[0].path).toBe('kafak');
  });

  it('rejects unknown nested options with their full path', () => {
    expect(errorFor(validOptions({ kafka: { brokers: 'k:1', groupId: 'g', topics: ['t'], grupId: 'x' } as never })).message).toContain(
      'unknown option "kafka.grupId" (did you mean "groupId"?)',
    );
    expect(errorFor(validOptions({ redis: { url: 'redis://h', timeout: 1 } as never })).message).toContain('unknown option "redis.timeout"');
    expect(errorFor(validOptions({ rules: [{ source: 'a', invalidat: ['x'] } as never] })).message).toContain(
      'unknown option "rules[0].invalidat" (did you mean "invalidate"?)',
    );
    expect(errorFor(validOptions({ rules: [{ source: 'a', refresh: { key: 'k', ttl: 1 } } as never] })).message).toContain(
      'unknown option "rules[0].refresh.ttl"',
    );
    expect(errorFor(validOptions({ batch: { size: 1 } as never })).message).toContain('unknown option "batch.size"');
    expect(errorFor(validOptions({ handlers: { retries: 1 } as never })).message).toContain('unknown option "handlers.retries"');
  });

  it('does not accept the native-only jsHandlers option from users', () => {
    expect(errorFor({ ...validOptions(), jsHandlers: [] }).message).toContain('unknown option "jsHandlers"');
  });

  it('offers no suggestion for names that are nothing alike', () => {
    expect(errorFor({ ...validOptions(), completelyDifferent: 1 }).message).toBe('unknown option "completelyDifferent"');
  });
});

describe('validateOptions: secrets never appear in errors', () => {
  it('does not echo the Redis URL or its password', () => {
    const e = errorFor(validOptions({ redis: { url: 'http://admin:S3cr3t-pw@cache:6379' } }));
    expect(e.message).toContain('redis.url');
    expect(e.message).not.toContain('S3cr3t-pw');
    const e2 = errorFor(validOptions({ redis: { url: 'redis://admin:S3cr3t-pw@cache:6379/notadb' } }));
    expect(e2.message).not.toContain('S3cr3t-pw');
    expect(e2.message).not.toContain('admin:');
  });

  it('does not echo kafka.config secret values even when they are the wrong type', () => {
    const e = errorFor(
      validOptions({
        kafka: { brokers: 'k:1', groupId: 'g', topics: ['t'], config: { 'sasl.password': ['hunter2-secret'] as never } },
      }),
    );
    expect(e.message).toContain('kafka.config["sasl.password"]: expected a string, number or boolean, got an array');
    expect(e.message).not.toContain('hunter2-secret');
  });

  it('redacts a known secret that leaks into another option\'s message', () => {
    // The password is (mis)used as the group id, which is then echoed by an error about another option.
    const e = errorFor(
      validOptions({
        kafka: { brokers: 'k:1', groupId: 'g', topics: ['t'], config: { 'sasl.password': 'pw-abcdef' } },
        deadLetterTopic: 'pw-abcdef has spaces',
      }),
    );
    expect(e.message).toContain('deadLetterTopic');
    expect(e.message).not.toContain('pw-abcdef');
    expect(e.message).toContain('[redacted]');
  });
});

describe('redis.waitReplicas', () => {
  it('is off by default and its timeout must be below the command timeout', () => {
    expect(validateOptions(validOptions({ redis: { url: 'redis://h', waitReplicas: 1, waitTimeoutMs: 500 } })).redis)
      .toMatchObject({ waitReplicas: 1, waitTimeoutMs: 500 });
    expect(() => validateOptions(validOptions({ redis: { url: 'redis://h', waitReplicas: 1, waitTimeoutMs: 5000 } })))
      .toThrow(/redis\.waitTimeoutMs: must be below redis\.commandTimeoutMs \(5000\)/);
    expect(() => validateOptions(validOptions({ redis: { url: 'redis://h', waitReplicas: -1 } })))
      .toThrow(/redis\.waitReplicas: expected an integer from 0 to 100/);
  });
});

describe('toNativeConfig', () => {
  it('produces the engine JSON shape: JS-only handler settings stripped, jsHandlers appended', () => {
    const r = validateOptions(validOptions({ deadLetterTopic: 'dlq', handlers: { attempts: 9, retryDelayMs: 1 } }));
    const config = toNativeConfig(r, [{ id: 1, source: 'public.customers' }]);
    expect(config).toEqual({
      kafka: { brokers: '127.0.0.1:19092', groupId: 'invoices-cache', topics: ['dbserver1.public.customers'], config: {},
        prefetchBytes: 32 * 1024 * 1024 },
      redis: { url: 'redis://127.0.0.1:16379', connectTimeoutMs: 2000, commandTimeoutMs: 5000, waitReplicas: 0, waitTimeoutMs: 1000 },
      rules: [{ source: 'public.customers', invalidate: ['customer:{id}', 'customer:email:{email}'], onTruncate: [] }],
      keyPrefix: '',
      deleteCommand: 'UNLINK',
      deadLetterTopic: 'dlq',
      batch: { maxEvents: 1000, maxWaitMs: 0, maxInFlight: 4 },
      commitIntervalMs: 1000,
      handlers: { maxBatchSize: 500, maxInFlight: 2 },
      jsHandlers: [{ id: 1, source: 'public.customers' }],
    });
    expect(JSON.parse(JSON.stringify(config))).toEqual(config);
    expect(JSON.stringify(config)).not.toContain('logger');
  });

  it('omits deadLetterTopic when not configured', () => {
    expect('deadLetterTopic' in toNativeConfig(validateOptions(validOptions()))).toBe(false);
  });
});

describe('validateRules (CLI rules files)', () => {
  it('returns normalised rules', () => {
    expect(validateRules([{ source: 'a.b', invalidate: ['k:{id}'] }])).toEqual([{ source: 'a.b', invalidate: ['k:{id}'], onTruncate: [] }]);
  });
  it('throws with the rule path', () => {
    expect(() => validateRules([{ source: 'a.b', invalidate: ['k:{id'] }])).toThrow('rules[0].invalidate[0]: unknown placeholder syntax "{id"');
    expect(() => validateRules({})).toThrow('rules: expected an array');
  });
});
