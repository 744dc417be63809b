// redis.tls: types and validation. The certificates are read and parsed here (with Node's crypto),
// so a missing file or a bad PEM fails createInvalidator naming the field; the native layer loads
// them again into OpenSSL when the engine or the read path starts.

import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ConfigIssue } from './errors';

export interface RedisTlsOptions {
  /** The CA certificate(s) to trust: PEM text or a file path. Default: the system's trust store. */
  ca?: string;
  /** Client certificate (mutual TLS), PEM text or a file path; with `key`. */
  cert?: string;
  /** The client certificate's unencrypted private key, PEM text or a file path; with `cert`. */
  key?: string;
  /** SNI and the name the server's certificate must be valid for. Default: the URL's host. */
  servername?: string;
  /** false: no certificate or host name check at all (tests only). Default true. */
  rejectUnauthorized?: boolean;
}

export interface ResolvedRedisTlsOptions {
  ca?: string;
  cert?: string;
  key?: string;
  servername?: string;
  rejectUnauthorized: boolean;
}

const TLS_KEYS = ['ca', 'cert', 'key', 'servername', 'rejectUnauthorized'] as const;

/** PEM text is recognised by its header; anything else is a file path (the native layer agrees). */
function isPemText(value: string): boolean {
  return value.includes('-----BEGIN');
}

// The PEM text of a field, or an issue. A key's path is never echoed (it could be a pasted key).
function readPem(issues: ConfigIssue[], path: string, value: string, secret: boolean): string | undefined {
  if (isPemText(value)) return value;
  const file = secret ? 'the file given' : `the file ${JSON.stringify(value)}`;
  let text: string;
  try {
    text = readFileSync(value, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
    issues.push({ path, message: `${path}: cannot read ${file} (${code})` });
    return undefined;
  }
  if (!isPemText(text)) {
    issues.push({ path, message: `${path}: ${file} holds no PEM text (-----BEGIN ...)` });
    return undefined;
  }
  return text;
}

function parses(parse: () => unknown): boolean {
  try {
    parse();
    return true;
  } catch {
    return false;
  }
}

// The field's PEM text when it is given and parses; undefined otherwise (an issue when given).
function checkPemField(issues: ConfigIssue[], value: Record<string, unknown>, name: 'ca' | 'cert' | 'key'): string | undefined {
  const path = `redis.tls.${name}`;
  const given = value[name];
  if (given === undefined) return undefined;
  if (typeof given !== 'string' || given.trim().length === 0) {
    issues.push({ path, message: `${path}: expected PEM text or a file path (a non-empty string)` });
    return undefined;
  }
  const pem = readPem(issues, path, given, name === 'key');
  if (pem === undefined) return undefined;
  const ok =
    name === 'key'
      ? parses(() => createPrivateKey({ key: pem, format: 'pem' }))
      : parses(() => new X509Certificate(pem));
  if (!ok) {
    const what = name === 'key' ? 'an unencrypted PEM private key (encrypted keys are not supported)' : 'a PEM certificate';
    issues.push({ path, message: `${path}: not ${what}` });
  }
  return ok ? pem : undefined;
}

/** Validates redis.tls (undefined: none). Issues are pushed; undefined is returned when there are any. */
export function checkRedisTls(value: unknown, issues: ConfigIssue[]): ResolvedRedisTlsOptions | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    issues.push({ path: 'redis.tls', message: 'redis.tls: expected an object { ca, cert, key, servername, rejectUnauthorized }' });
    return undefined;
  }
  const v = value as Record<string, unknown>;
  const before = issues.length;
  for (const key of Object.keys(v)) {
    if (!(TLS_KEYS as readonly string[]).includes(key)) {
      issues.push({ path: `redis.tls.${key}`, message: `unknown option "redis.tls.${key}" (known: ${TLS_KEYS.join(', ')})` });
    }
  }
  checkPemField(issues, v, 'ca');
  const cert = checkPemField(issues, v, 'cert');
  const key = checkPemField(issues, v, 'key');
  if (cert !== undefined && key !== undefined && !new X509Certificate(cert).checkPrivateKey(createPrivateKey(key))) {
    issues.push({ path: 'redis.tls.key', message: 'redis.tls.key: does not match the certificate in redis.tls.cert' });
  }
  if ((v.cert === undefined) !== (v.key === undefined)) {
    const [given, missing] = v.cert === undefined ? ['key', 'cert'] : ['cert', 'key'];
    issues.push({ path: `redis.tls.${given}`, message: `redis.tls.${given}: given without redis.tls.${missing}` });
  }
  if (v.servername !== undefined && (typeof v.servername !== 'string' || v.servername.length === 0)) {
    issues.push({ path: 'redis.tls.servername', message: 'redis.tls.servername: expected a non-empty string' });
  }
  if (v.rejectUnauthorized !== undefined && typeof v.rejectUnauthorized !== 'boolean') {
    issues.push({ path: 'redis.tls.rejectUnauthorized', message: 'redis.tls.rejectUnauthorized: expected a boolean' });
  }
  if (issues.length > before) return undefined;
  const resolved: ResolvedRedisTlsOptions = { rejectUnauthorized: v.rejectUnauthorized !== false };
  for (const name of ['ca', 'cert', 'key', 'servername'] as const) {
    if (typeof v[name] === 'string') resolved[name] = v[name] as string;
  }
  return resolved;
}
