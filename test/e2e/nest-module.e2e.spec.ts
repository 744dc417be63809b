// The Nest module with a running engine on the real infrastructure.
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Injectable, Module } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { Test } from '@nestjs/testing';
import { Client } from 'pg';
import { infraEnv, positioned } from './infra';
import type { ChangeEvent } from '../../lib';
import { CacheInvalidationModule, CacheInvalidationService, OnChange } from '../../nest-module';

const infra = infraEnv();
const env = (name: keyof typeof infra): string => infra[name];
const TOPIC = 'dbserver1.public.customers';

const options = (groupId: string) => ({
  kafka: {
    brokers: env('KAFKA_BROKERS'),
    groupId,
    topics: [TOPIC],
    config: { 'auto.offset.reset': 'latest' },
  },
  redis: { url: env('REDIS_URL') },
  rules: [{ source: 'public.customers', invalidate: ['customer:{id}'] }],
});

@Injectable()
class CustomerEvents {
  readonly events: ChangeEvent[] = [];

  @OnChange('public.*')
  record(events: ChangeEvent[]): void {
    this.events.push(...events);
  }
}

describe('CacheInvalidationModule with a running engine', () => {
  it('forRootAsync resolves options from ConfigService and delivers real changes to @OnChange handlers', async () => {
    const groupId = `nest-e2e-${randomUUID().slice(0, 8)}`;
    @Module({
      imports: [
        ConfigModule.forRoot({ ignoreEnvFile: true, load: [() => ({ cdc: options(groupId) })] }),
        CacheInvalidationModule.forRootAsync({
          imports: [ConfigModule],
          inject: [ConfigService],
          useFactory: (config: ConfigService) => config.getOrThrow('cdc'),
        }),
      ],
      providers: [CustomerEvents],
    })
    class AppModule {}

    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const app = moduleRef.createNestApplication();
    await app.init();
    const pg = new Client({ connectionString: env('PG_URL') });
    await pg.connect();
    try {
      const service = app.get(CacheInvalidationService);
      const recorder = app.get(CustomerEvents);
      // 'latest' only sees what comes after the partitions' start positions: wait until they are known.
      const deadline = Date.now() + 60_000;
      while (!positioned(service.stats(), TOPIC) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(positioned(service.stats(), TOPIC)).toBe(true);

      const email = `nest.${randomUUID().slice(0, 8)}@example.com`;
      const { rows } = await pg.query<{ id: number }>(
        'INSERT INTO customers (first_name, last_name, email) VALUES ($1, $2, $3) RETURNING id',
        ['Nest', 'Module', email],
      );
      while (!recorder.events.some((e) => (e.after as { id?: number } | null)?.id === rows[0].id) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      const insert = recorder.events.find((e) => (e.after as { id?: number } | null)?.id === rows[0].id);
      expect(insert).toMatchObject({ op: 'c', after: { email } });
      expect(service.isHealthy()).toBe(true);
    } finally {
      await pg.end();
      await app.close();
    }
  });

  it('survives 50 init/destroy cycles with a running engine', async () => {
    const groupId = `nest-cycles-${randomUUID().slice(0, 8)}`;
    const rssAtStart = process.memoryUsage().rss;
    for (let cycle = 0; cycle < 50; cycle++) {
      const moduleRef = await Test.createTestingModule({
        imports: [CacheInvalidationModule.forRoot(options(groupId))],
      }).compile();
      const app = moduleRef.createNestApplication();
      await app.init();
      expect(app.get(CacheInvalidationService).stats().running).toBe(true);
      await app.close();
    }
    const growthMb = (process.memoryUsage().rss - rssAtStart) / 1024 / 1024;
    console.log(`RSS growth over 50 cycles: ${growthMb.toFixed(1)} MB`);
  });
});
