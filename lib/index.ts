// cdc-cache: framework-agnostic API (no Nest dependency).

export { createInvalidator, consoleLogger } from './invalidator';
export type { Invalidator, InvalidatorState, ChangeHandler, OnChangeOptions } from './invalidator';
export { changeEventId } from './messages';
export type { Message, MessageContext, MessageDecode, MessageHandler, MessageTopicStats, OnMessageOptions } from './messages';
export { DEFAULT_PROCESSED_TABLE, DEFAULT_ID_KEY_PREFIX } from './idempotency';
export type { IdempotencyOptions, PgPoolLike, PgPoolClientLike } from './idempotency';
export type { ChangeEvent, ChangeEventSource, ChangeKind, ChangeOp, CdcCacheStats, LagSummary, PartitionStats } from './types';
export { emptyStats } from './types';
export {
  validateOptions,
  validateRules,
  validateSelector,
  checkTemplate,
  isFieldPath,
  toNativeConfig,
  DEFAULTS,
} from './options';
export type {
  CdcCacheOptions,
  CdcCacheLogger,
  CdcCacheRule,
  KafkaOptions,
  KafkaConfigValue,
  RedisOptions,
  RefreshOptions,
  BatchOptions,
  HandlerOptions,
  DeleteCommand,
  LogLevel,
  ResolvedCdcCacheOptions,
  NativeEngineConfig,
  JsHandlerRegistration,
  TemplateCheck,
  TemplatePlaceholder,
} from './options';
export { CdcCacheConfigError, CdcCacheNativeError } from './errors';
export type { ConfigIssue } from './errors';
export { REDACTED, redactText, redactUrl, redactOptions, isSecretConfigKey, createRedactor } from './redact';
export type { Redactor } from './redact';
export { loadNative, findPackageRoot, addonPath, isNativeBuilt, resolveNative, runtimePlatform, MISSING_ADDON_MESSAGE } from './native';
export type { NativeAddonLocation } from './native';
export type { NativeBinding, NativeEngine, NativeEngineCallbacks } from './native';
export { createPrometheusCollector } from './metrics';
export type { PrometheusCollector, PrometheusCollectorOptions, PromRegistryLike, StatsSource } from './metrics';
export { runCli } from './cli';
export { CdcCacheReadError } from './read-path';
export type { GetOrLoadOptions, ReadStats, ConsistencyStats } from './read-path';
export { encodeJson, decodeJson, jsonCodec } from './read-codec';
export type { Codec, JsonValue } from './read-codec';
export { READ_DEFAULTS, KEYV_KEY_PREFIX } from './read-options';
export type { ReadOptions, ReadFormat, ConsistencyOptions, ResolvedReadOptions } from './read-options';
export { MessageProducer, MESSAGE_ID_HEADER, DEFAULT_MAX_QUEUED } from './producer';
export type { PublishMessage, PublishResult, PublishValue } from './producer';
export { createTable, Table, TableNotReadyError, resolveTableOptions, TABLE_DEFAULTS } from './table';
export type {
  TableOptions,
  TableKafkaOptions,
  TableKeyEncoding,
  TableValueEncoding,
  TablePosition,
  TableStats,
  TablePartitionStats,
  TableChangeListener,
} from './table';
export { createTablePrometheusCollector } from './table-metrics';
export type { TablePrometheusCollector, TableStatsSource } from './table-metrics';
