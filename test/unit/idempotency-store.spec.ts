// The Redis idempotency store hands its Redis settings to the native Reader: a cluster must reach
// it as clusterNodes (the Reader's option), or the store talks to one node and gets MOVED forever.
const created: Array<Record<string, unknown>> = [];

jest.mock('../../lib/native', () => ({
  loadNative: () => ({
    Reader: class {
      constructor(
        options: Record<string, unknown>,
        private readonly onResults: (ids: number[], outcomes: number[], values: Array<string | undefined>) => void,
      ) {
        created.push(options);
      }
      submit(flat: Array<number | string | undefined>): boolean {
        const ids: number[] = [];
        for (let i = 1; i < flat.length; i += 6) ids.push(flat[i] as number);
        setImmediate(() => this.onResults(ids, ids.map(() => 1), ids.map(() => undefined)));  // 1: not recorded
        return true;
      }
      idle(): void {}
      async close(): Promise<void> {}
    },
  }),
}));

import { RedisIdStore } from '../../lib/idempotency';

describe('RedisIdStore', () => {
  beforeEach(() => created.splice(0));

  it('passes redis.cluster to the Reader as clusterNodes', async () => {
    const nodes = ['127.0.0.1:17100', '127.0.0.1:17101'];
    const store = new RedisIdStore({ url: 'redis://', connectTimeoutMs: 1000, commandTimeoutMs: 1000, cluster: { nodes } }, 'p:', 60_000, () => {});
    expect(await store.seen(['a', 'b'])).toEqual([false, false]);
    expect(created).toHaveLength(1);
    expect(created[0].clusterNodes).toEqual(nodes);
    expect(created[0]).not.toHaveProperty('cluster');
    await store.close();
  });

  it('passes no clusterNodes for one Redis', async () => {
    const store = new RedisIdStore({ url: 'redis://127.0.0.1:6379', connectTimeoutMs: 1000, commandTimeoutMs: 1000 }, 'p:', 60_000, () => {});
    await store.seen(['a']);
    expect(created[0]).not.toHaveProperty('clusterNodes');
    expect(created[0].url).toBe('redis://127.0.0.1:6379');
    await store.close();
  });
});
