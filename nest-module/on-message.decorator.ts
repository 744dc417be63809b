// @OnMessage('users.created', { groupId?, decode?, idempotency? }): marks a provider/controller
// method as an application-message handler. The service discovers marked methods at startup
// (message-explorer.ts) and registers them with invalidator.onMessage().

import { SetMetadata } from '@nestjs/common';

import { checkOnMessage, type OnMessageOptions } from '../lib/messages';

export const ON_MESSAGE_METADATA = 'cdc-cache:on-message';

export interface OnMessageRegistration {
  topic: string;
  options: OnMessageOptions;
}

/**
 * Handles the application messages of `topic` (never decoded as Debezium). The method receives
 * Message<T>[] of one partition, in order, and a context ({ tx } with the postgres idempotency
 * store); its promise gates the commit; failures are retried, then dead-lettered.
 */
export function OnMessage(topic: string, options: OnMessageOptions = {}): MethodDecorator {
  checkOnMessage(topic, () => undefined, options);
  return (target, key, descriptor) => {
    const method = descriptor.value as unknown;
    if (typeof method !== 'function') throw new TypeError('@OnMessage() can only decorate methods');
    const existing = (Reflect.getMetadata(ON_MESSAGE_METADATA, method) as OnMessageRegistration[] | undefined) ?? [];
    return SetMetadata(ON_MESSAGE_METADATA, [...existing, { topic, options }])(target, key, descriptor);
  };
}
