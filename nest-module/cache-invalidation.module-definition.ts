// Dynamic-module plumbing: CacheInvalidationModule.forRoot(options) and
// forRootAsync({ imports, inject, useFactory | useClass | useExisting }), with an isGlobal extra.

import { ConfigurableModuleBuilder } from '@nestjs/common';

import type { CdcCacheOptions } from '../lib/options';

export const {
  ConfigurableModuleClass,
  MODULE_OPTIONS_TOKEN: CACHE_INVALIDATION_OPTIONS,
  OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<CdcCacheOptions>({ moduleName: 'CacheInvalidation' })
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createCacheInvalidationOptions')
  .setExtras({ isGlobal: false }, (definition, extras) => ({ ...definition, global: extras.isGlobal }))
  .build();

/** forRoot(options): CdcCacheOptions plus { isGlobal?: boolean }. */
export type CacheInvalidationModuleOptions = typeof OPTIONS_TYPE;
/** forRootAsync({ imports, inject, useFactory, isGlobal }). */
export type CacheInvalidationModuleAsyncOptions = typeof ASYNC_OPTIONS_TYPE;
