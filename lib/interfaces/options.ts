// The public option types (what users pass, what validation resolves them to) and the native
// config document. Validation and defaults live in lib/options.ts.

import type { ReadOptions, ResolvedReadOptions } from '../read-options';
import type { RedisTlsOptions, ResolvedRedisTlsOptions } from '../redis-tls-options';

export type { RedisTlsOptions, ResolvedRedisTlsOptions } from '../redis-tls-options';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Where log lines go. Messages are already redacted. */
export interface CdcCacheLogger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export type KafkaConfigValue = string | number | boolean;

export interface KafkaOptions {
  /** "host:port,host:port" or a list of "host:port". */
  brokers: string | string[];
  groupId: string;
  /** Exactly one of topics / topicPattern. */
  topics?: string[];
  /** A subscription regex, anchored at the start ("^" is added when missing), e.g. "^dbserver1\\.public\\..*". */
  topicPattern?: string | RegExp;
  /** Any librdkafka consumer property (security.protocol, sasl.*, ssl.*, ...). */
  config?: Record<string, KafkaConfigValue>;
  /**
   * Bytes of fetched messages held ahead of processing: fetching pauses when they are reached and
   * resumes at half. Bounds the memory a backlog takes. Default 32 MiB.
   */
  prefetchBytes?: number;
}

export interface RedisOptions {
  /**
   * redis://[user[:password]@]host[:port][/db] or rediss://... Required unless `cluster` is set;
   * with a cluster it is optional and supplies only the user and password of every node.
   */
  url?: string;
  /** Redis Cluster: slots routed by key, MOVED/ASK, resharding and failover followed (README). */
  cluster?: RedisClusterOptions;
  /** TLS settings; giving them turns TLS on even for a redis:// URL. rediss:// alone: verify against the system's CAs. */
  tls?: RedisTlsOptions;
  connectTimeoutMs?: number;
  commandTimeoutMs?: number;
  /** WAIT for this many replicas after every batch before it counts as acknowledged (0: off). */
  waitReplicas?: number;
  /** How long each WAIT may take; below commandTimeoutMs. */
  waitTimeoutMs?: number;
}

export interface RedisClusterOptions {
  /** Seed nodes, "host:port": the slot map is read from the first that answers. */
  nodes: string[];
}

export interface RefreshOptions {
  /** Key template written with the after image, e.g. "customer:{id}". */
  key: string;
  /** Fields of the after image to store; all fields when omitted. */
  fields?: string[];
  /** Expiry of the refreshed key; 0 or omitted: no expiry. */
  ttlSeconds?: number;
}

export interface CdcCacheRule {
  /** Source selector: "public.customers", "inventory.*", "*". */
  source: string;
  /** Key templates deleted for every change, evaluated over the before AND the after image. */
  invalidate?: string[];
  refresh?: RefreshOptions;
  /** Literal keys deleted when the source table is truncated. */
  onTruncate?: string[];
}

export interface BatchOptions {
  /** Most events applied in one Redis pipeline. Default 1000. */
  maxEvents?: number;
  /**
   * Longest wait for a batch to fill. Default 0: a batch takes what has arrived and goes (under
   * load batches fill anyway, while earlier pipelines are in flight).
   */
  maxWaitMs?: number;
  /** Redis pipelines in flight. Default 4. */
  maxInFlight?: number;
}

export interface HandlerOptions {
  /** Most events in one onChange handler call. Default 500. */
  maxBatchSize?: number;
  /** Handler batches in flight; fetching pauses when full. Default 2. */
  maxInFlight?: number;
  /** Calls per batch before it is dead-lettered. Default 3. */
  attempts?: number;
  /** Pause between attempts. Default 200 ms. */
  retryDelayMs?: number;
}

export type DeleteCommand = 'UNLINK' | 'DEL';

export interface CdcCacheOptions {
  kafka: KafkaOptions;
  redis: RedisOptions;
  rules?: CdcCacheRule[];
  /** Prepended to every key written or deleted. Default "". */
  keyPrefix?: string;
  /** Default "UNLINK". */
  deleteCommand?: DeleteCommand;
  /** Undecodable/unapplicable messages are produced here (with error headers) when set. */
  deadLetterTopic?: string;
  /**
   * Topic -> source ("public.orders") for records that carry no source: tombstone-only deletes and
   * flattened rows, on topics not named `<prefix>.<schema>.<table>` (renamed by a routing transform).
   */
  topicSources?: Record<string, string>;
  batch?: BatchOptions;
  /** Offset commit interval. Default 1000 ms. */
  commitIntervalMs?: number;
  /** invalidate() rejects after this long without Redis acknowledging (e.g. an outage). Default 30000 ms. */
  invalidateTimeoutMs?: number;
  handlers?: HandlerOptions;
  /** Default: console, prefixed "[cdc-cache]" (debug only with NODE_DEBUG=cdc-cache). */
  logger?: CdcCacheLogger;
  /** The read side, getOrLoad (leases, format, consistency probe). */
  read?: ReadOptions;
}

/** Options after validation, with every default filled in. */
export interface ResolvedCdcCacheOptions {
  kafka: {
    brokers: string;
    groupId: string;
    topics?: string[];
    topicPattern?: string;
    config: Record<string, KafkaConfigValue>;
    prefetchBytes: number;
  };
  redis: Required<Omit<RedisOptions, 'tls' | 'cluster'>> & { tls?: ResolvedRedisTlsOptions; cluster?: RedisClusterOptions };
  rules: Array<{
    source: string;
    invalidate: string[];
    refresh?: { key: string; fields: string[]; ttlSeconds: number };
    onTruncate: string[];
  }>;
  keyPrefix: string;
  deleteCommand: DeleteCommand;
  deadLetterTopic?: string;
  topicSources?: Record<string, string>;
  batch: Required<BatchOptions>;
  commitIntervalMs: number;
  invalidateTimeoutMs: number;
  handlers: Required<HandlerOptions>;
  logger?: CdcCacheLogger;
  read: ResolvedReadOptions;
}

export interface JsHandlerRegistration {
  id: number;
  source: string;
}

/** The JSON document given to the native Engine constructor. */
export interface NativeEngineConfig {
  kafka: ResolvedCdcCacheOptions['kafka'];
  redis: ResolvedCdcCacheOptions['redis'];
  rules: ResolvedCdcCacheOptions['rules'];
  keyPrefix: string;
  deleteCommand: DeleteCommand;
  deadLetterTopic?: string;
  topicSources?: Record<string, string>;
  batch: Required<BatchOptions>;
  commitIntervalMs: number;
  handlers: { maxBatchSize: number; maxInFlight: number };
  jsHandlers: JsHandlerRegistration[];
}
