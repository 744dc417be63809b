// @Cached({ key: (id) => `customer:${id}`, ttlSeconds: 300 }): the method's result read through
// getOrLoad (leases, coalescing). The service discovers marked methods at module init and wraps
// them on their instance; the method body is the loader.

import { SetMetadata } from '@nestjs/common';

import type { GetOrLoadOptions } from '../lib/read-path';

export const CACHED_METADATA = 'cdc-cache:cached';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export interface CachedOptions<A extends any[] = any[]> extends Omit<GetOrLoadOptions, 'codec'> {
  /** The cache key (keyPrefix is applied) from the method's arguments. */
  key: (...args: A) => string;
  codec?: GetOrLoadOptions['codec'];
}

/** Reads the decorated method's result through CacheInvalidationService.getOrLoad. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function Cached<A extends any[] = any[]>(options: CachedOptions<A>): MethodDecorator {
  if (!options || typeof options.key !== 'function') {
    throw new TypeError('@Cached({ key }): key must be a function of the method arguments returning the cache key');
  }
  return (target, key, descriptor) => {
    if (typeof descriptor.value !== 'function') throw new TypeError('@Cached() can only decorate methods');
    return SetMetadata(CACHED_METADATA, options)(target, key, descriptor);
  };
}
