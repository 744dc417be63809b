// stop() while Redis is away and a handler with the Redis idempotency store is waiting it out:
// stop completes, the batch is neither acknowledged nor dead-lettered (its offsets stay
// uncommitted, so it is redelivered after a restart), and the handler ran once. Before, the store
// retried until Redis came back and stop() waited for it.
jest.mock('../../lib/native', () => ({
  ...jest.requireActual('../../lib/native'),
  loadNative: () => ({
    Reader: class {
      constructor(
        _options: unknown,
        private readonly onResults: (ids: number[], outcomes: number[], values: Array<string | undefined>) => void,
      ) {}
      submit(flat: Array<number | string | undefined>): boolean {
        const ids: number[] = [];
        for (let i = 1; i < flat.length; i += 6) ids.push(flat[i] as number);
        // 7: Redis unavailable (the Reader's outage outcome)
        setImmediate(() => this.onResults(ids, ids.map(() => 7), ids.map(() => 'redis 127.0.0.1:1: connect failed')));
        return true;
      }
      idle(): void {}
      async close(): Promise<void> {}
    },
  }),
}));

import { createInvalidator } from '../../lib/invalidator';
import type { ChangeEvent } from '../../lib/types';
import { EngineDouble, engineDoubles, silentLogger } from './helpers';

describe('stop() during a Redis outage with the Redis idempotency store', () => {
  it.each(['before the handler (checking ids)', 'after the handler (recording ids)'])('completes %s, leaving the batch unacknowledged', async (when) => {
    const inv = createInvalidator(
      { kafka: { brokers: 'k:1', groupId: 'app' }, redis: { url: 'redis://127.0.0.1:1' }, rules: [], logger: silentLogger, handlers: { attempts: 3, retryDelayMs: 0 } },
      engineDoubles,
    );
    let calls = 0;
    inv.onMessage('users.created', () => void (calls += 1), { idempotency: { store: 'redis', ttlSeconds: 60 } });
    await inv.start();
    const engine = EngineDouble.all[EngineDouble.all.length - 1];
    const message = { topic: 'users.created', partition: 0, offset: '7', timestampMs: 0, key: null, value: {}, headers: {}, id: 'm-1' };
    // The check fails (Redis away) and is retried; "after the handler" lets the check pass once.
    if (when.startsWith('after')) {
      const internals = inv as unknown as { messages: { stores: Array<{ seen(ids: string[]): Promise<boolean[]> }> } };
      internals.messages.stores[0].seen = async (ids) => ids.map(() => false);
    }
    engine.callbacks.onEvents!(41, engine.config.messageHandlers[0].id, [message] as unknown as ChangeEvent[]);
    await new Promise((resolve) => setTimeout(resolve, 700));  // at least one retry of the store

    let timer: NodeJS.Timeout | undefined;
    const stopped = await Promise.race([inv.stop().then(() => 'stopped'), new Promise((resolve) => (timer = setTimeout(() => resolve('still waiting'), 3000)))]);
    clearTimeout(timer);
    expect(stopped).toBe('stopped');
    expect(engine.acks).toEqual([]);
    expect(calls).toBe(when.startsWith('after') ? 1 : 0);
    expect(inv.messageStats()['users.created']).toMatchObject({ consumed: 1, handled: 0, deadLettered: 0 });
  });
});
