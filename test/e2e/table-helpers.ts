// Helpers for the table end-to-end tests: topics of their own, kcat to produce and to read what is
// really in the log, and the transactional test producer (test/tools/txproduce.cc).
import { execFileSync, spawnSync } from 'child_process';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'fs';
import { join } from 'path';
import { Kafka, logLevel } from 'kafkajs';

import { REPO_ROOT, infraEnv, uniqueSuffix } from './infra';

export const brokers = (): string => infraEnv().KAFKA_BROKERS;

export function kafka(): Kafka {
  return new Kafka({ clientId: 'cdc-cache-e2e-table', brokers: brokers().split(','), logLevel: logLevel.NOTHING });
}

export function topicName(what: string): string {
  return `cdc-cache.e2e.table.${what}.${uniqueSuffix()}`;
}

export async function createTopic(topic: string, numPartitions: number, config: Record<string, string> = {}): Promise<void> {
  const admin = kafka().admin();
  await admin.connect();
  try {
    await admin.createTopics({
      topics: [{ topic, numPartitions, configEntries: Object.entries(config).map(([name, value]) => ({ name, value })) }],
      waitForLeaders: true,
    });
  } finally {
    await admin.disconnect();
  }
}

export async function deleteTopics(topics: string[]): Promise<void> {
  const admin = kafka().admin();
  await admin.connect();
  await admin.deleteTopics({ topics }).catch(() => {});
  await admin.disconnect();
}

/** Produces [key, value | null] records with kcat (null: a tombstone), in order. */
export function kcatProduce(topic: string, records: [string, string | null][]): void {
  const dir = join(REPO_ROOT, 'build', 'test-tools');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${topic}.txt`);
  writeFileSync(file, records.map(([key, value]) => `${key}\t${value ?? ''}\n`).join(''));
  execFileSync('kcat', ['-P', '-b', brokers(), '-t', topic, '-K', '\t', '-Z', '-l', file], { stdio: ['ignore', 'ignore', 'pipe'] });
}

export interface LogRecord {
  partition: number;
  offset: number;
  key: string;
  value: string | null;
}

/** Everything kcat reads from the topic (all partitions, from the beginning to the end). */
export function kcatRead(topic: string, isolation: 'read_committed' | 'read_uncommitted' = 'read_committed'): LogRecord[] {
  const args = ['-C', '-b', brokers(), '-t', topic, '-X', `isolation.level=${isolation}`, '-e', '-q', '-f', '%p\t%o\t%k\t%S\t%s\n'];
  const out = execFileSync('kcat', args, {
    maxBuffer: 1 << 30,
    encoding: 'utf8',
  });
  const records: LogRecord[] = [];
  for (const line of out.split('\n')) {
    if (line === '') continue;
    const [partition, offset, key, size, ...rest] = line.split('\t');
    records.push({ partition: Number(partition), offset: Number(offset), key, value: size === '-1' ? null : rest.join('\t') });
  }
  return records;
}

/** The compacted content of a log as read: per key, the last record's value; tombstones remove. */
export function compacted(records: LogRecord[]): Map<string, string> {
  const byPartition = [...records].sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  const content = new Map<string, string>();
  for (const record of byPartition) {
    if (record.value === null) content.delete(record.key);
    else content.set(record.key, record.value);
  }
  return content;
}

/** Builds test/tools/txproduce.cc (librdkafka's transactional API) once; returns its path. */
export function txproduceTool(): string {
  const source = join(REPO_ROOT, 'test', 'tools', 'txproduce.cc');
  const binary = join(REPO_ROOT, 'build', 'test-tools', 'txproduce');
  if (existsSync(binary) && statSync(binary).mtimeMs >= statSync(source).mtimeMs) return binary;
  mkdirSync(join(REPO_ROOT, 'build', 'test-tools'), { recursive: true });
  const flags = execFileSync('pkg-config', ['--cflags', '--libs', 'rdkafka++'], { encoding: 'utf8' }).trim().split(/\s+/);
  execFileSync('c++', ['-std=c++17', '-O1', '-o', binary, source, ...flags], { stdio: 'inherit' });
  return binary;
}

/** Produces count records to one partition in one transaction, then commits or aborts it. */
export function produceTransaction(topic: string, partition: number, outcome: 'commit' | 'abort', count: number, keyPrefix: string): void {
  const result = spawnSync(txproduceTool(), [brokers(), topic, String(partition), outcome, String(count), keyPrefix], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`txproduce failed (${result.status}): ${result.stderr}`);
}

export const quietLogger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
};
