// Options: validation with path-naming errors, defaults, and the native config JSON (the public
// option types are in interfaces/options.ts, re-exported here). Validation runs before anything
// starts, to give every issue at once with suggestions; the native engine validates again with the
// same integer limits (option-limits.ts, generated from the C++ table).

import { CdcCacheConfigError, ConfigIssue } from './errors';
import { createRedactor } from './redact';
import type {
  CdcCacheLogger,
  DeleteCommand,
  JsHandlerRegistration,
  KafkaConfigValue,
  NativeEngineConfig,
  ResolvedCdcCacheOptions,
} from './interfaces/options';
import { LimitedOption, OPTION_LIMITS } from './option-limits';
import { checkReadOptions, KEYV_KEY_PREFIX } from './read-options';
import { checkRedisTls } from './redis-tls-options';

export * from './interfaces/options';

// Integer defaults and limits come from the table the C++ config parser reads (see option-limits.ts).
const L = OPTION_LIMITS;
export const DEFAULTS = Object.freeze({
  kafka: Object.freeze({ prefetchBytes: L['kafka.prefetchBytes'].default }),
  redis: Object.freeze({
    connectTimeoutMs: L['redis.connectTimeoutMs'].default, commandTimeoutMs: L['redis.commandTimeoutMs'].default,
    waitReplicas: L['redis.waitReplicas'].default,
    waitTimeoutMs: L['redis.waitTimeoutMs'].default,
  }),
  keyPrefix: '',
  deleteCommand: 'UNLINK' as DeleteCommand,
  batch: Object.freeze({ maxEvents: L['batch.maxEvents'].default, maxWaitMs: L['batch.maxWaitMs'].default, maxInFlight: L['batch.maxInFlight'].default }),
  commitIntervalMs: L['commitIntervalMs'].default,
  invalidateTimeoutMs: L['invalidateTimeoutMs'].default,
  handlers: Object.freeze({
    maxBatchSize: L['handlers.maxBatchSize'].default,
    maxInFlight: L['handlers.maxInFlight'].default,
    attempts: L['handlers.attempts'].default,
    retryDelayMs: L['handlers.retryDelayMs'].default,
  }),
});

// Properties the engine owns: letting kafka.config override them would break delivery guarantees.
const RESERVED_KAFKA_CONFIG: Record<string, string> = {
  'bootstrap.servers': 'set kafka.brokers instead',
  'metadata.broker.list': 'set kafka.brokers instead',
  'group.id': 'set kafka.groupId instead',
  'enable.auto.commit': 'offsets are committed by the engine only after Redis acknowledged the effects',
  'enable.auto.offset.store': 'offsets are stored by the engine only after Redis acknowledged the effects',
};

// ---------------------------------------------------------------------------------------------
// Templates

const IDENTIFIER = '[A-Za-z_][A-Za-z0-9_]*';
const FIELD_PATH_RE = new RegExp(`^${IDENTIFIER}(\\.${IDENTIFIER})*$`);
const PLACEHOLDER_PATH_RE = new RegExp(`^(key\\.)?${IDENTIFIER}(\\.${IDENTIFIER})*$`);

export interface TemplatePlaceholder {
  /** The field path without a "key." prefix. */
  path: string;
  /** True for {key.x}: the Kafka message key rather than the row image. */
  fromKey: boolean;
}

export type TemplateCheck =
  | { ok: true; placeholders: TemplatePlaceholder[] }
  | { ok: false; fragment: string; message: string };

/**
 * Checks key-template syntax: literal text, {path} placeholders (identifier segments joined by
 * ".", optional "key." prefix), "{{" and "}}" as literal braces. Anything else is
 * 'unknown placeholder syntax "<fragment>"'.
 */
export function checkTemplate(template: string): TemplateCheck {
  const placeholders: TemplatePlaceholder[] = [];
  const fail = (fragment: string): TemplateCheck => ({
    ok: false,
    fragment,
    message:
      `unknown placeholder syntax ${JSON.stringify(fragment)}` +
      (fragment === template ? '' : ` in ${JSON.stringify(template.length > 200 ? `${template.slice(0, 197)}...` : template)}`),
  });
  let i = 0;
  while (i < template.length) {
    const c = template[i];
    if (c === '{') {
      if (template[i + 1] === '{') {
        i += 2;
        continue;
      }
      const close = template.indexOf('}', i + 1);
      const nextOpen = template.indexOf('{', i + 1);
      if (close < 0) return fail(template.slice(i));
      if (nextOpen >= 0 && nextOpen < close) return fail(template.slice(i, nextOpen));
      const inner = template.slice(i + 1, close);
      if (!PLACEHOLDER_PATH_RE.test(inner)) return fail(template.slice(i, close + 1));
      placeholders.push(
        inner.startsWith('key.') ? { path: inner.slice(4), fromKey: true } : { path: inner, fromKey: false },
      );
      i = close + 1;
    } else if (c === '}') {
      if (template[i + 1] === '}') {
        i += 2;
        continue;
      }
      return fail('}');
    } else {
      i += 1;
    }
  }
  return { ok: true, placeholders };
}

/** True for a field path such as "id" or "address.city". */
export function isFieldPath(path: string): boolean {
  return FIELD_PATH_RE.test(path);
}

// ---------------------------------------------------------------------------------------------
// Validation helpers

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null || proto.constructor?.name === 'Object';
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') {
    const shown = value.length > 60 ? `${value.slice(0, 57)}...` : value;
    return JSON.stringify(shown);
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object') return 'an object';
  return typeof value;
}

function levenshtein(a: string, b: string): number {
  const dp = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) dp[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1].toLowerCase() === b[j - 1].toLowerCase() ? 0 : 1;
      dp[i][j] = Math.min(dp[i - 1][j] + 1, dp[i][j - 1] + 1, dp[i - 1][j - 1] + cost);
    }
  }
  return dp[a.length][b.length];
}

function suggestion(name: string, known: readonly string[]): string {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = levenshtein(name, k);
    if (d < bestDistance) {
      bestDistance = d;
      best = k;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(name.length / 3))
    ? ` (did you mean "${best}"?)`
    : '';
}

const TOPIC_NAME_RE = /^[A-Za-z0-9._-]{1,249}$/;

class Checker {
  readonly issues: ConfigIssue[] = [];

  fail(path: string, what: string): void {
    this.issues.push({ path, message: path ? `${path}: ${what}` : what });
  }

  /** Rejects keys that are not in `known`. Returns false when value is not an object. */
  object(path: string, value: unknown, known: readonly string[]): value is Record<string, unknown> {
    if (!isPlainObject(value)) {
      this.fail(path, `expected an object, got ${describe(value)}`);
      return false;
    }
    for (const key of Object.keys(value)) {
      if (!known.includes(key)) {
        const full = path ? `${path}.${key}` : key;
        this.issues.push({ path: full, message: `unknown option "${full}"${suggestion(key, known)}` });
      }
    }
    return true;
  }

  nonEmptyString(path: string, value: unknown): value is string {
    if (typeof value !== 'string' || value.trim().length === 0) {
      this.fail(path, `expected a non-empty string, got ${describe(value)}`);
      return false;
    }
    return true;
  }

  string(path: string, value: unknown): value is string {
    if (typeof value !== 'string') {
      this.fail(path, `expected a string, got ${describe(value)}`);
      return false;
    }
    return true;
  }

  /** An integer option bounded by the shared limits table. */
  limited(path: LimitedOption, value: unknown): value is number {
    return this.integer(path, value, OPTION_LIMITS[path].min, OPTION_LIMITS[path].max);
  }

  integer(path: string, value: unknown, min: number, max: number): value is number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      this.fail(path, `expected an integer from ${min} to ${max}, got ${describe(value)}`);
      return false;
    }
    return true;
  }

  array(path: string, value: unknown, minLength = 0): value is unknown[] {
    if (!Array.isArray(value)) {
      this.fail(path, `expected an array, got ${describe(value)}`);
      return false;
    }
    if (value.length < minLength) {
      this.fail(path, `expected at least ${minLength} entr${minLength === 1 ? 'y' : 'ies'}, got an empty array`);
      return false;
    }
    return true;
  }

  template(path: string, value: unknown): value is string {
    if (!this.nonEmptyString(path, value)) return false;
    const check = checkTemplate(value);
    if (!check.ok) {
      this.fail(path, check.message);
      return false;
    }
    return true;
  }
}

// ---------------------------------------------------------------------------------------------
// Sections

const TOP_LEVEL_KEYS = [
  'kafka',
  'redis',
  'rules',
  'keyPrefix',
  'deleteCommand',
  'deadLetterTopic',
  'topicSources',
  'batch',
  'commitIntervalMs',
  'handlers',
  'invalidateTimeoutMs',
  'logger',
  'read',
] as const;

function checkBrokers(c: Checker, value: unknown): string | undefined {
  const path = 'kafka.brokers';
  let entries: unknown[];
  if (typeof value === 'string') entries = value.split(',').map((s) => s.trim());
  else if (Array.isArray(value)) entries = value;
  else {
    c.fail(path, `expected "host:port[,host:port...]" or an array of "host:port", got ${describe(value)}`);
    return undefined;
  }
  if (entries.length === 0 || (entries.length === 1 && entries[0] === '')) {
    c.fail(path, 'expected at least one broker "host:port"');
    return undefined;
  }
  let ok = true;
  entries.forEach((entry, i) => {
    const at = Array.isArray(value) ? `${path}[${i}]` : path;
    if (typeof entry !== 'string' || !/^([A-Za-z_]+:\/\/)?[^\s,/]+$/.test(entry.trim())) {
      c.fail(at, `expected a broker address "host:port", got ${describe(entry)}`);
      ok = false;
    }
  });
  return ok ? (entries as string[]).map((e) => e.trim()).join(',') : undefined;
}

function checkTopics(c: Checker, value: unknown): string[] | undefined {
  if (!c.array('kafka.topics', value, 1)) return undefined;
  const seen = new Set<string>();
  let ok = true;
  value.forEach((t, i) => {
    if (typeof t !== 'string' || !TOPIC_NAME_RE.test(t)) {
      c.fail(`kafka.topics[${i}]`, `expected a Kafka topic name (letters, digits, ".", "_", "-"), got ${describe(t)}`);
      ok = false;
    } else if (seen.has(t)) {
      c.fail(`kafka.topics[${i}]`, `duplicate topic ${JSON.stringify(t)}`);
      ok = false;
    } else seen.add(t);
  });
  return ok ? [...(value as string[])] : undefined;
}

function checkTopicPattern(c: Checker, raw: unknown): string | undefined {
  let source: string | undefined;
  if (raw instanceof RegExp) {
    if (raw.flags.replace(/[gsu]/g, '') !== '') {
      c.fail('kafka.topicPattern', `regular expression flags are not supported (got /${raw.flags}/)`);
    } else source = raw.source;
  } else if (c.nonEmptyString('kafka.topicPattern', raw)) source = raw;
  if (source === undefined) return undefined;
  // librdkafka subscribes by regex only to patterns starting with "^"; the pattern is anchored.
  const anchored = source.startsWith('^') ? source : `^${source}`;
  try {
    new RegExp(anchored);
    return anchored;
  } catch (e) {
    c.fail('kafka.topicPattern', `invalid regular expression: ${(e as Error).message}`);
    return undefined;
  }
}

function checkKafkaConfig(c: Checker, raw: unknown): Record<string, KafkaConfigValue> {
  const config: Record<string, KafkaConfigValue> = {};
  if (raw === undefined) return config;
  if (!isPlainObject(raw)) {
    c.fail('kafka.config', `expected an object of librdkafka properties, got ${describe(raw)}`);
    return config;
  }
  for (const [key, v] of Object.entries(raw)) {
    const at = `kafka.config[${JSON.stringify(key)}]`;
    if (RESERVED_KAFKA_CONFIG[key]) {
      c.fail(at, `not allowed: ${RESERVED_KAFKA_CONFIG[key]}`);
    } else if (typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) {
      config[key] = v;
    } else {
      // Never echo the value: it may be a secret.
      c.fail(at, `expected a string, number or boolean, got ${v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v}`);
    }
  }
  return config;
}

function checkKafka(c: Checker, value: unknown): ResolvedCdcCacheOptions['kafka'] | undefined {
  if (!c.object('kafka', value, ['brokers', 'groupId', 'topics', 'topicPattern', 'config', 'prefetchBytes'])) return undefined;
  const brokers = checkBrokers(c, value.brokers);
  const groupIdOk = c.nonEmptyString('kafka.groupId', value.groupId);

  const hasTopics = value.topics !== undefined;
  const hasPattern = value.topicPattern !== undefined;
  // Neither: only onMessage topics, checked at start() once handlers are registered.
  if (hasTopics && hasPattern) c.fail('kafka', 'expected exactly one of topics or topicPattern, got both');
  const topics = hasTopics ? checkTopics(c, value.topics) : undefined;
  const topicPattern = hasPattern ? checkTopicPattern(c, value.topicPattern) : undefined;
  const config = checkKafkaConfig(c, value.config);
  const prefetchBytes = value.prefetchBytes ?? DEFAULTS.kafka.prefetchBytes;
  const prefetchOk = c.limited('kafka.prefetchBytes', prefetchBytes);
  if (brokers === undefined || !groupIdOk || !prefetchOk) return undefined;
  return {
    brokers,
    groupId: value.groupId as string,
    ...(topics ? { topics } : {}),
    ...(topicPattern ? { topicPattern } : {}),
    config,
    prefetchBytes: prefetchBytes as number,
  };
}

// topicSources: {"<topic>": "<schema>.<table>"}; each topic one the engine reads.
function checkTopicSources(c: Checker, raw: unknown, kafka: ResolvedCdcCacheOptions['kafka'] | undefined): Record<string, string> | undefined {
  if (raw === undefined) return undefined;
  if (!isPlainObject(raw)) {
    c.fail('topicSources', `expected an object of topic -> source ("public.orders"), got ${describe(raw)}`);
    return undefined;
  }
  const out: Record<string, string> = {};
  for (const [topic, source] of Object.entries(raw)) {
    const at = `topicSources[${JSON.stringify(topic)}]`;
    if (!TOPIC_NAME_RE.test(topic)) c.fail(at, 'expected a Kafka topic name (letters, digits, ".", "_", "-")');
    else if (kafka?.topics && !kafka.topics.includes(topic)) c.fail(at, 'not one of kafka.topics');
    else if (kafka?.topicPattern && !new RegExp(kafka.topicPattern).test(topic)) c.fail(at, 'not matched by kafka.topicPattern');
    else if (typeof source !== 'string' || source.length === 0 || /[\s*?]/.test(source)) {
      c.fail(at, `expected a source name such as "public.orders", got ${describe(source)}`);
    } else out[topic] = source;
  }
  return out;
}

function checkRedis(c: Checker, value: unknown): ResolvedCdcCacheOptions['redis'] | undefined {
  if (!c.object('redis', value, ['url', 'tls', 'connectTimeoutMs', 'commandTimeoutMs', 'waitReplicas', 'waitTimeoutMs', 'cluster'])) return undefined;
  const shape = 'redis://[user[:password]@]host[:port][/db] or rediss://...';
  const cluster = value.cluster === undefined ? undefined : checkRedisCluster(c, value.cluster);
  let urlOk = false;
  if (value.cluster !== undefined && value.url === undefined) {
    urlOk = true;  // a cluster needs no URL: it only carries the credentials
  } else if (typeof value.url !== 'string' || value.url.length === 0) {
    c.fail('redis.url', `expected a URL ${shape}, got ${value.url === undefined ? 'undefined' : typeof value.url === 'string' ? 'an empty string' : typeof value.url}`);
  } else {
    // Never echo the URL: it may hold a password.
    let parsed: URL | undefined;
    try {
      parsed = new URL(value.url);
    } catch {
      c.fail('redis.url', `expected a URL ${shape}, got a string that is not a URL`);
    }
    if (parsed) {
      if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
        c.fail('redis.url', `expected the scheme redis:// or rediss://, got ${JSON.stringify(parsed.protocol.slice(0, 20) + '//')}`);
      } else if (!parsed.hostname) {
        c.fail('redis.url', `expected a host (${shape})`);
      } else if (parsed.pathname !== '' && parsed.pathname !== '/' && !/^\/\d{1,5}$/.test(parsed.pathname)) {
        c.fail('redis.url', `expected an optional database number as the path (/0, /1, ...), got ${JSON.stringify(parsed.pathname.slice(0, 20))}`);
      } else if (parsed.search || parsed.hash) {
        c.fail('redis.url', 'query parameters and fragments are not supported');
      } else if (value.cluster !== undefined && !/^\/?0?$/.test(parsed.pathname)) {
        c.fail('redis.url', 'a Redis Cluster has database 0 only');
      } else urlOk = true;
    }
  }
  const connectTimeoutMs = value.connectTimeoutMs ?? DEFAULTS.redis.connectTimeoutMs;
  const commandTimeoutMs = value.commandTimeoutMs ?? DEFAULTS.redis.commandTimeoutMs;
  const a = c.limited('redis.connectTimeoutMs', connectTimeoutMs);
  const b = c.limited('redis.commandTimeoutMs', commandTimeoutMs);
  const waitReplicas = value.waitReplicas ?? DEFAULTS.redis.waitReplicas;
  const waitTimeoutMs = value.waitTimeoutMs ?? DEFAULTS.redis.waitTimeoutMs;
  const w = c.limited('redis.waitReplicas', waitReplicas);
  let t = c.limited('redis.waitTimeoutMs', waitTimeoutMs);
  if (t && w && b && (waitReplicas as number) > 0 && (waitTimeoutMs as number) >= (commandTimeoutMs as number)) {
    c.fail('redis.waitTimeoutMs', `must be below redis.commandTimeoutMs (${commandTimeoutMs})`);
    t = false;
  }
  const tls = value.tls === undefined ? undefined : checkRedisTls(value.tls, c.issues);
  if (!urlOk || !a || !b || !w || !t || (value.cluster !== undefined && !cluster) || (value.tls !== undefined && !tls)) return undefined;
  return {
    url: (value.url as string | undefined) ?? 'redis://', connectTimeoutMs, commandTimeoutMs,
    waitReplicas: waitReplicas as number, waitTimeoutMs: waitTimeoutMs as number, ...(tls ? { tls } : {}), ...(cluster ? { cluster } : {}),
  };
}

function checkRedisCluster(c: Checker, value: unknown): { nodes: string[] } | undefined {
  if (!c.object('redis.cluster', value, ['nodes'])) return undefined;
  if (!c.array('redis.cluster.nodes', value.nodes, 1)) return undefined;
  let ok = true;
  value.nodes.forEach((node, i) => {
    const path = `redis.cluster.nodes[${i}]`;
    if (!c.nonEmptyString(path, node)) ok = false;
    else if (!/^(\[[0-9A-Fa-f:.]+\]|[^\s:/@\[\]]+):\d{1,5}$/.test(node) || Number(node.slice(node.lastIndexOf(':') + 1)) < 1 ||
             Number(node.slice(node.lastIndexOf(':') + 1)) > 65535) {
      c.fail(path, `expected "host:port" (port 1-65535), got ${JSON.stringify(node.slice(0, 60))}`);
      ok = false;
    }
  });
  return ok ? { nodes: [...(value.nodes as string[])] } : undefined;
}

function checkTemplateList(c: Checker, path: string, value: unknown): string[] | undefined {
  if (!c.array(path, value)) return undefined;
  let ok = true;
  value.forEach((t, i) => {
    if (!c.template(`${path}[${i}]`, t)) ok = false;
  });
  return ok ? [...(value as string[])] : undefined;
}

/** Validates rules alone (used by the CLI); issue paths start with `path`. */
function checkRules(c: Checker, value: unknown, path = 'rules'): ResolvedCdcCacheOptions['rules'] | undefined {
  if (!c.array(path, value)) return undefined;
  const out: ResolvedCdcCacheOptions['rules'] = [];
  let ok = true;
  value.forEach((rule, i) => {
    const at = `${path}[${i}]`;
    const before = c.issues.length;
    if (!c.object(at, rule, ['source', 'invalidate', 'refresh', 'onTruncate'])) {
      ok = false;
      return;
    }
    if (typeof rule.source !== 'string' || rule.source.length === 0 || /\s/.test(rule.source)) {
      c.fail(`${at}.source`, `expected a source selector such as "public.customers", "inventory.*" or "*", got ${describe(rule.source)}`);
    }
    const invalidate = rule.invalidate === undefined ? [] : checkTemplateList(c, `${at}.invalidate`, rule.invalidate);
    const onTruncate: string[] = [];
    if (rule.onTruncate !== undefined && c.array(`${at}.onTruncate`, rule.onTruncate)) {
      rule.onTruncate.forEach((t, j) => {
        const tp = `${at}.onTruncate[${j}]`;
        if (!c.template(tp, t)) return;
        const check = checkTemplate(t as string);
        if (check.ok && check.placeholders.length > 0) {
          c.fail(tp, `placeholders are not available on truncate (a truncate carries no row), got ${describe(t)}`);
        } else onTruncate.push(t as string);
      });
    }
    let refresh: ResolvedCdcCacheOptions['rules'][number]['refresh'];
    if (rule.refresh !== undefined && c.object(`${at}.refresh`, rule.refresh, ['key', 'fields', 'ttlSeconds'])) {
      const r = rule.refresh;
      c.template(`${at}.refresh.key`, r.key);
      const fields: string[] = [];
      if (r.fields !== undefined && c.array(`${at}.refresh.fields`, r.fields)) {
        r.fields.forEach((f, j) => {
          if (typeof f !== 'string' || !isFieldPath(f)) {
            c.fail(`${at}.refresh.fields[${j}]`, `expected a field path (identifier segments joined by "."), got ${describe(f)}`);
          } else fields.push(f);
        });
      }
      const ttlSeconds = r.ttlSeconds ?? 0;
      c.integer(`${at}.refresh.ttlSeconds`, ttlSeconds, 0, 2_147_483_647);
      refresh = { key: r.key as string, fields, ttlSeconds: ttlSeconds as number };
    }
    if (rule.invalidate === undefined && rule.refresh === undefined && rule.onTruncate === undefined) {
      c.fail(at, 'expected at least one of invalidate, refresh or onTruncate');
    }
    if (c.issues.length !== before) {
      ok = false;
      return;
    }
    out.push({
      source: rule.source as string,
      invalidate: invalidate ?? [],
      ...(refresh ? { refresh } : {}),
      onTruncate,
    });
  });
  return ok ? out : undefined;
}

function checkLogger(c: Checker, value: unknown): CdcCacheLogger | undefined {
  if (typeof value !== 'object' || value === null) {
    c.fail('logger', `expected an object with debug, info, warn and error methods, got ${describe(value)}`);
    return undefined;
  }
  let ok = true;
  for (const level of ['debug', 'info', 'warn', 'error'] as const) {
    if (typeof (value as Record<string, unknown>)[level] !== 'function') {
      c.fail(`logger.${level}`, `expected a function, got ${describe((value as Record<string, unknown>)[level])}`);
      ok = false;
    }
  }
  return ok ? (value as CdcCacheLogger) : undefined;
}

function throwIssues(options: unknown, issues: ConfigIssue[]): never {
  const redact = createRedactor(options);
  throw new CdcCacheConfigError(issues.map((i) => ({ path: i.path, message: redact(i.message) })));
}

/**
 * Validates options and fills in defaults. Throws CdcCacheConfigError naming every offending
 * option path (secrets redacted). Unknown options are rejected.
 */
export function validateOptions(options: unknown): ResolvedCdcCacheOptions {
  const c = new Checker();
  if (!c.object('', options, TOP_LEVEL_KEYS)) {
    c.issues.splice(0, c.issues.length, { path: '', message: `options: expected an object, got ${describe(options)}` });
    throwIssues(options, c.issues);
  }
  const o = options as Record<string, unknown>;
  const kafka = o.kafka === undefined ? (c.fail('kafka', 'required option is missing'), undefined) : checkKafka(c, o.kafka);
  const redis = o.redis === undefined ? (c.fail('redis', 'required option is missing'), undefined) : checkRedis(c, o.redis);
  const rules = o.rules === undefined ? [] : checkRules(c, o.rules);

  const read = checkReadOptions(o.read, c.issues);
  // Keyv's own prefix, so the engine deletes what cache-manager wrote (and getOrLoad reads it).
  const keyPrefix = o.keyPrefix ?? (read.format === 'keyv' ? KEYV_KEY_PREFIX : DEFAULTS.keyPrefix);
  c.string('keyPrefix', keyPrefix);
  const deleteCommand = o.deleteCommand ?? DEFAULTS.deleteCommand;
  if (deleteCommand !== 'UNLINK' && deleteCommand !== 'DEL') {
    c.fail('deleteCommand', `expected "UNLINK" or "DEL", got ${describe(deleteCommand)}`);
  }
  if (o.deadLetterTopic !== undefined && (typeof o.deadLetterTopic !== 'string' || !TOPIC_NAME_RE.test(o.deadLetterTopic))) {
    c.fail('deadLetterTopic', `expected a Kafka topic name (letters, digits, ".", "_", "-"), got ${describe(o.deadLetterTopic)}`);
  }

  const topicSources = checkTopicSources(c, o.topicSources, kafka);

  const batch = { ...DEFAULTS.batch };
  if (o.batch !== undefined && c.object('batch', o.batch, ['maxEvents', 'maxWaitMs', 'maxInFlight'])) {
    Object.assign(batch, stripUndefined(o.batch));
  }
  c.limited('batch.maxEvents', batch.maxEvents);
  c.limited('batch.maxWaitMs', batch.maxWaitMs);
  c.limited('batch.maxInFlight', batch.maxInFlight);

  const commitIntervalMs = o.commitIntervalMs ?? DEFAULTS.commitIntervalMs;
  c.limited('commitIntervalMs', commitIntervalMs);

  const handlers = { ...DEFAULTS.handlers };
  if (o.handlers !== undefined && c.object('handlers', o.handlers, ['maxBatchSize', 'maxInFlight', 'attempts', 'retryDelayMs'])) {
    Object.assign(handlers, stripUndefined(o.handlers));
  }
  c.limited('handlers.maxBatchSize', handlers.maxBatchSize);
  c.limited('handlers.maxInFlight', handlers.maxInFlight);
  c.limited('handlers.attempts', handlers.attempts);
  c.limited('handlers.retryDelayMs', handlers.retryDelayMs);

  const invalidateTimeoutMs = o.invalidateTimeoutMs ?? DEFAULTS.invalidateTimeoutMs;
  c.limited('invalidateTimeoutMs', invalidateTimeoutMs);

  const logger = o.logger === undefined ? undefined : checkLogger(c, o.logger);

  if (c.issues.length > 0 || !kafka || !redis || !rules) throwIssues(options, c.issues);
  return {
    kafka,
    redis,
    rules,
    keyPrefix: keyPrefix as string,
    deleteCommand: deleteCommand as DeleteCommand,
    ...(o.deadLetterTopic !== undefined ? { deadLetterTopic: o.deadLetterTopic as string } : {}),
    ...(topicSources ? { topicSources } : {}),
    batch,
    commitIntervalMs: commitIntervalMs as number,
    handlers,
    invalidateTimeoutMs: invalidateTimeoutMs as number,
    ...(logger ? { logger } : {}),
    read,
  };
}

function stripUndefined(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) if (v !== undefined) out[k] = v;
  return out;
}

/** Validates a rules array alone (the CLI's --rules file). Throws CdcCacheConfigError. */
export function validateRules(rules: unknown, path = 'rules'): ResolvedCdcCacheOptions['rules'] {
  const c = new Checker();
  const out = checkRules(c, rules, path);
  if (c.issues.length > 0 || !out) throw new CdcCacheConfigError(c.issues);
  return out;
}

/** Validates an onChange selector (same glob syntax as rule sources). */
export function validateSelector(selector: unknown, path = 'onChange selector'): string {
  if (typeof selector !== 'string' || selector.length === 0 || /\s/.test(selector)) {
    throw new CdcCacheConfigError([
      { path, message: `${path}: expected a source selector such as "public.customers", "inventory.*" or "*", got ${describe(selector)}` },
    ]);
  }
  return selector;
}

/** The native engine's config: resolved options (without JS-only settings) plus the JS handler selectors. */
export function toNativeConfig(resolved: ResolvedCdcCacheOptions, jsHandlers: JsHandlerRegistration[] = []): NativeEngineConfig {
  return {
    kafka: resolved.kafka,
    redis: resolved.redis,
    rules: resolved.rules,
    keyPrefix: resolved.keyPrefix,
    deleteCommand: resolved.deleteCommand,
    ...(resolved.deadLetterTopic !== undefined ? { deadLetterTopic: resolved.deadLetterTopic } : {}),
    ...(resolved.topicSources ? { topicSources: resolved.topicSources } : {}),
    batch: resolved.batch,
    commitIntervalMs: resolved.commitIntervalMs,
    handlers: { maxBatchSize: resolved.handlers.maxBatchSize, maxInFlight: resolved.handlers.maxInFlight },
    jsHandlers: jsHandlers.map((h) => ({ id: h.id, source: h.source })),
  };
}
