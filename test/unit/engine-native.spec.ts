// createInvalidator and the Nest module over the REAL native engine, without infrastructure:
// brokers and Redis are unreachable, which is not a start failure (the engine retries and reports
// unhealthy). Checks start/stop, handler registration accepted by the engine, and that repeated
// init/destroy cycles leave nothing running (Jest must exit on its own).
import 'reflect-metadata';

import { Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';

import { createInvalidator } from '../../lib/invalidator';
import { loadNative } from '../../lib/native';
import type { CdcCacheOptions } from '../../lib/options';
import { CacheInvalidationModule, CacheInvalidationService, OnChange } from '../../nest-module';

jest.setTimeout(120_000);

// Port 9 (discard) on localhost: nothing listens, connections are refused at once.
function unreachable(overrides: Partial<CdcCacheOptions> = {}): CdcCacheOptions {
  const logs: string[] = [];
  return {
    kafka: {
      brokers: '127.0.0.1:9',
      groupId: `cdc-cache-unit-${process.pid}`,
      topics: ['dbserver1.public.customers'],
      config: { 'reconnect.backoff.max.ms': 200, 'sasl.password': 'never-logged-pw' },
    },
    redis: { url: 'redis://:redis-never-logged@127.0.0.1:9/0', connectTimeoutMs: 200, commandTimeoutMs: 200 },
    rules: [{ source: 'public.customers', invalidate: ['customer:{id}'] }],
    logger: { debug: (m) => logs.push(m), info: (m) => logs.push(m), warn: (m) => logs.push(m), error: (m) => logs.push(m) },
    ...overrides,
  };
}

describe('real engine without infrastructure', () => {
  it('the addon exports Engine and explain', () => {
    const binding = loadNative();
    expect(typeof binding.Engine).toBe('function');
    expect(typeof binding.explain).toBe('function');
  });

  it('starts against unreachable Kafka/Redis, reports unhealthy, stops', async () => {
    const logs: string[] = [];
    const options = unreachable({
      logger: { debug: (m) => logs.push(m), info: (m) => logs.push(m), warn: (m) => logs.push(m), error: (m) => logs.push(m) },
    });
    const inv = createInvalidator(options);
    inv.onChange('public.customers', () => {});
    await inv.start();
    expect(inv.state).toBe('running');
    const stats = inv.stats();
    expect(stats.running).toBe(true);
    expect(typeof stats.consumed).toBe('number');
    await new Promise((r) => setTimeout(r, 500));
    expect(inv.isHealthy()).toBe(false);
    expect(inv.stats().redisConnected).toBe(false);
    await inv.stop();
    expect(inv.state).toBe('stopped');
    expect(inv.stats().running).toBe(false);
    const text = logs.join('\n') + JSON.stringify(inv.stats());
    expect(text).not.toContain('never-logged-pw');
    expect(text).not.toContain('redis-never-logged');
  });

  it('the engine accepts every option TypeScript accepts (full option set, topicPattern)', async () => {
    const inv = createInvalidator(
      unreachable({
        kafka: {
          brokers: ['127.0.0.1:9', 'localhost:9'],
          groupId: 'g-full',
          topicPattern: /dbserver1\.public\..*/,
          config: { 'session.timeout.ms': 10000, 'allow.auto.create.topics': false, 'client.id': 'unit' },
        },
        rules: [
          {
            source: 'inventory.*',
            invalidate: ['order:{key.id}', 'city:{address.city}', 'lit:{{x}}'],
            refresh: { key: 'customer:{id}', fields: ['id', 'address.city'], ttlSeconds: 60 },
            onTruncate: ['orders:all'],
          },
          { source: '*', onTruncate: ['everything'] },
        ],
        keyPrefix: 'app:',
        deleteCommand: 'DEL',
        deadLetterTopic: 'cdc-cache.dead-letter',
        batch: { maxEvents: 10, maxWaitMs: 0, maxInFlight: 1 },
        commitIntervalMs: 50,
        handlers: { maxBatchSize: 1, maxInFlight: 1, attempts: 1, retryDelayMs: 0 },
      }),
    );
    inv.onChange('*', () => {});
    inv.onChange('public.customers', () => {});
    await inv.start();
    expect(inv.stats().running).toBe(true);
    await inv.stop();
  });

  it('start/stop 10 times in a row with the bare invalidator', async () => {
    for (let i = 0; i < 10; i++) {
      const inv = createInvalidator(unreachable());
      await inv.start();
      await inv.stop();
    }
  });

  it('invalidate() while Redis is down waits, and settles (rejected, wrapped) when the engine stops', async () => {
    const inv = createInvalidator(unreachable());
    await inv.start();
    let settled: string | undefined;
    const pending = inv.invalidate(['customer:1']).then(
      (n) => (settled = `resolved ${n}`),
      (e: Error) => (settled = `rejected ${e.message}`),
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(settled).toBeUndefined(); // retried until Redis answers, not failed at once
    await inv.stop();
    await pending;
    expect(settled).toMatch(/^rejected cdc-cache: invalidate failed: /);
  });
});

@Injectable()
class CustomerHandlers {
  @OnChange('public.customers')
  onCustomers() {}
}

describe('CacheInvalidationModule with the real engine, 50 init/destroy cycles', () => {
  it('initialises (engine started) and closes (engine stopped) 50 times', async () => {
    for (let i = 0; i < 50; i++) {
      const moduleRef = await Test.createTestingModule({
        imports: [CacheInvalidationModule.forRoot(unreachable())],
        providers: [CustomerHandlers],
      }).compile();
      const app = moduleRef.createNestApplication({ logger: false });
      await app.init();
      const service = app.get(CacheInvalidationService);
      expect(service.state).toBe('running');
      expect(service.registeredSelectors()).toEqual(['public.customers']);
      expect(service.stats().running).toBe(true);
      await app.close();
      expect(service.state).toBe('stopped');
    }
  });
});
