// @OnChange('public.customers'): marks a provider/controller method as a change handler. The
// service discovers marked methods at startup and registers them with invalidator.onChange().

import { SetMetadata } from '@nestjs/common';

import { validateSelector } from '../lib/options';

export const ON_CHANGE_METADATA = 'cdc-cache:on-change';

/**
 * Handles change events of sources matching the selector(s) (rule glob syntax: "public.customers",
 * "inventory.*", "*"). The method receives ChangeEvent[]; its promise gates the events' offsets;
 * after handlers.attempts failures the batch is dead-lettered. Stacking decorators adds selectors.
 */
export function OnChange(...selectors: string[]): MethodDecorator {
  if (selectors.length === 0) throw new TypeError('@OnChange() needs at least one source selector');
  selectors.forEach((s, i) => validateSelector(s, `@OnChange selector[${i}]`));
  return (_target, _key, descriptor) => {
    const method = descriptor.value as unknown;
    if (typeof method !== 'function') throw new TypeError('@OnChange() can only decorate methods');
    const existing = (Reflect.getMetadata(ON_CHANGE_METADATA, method) as string[] | undefined) ?? [];
    return SetMetadata(ON_CHANGE_METADATA, [...existing, ...selectors])(_target, _key, descriptor);
  };
}
