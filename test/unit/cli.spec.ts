// CLI argument handling and error paths that stop before the native explain() is reached.
// (Runs of the real explain() on fixtures are in cli-native.spec.ts.)
import * as path from 'path';

import { runCli, USAGE } from '../../lib/cli';

const fixtures = path.resolve(__dirname, '..', 'fixtures', 'debezium');

function run(argv: string[], files: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  let nativeLoaded = false;
  const code = runCli(argv, {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    readFile: (f) => {
      if (f in files) return Buffer.from(files[f]);
      const e = new Error('ENOENT') as NodeJS.ErrnoException;
      e.code = 'ENOENT';
      throw e;
    },
    loadNative: () => {
      nativeLoaded = true;
      throw new Error('native explain() must not be reached in these tests');
    },
  });
  return { code, stdout, stderr, nativeLoaded };
}

const goodRules = JSON.stringify([{ source: 'public.customers', invalidate: ['customer:{id}'] }]);

describe('cdc-cache CLI (no addon needed)', () => {
  it('prints help with --help and exits 0', () => {
    for (const flag of ['--help', '-h', 'help']) {
      const r = run([flag]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('cdc-cache explain --rules RULES.json [--key KEY.json] EVENT.json');
      expect(r.stdout).toBe(`${USAGE}\n`);
    }
  });

  it('prints usage on stderr and exits 2 without a command', () => {
    const r = run([]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Usage:');
  });

  it('tail is not implemented yet (exit 2)', () => {
    const r = run(['tail', 'some-topic']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('cdc-cache: tail: not implemented yet\n');
  });

  it('rejects an unknown command', () => {
    const r = run(['explian']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('cdc-cache: unknown command "explian" (try cdc-cache --help)\n');
  });

  it.each([
    [['explain', 'e.json'], 'cdc-cache: explain needs --rules RULES.json\n'],
    [['explain', '--rules', 'r.json'], 'cdc-cache: explain needs exactly one EVENT.json file, got 0\n'],
    [['explain', '--rules', 'r.json', 'a.json', 'b.json'], 'cdc-cache: explain needs exactly one EVENT.json file, got 2\n'],
    [['explain', '--rules'], 'cdc-cache: --rules needs a file argument\n'],
    [['explain', '--rules', 'r.json', '--verbose', 'e.json'], 'cdc-cache: unknown option --verbose\n'],
  ])('usage error %j', (argv, message) => {
    const r = run(argv, { 'r.json': goodRules });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(message);
  });

  it('reports an unreadable file in one line', () => {
    const r = run(['explain', '--rules', 'missing.json', 'e.json']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('cdc-cache: cannot read rules file missing.json (ENOENT)\n');
  });

  it('rejects a rules file that is not JSON (exit 2, one line)', () => {
    const r = run(['explain', '--rules', 'r.json', 'e.json'], { 'r.json': '[{"source": ', 'e.json': '{}' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^cdc-cache: r\.json: not valid JSON: .*\n$/);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.nativeLoaded).toBe(false);
  });

  it('rejects bad rules with the rule path before loading the addon', () => {
    const r = run(['explain', '--rules=r.json', 'e.json'], {
      'r.json': JSON.stringify({ rules: [{ source: 'public.customers', invalidate: ['customer:{id'] }] }),
      'e.json': '{}',
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('cdc-cache: r.json: rules[0].invalidate[0]: unknown placeholder syntax "{id" in "customer:{id"\n');
    expect(r.nativeLoaded).toBe(false);
  });

  it('reports a missing event file after validating rules', () => {
    const r = run(['explain', '--rules', 'r.json', path.join(fixtures, 'nope.json')], { 'r.json': goodRules });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('cannot read event file');
  });

  it('exits 1 with one line when the addon cannot be loaded', () => {
    const r = run(['explain', '--rules', 'r.json', 'e.json'], { 'r.json': goodRules, 'e.json': '{}' });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('cdc-cache: native explain() must not be reached in these tests\n');
  });

  it('passes the validated rules, the value (null for an empty file) and the key to explain()', () => {
    const calls: Array<[string, Buffer | null, Buffer | null]> = [];
    let stdout = '';
    const files: Record<string, string> = { 'r.json': goodRules, 'tomb.json': '', 'k.json': '{"id":1}' };
    const code = runCli(['explain', '--rules', 'r.json', '--key', 'k.json', 'tomb.json'], {
      stdout: (t) => (stdout += t),
      stderr: () => {},
      readFile: (f) => Buffer.from(files[f]),
      loadNative: () => ({
        explain: (rules, value, key) => {
          calls.push([rules, value, key]);
          return '{"kind":"tombstone"}';
        },
      }),
    });
    expect(code).toBe(0);
    expect(stdout).toBe('{"kind":"tombstone"}\n');
    expect(JSON.parse(calls[0][0])).toEqual({ rules: [{ source: 'public.customers', invalidate: ['customer:{id}'], onTruncate: [] }] });
    expect(calls[0][1]).toBeNull();
    expect(calls[0][2]!.toString()).toBe('{"id":1}');
  });

  it('turns an explain() error into exit 2 and one line', () => {
    let stderr = '';
    const code = runCli(['explain', '--rules', 'r.json', 'bad.json'], {
      stdout: () => {},
      stderr: (t) => (stderr += t),
      readFile: (f) => Buffer.from(f === 'r.json' ? goodRules : 'garbage'),
      loadNative: () => ({
        explain: () => {
          throw new Error('value: not JSON\n(at byte 0)');
        },
      }),
    });
    expect(code).toBe(2);
    expect(stderr).toBe('cdc-cache: cannot explain bad.json: value: not JSON (at byte 0)\n');
  });

  it('forwards keyPrefix and deleteCommand of an options-style rules file, and checks them', () => {
    const calls: string[] = [];
    const files: Record<string, string> = {
      'opts.json': JSON.stringify({ kafka: {}, keyPrefix: 'app:', deleteCommand: 'DEL', rules: [{ source: 'a.b', invalidate: ['k:{id}'] }] }),
      'bad.json': JSON.stringify({ deleteCommand: 'unlink', rules: [] }),
      'norules.json': JSON.stringify({ keyPrefix: 'x' }),
      'e.json': '{}',
    };
    const io = {
      stdout: () => {},
      stderr: (t: string) => calls.push(t),
      readFile: (f: string) => Buffer.from(files[f]),
      loadNative: () => ({
        explain: (rules: string) => {
          calls.push(rules);
          return '{}';
        },
      }),
    };
    expect(runCli(['explain', '--rules', 'opts.json', 'e.json'], io)).toBe(0);
    expect(JSON.parse(calls[0])).toEqual({ rules: [{ source: 'a.b', invalidate: ['k:{id}'], onTruncate: [] }], keyPrefix: 'app:', deleteCommand: 'DEL' });
    expect(runCli(['explain', '--rules', 'bad.json', 'e.json'], io)).toBe(2);
    expect(calls[1]).toBe('cdc-cache: bad.json: deleteCommand: expected "UNLINK" or "DEL"\n');
    expect(runCli(['explain', '--rules', 'norules.json', 'e.json'], io)).toBe(2);
    expect(calls[2]).toContain('expected an array of rules or an object with a "rules" array');
  });

  it('keeps credentials of an options-style rules file out of its messages', () => {
    let stderr = '';
    const files: Record<string, string> = {
      'opts.json': JSON.stringify({
        redis: { url: 'redis://app:cli-secret-99@h:1' },
        rules: [{ source: 'a.b', invalidate: ['k:{cli-secret-99'] }],
      }),
      'e.json': '{}',
    };
    const code = runCli(['explain', '--rules', 'opts.json', 'e.json'], {
      stdout: () => {},
      stderr: (t) => (stderr += t),
      readFile: (f) => Buffer.from(files[f]),
      loadNative: () => ({ explain: () => '{}' }),
    });
    expect(code).toBe(2);
    expect(stderr).toContain('rules[0].invalidate[0]: unknown placeholder syntax');
    expect(stderr).not.toContain('cli-secret-99');
  });
});
