// The invoice service's cache-aside read of customer rows it does not own.
import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import Redis from 'ioredis';
import { EXAMPLE_CONFIG, ExampleConfig, SOURCES } from './config';
import { Customer, CustomerStore, openCustomerStore } from './customer-store';

export type { Customer } from './customer-store';

/** The cache key of a customer; the source's prefix comes first (the invalidator's keyPrefix). */
export const customerKey = (id: number, config: ExampleConfig) => `${SOURCES[config.source].keyPrefix}customer:${id}`;

@Injectable()
export class CustomerCache implements OnModuleDestroy {
  private readonly redis: Redis;
  private readonly store: CustomerStore;

  constructor(@Inject(EXAMPLE_CONFIG) private readonly config: ExampleConfig) {
    this.redis = new Redis(config.redisUrl, { lazyConnect: false, maxRetriesPerRequest: 2 });
    this.store = openCustomerStore(config);
  }

  /** Returns the customer and whether it came from the cache. */
  async get(id: number): Promise<{ customer: Customer | null; cache: 'hit' | 'miss' }> {
    const key = customerKey(id, this.config);
    const cached = await this.redis.get(key);
    if (cached !== null) return { customer: JSON.parse(cached) as Customer, cache: 'hit' };

    const customer = await this.store.find(id);
    // No TTL needed for correctness: cdc-cache deletes the key when the row changes.
    if (customer) await this.redis.set(key, JSON.stringify(customer), 'EX', 3600);
    return { customer, cache: 'miss' };
  }

  async onModuleDestroy(): Promise<void> {
    await Promise.allSettled([this.redis.quit(), this.store.end()]);
  }
}
