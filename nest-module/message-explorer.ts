// Discovery of @OnMessage methods (and of @OnChange idempotency options), apart from the
// service: given one discovered method, registers its handlers with the invalidator.

import type { Logger } from '@nestjs/common';
import type { Reflector } from '@nestjs/core';

import type { Invalidator, OnChangeOptions } from '../lib/invalidator';
import type { MessageHandler } from '../lib/messages';
import { ON_MESSAGE_METADATA, type OnMessageRegistration } from './on-message.decorator';

export const ON_CHANGE_OPTIONS_METADATA = 'cdc-cache:on-change-options';

/** Registers the @OnMessage handlers of one method; returns their "topic" descriptions. */
export function registerMessageMethod(
  reflector: Reflector,
  invalidator: Invalidator,
  instance: object,
  method: (...args: unknown[]) => unknown,
  target: string,
  eligible: boolean,
  logger: Logger,
): string[] {
  const registrations = reflector.get<OnMessageRegistration[] | undefined>(ON_MESSAGE_METADATA, method);
  if (!registrations || registrations.length === 0) return [];
  if (!eligible) {
    logger.warn(`@OnMessage on ${target} ignored: request-scoped and transient providers are not supported`);
    return [];
  }
  for (const { topic, options } of registrations) {
    invalidator.onMessage(topic, ((messages, context) => method.call(instance, messages, context)) as MessageHandler, options);
  }
  return registrations.map((r) => r.topic);
}

/** The options of an @OnChange method ({ idempotency }), when it has any. */
export function onChangeOptions(reflector: Reflector, method: (...args: unknown[]) => unknown): OnChangeOptions | undefined {
  return reflector.get<OnChangeOptions | undefined>(ON_CHANGE_OPTIONS_METADATA, method);
}
