// @Cached and CacheInvalidationService.getOrLoad in a Nest app, on the real Redis.
import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import Redis from 'ioredis';
import { infraEnv } from './infra';
import { Cached, CacheInvalidationModule, CacheInvalidationService } from '../../nest-module';

const infra = infraEnv();
const ID = -7;  // no customers row has it

@Injectable()
class CustomerRepository {
  calls = 0;

  @Cached({ key: (id: number) => `customer:${id}`, ttlSeconds: 300 })
  async findCustomer(id: number): Promise<{ id: number; calls: number }> {
    this.calls++;
    return { id, calls: this.calls };
  }
}

describe('@Cached in a Nest app', () => {
  it('reads through getOrLoad: one load, then hits until the key is invalidated', async () => {
    const keyPrefix = `cdc-read-nest:${randomUUID().slice(0, 8)}:`;
    @Module({
      imports: [
        CacheInvalidationModule.forRoot({
          // 'latest', and an id no row has: a change event of the topic must not delete the key under test.
          kafka: { brokers: infra.KAFKA_BROKERS, groupId: `read-nest-${keyPrefix}`, topics: ['dbserver1.public.customers'], config: { 'auto.offset.reset': 'latest' } },
          redis: { url: infra.REDIS_URL },
          keyPrefix,
          rules: [{ source: 'public.customers', invalidate: ['customer:{id}'] }],
        }),
      ],
      providers: [CustomerRepository],
    })
    class AppModule {}

    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await app.init();
    const redis = new Redis(infra.REDIS_URL);
    try {
      const repository = app.get(CustomerRepository);
      const service = app.get(CacheInvalidationService);
      expect(await repository.findCustomer(ID)).toEqual({ id: ID, calls: 1 });
      expect(await repository.findCustomer(ID)).toEqual({ id: ID, calls: 1 });
      expect(repository.calls).toBe(1);
      expect(await redis.get(`${keyPrefix}customer:${ID}`)).toBe(`{"id":${ID},"calls":1}`);
      expect(await redis.pttl(`${keyPrefix}customer:${ID}`)).toBeGreaterThan(290_000);
      expect(await service.invalidate([`customer:${ID}`])).toBe(1);
      expect(await repository.findCustomer(ID)).toEqual({ id: ID, calls: 2 });
      expect(await service.getOrLoad(`customer:${ID}`, async () => ({ id: ID, calls: -1 }))).toEqual({ id: ID, calls: 2 });
      expect(service.stats().read).toMatchObject({ hits: 2, misses: 2, fills: 2 });
    } finally {
      await app.close();
      const keys = await redis.keys(`${keyPrefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      redis.disconnect();
    }
  });
});
