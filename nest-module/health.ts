// Terminus health indicator. Import from 'cdc-cache/nest/health' (needs @nestjs/terminus 11+);
// the main 'cdc-cache/nest' entry never loads terminus.
//
//   @Module({ imports: [TerminusModule, CacheInvalidationModule.forRoot(...)],
//             providers: [CacheInvalidationHealthIndicator] })
//   ...
//   @Get('health') @HealthCheck()
//   check() { return this.health.check([() => this.cacheHealth.isHealthy('cache-invalidation')]); }

import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';

import { CacheInvalidationService } from './cache-invalidation.service';
import { TableRegistry } from './table.module';

@Injectable()
export class CacheInvalidationHealthIndicator {
  constructor(
    private readonly healthIndicatorService: HealthIndicatorService,
    private readonly cacheInvalidation: CacheInvalidationService,
  ) {}

  /** Up when the engine runs, the consumer is subscribed and Redis is connected. */
  isHealthy<const Key extends string = 'cache-invalidation'>(key: Key = 'cache-invalidation' as Key) {
    const indicator = this.healthIndicatorService.check(key);
    const s = this.cacheInvalidation.stats();
    const details = {
      running: s.running,
      redisConnected: s.redisConnected,
      consumerLag: s.partitions.reduce((sum, p) => sum + (p.lag > 0 ? p.lag : 0), 0),
      deadLettered: s.deadLettered,
      handlersInFlight: s.handlers.inFlight,
    };
    return this.cacheInvalidation.isHealthy() ? indicator.up(details) : indicator.down(details);
  }
}

/** Up when every table (or the named ones) is ready and healthy; details per table. */
@Injectable()
export class TableHealthIndicator {
  constructor(
    private readonly healthIndicatorService: HealthIndicatorService,
    private readonly tables: TableRegistry,
  ) {}

  isHealthy<const Key extends string = 'tables'>(key: Key = 'tables' as Key, names?: string[]) {
    const indicator = this.healthIndicatorService.check(key);
    const stats = this.tables.tables().map((t) => t.stats()).filter((s) => !names || names.includes(s.name));
    const details = Object.fromEntries(
      stats.map((s) => [
        s.name,
        { ready: s.ready, healthy: s.healthy, entries: s.entries, bytes: s.bytes, lag: s.partitions.reduce((sum, p) => sum + p.lag, 0), ...(s.error ? { error: s.error } : {}) },
      ]),
    );
    const missing = (names ?? []).filter((name) => !this.tables.get(name));
    const up = missing.length === 0 && stats.every((s) => s.ready && s.healthy);
    return up ? indicator.up(details) : indicator.down({ ...details, ...(missing.length ? { missing } : {}) });
  }
}
