// 'cdc-cache/nest' must load without @nestjs/terminus and prom-client installed.
describe('optional peer dependencies', () => {
  afterEach(() => {
    jest.resetModules();
    jest.dontMock('@nestjs/terminus');
    jest.dontMock('prom-client');
  });

  it('importing nest-module/index and lib/index loads neither @nestjs/terminus nor prom-client', () => {
    jest.isolateModules(() => {
      jest.doMock('@nestjs/terminus', () => {
        throw new Error('@nestjs/terminus must not be loaded');
      });
      jest.doMock('prom-client', () => {
        throw new Error('prom-client must not be loaded');
      });
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const nest = require('../../nest-module');
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const lib = require('../../lib');
      expect(typeof nest.CacheInvalidationModule).toBe('function');
      expect(typeof nest.CacheInvalidationMetrics).toBe('function');
      expect(typeof lib.createInvalidator).toBe('function');
      // Using metrics without prom-client gives a clear error.
      expect(() => lib.createPrometheusCollector({ stats: () => lib.emptyStats() })).toThrow(
        'cdc-cache: Prometheus metrics need the optional peer dependency prom-client',
      );
    });
  });
});
