// Terminus health indicator and Nest metrics provider, without infrastructure and without
// starting the engine: before bootstrap the service reports not running, so health is down.
import 'reflect-metadata';

import { TerminusModule } from '@nestjs/terminus';
import { Test } from '@nestjs/testing';
import { Registry } from 'prom-client';

import { CacheInvalidationModule } from '../../nest-module';
import { CacheInvalidationHealthIndicator } from '../../nest-module/health';
import { CACHE_INVALIDATION_METRICS_REGISTRY, CacheInvalidationMetrics } from '../../nest-module/metrics';
import { silentLogger, validOptions } from './helpers';

describe('CacheInvalidationHealthIndicator', () => {
  it('reports down with details while the engine is not running', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [TerminusModule, CacheInvalidationModule.forRoot(validOptions({ logger: silentLogger }))],
      providers: [CacheInvalidationHealthIndicator],
    }).compile();
    const indicator = moduleRef.get(CacheInvalidationHealthIndicator);
    expect(indicator.isHealthy()).toEqual({
      'cache-invalidation': { status: 'down', running: false, redisConnected: false, consumerLag: 0, deadLettered: 0, handlersInFlight: 0 },
    });
    expect(Object.keys(indicator.isHealthy('cdc'))).toEqual(['cdc']);
    await moduleRef.close();
  });
});

describe('CacheInvalidationMetrics (Nest)', () => {
  it('registers the collector in the provided registry on init and removes it on close', async () => {
    const registry = new Registry();
    const moduleRef = await Test.createTestingModule({
      imports: [CacheInvalidationModule.forRoot(validOptions({ logger: silentLogger }))],
      providers: [CacheInvalidationMetrics, { provide: CACHE_INVALIDATION_METRICS_REGISTRY, useValue: registry }],
    }).compile();
    const metrics = moduleRef.get(CacheInvalidationMetrics);
    metrics.onModuleInit(); // init hook only: bootstrap would start the engine
    const text = await metrics.metrics();
    expect(text).toContain('cdc_cache_up 0');
    expect(text).toContain('cdc_cache_events_consumed_total 0');
    await moduleRef.close();
    expect(await registry.metrics()).not.toContain('cdc_cache_');
  });
});
