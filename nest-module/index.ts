// cdc-cache/nest: the NestJS module. Loads neither @nestjs/terminus (see 'cdc-cache/nest/health')
// nor prom-client (required lazily by CacheInvalidationMetrics).

export { CacheInvalidationModule } from './cache-invalidation.module';
export { CacheInvalidationService } from './cache-invalidation.service';
export type { RegisteredChangeHandler } from './cache-invalidation.service';
export {
  CACHE_INVALIDATION_OPTIONS,
  ConfigurableModuleClass as CacheInvalidationConfigurableModule,
} from './cache-invalidation.module-definition';
export type {
  CacheInvalidationModuleOptions,
  CacheInvalidationModuleAsyncOptions,
} from './cache-invalidation.module-definition';
export { OnChange, ON_CHANGE_METADATA } from './on-change.decorator';
export { OnMessage, ON_MESSAGE_METADATA } from './on-message.decorator';
export { Cached, CACHED_METADATA } from './cached.decorator';
export type { CachedOptions } from './cached.decorator';
export { CacheInvalidationMetrics, CACHE_INVALIDATION_METRICS_REGISTRY } from './metrics';
export { TableModule, TableRegistry, InjectTable, tableToken } from './table.module';
export type { TableFeature, TableFeatureAsync } from './table.module';
export { TableMetrics } from './table-metrics';
export type { Table, TableOptions, TableStats, TablePosition } from '../lib/table';
export type {
  CdcCacheOptions,
  CdcCacheLogger,
  CdcCacheRule,
  ChangeEvent,
  CdcCacheStats,
  ChangeHandler,
  GetOrLoadOptions,
  ReadOptions,
  Codec,
  Message,
  MessageContext,
  MessageTopicStats,
  OnMessageOptions,
  IdempotencyOptions,
  PublishMessage,
  PublishResult,
} from '../lib/index';
export { CdcCacheConfigError } from '../lib/errors';
