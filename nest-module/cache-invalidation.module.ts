// CacheInvalidationModule.forRoot(options) / forRootAsync({ imports, inject, useFactory }).
// Deliberately imports neither @nestjs/terminus nor prom-client (see ./health and ./metrics).

import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';

import { ConfigurableModuleClass } from './cache-invalidation.module-definition';
import { CacheInvalidationService } from './cache-invalidation.service';

@Module({
  imports: [DiscoveryModule],
  providers: [CacheInvalidationService],
  exports: [CacheInvalidationService],
})
export class CacheInvalidationModule extends ConfigurableModuleClass {}
