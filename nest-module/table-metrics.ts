// Prometheus metrics of the application's tables: add TableMetrics to a module's providers
// (prom-client is required when it initialises).

import { Inject, Injectable, OnModuleDestroy, OnModuleInit, Optional } from '@nestjs/common';

import type { PromRegistryLike } from '../lib/metrics';
import { createTablePrometheusCollector, type TablePrometheusCollector } from '../lib/table-metrics';
import { CACHE_INVALIDATION_METRICS_REGISTRY } from './metrics';
import { TableRegistry } from './table.module';

@Injectable()
export class TableMetrics implements OnModuleInit, OnModuleDestroy {
  private collector: TablePrometheusCollector | undefined;

  constructor(
    private readonly registry: TableRegistry,
    @Optional() @Inject(CACHE_INVALIDATION_METRICS_REGISTRY) private readonly promRegistry?: PromRegistryLike,
  ) {}

  onModuleInit(): void {
    this.collector = createTablePrometheusCollector(this.registry, this.promRegistry ? { registry: this.promRegistry } : {});
  }

  onModuleDestroy(): void {
    this.collector?.unregister();
    this.collector = undefined;
  }

  metrics(): Promise<string> {
    if (!this.collector) throw new Error('cdc-cache: table metrics are not registered yet (module not initialised)');
    return this.collector.registry.metrics();
  }
}
