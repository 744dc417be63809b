// @OnMessage discovery and its option checks (no engine is started: only the discovery hook runs).
import 'reflect-metadata';

import { Injectable } from '@nestjs/common';
import { Test } from '@nestjs/testing';

import type { Message } from '../../lib/messages';
import { CacheInvalidationModule, CacheInvalidationService, OnChange, OnMessage } from '../../nest-module';
import { silentLogger, validOptions } from './helpers';

@Injectable()
class UsersConsumer {
  @OnMessage('users.created', { decode: 'json', idempotency: { store: 'redis', ttlSeconds: 60 } })
  created(_messages: Message<{ name: string }>[]) {}

  @OnMessage('users.deleted', { groupId: 'user-deleter', decode: 'utf8' })
  deleted() {}

  @OnChange('public.customers', { idempotency: { store: 'redis', ttlSeconds: 60 } })
  customers() {}
}

describe('@OnMessage', () => {
  it('is discovered beside @OnChange and registered with the invalidator', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [CacheInvalidationModule.forRoot(validOptions({ logger: silentLogger }))],
      providers: [UsersConsumer],
    }).compile();
    const service = moduleRef.get(CacheInvalidationService);
    service.onModuleInit();
    expect(service.registeredHandlers()).toEqual(
      expect.arrayContaining([
        { selector: 'message:users.created', target: 'UsersConsumer.created' },
        { selector: 'message:users.deleted', target: 'UsersConsumer.deleted' },
        { selector: 'public.customers', target: 'UsersConsumer.customers' },
      ]),
    );
    await moduleRef.close();
  });

  it('rejects bad options at decoration time, naming them', () => {
    expect(() => OnMessage('bad topic')).toThrow('onMessage topic: expected a Kafka topic name');
    expect(() => OnMessage('t', { decode: 'xml' as never })).toThrow('onMessage options.decode: expected "json", "utf8" or "buffer"');
    expect(() => OnMessage('t', { idempotency: { store: 'redis', ttlSeconds: 0 } })).toThrow('ttlSeconds: expected an integer number of seconds >= 1');
    expect(() => OnMessage('t', { idempotency: { store: 'postgres' } })).toThrow('the postgres store needs pool (a pg Pool) or connectionString');
    expect(() => OnChange('public.x', { idempotency: { store: 'mongo' } as never })).toThrow('store: expected "redis" or "postgres"');
  });
});
