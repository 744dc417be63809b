// @OnChange('public.customers'): marks a provider/controller method as a change handler. The
// service discovers marked methods at startup and registers them with invalidator.onChange().

import { SetMetadata } from '@nestjs/common';

import type { OnChangeOptions } from '../lib/invalidator';
import { checkIdempotency } from '../lib/idempotency';
import { validateSelector } from '../lib/options';
import { ON_CHANGE_OPTIONS_METADATA } from './message-explorer';

export const ON_CHANGE_METADATA = 'cdc-cache:on-change';

/**
 * Handles change events of sources matching the selector(s) (rule glob syntax: "public.customers",
 * "inventory.*", "*"). The method receives ChangeEvent[]; its promise gates the events' offsets;
 * after handlers.attempts failures the batch is dead-lettered. Stacking decorators adds selectors.
 * A last argument { idempotency } skips changes already processed (by source position).
 */
export function OnChange(...args: Array<string | OnChangeOptions>): MethodDecorator {
  const last = args[args.length - 1];
  const options = typeof last === 'object' && last !== null ? (last as OnChangeOptions) : undefined;
  const selectors = (options ? args.slice(0, -1) : args) as string[];
  if (selectors.length === 0) throw new TypeError('@OnChange() needs at least one source selector');
  selectors.forEach((s, i) => validateSelector(s, `@OnChange selector[${i}]`));
  const invalid = options && checkIdempotency(options.idempotency, '@OnChange options.idempotency');
  if (invalid) throw new TypeError(invalid);
  return (_target, _key, descriptor) => {
    const method = descriptor.value as unknown;
    if (typeof method !== 'function') throw new TypeError('@OnChange() can only decorate methods');
    const existing = (Reflect.getMetadata(ON_CHANGE_METADATA, method) as string[] | undefined) ?? [];
    if (options) SetMetadata(ON_CHANGE_OPTIONS_METADATA, options)(_target, _key, descriptor);
    return SetMetadata(ON_CHANGE_METADATA, [...existing, ...selectors])(_target, _key, descriptor);
  };
}
