// The TypeScript side of createInvalidator: lifecycle, the config JSON handed to the engine, the
// onEvents -> handler -> ack path, log redaction. The engine here is a hand-written in-test double
// (via the internal engineFactory seam): these tests exercise the TypeScript dispatch/retry and
// lifecycle logic ONLY and say nothing about the native engine.
import { createInvalidator } from '../../lib/invalidator';
import type { NativeEngine, NativeEngineCallbacks } from '../../lib/native';
import { emptyStats, type CdcCacheStats, type ChangeEvent } from '../../lib/types';
import { validOptions } from './helpers';

class EngineDouble implements NativeEngine {
  static last: EngineDouble | undefined;
  readonly config: Record<string, unknown>;
  acks: Array<[number, boolean, string | undefined]> = [];
  started = 0;
  stopped = 0;
  healthy = true;
  invalidated: string[][] = [];
  statsCalls = 0;
  constructor(
    configJson: string,
    readonly callbacks: NativeEngineCallbacks,
  ) {
    this.config = JSON.parse(configJson);
    EngineDouble.last = this;
  }
  async start() {
    this.started += 1;
  }
  async stop() {
    this.stopped += 1;
  }
  async invalidate(keys: string[]) {
    this.invalidated.push(keys);
    return keys.length;
  }
  ack(token: number, ok: boolean, reason?: string) {
    this.acks.push([token, ok, reason]);
  }
  stats(): CdcCacheStats {
    this.statsCalls += 1;
    return { ...emptyStats(), running: true, healthy: this.healthy, consumed: 5 };
  }
}

const internals = { engineFactory: (json: string, cb: NativeEngineCallbacks) => new EngineDouble(json, cb) };
const quiet = () => ({ debug: jest.fn(), info: jest.fn(), warn: jest.fn(), error: jest.fn() });

function deliver(engine: EngineDouble, token: number, handlerId: number, events: ChangeEvent[] = []) {
  engine.callbacks.onEvents!(token, handlerId, events);
}

async function settle(ms = 20) {
  await new Promise((r) => setTimeout(r, ms));
}

describe('createInvalidator (TypeScript layer, engine double)', () => {
  it('validates options at creation, before any engine exists', () => {
    EngineDouble.last = undefined;
    expect(() => createInvalidator(validOptions({ kafka: { brokers: 'k:1', groupId: '', topics: ['t'] } }), internals)).toThrow(
      'kafka.groupId: expected a non-empty string',
    );
    expect(EngineDouble.last).toBeUndefined();
  });

  it('creates the engine at start() with the options plus jsHandlers for every onChange selector', async () => {
    const inv = createInvalidator(validOptions({ logger: quiet(), handlers: { attempts: 2 } }), internals);
    inv.onChange('public.customers', () => {});
    inv.onChange('inventory.*', () => {});
    expect(inv.selectors()).toEqual(['public.customers', 'inventory.*']);
    expect(inv.state).toBe('idle');
    await inv.start();
    expect(inv.state).toBe('running');
    const engine = EngineDouble.last!;
    expect(engine.started).toBe(1);
    expect(engine.config.jsHandlers).toEqual([
      { id: 1, source: 'public.customers' },
      { id: 2, source: 'inventory.*' },
    ]);
    expect(engine.config.handlers).toEqual({ maxBatchSize: 500, maxInFlight: 2 });
    expect(engine.config).not.toHaveProperty('logger');
    await inv.stop();
  });

  it('rejects onChange after start() and invalid selectors/handlers', async () => {
    const inv = createInvalidator(validOptions({ logger: quiet() }), internals);
    expect(() => inv.onChange('', () => {})).toThrow('onChange selector: expected a source selector');
    expect(() => inv.onChange('a.b', 'nope' as never)).toThrow('onChange handler: expected a function');
    await inv.start();
    expect(() => inv.onChange('public.customers', () => {})).toThrow('must be called before start()');
    await inv.stop();
    expect(() => inv.onChange('public.customers', () => {})).toThrow('must be called before start()');
  });

  it('runs the handler for a delivered batch and acks it', async () => {
    const inv = createInvalidator(validOptions({ logger: quiet() }), internals);
    const handler = jest.fn(async (_events: ChangeEvent[]) => {});
    inv.onChange('public.customers', handler);
    await inv.start();
    const engine = EngineDouble.last!;
    deliver(engine, 11, 1, []);
    await settle();
    expect(handler).toHaveBeenCalledTimes(1);
    expect(engine.acks).toEqual([[11, true, undefined]]);
    await inv.stop();
  });

  it('retries handlers.attempts times, then acks not-ok with a redacted reason', async () => {
    const logger = quiet();
    const options = validOptions({
      logger,
      handlers: { attempts: 3, retryDelayMs: 1 },
      kafka: { brokers: 'k:1', groupId: 'g', topics: ['t'], config: { 'sasl.password': 'top-secret-pw' } },
    });
    const inv = createInvalidator(options, internals);
    const handler = jest.fn(() => {
      throw new Error('login with top-secret-pw refused');
    });
    inv.onChange('public.customers', handler);
    await inv.start();
    const engine = EngineDouble.last!;
    deliver(engine, 4, 1, []);
    await settle(50);
    expect(handler).toHaveBeenCalledTimes(3);
    expect(engine.acks).toHaveLength(1);
    expect(engine.acks[0][1]).toBe(false);
    expect(engine.acks[0][2]).toContain('failed after 3 attempt(s)');
    expect(engine.acks[0][2]).not.toContain('top-secret-pw');
    const logged = [...logger.warn.mock.calls, ...logger.error.mock.calls].map((c) => c[0]).join('\n');
    expect(logged).toContain('[redacted]');
    expect(logged).not.toContain('top-secret-pw');
    await inv.stop();
  });

  it('stop() waits for handlers in flight before resolving, and is idempotent', async () => {
    const inv = createInvalidator(validOptions({ logger: quiet() }), internals);
    let release!: () => void;
    inv.onChange('public.customers', () => new Promise<void>((r) => (release = r)));
    await inv.start();
    const engine = EngineDouble.last!;
    deliver(engine, 1, 1);
    await settle(5);
    let stopped = false;
    const stopping = inv.stop().then(() => (stopped = true));
    expect(inv.stop()).toBe(inv.stop());
    await settle(10);
    expect(stopped).toBe(false);
    expect(inv.state).toBe('stopping');
    release();
    await stopping;
    expect(engine.acks).toEqual([[1, true, undefined]]);
    expect(engine.stopped).toBe(1);
    expect(inv.state).toBe('stopped');
    await expect(inv.start()).rejects.toThrow('cannot be restarted');
  });

  it('stop() before start() resolves without an engine', async () => {
    EngineDouble.last = undefined;
    const inv = createInvalidator(validOptions({ logger: quiet() }), internals);
    await inv.stop();
    expect(inv.state).toBe('stopped');
    expect(EngineDouble.last).toBeUndefined();
  });

  it('start() twice starts once', async () => {
    const inv = createInvalidator(validOptions({ logger: quiet() }), internals);
    await Promise.all([inv.start(), inv.start()]);
    await inv.start();
    expect(EngineDouble.last!.started).toBe(1);
    await inv.stop();
  });

  it('forwards native log lines to the logger, redacted', async () => {
    const logger = quiet();
    const inv = createInvalidator(validOptions({ logger, redis: { url: 'redis://app:r3dis-pw@cache:6379' } }), internals);
    await inv.start();
    EngineDouble.last!.callbacks.onLog!('warn', 'redis redis://app:r3dis-pw@cache:6379 unreachable (r3dis-pw)');
    EngineDouble.last!.callbacks.onLog!('debug', 'fetch');
    expect(logger.warn).toHaveBeenCalledWith('redis redis://app:[redacted]@cache:6379 unreachable ([redacted])');
    expect(logger.debug).toHaveBeenCalledWith('fetch');
    await inv.stop();
  });

  it('invalidate() rejects after invalidateTimeoutMs when Redis never acknowledges (outage)', async () => {
    const inv = createInvalidator(validOptions({ logger: quiet(), invalidateTimeoutMs: 50 }), internals);
    await inv.start();
    let settle!: (n: number) => void;
    EngineDouble.last!.invalidate = (keys: string[]) => new Promise<number>((resolve) => { settle = resolve; void keys; });
    await expect(inv.invalidate(['a'])).rejects.toThrow('invalidate() timed out after 50 ms without Redis acknowledging');
    settle(1);  // a late completion after the timeout changes nothing
    await inv.stop();
  });

  it('invalidate() needs a running invalidator and validates keys', async () => {
    const inv = createInvalidator(validOptions({ logger: quiet() }), internals);
    await expect(inv.invalidate(['a'])).rejects.toThrow('needs a running invalidator (state: idle)');
    await inv.start();
    await expect(inv.invalidate(['a', ''])).rejects.toThrow('array of non-empty strings');
    await expect(inv.invalidate([])).resolves.toBe(0);
    await expect(inv.invalidate(['a', 'b'])).resolves.toBe(2);
    expect(EngineDouble.last!.invalidated).toEqual([['a', 'b']]);
    await inv.stop();
  });

  it('stats() is zeros before start; isHealthy() follows the engine once running', async () => {
    const inv = createInvalidator(validOptions({ logger: quiet() }), internals);
    expect(inv.stats()).toEqual(emptyStats());
    expect(inv.isHealthy()).toBe(false);
    await inv.start();
    expect(inv.stats().consumed).toBe(5);
    expect(inv.isHealthy()).toBe(true);
    EngineDouble.last!.healthy = false;
    expect(inv.isHealthy()).toBe(false);
    await inv.stop();
    expect(inv.isHealthy()).toBe(false);
  });

  it('stats() reads the engine once (the native side builds every field on each call)', async () => {
    const inv = createInvalidator(validOptions({ logger: quiet() }), internals);
    inv.onMessage('orders', () => {});  // a topic with message counters, whose lag comes from the partitions
    await inv.start();
    const engine = EngineDouble.last!;
    engine.statsCalls = 0;
    expect(inv.stats().messages).toHaveProperty('orders');
    expect(engine.statsCalls).toBe(1);
    await inv.stop();
  });

  it('reports an engine constructor error (redacted) and allows another start()', async () => {
    let fail = true;
    const inv = createInvalidator(validOptions({ logger: quiet(), redis: { url: 'redis://u:zz-secret-zz@h' } }), {
      engineFactory: (json, cb) => {
        if (fail) throw new Error('redis.url: cannot use zz-secret-zz');
        return new EngineDouble(json, cb);
      },
    });
    await expect(inv.start()).rejects.toThrow('the native engine rejected the configuration: redis.url: cannot use [redacted]');
    expect(inv.state).toBe('idle');
    fail = false;
    await inv.start();
    expect(inv.state).toBe('running');
    await inv.stop();
  });

  it('describeOptions() shows the resolved options with secrets redacted', () => {
    const inv = createInvalidator(
      validOptions({
        logger: quiet(),
        redis: { url: 'redis://u:pw-123456@h:1' },
        kafka: { brokers: 'k:1', groupId: 'g', topics: ['t'], config: { 'ssl.key.password': 'kpw-123456' } },
      }),
      internals,
    );
    const described = JSON.stringify(inv.describeOptions());
    expect(described).not.toMatch(/pw-123456/);
    expect(inv.describeOptions().redis.url).toBe('redis://u:[redacted]@h:1');
  });
});
