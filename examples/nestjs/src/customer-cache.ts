// The invoice service's cache-aside read of customer rows it does not own.
import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import Redis from 'ioredis';
import { Pool } from 'pg';
import { EXAMPLE_CONFIG, ExampleConfig } from './config';

export interface Customer {
  id: number;
  first_name: string;
  last_name: string;
  email: string;
}

export const customerKey = (id: number) => `customer:${id}`;

@Injectable()
export class CustomerCache implements OnModuleDestroy {
  private readonly redis: Redis;
  private readonly pool: Pool;

  constructor(@Inject(EXAMPLE_CONFIG) config: ExampleConfig) {
    this.redis = new Redis(config.redisUrl, { lazyConnect: false, maxRetriesPerRequest: 2 });
    this.pool = new Pool({ connectionString: config.pgUrl, max: 4 });
  }

  /** Returns the customer and whether it came from the cache. */
  async get(id: number): Promise<{ customer: Customer | null; cache: 'hit' | 'miss' }> {
    const cached = await this.redis.get(customerKey(id));
    if (cached !== null) return { customer: JSON.parse(cached) as Customer, cache: 'hit' };

    const { rows } = await this.pool.query<Customer>(
      'SELECT id, first_name, last_name, email FROM customers WHERE id = $1',
      [id],
    );
    const customer = rows[0] ?? null;
    // No TTL needed for correctness: cdc-cache deletes the key when the row changes.
    if (customer) await this.redis.set(customerKey(id), JSON.stringify(customer), 'EX', 3600);
    return { customer, cache: 'miss' };
  }

  async onModuleDestroy(): Promise<void> {
    await Promise.allSettled([this.redis.quit(), this.pool.end()]);
  }
}
