// The chaos suite's short form inside `npm test`: the same runner as `npm run test:chaos`
// (test/chaos/main.js), with the small profile (~5,000 updates over 500 rows, the same faults).
// It runs as a child process so its consumers, SIGKILLs and infrastructure restarts stay out of Jest.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './infra';

const LIMIT_MS = 420_000; // the short form must finish within 7 minutes
jest.setTimeout(LIMIT_MS + 20_000);

interface ChaosResult {
  ok: boolean;
  updates: number;
  stale_keys: number;
  stale_refreshes: number;
  faults: Array<{ name: string; ok: boolean; detail: string; lost: number; staleRefreshes: number }>;
  consumed: number;
  applied: number;
  skipped: number;
  dead_lettered: number;
  failures: string[];
  duration_s: number;
}

describe('chaos (short form)', () => {
  it('no lost invalidation, no stale refresh and reconciled counts under Redis, Kafka, Connect and consumer faults', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'cdc-cache-chaos-short-')), 'last-run.json');
    const started = Date.now();
    const { code, signal, output } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }>((resolve) => {
      const child = spawn(process.execPath, [join(REPO_ROOT, 'test', 'chaos', 'main.js'), '--short', '--out', out], {
        cwd: REPO_ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      child.stdout.on('data', (d) => (output += d));
      child.stderr.on('data', (d) => (output += d));
      const timer = setTimeout(() => child.kill('SIGTERM'), LIMIT_MS);
      child.on('exit', (exitCode, exitSignal) => {
        clearTimeout(timer);
        resolve({ code: exitCode, signal: exitSignal, output });
      });
    });
    console.log(output.slice(-6000));
    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(Date.now() - started).toBeLessThan(LIMIT_MS);
    expect(existsSync(out)).toBe(true);
    const result = JSON.parse(readFileSync(out, 'utf8')) as ChaosResult;
    expect(result.failures).toEqual([]);
    expect(result.stale_keys).toBe(0);
    expect(result.updates).toBeGreaterThanOrEqual(5000);
    expect(result.faults.map((f) => [f.name, f.ok])).toEqual(result.faults.map((f) => [f.name, true]));
    expect(result.faults.length).toBe(10);
    // Each fault kind: nothing lost, nothing stale once caught up.
    expect(result.faults.map((f) => [f.name, f.lost, f.staleRefreshes])).toEqual(result.faults.map((f) => [f.name, 0, 0]));
    expect(result.stale_refreshes).toBe(0);
    expect(result.consumed).toBeGreaterThanOrEqual(result.updates);
  });
});
