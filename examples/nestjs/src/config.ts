// The example reads its endpoints from the environment (scripts/infra writes them to .infra/env).
export interface ExampleConfig {
  port: number;
  pgUrl: string;
  redisUrl: string;
  kafkaBrokers: string;
  /**
   * EXAMPLE_GROUP_ID: another consumer group, for a second copy of the app beside the demo; a new group
   * starts at the end of the topics (startAtEnd) instead of replaying them.
   */
  groupId: string;
  startAtEnd: boolean;
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`examples/nestjs: environment variable ${name} is not set (source .infra/env)`);
  return value;
}

export function loadConfig(): ExampleConfig {
  return {
    port: Number(process.env.PORT ?? 3080),
    pgUrl: required('PG_URL'),
    redisUrl: required('REDIS_URL'),
    kafkaBrokers: required('KAFKA_BROKERS'),
    groupId: process.env.EXAMPLE_GROUP_ID ?? 'invoice-service',
    startAtEnd: process.env.EXAMPLE_GROUP_ID !== undefined,
  };
}

export const EXAMPLE_CONFIG = Symbol('EXAMPLE_CONFIG');
