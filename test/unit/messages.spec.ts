// onMessage in the TypeScript layer (engine double through the internal engineFactory seam): the
// config handed to the engine, routing of batches to message handlers, retries, counters, ids.
// Says nothing about the native engine (see test/e2e/messages-*.e2e.spec.ts).
import { createInvalidator } from '../../lib/invalidator';
import { changeEventId } from '../../lib/messages';
import type { ChangeEvent } from '../../lib/types';
import { EngineDouble, engineDoubles, silentLogger, validOptions } from './helpers';

const internals = engineDoubles;
const until = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
};

describe('onMessage (TypeScript layer, engine double)', () => {
  beforeEach(() => (EngineDouble.all = []));

  it('hands message handlers to the engine (no kafka.topics needed), and a groupId of its own to another engine', async () => {
    const inv = createInvalidator(
      { kafka: { brokers: 'k:1', groupId: 'app' }, redis: { url: 'redis://r:1' }, rules: [], logger: silentLogger },
      internals,
    );
    inv.onMessage('users.created', () => {}, { decode: 'utf8' });
    inv.onMessage('audit', () => {}, { groupId: 'auditor' });
    inv.onMessage('orders', () => {}, { groupId: 'app' });  // the default group: the same engine
    await inv.start();
    const [main, audit] = EngineDouble.all;
    expect(EngineDouble.all).toHaveLength(2);
    expect(main.config.kafka.topics).toBeUndefined();
    expect(main.config.messageHandlers.map((h: { topic: string; decode: string }) => [h.topic, h.decode])).toEqual([
      ['users.created', 'utf8'],
      ['orders', 'json'],
    ]);
    expect(audit.config.kafka.groupId).toBe('auditor');
    expect(audit.config.rules).toEqual([]);
    expect(audit.config.messageHandlers.map((h: { topic: string }) => h.topic)).toEqual(['audit']);
    await expect(Promise.resolve().then(() => inv.onMessage('late', () => {}))).rejects.toThrow('must be called before start()');
    await inv.stop();
  });

  it('routes batches by handler id, retries, acks, and counts per topic', async () => {
    const inv = createInvalidator(validOptions({ logger: silentLogger, handlers: { attempts: 2, retryDelayMs: 0 } }), internals);
    let calls = 0;
    inv.onChange('public.customers', () => {});
    inv.onMessage('users.created', () => {
      calls += 1;
      if (calls === 1) throw new Error('once');
    });
    await inv.start();
    const [engine] = EngineDouble.all;
    const id = engine.config.messageHandlers[0].id;
    expect(engine.config.jsHandlers.map((h: { id: number }) => h.id)).not.toContain(id);
    const message = { topic: 'users.created', partition: 0, offset: '7', timestampMs: 0, key: null, value: {}, headers: {}, id: 'm-1' };
    engine.callbacks.onEvents!(41, id, [message] as unknown as ChangeEvent[]);
    await until(() => engine.acks.length > 0);
    expect(engine.acks).toEqual([[41, true, undefined]]);
    expect(calls).toBe(2);
    expect(inv.messageStats()['users.created']).toMatchObject({ consumed: 1, handled: 1, retried: 1, deadLettered: 0 });
    await inv.stop();
  });

  it('redacts the dead-letter reason of a handler in a group of its own, as in the default group', async () => {
    const inv = createInvalidator(
      { kafka: { brokers: 'k:1', groupId: 'app' }, redis: { url: 'redis://app:s3cret-pw@r:1' }, rules: [], logger: silentLogger,
        handlers: { attempts: 1, retryDelayMs: 0 } },
      internals,
    );
    inv.onMessage('users.created', () => {});  // the default group needs something to consume
    inv.onMessage('audit', () => {
      throw new Error('could not reach redis://app:s3cret-pw@r:1');
    }, { groupId: 'auditor' });
    await inv.start();
    const audit = EngineDouble.all.find((e) => e.config.kafka.groupId === 'auditor')!;
    const message = { topic: 'audit', partition: 0, offset: '3', timestampMs: 0, key: null, value: {}, headers: {}, id: 'a-1' };
    audit.callbacks.onEvents!(7, audit.config.messageHandlers[0].id, [message] as unknown as ChangeEvent[]);
    await until(() => audit.acks.length > 0);
    expect(audit.acks).toHaveLength(1);
    expect(audit.acks[0][1]).toBe(false);
    expect(audit.acks[0][2]).toContain('could not reach');
    expect(audit.acks[0][2]).not.toContain('s3cret-pw');
    await inv.stop();
  });

  it('rejects bad onMessage options naming them', () => {
    const inv = createInvalidator(validOptions({ logger: silentLogger }), internals);
    expect(() => inv.onMessage('t', () => {}, { decode: 'xml' as never })).toThrow('onMessage options.decode');
    expect(() => inv.onMessage('t', () => {}, { nope: 1 } as never)).toThrow('onMessage options.nope: unknown option');
  });
});

describe('changeEventId', () => {
  const event = (offset: string, position: string, id: number): ChangeEvent => ({
    kind: 'change', op: 'u', before: null, after: { id }, key: { id }, topic: 't', partition: 0, offset, timestampMs: 0,
    source: { connector: 'postgresql', db: 'inventory', schema: 'public', table: 'customers', name: 'public.customers', position, tsMs: 1 },
  });

  it('comes from the source position and the primary key, never the Kafka offset', () => {
    expect(changeEventId(event('5', 'lsn=100,txId=7', 1))).toBe(changeEventId(event('900', 'lsn=100,txId=7', 1)));
    expect(changeEventId(event('5', 'lsn=100,txId=7', 1))).not.toBe(changeEventId(event('5', 'lsn=100,txId=7', 2)));
    expect(changeEventId(event('5', 'lsn=100,txId=7', 1))).not.toBe(changeEventId(event('5', 'lsn=101,txId=7', 1)));
    expect(changeEventId(event('5', 'lsn=100,txId=7', 1))).toBe('postgresql:public.customers:lsn=100,txId=7:{"id":1}');
  });
});
