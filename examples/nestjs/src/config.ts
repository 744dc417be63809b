// The example reads its endpoints from the environment (scripts/infra writes them to .infra/env).
// DEMO_SOURCE picks the database that owns the customers: postgres (default, PG_URL) or mariadb (MARIADB_URL).
export type ExampleSource = 'postgres' | 'mariadb';

export interface ExampleConfig {
  port: number;
  source: ExampleSource;
  /** The URL of the source database (PG_URL or MARIADB_URL). */
  sourceUrl: string;
  redisUrl: string;
  kafkaBrokers: string;
  /**
   * EXAMPLE_GROUP_ID: another consumer group than the source's, for a second copy of the app beside the
   * demo; a new group starts at the end of the topics (startAtEnd) instead of replaying them.
   */
  groupId?: string;
  startAtEnd: boolean;
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`examples/nestjs: environment variable ${name} is not set (source .infra/env)`);
  return value;
}

function source(): ExampleSource {
  const value = process.env.DEMO_SOURCE ?? 'postgres';
  if (value !== 'postgres' && value !== 'mariadb') {
    throw new Error(`examples/nestjs: DEMO_SOURCE must be postgres or mariadb, got ${JSON.stringify(value)}`);
  }
  return value;
}

export function loadConfig(): ExampleConfig {
  const chosen = source();
  return {
    port: Number(process.env.PORT ?? 3080),
    source: chosen,
    sourceUrl: required(chosen === 'mariadb' ? 'MARIADB_URL' : 'PG_URL'),
    redisUrl: required('REDIS_URL'),
    kafkaBrokers: required('KAFKA_BROKERS'),
    groupId: process.env.EXAMPLE_GROUP_ID,
    startAtEnd: process.env.EXAMPLE_GROUP_ID !== undefined,
  };
}

/** Where each source's customer changes arrive, the name rules match, and the cache keys' prefix. */
export const SOURCES = {
  postgres: { topic: 'dbserver1.public.customers', sourceName: 'public.customers', keyPrefix: '', groupId: 'invoice-service' },
  mariadb: {
    topic: 'mariadb1.inventory.customers',
    sourceName: 'inventory.customers',
    keyPrefix: 'mariadb:', // the two databases number their customers alike
    groupId: 'invoice-service-mariadb',
  },
} as const;

export const EXAMPLE_CONFIG = Symbol('EXAMPLE_CONFIG');
