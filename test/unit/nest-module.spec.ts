// The Nest module without infrastructure: option resolution (forRoot / forRootAsync with
// ConfigService), option errors at module initialisation, @OnChange discovery. These tests stop
// before onApplicationBootstrap (which starts the native engine); full lifecycle tests with the
// real addon are in nest-lifecycle.spec.ts.
import 'reflect-metadata';

import { Controller, Injectable, Module, Scope } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { Test, type TestingModule } from '@nestjs/testing';

import { CdcCacheConfigError } from '../../lib/errors';
import type { ChangeEvent } from '../../lib/types';
import {
  CACHE_INVALIDATION_OPTIONS,
  CacheInvalidationModule,
  CacheInvalidationService,
  OnChange,
} from '../../nest-module';
import { silentLogger, validOptions } from './helpers';

@Injectable()
class CustomerCache {
  readonly seen: ChangeEvent[][] = [];

  @OnChange('public.customers')
  async onCustomers(events: ChangeEvent[]) {
    this.seen.push(events);
  }

  @OnChange('inventory.*')
  @OnChange('public.orders')
  onOrders() {}

  notAHandler() {}
}

@Controller()
class AuditController {
  @OnChange('*')
  audit() {}
}

@Injectable({ scope: Scope.REQUEST })
class RequestScopedHandler {
  @OnChange('public.ignored')
  handle() {}
}

async function discover(moduleRef: TestingModule): Promise<CacheInvalidationService> {
  const service = moduleRef.get(CacheInvalidationService);
  // Runs only the discovery hook; onApplicationBootstrap would start the native engine.
  service.onModuleInit();
  return service;
}

describe('CacheInvalidationModule.forRoot', () => {
  it('provides the service with the given options (defaults filled in)', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [CacheInvalidationModule.forRoot(validOptions({ logger: silentLogger, keyPrefix: 'app:' }))],
    }).compile();
    const service = moduleRef.get(CacheInvalidationService);
    expect(service).toBeInstanceOf(CacheInvalidationService);
    expect(service.describeOptions().keyPrefix).toBe('app:');
    expect(service.describeOptions().handlers.attempts).toBe(3);
    expect(service.state).toBe('idle');
    expect(service.isHealthy()).toBe(false);
    expect(service.stats().running).toBe(false);
    // The options token holds the user's options without the isGlobal extra.
    expect(moduleRef.get(CACHE_INVALIDATION_OPTIONS)).not.toHaveProperty('isGlobal');
    await moduleRef.close();
  });

  it('is not global by default and global with isGlobal: true', () => {
    expect(CacheInvalidationModule.forRoot(validOptions()).global).toBe(false);
    expect(CacheInvalidationModule.forRoot({ ...validOptions(), isGlobal: true }).global).toBe(true);
  });

  it('with isGlobal the service is injectable from another module', async () => {
    @Injectable()
    class Consumer {
      constructor(readonly cache: CacheInvalidationService) {}
    }
    @Module({ providers: [Consumer] })
    class FeatureModule {}
    const moduleRef = await Test.createTestingModule({
      imports: [CacheInvalidationModule.forRoot({ ...validOptions({ logger: silentLogger }), isGlobal: true }), FeatureModule],
    }).compile();
    expect(moduleRef.get(Consumer).cache).toBe(moduleRef.get(CacheInvalidationService));
    await moduleRef.close();
  });

  it('fails module initialisation with a CdcCacheConfigError naming the option', async () => {
    const build = Test.createTestingModule({
      imports: [CacheInvalidationModule.forRoot(validOptions({ kafka: { brokers: 'k:1', groupId: '', topics: ['t'] } }))],
    }).compile();
    await expect(build).rejects.toBeInstanceOf(CdcCacheConfigError);
    await expect(
      Test.createTestingModule({ imports: [CacheInvalidationModule.forRoot({ ...validOptions(), kafak: {} } as never)] }).compile(),
    ).rejects.toThrow('unknown option "kafak"');
  });

  it('keeps secrets out of module initialisation errors', async () => {
    const build = Test.createTestingModule({
      imports: [CacheInvalidationModule.forRoot(validOptions({ redis: { url: 'http://u:nest-secret-pw@h:1' } }))],
    }).compile();
    const error = await build.catch((e: Error) => e);
    expect(String(error)).toContain('redis.url');
    expect(String(error)).not.toContain('nest-secret-pw');
  });
});

describe('CacheInvalidationModule.forRootAsync', () => {
  const env = {
    KAFKA_BROKERS: '127.0.0.1:19092',
    KAFKA_GROUP: 'from-config',
    REDIS_URL: 'redis://:cfg-pw-123@127.0.0.1:16379/1',
  };

  function asyncModule(load: Record<string, string>) {
    return CacheInvalidationModule.forRootAsync({
      imports: [ConfigModule.forRoot({ ignoreEnvFile: true, load: [() => load] })],
      inject: [ConfigService],
      useFactory: (config: ConfigService) => ({
        kafka: { brokers: config.getOrThrow<string>('KAFKA_BROKERS'), groupId: config.get<string>('KAFKA_GROUP') ?? '', topics: ['dbserver1.public.customers'] },
        redis: { url: config.getOrThrow<string>('REDIS_URL') },
        rules: [{ source: 'public.customers', invalidate: ['customer:{id}'] }],
        logger: silentLogger,
      }),
    });
  }

  it('resolves options through ConfigService', async () => {
    const moduleRef = await Test.createTestingModule({ imports: [asyncModule(env)] }).compile();
    const service = moduleRef.get(CacheInvalidationService);
    const resolved = service.describeOptions();
    expect(resolved.kafka.groupId).toBe('from-config');
    expect(resolved.kafka.brokers).toBe('127.0.0.1:19092');
    expect(resolved.redis.url).toBe('redis://:[redacted]@127.0.0.1:16379/1');
    await moduleRef.close();
  });

  it('supports an async factory and isGlobal', async () => {
    const dynamic = CacheInvalidationModule.forRootAsync({
      isGlobal: true,
      useFactory: async () => {
        await new Promise((r) => setTimeout(r, 5));
        return validOptions({ logger: silentLogger, keyPrefix: 'async:' });
      },
    });
    expect(dynamic.global).toBe(true);
    const moduleRef = await Test.createTestingModule({ imports: [dynamic] }).compile();
    expect(moduleRef.get(CacheInvalidationService).describeOptions().keyPrefix).toBe('async:');
    await moduleRef.close();
  });

  it('supports useClass with createCacheInvalidationOptions()', async () => {
    @Injectable()
    class OptionsFactory {
      createCacheInvalidationOptions() {
        return validOptions({ logger: silentLogger, keyPrefix: 'class:' });
      }
    }
    const moduleRef = await Test.createTestingModule({
      imports: [CacheInvalidationModule.forRootAsync({ useClass: OptionsFactory })],
    }).compile();
    expect(moduleRef.get(CacheInvalidationService).describeOptions().keyPrefix).toBe('class:');
    await moduleRef.close();
  });

  it('fails initialisation when the resolved config is invalid, naming the option', async () => {
    const build = Test.createTestingModule({ imports: [asyncModule({ ...env, KAFKA_GROUP: '' })] }).compile();
    await expect(build).rejects.toThrow('kafka.groupId: expected a non-empty string');
  });
});

describe('@OnChange discovery', () => {
  it('registers every decorated method of static providers and controllers', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [CacheInvalidationModule.forRoot(validOptions({ logger: silentLogger }))],
      providers: [CustomerCache, RequestScopedHandler],
      controllers: [AuditController],
    }).compile();
    const service = await discover(moduleRef);
    expect(service.registeredSelectors().sort()).toEqual(['*', 'inventory.*', 'public.customers', 'public.orders']);
    expect(service.registeredHandlers()).toEqual(
      expect.arrayContaining([
        { selector: 'public.customers', target: 'CustomerCache.onCustomers' },
        { selector: 'inventory.*', target: 'CustomerCache.onOrders' },
        { selector: 'public.orders', target: 'CustomerCache.onOrders' },
        { selector: '*', target: 'AuditController.audit' },
      ]),
    );
    // request-scoped providers are skipped
    expect(service.registeredSelectors()).not.toContain('public.ignored');
    // discovery runs once even if the hook is called again
    service.onModuleInit();
    expect(service.registeredSelectors()).toHaveLength(4);
    await moduleRef.close();
  });

  it('finds handlers in providers of other modules', async () => {
    @Module({ providers: [CustomerCache] })
    class CustomersModule {}
    const moduleRef = await Test.createTestingModule({
      imports: [CacheInvalidationModule.forRoot(validOptions({ logger: silentLogger })), CustomersModule],
    }).compile();
    const service = await discover(moduleRef);
    expect(service.registeredSelectors()).toContain('public.customers');
    await moduleRef.close();
  });

  it('accepts manual onChange() registrations alongside discovered ones', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [CacheInvalidationModule.forRoot(validOptions({ logger: silentLogger }))],
    }).compile();
    const service = moduleRef.get(CacheInvalidationService);
    service.onChange('public.manual', () => {});
    service.onModuleInit();
    expect(service.registeredHandlers()).toEqual([{ selector: 'public.manual', target: 'manual' }]);
    await moduleRef.close();
  });

  it('rejects invalid selectors at decoration time', () => {
    expect(() => OnChange('')).toThrow('@OnChange selector[0]: expected a source selector');
    expect(() => OnChange()).toThrow('@OnChange() needs at least one source selector');
  });

  it('close() before bootstrap stops cleanly without starting anything', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [CacheInvalidationModule.forRoot(validOptions({ logger: silentLogger }))],
    }).compile();
    const service = moduleRef.get(CacheInvalidationService);
    await moduleRef.close();
    expect(service.state).toBe('stopped');
  });
});
