// Secret redaction. Every string that leaves this package (errors, log lines, stats) goes through
// a redactor, so a password in kafka.config or in the Redis URL never reaches a log aggregator.

export const REDACTED = '[redacted]';

// librdkafka properties whose values are credentials or private keys. Matched by name so that new
// properties of the same kind (e.g. another *.password) are covered without a list update.
const SECRET_KEY_PATTERN =
  /(password|passwd|secret|token|credential|private|jaas|sasl\.oauthbearer\.config|\.key\.pem$|^ssl\.key\.pem$|^ssl_key$)/i;

/** True when a kafka.config property name holds a secret (sasl.password, ssl.key.password, ...). */
export function isSecretConfigKey(key: string): boolean {
  return SECRET_KEY_PATTERN.test(key);
}

// scheme://user:password@host  ->  scheme://user:[redacted]@host (any scheme, in free text).
const URL_USERINFO_PATTERN = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/:@]*):([^\s/@]*)@/gi;
// "password=xyz", "sasl.password: xyz", 'password="xyz"' in free text (e.g. a JAAS line).
const KEY_VALUE_PATTERN =
  /\b((?:[\w.-]*(?:password|passwd|secret|token))\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s,;"'}]+)/gi;

/** Redacts the password of a URL, keeping everything else readable. Works on invalid URLs too. */
export function redactUrl(url: string): string {
  return url.replace(URL_USERINFO_PATTERN, (_m, scheme: string, user: string) => `${scheme}${user}:${REDACTED}@`);
}

/**
 * Redacts known secret values (exact occurrences) and secret-looking patterns from free text.
 * Known secrets shorter than 3 characters are only removed through the patterns, because replacing
 * every occurrence of a one-letter "secret" would make every message unreadable.
 */
export function redactText(text: string, secrets: readonly string[] = []): string {
  let out = String(text);
  const sorted = [...new Set(secrets)].filter((s) => s.length >= 3).sort((a, b) => b.length - a.length);
  for (const secret of sorted) out = out.split(secret).join(REDACTED);
  out = out.replace(URL_USERINFO_PATTERN, (_m, scheme: string, user: string) => `${scheme}${user}:${REDACTED}@`);
  out = out.replace(KEY_VALUE_PATTERN, (_m, prefix: string) => `${prefix}${REDACTED}`);
  return out;
}

function urlPassword(url: unknown): string[] {
  if (typeof url !== 'string') return [];
  const found: string[] = [];
  try {
    const parsed = new URL(url);
    if (parsed.password) {
      found.push(parsed.password);
      try {
        found.push(decodeURIComponent(parsed.password));
      } catch {
        // keep the encoded form only
      }
    }
  } catch {
    // Not a URL: fall back to the raw userinfo text.
    const m = /^[a-z][a-z0-9+.-]*:\/\/[^\s/:@]*:([^\s/@]*)@/i.exec(url);
    if (m && m[1]) found.push(m[1]);
  }
  return found;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Collects the secret values of (possibly unvalidated) options: kafka.config secrets and the Redis password. */
export function collectSecrets(options: unknown): string[] {
  const secrets: string[] = [];
  if (!isPlainObject(options)) return secrets;
  const kafka = options.kafka;
  if (isPlainObject(kafka) && isPlainObject(kafka.config)) {
    for (const [key, value] of Object.entries(kafka.config)) {
      if (isSecretConfigKey(key) && (typeof value === 'string' || typeof value === 'number')) {
        secrets.push(String(value));
      }
    }
  }
  const redis = options.redis;
  if (isPlainObject(redis)) secrets.push(...urlPassword(redis.url));
  // A client key given as PEM text (a path is not secret).
  if (isPlainObject(redis) && isPlainObject(redis.tls) && typeof redis.tls.key === 'string' && redis.tls.key.includes('-----BEGIN')) {
    secrets.push(redis.tls.key);
  }
  return secrets;
}

export type Redactor = (text: string) => string;

/** A redactor bound to the secrets of one options object. */
export function createRedactor(options: unknown): Redactor {
  const secrets = collectSecrets(options);
  return (text: string) => redactText(text, secrets);
}

/**
 * A deep copy of options with secrets replaced: kafka.config secret properties, the Redis URL
 * password, and any string that contains a known secret. The logger and functions are dropped.
 */
export function redactOptions<T>(options: T): T {
  const secrets = collectSecrets(options);
  const isSecretPath = (path: readonly string[]) =>
    path.length === 3 && path[0] === 'kafka' && path[1] === 'config' && isSecretConfigKey(path[2]);
  const walk = (value: unknown, path: readonly string[]): unknown => {
    if (isSecretPath(path) && (typeof value === 'string' || typeof value === 'number')) return REDACTED;
    if (typeof value === 'string') return redactText(value, secrets);
    if (typeof value === 'function') return undefined;
    if (Array.isArray(value)) return value.map((v) => walk(v, [...path, '[]']));
    if (value instanceof RegExp) return new RegExp(redactText(value.source, secrets), value.flags);
    if (isPlainObject(value)) {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) {
        if (path.length === 0 && k === 'logger') continue; // a logger object is not configuration
        const w = walk(v, [...path, k]);
        if (w !== undefined) out[k] = w;
      }
      return out;
    }
    return value;
  };
  return walk(options, []) as T;
}

/** Deep-redacts every string inside a JSON-like value (used on stats snapshots). */
export function redactDeep<T>(value: T, redact: Redactor): T {
  if (typeof value === 'string') return redact(value) as unknown as T;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, redact)) as unknown as T;
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = redactDeep(v, redact);
    return out as T;
  }
  return value;
}
