// Tables in a Nest application on the real broker: forFeature + @InjectTable, init held until the
// table is ready (waitForReady), the terminus indicator and the Prometheus metrics.
import 'reflect-metadata';
import { Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { TerminusModule } from '@nestjs/terminus';
import { Registry } from 'prom-client';

import { CACHE_INVALIDATION_METRICS_REGISTRY, InjectTable, TableMetrics, TableModule, type Table } from '../../nest-module';
import { TableHealthIndicator } from '../../nest-module/health';
import { brokers, createTopic, deleteTopics, kcatProduce, quietLogger, topicName } from './table-helpers';

jest.setTimeout(120_000);

@Injectable()
class PriceService {
  constructor(@InjectTable('prices') readonly prices: Table<string, { cents: number }>) {}
  price(sku: string): number | undefined {
    return this.prices.get(sku)?.cents;
  }
}

describe('TableModule', () => {
  const topic = topicName('nest');

  beforeAll(async () => {
    await createTopic(topic, 3);
    kcatProduce(topic, Array.from({ length: 3000 }, (_, i): [string, string] => [`sku-${i}`, JSON.stringify({ cents: i })]));
  });

  afterAll(async () => {
    await deleteTopics([topic]);
  });

  it('injects a table that is ready when the application has initialised, with health and metrics', async () => {
    const registry = new Registry();
    const moduleRef = await Test.createTestingModule({
      imports: [
        TerminusModule,
        TableModule.forFeature([{ name: 'prices', kafka: { brokers: brokers(), topic }, waitForReady: { timeoutMs: 60_000 }, logger: quietLogger }]),
      ],
      providers: [PriceService, TableHealthIndicator, TableMetrics, { provide: CACHE_INVALIDATION_METRICS_REGISTRY, useValue: registry }],
    }).compile();
    const app = moduleRef.createNestApplication();
    app.enableShutdownHooks();
    await app.init();
    try {
      const service = app.get(PriceService);
      expect(service.prices.isReady()).toBe(true); // no wait: init waited for it
      expect(service.price('sku-2999')).toBe(2999);
      expect(service.prices.size).toBe(3000);

      const health = app.get(TableHealthIndicator).isHealthy('tables');
      expect(health).toEqual({ tables: expect.objectContaining({ status: 'up', prices: expect.objectContaining({ ready: true, entries: 3000, lag: 0 }) }) });
      const missing = app.get(TableHealthIndicator).isHealthy('tables', ['prices', 'nope']);
      expect(missing.tables.status).toBe('down');

      const text = await app.get(TableMetrics).metrics();
      expect(text).toMatch(/cdc_cache_table_entries\{table="prices"\} 3000/);
      expect(text).toMatch(/cdc_cache_table_ready\{table="prices"\} 1/);
      expect(text).toMatch(/cdc_cache_table_lag\{table="prices",partition="2"\} 0/);
    } finally {
      await app.close();
    }
    expect(moduleRef.get(PriceService).prices.stats().healthy).toBe(false); // closed with the app
  });
});
