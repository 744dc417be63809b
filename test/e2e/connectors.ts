// Debezium connectors that e2e specs register on the shared Kafka Connect when missing, each from
// its config in scripts/infra-lib/connectors (its own slot, publication, topic prefix and table).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { infraEnv, REPO_ROOT } from './infra';

export async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** PUTs scripts/infra-lib/connectors/<name>.json (idempotent) and waits until its task runs. */
export async function registerConnector(name: string): Promise<void> {
  const infra = infraEnv();
  const file = join(REPO_ROOT, 'scripts', 'infra-lib', 'connectors', `${name}.json`);
  const config = JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>;
  config['database.port'] = new URL(infra.PG_URL).port;
  const response = await fetch(`${infra.CONNECT_URL}/connectors/${name}/config`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(config),
  });
  if (response.status !== 200 && response.status !== 201) throw new Error(`PUT connector: ${response.status} ${await response.text()}`);
  await waitUntil(`the ${name} connector to run`, async () => {
    const status = await fetch(`${infra.CONNECT_URL}/connectors/${name}/status`);
    if (!status.ok) return false;
    const body = (await status.json()) as { connector?: { state?: string }; tasks?: Array<{ state?: string }> };
    return body.connector?.state === 'RUNNING' && (body.tasks ?? []).some((t) => t.state === 'RUNNING');
  });
}
