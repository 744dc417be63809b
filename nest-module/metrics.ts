// Prometheus metrics for Nest: add CacheInvalidationMetrics to a module's providers. prom-client
// is required lazily when the provider initialises, so this file is safe to import without it.

import { Inject, Injectable, OnModuleDestroy, OnModuleInit, Optional } from '@nestjs/common';

import { createPrometheusCollector, type PrometheusCollector, type PromRegistryLike } from '../lib/metrics';
import { CacheInvalidationService } from './cache-invalidation.service';

/** Provide a prom-client Registry under this token to use it instead of the global registry. */
export const CACHE_INVALIDATION_METRICS_REGISTRY = Symbol('CACHE_INVALIDATION_METRICS_REGISTRY');

@Injectable()
export class CacheInvalidationMetrics implements OnModuleInit, OnModuleDestroy {
  private collector: PrometheusCollector | undefined;

  constructor(
    private readonly cacheInvalidation: CacheInvalidationService,
    @Optional() @Inject(CACHE_INVALIDATION_METRICS_REGISTRY) private readonly registry?: PromRegistryLike,
  ) {}

  onModuleInit(): void {
    this.collector = createPrometheusCollector(this.cacheInvalidation, this.registry ? { registry: this.registry } : {});
  }

  onModuleDestroy(): void {
    this.collector?.unregister();
    this.collector = undefined;
  }

  /** Prometheus text exposition of the registry holding these metrics. */
  metrics(): Promise<string> {
    if (!this.collector) throw new Error('cdc-cache: metrics are not registered yet (module not initialised)');
    return this.collector.registry.metrics();
  }
}
