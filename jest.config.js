// Two projects: unit (no infrastructure) and e2e (real PostgreSQL, Debezium, Kafka, Redis).
const tsJest = ['ts-jest', { tsconfig: 'tsconfig.json', diagnostics: { warnOnly: false } }];
// PostgreSQL's logical replication writes *.snap files under .infra/: not Jest snapshots.
const ignored = ['<rootDir>/.infra/', '<rootDir>/build/', '<rootDir>/dist/', '<rootDir>/bench/', '<rootDir>/examples/'];

module.exports = {
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      transform: { '^.+\\.ts$': tsJest },
      testMatch: ['<rootDir>/test/unit/**/*.spec.ts'],
      modulePathIgnorePatterns: ignored,
      watchPathIgnorePatterns: ignored,
    },
    {
      displayName: 'e2e',
      testEnvironment: 'node',
      transform: { '^.+\\.ts$': tsJest },
      testMatch: ['<rootDir>/test/e2e/**/*.e2e.spec.ts'],
      modulePathIgnorePatterns: ignored,
      watchPathIgnorePatterns: ignored,
      globalSetup: '<rootDir>/test/e2e/global-setup.ts',
      globalTeardown: '<rootDir>/test/e2e/global-teardown.ts',
      setupFilesAfterEnv: ['<rootDir>/test/e2e/jest-timeout.ts'],
    },
  ],
};
