// Options of createTable(): types, defaults and validation (errors name the option path).

import { CdcCacheConfigError, type ConfigIssue } from './errors';
import type { CdcCacheLogger, KafkaConfigValue } from './options';

export type TableKeyEncoding = 'utf8' | 'json' | 'buffer';
export type TableValueEncoding = 'json' | 'utf8' | 'buffer';

export interface TableKafkaOptions {
  /** "host:port,host:port" or a list. */
  brokers: string | string[];
  topic: string;
  /** librdkafka properties (security, fetch sizes...). group.id is ignored: a table joins no group. */
  config?: Record<string, KafkaConfigValue>;
}

export interface TableOptions {
  /** Names the table in errors, logs, health and metrics. Default: the topic. */
  name?: string;
  /** A topic of keys and values (usually compacted). Exactly one of kafka and debezium. */
  kafka?: TableKafkaOptions;
  /** A Debezium topic: key = the primary key's canonical text, value = the row's after image. */
  debezium?: TableKafkaOptions;
  keyEncoding?: TableKeyEncoding;
  valueEncoding?: TableValueEncoding;
  /** put() is refused unless false. Debezium tables are always read-only. Default true. */
  readOnly?: boolean;
  /** Bytes of keys and values held (as in the log). Beyond it the table stops loading and is unhealthy. */
  maxBytes?: number;
  /** Records applied per event-loop turn while loading (keeps the event-loop delay low). */
  applySliceRecords?: number;
  logger?: CdcCacheLogger;
}

export interface ResolvedTableOptions {
  name: string;
  mode: 'kafka' | 'debezium';
  brokers: string;
  topic: string;
  properties: [string, string][];
  keyEncoding: TableKeyEncoding;
  valueEncoding: TableValueEncoding;
  readOnly: boolean;
  maxBytes: number;
  applySliceRecords: number;
  logger?: CdcCacheLogger;
}

export const TABLE_DEFAULTS = {
  keyEncoding: 'utf8' as TableKeyEncoding,
  valueEncoding: 'json' as TableValueEncoding,
  maxBytes: 512 * 1024 * 1024,
  applySliceRecords: 1000,
};

const KEY_ENCODINGS: TableKeyEncoding[] = ['utf8', 'json', 'buffer'];
const VALUE_ENCODINGS: TableValueEncoding[] = ['json', 'utf8', 'buffer'];
const KNOWN = ['name', 'kafka', 'debezium', 'keyEncoding', 'valueEncoding', 'readOnly', 'maxBytes', 'applySliceRecords', 'logger'];

function kafkaSource(value: unknown, path: string, issues: ConfigIssue[]): { brokers: string; topic: string; properties: [string, string][] } {
  const issue = (where: string, what: string) => issues.push({ path: where, message: `${where}: ${what}` });
  const out = { brokers: '', topic: '', properties: [] as [string, string][] };
  if (typeof value !== 'object' || value === null) {
    issue(path, 'expected an object');
    return out;
  }
  const source = value as Record<string, unknown>;
  for (const key of Object.keys(source)) if (!['brokers', 'topic', 'config'].includes(key)) issue(`${path}.${key}`, 'unknown field');
  const brokers = Array.isArray(source.brokers) ? source.brokers.join(',') : source.brokers;
  if (typeof brokers !== 'string' || brokers.trim() === '') issue(`${path}.brokers`, 'expected a non-empty string or list');
  else out.brokers = brokers;
  if (typeof source.topic !== 'string' || source.topic === '') issue(`${path}.topic`, 'expected a non-empty string');
  else out.topic = source.topic;
  if (source.config !== undefined) {
    if (typeof source.config !== 'object' || source.config === null) issue(`${path}.config`, 'expected an object');
    else {
      for (const [key, v] of Object.entries(source.config as Record<string, unknown>)) {
        if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') issue(`${path}.config.${key}`, 'expected a string, number or boolean');
        else if (key !== 'group.id') out.properties.push([key, String(v)]);
      }
    }
  }
  return out;
}

function oneOf<T extends string>(value: unknown, allowed: T[], fallback: T, path: string, issues: ConfigIssue[]): T {
  if (value === undefined) return fallback;
  if (typeof value === 'string' && (allowed as string[]).includes(value)) return value as T;
  issues.push({ path, message: `${path}: expected one of ${allowed.join(', ')}` });
  return fallback;
}

function positiveInteger(value: unknown, fallback: number, path: string, issues: ConfigIssue[]): number {
  if (value === undefined) return fallback;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return value;
  issues.push({ path, message: `${path}: expected a positive integer` });
  return fallback;
}

/** Validates and fills in defaults. Throws CdcCacheConfigError naming every offending path. */
export function resolveTableOptions(options: TableOptions): ResolvedTableOptions {
  const issues: ConfigIssue[] = [];
  if (typeof options !== 'object' || options === null) throw new CdcCacheConfigError([{ path: '', message: 'options: expected an object' }]);
  for (const key of Object.keys(options)) if (!KNOWN.includes(key)) issues.push({ path: key, message: `${key}: unknown field` });
  const debezium = options.debezium !== undefined;
  if (debezium === (options.kafka !== undefined)) issues.push({ path: 'kafka', message: 'kafka: give exactly one of kafka and debezium' });
  const mode = debezium ? 'debezium' : 'kafka';
  const source = kafkaSource(debezium ? options.debezium : options.kafka, mode, issues);
  let keyEncoding = oneOf(options.keyEncoding, KEY_ENCODINGS, TABLE_DEFAULTS.keyEncoding, 'keyEncoding', issues);
  let valueEncoding = oneOf(options.valueEncoding, VALUE_ENCODINGS, TABLE_DEFAULTS.valueEncoding, 'valueEncoding', issues);
  if (options.readOnly !== undefined && typeof options.readOnly !== 'boolean') issues.push({ path: 'readOnly', message: 'readOnly: expected a boolean' });
  let readOnly = options.readOnly !== false;
  if (debezium) {
    if (options.readOnly === false) issues.push({ path: 'readOnly', message: 'readOnly: a Debezium table is read-only (the database owns its rows)' });
    if (options.keyEncoding !== undefined && options.keyEncoding !== 'utf8') issues.push({ path: 'keyEncoding', message: 'keyEncoding: a Debezium table is keyed by the primary key text (utf8)' });
    if (options.valueEncoding !== undefined && options.valueEncoding !== 'json') issues.push({ path: 'valueEncoding', message: 'valueEncoding: a Debezium table holds row images (json)' });
    keyEncoding = 'utf8';
    valueEncoding = 'json';
    readOnly = true;
  }
  const maxBytes = positiveInteger(options.maxBytes, TABLE_DEFAULTS.maxBytes, 'maxBytes', issues);
  const applySliceRecords = positiveInteger(options.applySliceRecords, TABLE_DEFAULTS.applySliceRecords, 'applySliceRecords', issues);
  if (options.name !== undefined && (typeof options.name !== 'string' || options.name === '')) issues.push({ path: 'name', message: 'name: expected a non-empty string' });
  if (issues.length > 0) throw new CdcCacheConfigError(issues);
  return {
    name: options.name ?? source.topic,
    mode,
    brokers: source.brokers,
    topic: source.topic,
    properties: source.properties,
    keyEncoding,
    valueEncoding,
    readOnly,
    maxBytes,
    applySliceRecords,
    logger: options.logger,
  };
}
