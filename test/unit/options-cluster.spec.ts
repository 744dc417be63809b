import { CdcCacheConfigError } from '../../lib/errors';
import { toNativeConfig, validateOptions } from '../../lib/options';
import { thrown, validOptions } from './helpers';

function messagesFor(redis: unknown): string[] {
  const error = thrown(() => validateOptions(validOptions({ redis } as never)));
  expect(error).toBeInstanceOf(CdcCacheConfigError);
  return (error as CdcCacheConfigError).issues.map((issue) => issue.message);
}

describe('redis.cluster', () => {
  it('accepts seeds without a URL, and passes them to the engine', () => {
    const r = validateOptions(validOptions({ redis: { cluster: { nodes: ['127.0.0.1:17100', '[::1]:7001'] } } } as never));
    expect(r.redis.cluster).toEqual({ nodes: ['127.0.0.1:17100', '[::1]:7001'] });
    expect(r.redis.url).toBe('redis://');
    expect(toNativeConfig(r, []).redis.cluster).toEqual({ nodes: ['127.0.0.1:17100', '[::1]:7001'] });
  });

  it('keeps a URL for the credentials', () => {
    const r = validateOptions(validOptions({ redis: { url: 'redis://app:pw@x:1', cluster: { nodes: ['h:1'] } } } as never));
    expect(r.redis.url).toBe('redis://app:pw@x:1');
  });

  it('names the bad field', () => {
    expect(messagesFor({ cluster: { nodes: [] } })).toEqual(['redis.cluster.nodes: expected at least 1 entry, got an empty array']);
    expect(messagesFor({ cluster: {} })[0]).toMatch(/^redis\.cluster\.nodes: expected an array/);
    expect(messagesFor({ cluster: { nodes: ['127.0.0.1:17100', '127.0.0.1'] } })).toEqual([
      'redis.cluster.nodes[1]: expected "host:port" (port 1-65535), got "127.0.0.1"',
    ]);
    expect(messagesFor({ cluster: { nodes: ['h:70000'] } })[0]).toMatch(/^redis\.cluster\.nodes\[0\]: expected "host:port"/);
    expect(messagesFor({ cluster: { nodes: [17100] } })[0]).toMatch(/^redis\.cluster\.nodes\[0\]: expected a non-empty string/);
    expect(messagesFor({ cluster: { nodes: ['h:1'], replicas: 1 } })[0]).toMatch(/^unknown option "redis\.cluster\.replicas"/);
    expect(messagesFor({ url: 'redis://h:1/2', cluster: { nodes: ['h:1'] } })).toEqual(['redis.url: a Redis Cluster has database 0 only']);
    expect(messagesFor({ connectTimeoutMs: 100 })[0]).toMatch(/^redis\.url: expected a URL/);
  });
});
