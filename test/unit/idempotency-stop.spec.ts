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
import type { NativeEngine, NativeEngineCallbacks } from '../../lib/native';
import { emptyStats, type ChangeEvent } from '../../lib/types';
import { silentLogger } from './helpers';

class EngineDouble implements NativeEngine {
  static last: EngineDouble | undefined;
  readonly config: Record<string, any>;
  acks: Array<[number, boolean, string | undefined]> = [];
  constructor(json: string, readonly callbacks: NativeEngineCallbacks) {
    this.config = JSON.parse(json);
    EngineDouble.last = this;
  }
  async start() {}
  async stop() {}
  async invalidate() {
    return 0;
  }
  ack(token: number, ok: boolean, reason?: string) {
    this.acks.push([token, ok, reason]);
  }
  stats() {
    return emptyStats();
  }
}

describe('stop() during a Redis outage with the Redis idempotency store', () => {
  it.each(['before the handler (checking ids)', 'after the handler (recording ids)'])('completes %s, leaving the batch unacknowledged', async (when) => {
    const inv = createInvalidator(
      { kafka: { brokers: 'k:1', groupId: 'app' }, redis: { url: 'redis://127.0.0.1:1' }, rules: [], logger: silentLogger, handlers: { attempts: 3, retryDelayMs: 0 } },
      { engineFactory: (json: string, cb: NativeEngineCallbacks) => new EngineDouble(json, cb) },
    );
    let calls = 0;
    inv.onMessage('users.created', () => void (calls += 1), { idempotency: { store: 'redis', ttlSeconds: 60 } });
    await inv.start();
    const engine = EngineDouble.last!;
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
