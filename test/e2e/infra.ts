// Helpers for end-to-end tests against the local infrastructure started by scripts/infra.
import { execFile, execFileSync } from 'child_process';
import { existsSync, readFileSync } from 'fs';
import { join, resolve } from 'path';
import { Client } from 'pg';

export const REPO_ROOT = resolve(__dirname, '..', '..');
export const INFRA_DIR = join(REPO_ROOT, '.infra');
export const ENV_FILE = join(INFRA_DIR, 'env');
export const STARTED_BY_JEST_FILE = join(INFRA_DIR, 'started-by-jest');
const INFRA_SCRIPT = join(REPO_ROOT, 'scripts', 'infra');

export interface InfraEnv {
  KAFKA_BROKERS: string;
  REDIS_URL: string;
  PG_URL: string;
  CONNECT_URL: string;
}
const KEYS: (keyof InfraEnv)[] = ['KAFKA_BROKERS', 'REDIS_URL', 'PG_URL', 'CONNECT_URL'];

/** Parses .infra/env (KEY=value lines). Throws when the file is missing or incomplete. */
export function readInfraEnv(): InfraEnv {
  if (!existsSync(ENV_FILE)) throw new Error(`${ENV_FILE} is missing: run scripts/infra up`);
  const values: Record<string, string> = {};
  for (const line of readFileSync(ENV_FILE, 'utf8').split('\n')) {
    const match = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (match) values[match[1]] = match[2];
  }
  for (const key of KEYS) {
    if (!values[key]) throw new Error(`${ENV_FILE} has no ${key}`);
  }
  return values as unknown as InfraEnv;
}

/** The infrastructure as the tests see it: process.env (set by global setup), else .infra/env. */
export function infraEnv(): InfraEnv {
  if (KEYS.every((key) => process.env[key])) {
    return Object.fromEntries(KEYS.map((key) => [key, process.env[key] as string])) as unknown as InfraEnv;
  }
  return readInfraEnv();
}

/** Runs scripts/infra with a subcommand; output goes to the terminal. Returns the exit code. */
export function runInfra(command: 'up' | 'down' | 'status', quiet = false): number {
  try {
    execFileSync('bash', [INFRA_SCRIPT, command], { stdio: quiet ? 'ignore' : 'inherit', cwd: REPO_ROOT });
    return 0;
  } catch (error) {
    return (error as { status?: number }).status ?? 1;
  }
}

/** A connected pg client for the inventory database; the caller ends it. */
export async function pgClient(): Promise<Client> {
  const client = new Client({ connectionString: infraEnv().PG_URL, connectionTimeoutMillis: 5000 });
  await client.connect();
  return client;
}

/**
 * Every assigned partition of `topic` has a start position: a change committed from now on is
 * consumed, also under auto.offset.reset=latest (which skips what came before).
 */
export function positioned(stats: { partitions: { topic: string; position: string }[] }, topic: string): boolean {
  const partitions = stats.partitions.filter((p) => p.topic === topic);
  return partitions.length > 0 && partitions.every((p) => Number(p.position) >= 0);
}

/** A value unique to this run, so reruns against the same database and topics never collide. */
export function uniqueSuffix(): string {
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** The MariaDB source (scripts/infra-lib/mariadb.sh): MARIADB_URL from process.env, else .infra/env. */
export function mariadbUrl(): string {
  const url = process.env.MARIADB_URL ?? (readInfraEnv() as unknown as Record<string, string | undefined>).MARIADB_URL;
  if (!url) throw new Error(`${ENV_FILE} has no MARIADB_URL: run scripts/infra up`);
  return url;
}

/**
 * Runs SQL on the MariaDB inventory database through the `mariadb` command-line client (Debian's
 * mariadb-client, installed by scripts/setup; no npm driver needed). Statements separated by `;` run
 * in one session, so `START TRANSACTION; ...; COMMIT` is one transaction. Resolves to stdout (tab-separated rows).
 */
export function mariadbQuery(sql: string): Promise<string> {
  const url = new URL(mariadbUrl());
  const args = ['--no-defaults', '--batch', '--skip-column-names', '-h', url.hostname, '-P', url.port,
    '-u', decodeURIComponent(url.username), url.pathname.slice(1), '-e', sql];
  return new Promise((resolve, reject) => {
    execFile('mariadb', args, { env: { ...process.env, MYSQL_PWD: decodeURIComponent(url.password) }, timeout: 30_000 },
      (error, stdout, stderr) => (error ? reject(new Error(`mariadb: ${stderr.trim() || error.message}\nSQL: ${sql}`)) : resolve(stdout)));
  });
}
