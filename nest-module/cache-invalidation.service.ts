// The injectable face of cdc-cache in a Nest app. Lifecycle:
//   constructor          options validated (a bad option fails module initialisation)
//   onModuleInit         @OnChange methods discovered and registered
//   onApplicationBootstrap  the engine starts consuming (after every module's onModuleInit)
//   onModuleDestroy / beforeApplicationShutdown  in-flight handlers drained, offsets committed, stopped

import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  Logger,
  OnApplicationBootstrap,
  OnModuleDestroy,
  OnModuleInit,
} from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import type { InstanceWrapper } from '@nestjs/core/injector/instance-wrapper';

import { createInvalidator, type ChangeHandler, type Invalidator } from '../lib/invalidator';
import type { CdcCacheLogger, CdcCacheOptions, ResolvedCdcCacheOptions } from '../lib/options';
import type { CdcCacheStats } from '../lib/types';
import { CACHE_INVALIDATION_OPTIONS } from './cache-invalidation.module-definition';
import { ON_CHANGE_METADATA } from './on-change.decorator';
import { onChangeOptions, registerMessageMethod } from './message-explorer';
import { CACHED_METADATA, type CachedOptions } from './cached.decorator';
import type { GetOrLoadOptions } from '../lib/read-path';
import type { PublishMessage, PublishResult } from '../lib/producer';
import type { MessageHandler, MessageTopicStats, OnMessageOptions } from '../lib/messages';

export interface RegisteredChangeHandler {
  selector: string;
  /** "ClassName.method" for discovered handlers, "manual" for onChange() calls. */
  target: string;
}

function nestLogger(logger: Logger): CdcCacheLogger {
  return {
    debug: (m) => logger.debug(m),
    info: (m) => logger.log(m),
    warn: (m) => logger.warn(m),
    error: (m) => logger.error(m),
  };
}

@Injectable()
export class CacheInvalidationService
  implements OnModuleInit, OnApplicationBootstrap, OnModuleDestroy, BeforeApplicationShutdown
{
  private readonly logger = new Logger('CacheInvalidation');
  private readonly invalidator: Invalidator;
  private readonly handlers: RegisteredChangeHandler[] = [];
  private discovered = false;

  constructor(
    @Inject(CACHE_INVALIDATION_OPTIONS) options: CdcCacheOptions,
    private readonly discovery: DiscoveryService,
    private readonly metadataScanner: MetadataScanner,
    private readonly reflector: Reflector,
  ) {
    this.invalidator = createInvalidator({ ...options, logger: options?.logger ?? nestLogger(this.logger) });
  }

  onModuleInit(): void {
    this.discoverHandlers();
  }

  async onApplicationBootstrap(): Promise<void> {
    this.discoverHandlers();
    await this.invalidator.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.invalidator.stop();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.invalidator.stop();
  }

  /** Deletes keys (keyPrefix applied); resolves with the number Redis deleted. */
  invalidate(keys: string[]): Promise<number> {
    return this.invalidator.invalidate(keys);
  }

  stats(): CdcCacheStats {
    return this.invalidator.stats();
  }

  /** Publishes application messages (idempotent producer, acks=all); see Invalidator.publish. */
  publish(topic: string, messages: PublishMessage[]): Promise<PublishResult[]> {
    return this.invalidator.publish(topic, messages);
  }

  /** The cached value of `key`, or the loader's, filled under a lease (see Invalidator.getOrLoad). */
  getOrLoad<T>(key: string, loader: () => T | Promise<T>, options?: GetOrLoadOptions<T>): Promise<T> {
    return this.invalidator.getOrLoad(key, loader, options);
  }

  isHealthy(): boolean {
    return this.invalidator.isHealthy();
  }

  /** Registers an application-message handler by hand (before the application bootstraps). */
  onMessage<T = unknown>(topic: string, handler: MessageHandler<T>, options?: OnMessageOptions): void {
    this.invalidator.onMessage(topic, handler, options);
    this.handlers.push({ selector: `message:${topic}`, target: 'manual' });
  }

  /** Per-topic counters of application messages. */
  messageStats(): Record<string, MessageTopicStats> {
    return this.invalidator.messageStats();
  }

  /** Registers a handler by hand (before the application bootstraps). */
  onChange(selector: string, handler: ChangeHandler): void {
    this.invalidator.onChange(selector, handler);
    this.handlers.push({ selector, target: 'manual' });
  }

  /** Handlers registered so far: discovered @OnChange methods and manual onChange() calls. */
  registeredHandlers(): RegisteredChangeHandler[] {
    return this.handlers.map((h) => ({ ...h }));
  }

  /** Selectors registered so far, in registration order. */
  registeredSelectors(): string[] {
    return this.invalidator.selectors();
  }

  /** The resolved options, secrets redacted. */
  describeOptions(): Omit<ResolvedCdcCacheOptions, 'logger'> {
    return this.invalidator.describeOptions();
  }

  /** Lifecycle state of the underlying invalidator. */
  get state(): Invalidator['state'] {
    return this.invalidator.state;
  }

  // @Cached: the instance's method becomes a getOrLoad whose loader is the original method.
  private wrapCached(
    instance: Record<string, unknown>,
    methodName: string,
    method: (...args: unknown[]) => unknown,
    wrapper: InstanceWrapper,
  ): void {
    const cached = this.reflector.get<CachedOptions | undefined>(CACHED_METADATA, method);
    if (!cached) return;
    const target = `${instance.constructor?.name ?? 'anonymous'}.${methodName}`;
    if (!wrapper.isDependencyTreeStatic() || wrapper.isTransient) {
      this.logger.warn(`@Cached on ${target} ignored: request-scoped and transient providers are not supported`);
      return;
    }
    const { key, ...options } = cached;
    instance[methodName] = (...args: unknown[]) =>
      this.invalidator.getOrLoad(key(...args), () => method.apply(instance, args), options);
  }

  // As nestjs/event-emitter's EventSubscribersLoader: scan every static provider and controller
  // instance for decorated methods. Request-scoped/transient providers have no single instance
  // to call, so they are skipped with a warning.
  private discoverHandlers(): void {
    if (this.discovered) return;
    this.discovered = true;
    const seen = new Set<unknown>();
    const wrappers: InstanceWrapper[] = [...this.discovery.getProviders(), ...this.discovery.getControllers()];
    for (const wrapper of wrappers) {
      const { instance } = wrapper;
      if (!instance || typeof instance !== 'object' || wrapper.isAlias || seen.has(instance)) continue;
      seen.add(instance);
      const prototype = Object.getPrototypeOf(instance);
      if (!prototype) continue;
      for (const methodName of this.metadataScanner.getAllMethodNames(prototype)) {
        const method = (instance as Record<string, unknown>)[methodName];
        if (typeof method !== 'function') continue;
        this.wrapCached(instance as Record<string, unknown>, methodName, method as (...args: unknown[]) => unknown, wrapper);
        const target = `${(instance as object).constructor?.name ?? 'anonymous'}.${methodName}`;
        const eligible = wrapper.isDependencyTreeStatic() && !wrapper.isTransient;
        const fn = method as (...args: unknown[]) => unknown;
        for (const topic of registerMessageMethod(this.reflector, this.invalidator, instance, fn, target, eligible, this.logger)) {
          this.handlers.push({ selector: `message:${topic}`, target });
        }
        const selectors = this.reflector.get<string[] | undefined>(ON_CHANGE_METADATA, method);
        if (!selectors || selectors.length === 0) continue;
        if (!eligible) {
          this.logger.warn(`@OnChange on ${target} ignored: request-scoped and transient providers are not supported`);
          continue;
        }
        const options = onChangeOptions(this.reflector, fn);
        for (const selector of selectors) {
          this.invalidator.onChange(selector, (events, ...rest: unknown[]) => (method as (...a: unknown[]) => unknown).call(instance, events, ...rest) as void, options);
          this.handlers.push({ selector, target });
        }
      }
    }
    if (this.handlers.length > 0) {
      this.logger.log(`registered ${this.handlers.length} change handler(s): ${this.handlers.map((h) => `${h.target} <- ${h.selector}`).join(', ')}`);
    }
  }
}
