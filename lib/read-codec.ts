// Value encodings of the read side: JSON with exact 64-bit integers, Keyv's wrapper, user codecs.

/** Turns values into the string stored in Redis and back. `encode` must not return a string starting with "\u0000". */
export interface Codec<T = unknown> {
  encode(value: T): string;
  decode(text: string): T;
}

/**
 * JSON values as getOrLoad's default codec stores and returns them: integers beyond
 * Number.MAX_SAFE_INTEGER are read back as `bigint` (and a `bigint` is written as a bare integer).
 */
export type JsonValue = null | boolean | number | bigint | string | JsonValue[] | { [key: string]: JsonValue };

// Stands for a big integer inside the JSON text between the two passes. A JSON string can hold it
// only through an escape, so JSON.stringify of user text never produces it unescaped... except a
// user string that is literally "\u0000bigint:<digits>", which would read back as a bigint.
const BIG = '\u0000bigint:';
const BIG_QUOTED_RE = /"\\u0000bigint:(-?\d+)"/g;
const SIXTEEN_DIGITS_RE = /\d{16}/;

function bigintReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? `${BIG}${value.toString()}` : value;
}

function bigintReviver(_key: string, value: unknown): unknown {
  return typeof value === 'string' && value.startsWith(BIG) ? BigInt(value.slice(BIG.length)) : value;
}

/** JSON.stringify that writes a bigint as a bare integer literal. */
export function encodeJson(value: unknown): string {
  try {
    const text = JSON.stringify(value);
    if (text === undefined) throw new TypeError('value is not representable as JSON');
    return text;
  } catch (error) {
    if (!(error instanceof TypeError) || !/BigInt/i.test(error.message)) throw error;
    return (JSON.stringify(value, bigintReplacer) as string).replace(BIG_QUOTED_RE, '$1');
  }
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

// Quotes integer literals that a double cannot hold, outside strings, so JSON.parse keeps them.
function quoteBigIntegers(text: string): string {
  let out = '';
  let copied = 0;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const code = text.charCodeAt(i);
    if (code === 34) {
      // a string: skip to its closing quote, past escapes
      for (i++; i < n; i++) {
        const c = text.charCodeAt(i);
        if (c === 92) i++;
        else if (c === 34) break;
      }
      i++;
      continue;
    }
    if (code !== 45 && !isDigit(code)) {
      i++;
      continue;
    }
    let end = code === 45 ? i + 1 : i;
    while (end < n && isDigit(text.charCodeAt(end))) end++;
    const next = text.charCodeAt(end);
    const integerLiteral = next !== 46 && next !== 101 && next !== 69; // not ".", "e", "E"
    if (integerLiteral && end - i >= 16 && !Number.isSafeInteger(Number(text.slice(i, end)))) {
      out += `${text.slice(copied, i)}"\\u0000bigint:${text.slice(i, end)}"`;
      copied = end;
    }
    i = end;
    while (i < n && /[0-9eE+.-]/.test(text[i])) i++;
  }
  return copied === 0 ? text : out + text.slice(copied);
}

/** JSON.parse that reads integers beyond 2^53 as bigint instead of rounding them. */
export function decodeJson(text: string): unknown {
  if (!SIXTEEN_DIGITS_RE.test(text)) return JSON.parse(text);
  const quoted = quoteBigIntegers(text);
  return quoted === text ? JSON.parse(text) : JSON.parse(quoted, bigintReviver);
}

export const jsonCodec: Codec<unknown> = { encode: encodeJson, decode: decodeJson };

/** What a stored value decoded to: `expired` for a Keyv entry whose own "expires" has passed. */
export interface Decoded {
  value: unknown;
  expired: boolean;
}

/** How one ReadPath stores values, and the lease marker that cannot be mistaken for one. */
export interface StoredFormat {
  encode(value: unknown, ttlMs: number): string;
  decode(text: string): Decoded;
  /** The comparable form of a value (the consistency probe compares these). */
  canonical(value: unknown): string;
  markerPrefix: string;
  markerSuffix: string;
}

export function jsonFormat(codec: Codec<unknown> = jsonCodec): StoredFormat {
  return {
    encode: (value) => codec.encode(value),
    decode: (text) => ({ value: codec.decode(text), expired: false }),
    canonical: (value) => codec.encode(value),
    markerPrefix: '\u0000cdc-cache-lease:',
    markerSuffix: '',
  };
}

// Keyv's serializer (@keyv/serialize) prefixes strings that start with ":" with another ":" and
// writes a Buffer as ":base64:<data>"; its reader undoes both.
function toKeyv(value: unknown): unknown {
  if (typeof value === 'string') return value.startsWith(':') ? `:${value}` : value;
  if (Buffer.isBuffer(value)) return `:base64:${value.toString('base64')}`;
  if (Array.isArray(value)) return value.map(toKeyv);
  if (value !== null && typeof value === 'object' && typeof (value as { toJSON?: unknown }).toJSON !== 'function') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = toKeyv(v);
    return out;
  }
  return value;
}

function fromKeyv(value: unknown): unknown {
  if (typeof value === 'string') {
    if (value.startsWith(':base64:')) return Buffer.from(value.slice(8), 'base64');
    return value.startsWith(':') ? value.slice(1) : value;
  }
  if (Array.isArray(value)) return value.map(fromKeyv);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = fromKeyv(v);
    return out;
  }
  return value;
}

/**
 * Keyv's layout ({"value":...,"expires":<ms since epoch>}, "expires" absent without a TTL). The
 * lease marker is a Keyv entry that expired in 1970: a Keyv reader that meets it sees a miss (and
 * deletes it, which only refuses our fill).
 */
export function keyvFormat(): StoredFormat {
  return {
    encode: (value, ttlMs) =>
      `{"value":${encodeJson(toKeyv(value))}${ttlMs > 0 ? `,"expires":${Date.now() + ttlMs}` : ''}}`,
    decode: (text) => {
      const entry = decodeJson(text) as { value?: unknown; expires?: unknown } | null;
      if (entry === null || typeof entry !== 'object') return { value: entry, expired: false };
      const expires = typeof entry.expires === 'number' ? entry.expires : undefined;
      return { value: fromKeyv(entry.value), expired: expires !== undefined && Date.now() > expires };
    },
    canonical: (value) => encodeJson(value),
    markerPrefix: '{"cdcCacheLease":"',
    markerSuffix: '","expires":1}',
  };
}
