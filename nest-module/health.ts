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
