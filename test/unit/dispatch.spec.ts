// TypeScript handler dispatch: retries and exactly-one ack per delivered batch.
// No engine is involved: the ack callback is a recorder.
import { HandlerDispatcher } from '../../lib/dispatch';
import type { ChangeEvent } from '../../lib/types';

function event(offset: string): ChangeEvent {
  return {
    kind: 'change',
    op: 'u',
    source: { connector: 'postgresql', db: 'inventory', schema: 'public', table: 'customers', name: 'public.customers', position: '1', tsMs: 1 },
    before: null,
    after: { id: 1 },
    key: { id: 1 },
    topic: 'dbserver1.public.customers',
    partition: 0,
    offset,
    timestampMs: 2,
  };
}

function setup(attempts = 3, retryDelayMs = 1) {
  const acks: Array<[number, boolean, string | undefined]> = [];
  const logs: Array<[string, string]> = [];
  const dispatcher = new HandlerDispatcher({
    attempts,
    retryDelayMs,
    ack: (token, ok, reason) => acks.push([token, ok, reason]),
    log: (level, message) => logs.push([level, message]),
  });
  return { dispatcher, acks, logs };
}

describe('HandlerDispatcher', () => {
  it('assigns increasing ids and keeps registration order', () => {
    const { dispatcher } = setup();
    const a = dispatcher.register('public.customers', () => {});
    const b = dispatcher.register('inventory.*', () => {});
    expect([a.id, b.id]).toEqual([1, 2]);
    expect(dispatcher.registrations().map((r) => r.selector)).toEqual(['public.customers', 'inventory.*']);
  });

  it('passes the events to the handler and acks ok once', async () => {
    const { dispatcher, acks } = setup();
    const seen: ChangeEvent[][] = [];
    const { id } = dispatcher.register('public.customers', async (events) => {
      seen.push(events);
    });
    const events = [event('1'), event('2')];
    await dispatcher.dispatch(7, id, events);
    expect(seen).toEqual([events]);
    expect(acks).toEqual([[7, true, undefined]]);
  });

  it('accepts synchronous handlers', async () => {
    const { dispatcher, acks } = setup();
    const { id } = dispatcher.register('x', () => undefined);
    await dispatcher.dispatch(1, id, [event('1')]);
    expect(acks).toEqual([[1, true, undefined]]);
  });

  it('retries a failing handler and acks ok when a later attempt succeeds', async () => {
    const { dispatcher, acks, logs } = setup(3, 1);
    let calls = 0;
    const { id } = dispatcher.register('public.customers', async () => {
      calls += 1;
      if (calls < 3) throw new Error(`boom ${calls}`);
    });
    await dispatcher.dispatch(3, id, [event('1')]);
    expect(calls).toBe(3);
    expect(acks).toEqual([[3, true, undefined]]);
    expect(logs.filter(([l]) => l === 'warn')).toHaveLength(2);
    expect(logs[0][1]).toContain('attempt 1/3');
  });

  it('acks not-ok with a reason after the last attempt (handlers.attempts)', async () => {
    const { dispatcher, acks, logs } = setup(2, 1);
    let calls = 0;
    const { id } = dispatcher.register('public.customers', () => {
      calls += 1;
      throw new Error('db down');
    });
    await dispatcher.dispatch(9, id, [event('1')]);
    expect(calls).toBe(2);
    expect(acks).toHaveLength(1);
    expect(acks[0][0]).toBe(9);
    expect(acks[0][1]).toBe(false);
    expect(acks[0][2]).toBe('onChange("public.customers") failed after 2 attempt(s): db down');
    expect(logs[logs.length - 1][0]).toBe('error');
  });

  it('waits retryDelayMs between attempts', async () => {
    const { dispatcher } = setup(3, 40);
    const times: number[] = [];
    const { id } = dispatcher.register('x', () => {
      times.push(Date.now());
      throw new Error('no');
    });
    await dispatcher.dispatch(1, id, []);
    expect(times).toHaveLength(3);
    expect(times[1] - times[0]).toBeGreaterThanOrEqual(35);
    expect(times[2] - times[1]).toBeGreaterThanOrEqual(35);
  });

  it('handles non-Error rejections and long reasons', async () => {
    const { dispatcher, acks } = setup(1, 0);
    const { id } = dispatcher.register('x', () => Promise.reject('x'.repeat(5000)));
    await dispatcher.dispatch(1, id, []);
    expect(acks[0][1]).toBe(false);
    expect(acks[0][2]!.length).toBeLessThanOrEqual(1000);
  });

  it('acks not-ok for an unknown handler id', async () => {
    const { dispatcher, acks } = setup();
    await dispatcher.dispatch(5, 42, [event('1')]);
    expect(acks).toEqual([[5, false, 'no onChange handler registered with id 42']]);
  });

  it('survives an ack that throws (engine already closed) and logs it', async () => {
    const logs: string[] = [];
    const dispatcher = new HandlerDispatcher({
      attempts: 1,
      retryDelayMs: 0,
      ack: () => {
        throw new Error('engine stopped');
      },
      log: (_l, m) => logs.push(m),
    });
    const { id } = dispatcher.register('x', () => {});
    await expect(dispatcher.dispatch(1, id, [])).resolves.toBeUndefined();
    expect(logs.join('\n')).toContain('could not acknowledge handler batch 1: engine stopped');
  });

  it('drain() waits for every batch in flight, including ones dispatched while draining', async () => {
    const { dispatcher, acks } = setup(1, 0);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { id } = dispatcher.register('x', () => gate);
    void dispatcher.dispatch(1, id, []);
    void dispatcher.dispatch(2, id, []);
    expect(dispatcher.inFlight).toBe(2);
    let drained = false;
    const draining = dispatcher.drain().then(() => (drained = true));
    await new Promise((r) => setTimeout(r, 10));
    expect(drained).toBe(false);
    void dispatcher.dispatch(3, id, []);
    release();
    await draining;
    expect(acks.map((a) => a[0]).sort()).toEqual([1, 2, 3]);
    expect(dispatcher.inFlight).toBe(0);
  });

  it('runs batches concurrently (the engine bounds concurrency with handlers.maxInFlight)', async () => {
    const { dispatcher, acks } = setup(1, 0);
    let active = 0;
    let peak = 0;
    const { id } = dispatcher.register('x', async () => {
      active += 1;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, 10));
      active -= 1;
    });
    await Promise.all([dispatcher.dispatch(1, id, []), dispatcher.dispatch(2, id, [])]);
    expect(peak).toBe(2);
    expect(acks).toHaveLength(2);
  });
});
