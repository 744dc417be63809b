// The CLI over the REAL native explain() (needs build/native/Release/cdc_cache.node; no Kafka/Redis).
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

import { runCli } from '../../lib/cli';

const fixtures = path.resolve(__dirname, '..', 'fixtures', 'debezium');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cdc-cache-cli-'));

function file(name: string, content: string): string {
  const p = path.join(tmp, name);
  fs.writeFileSync(p, content);
  return p;
}

function cli(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = runCli(argv, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { code, stdout, stderr };
}

interface Explained {
  event: { kind: string; op: string | null; source: { connector: string; db: string; schema: string; table: string }; before: unknown; after: unknown };
  commands: string[][];
}

function explained(argv: string[]): Explained {
  const r = cli(argv);
  if (r.code !== 0) throw new Error(`exit ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Explained;
}

describe('cdc-cache explain (real addon)', () => {
  const rules = file(
    'rules.json',
    JSON.stringify([
      { source: 'public.widgets', invalidate: ['widget:{id}', 'widget:name:{name}'] },
      { source: 'public.customers', invalidate: ['customer:{id}'], onTruncate: ['customers:all'] },
      { source: 'public.store_api_order', invalidate: ['order:{key.id}'] },
    ]),
  );

  it('explains a PostgreSQL create: the decoded event and the UNLINK commands', () => {
    const out = explained(['explain', '--rules', rules, path.join(fixtures, 'postgres/pg-v2.7-create.schemaless.json')]);
    expect(out.event.kind).toBe('change');
    expect(out.event.op).toBe('c');
    expect(out.event.source).toMatchObject({ connector: 'postgresql', schema: 'public', table: 'widgets' });
    expect(out.event.after).toEqual({ id: 'w1', name: 'gadget', active: true });
    // One command per batch of keys (UNLINK takes several keys).
    expect(out.commands.every((c) => c[0] === 'UNLINK')).toBe(true);
    expect(out.commands.flatMap((c) => c.slice(1)).sort()).toEqual(['widget:name:gadget', 'widget:w1']);
  });

  it('applies keyPrefix and deleteCommand from an options-style rules file', () => {
    const opts = file(
      'opts.json',
      JSON.stringify({ keyPrefix: 'app:', deleteCommand: 'DEL', rules: [{ source: 'public.widgets', invalidate: ['widget:{id}'] }] }),
    );
    const out = explained(['explain', '--rules', opts, path.join(fixtures, 'postgres/pg-v2.7-create.schemaless.json')]);
    expect(out.commands).toEqual([['DEL', 'app:widget:w1']]);
  });

  it('uses the message key for {key.*} placeholders (--key)', () => {
    const out = explained([
      'explain',
      '--rules',
      rules,
      '--key',
      path.join(fixtures, 'postgres/pg-v3.0-create-uuid.with-schema.key.json'),
      path.join(fixtures, 'postgres/pg-v3.0-create-uuid.with-schema.json'),
    ]);
    expect(out.commands).toEqual([['UNLINK', 'order:ef9b5beb-9c21-4d66-a769-47207c205bbe']]);
  });

  it('treats an empty EVENT file as a tombstone', () => {
    const out = explained([
      'explain',
      '--rules',
      rules,
      '--key',
      path.join(fixtures, 'postgres/pg-composite-key-tombstone.key.json'),
      path.join(fixtures, 'postgres/pg-composite-key-tombstone.tombstone'),
    ]);
    expect(out.event.kind).toBe('tombstone');
    expect(out.commands).toEqual([]);
  });

  it('explains a truncate with onTruncate keys', () => {
    const out = explained(['explain', '--rules', rules, path.join(fixtures, 'postgres/pg-docs-truncate.schemaless.json')]);
    expect(out.event.op).toBe('t');
    expect(out.commands).toEqual([['UNLINK', 'customers:all']]);
  });

  it('gives no commands for a source without a rule', () => {
    const out = explained(['explain', '--rules', rules, path.join(fixtures, 'mysql/mysql-v1.9-create.schemaless.json')]);
    expect(out.commands).toEqual([]);
  });

  it('explains every fixture value without crashing (exit 0, or 2 with one line)', () => {
    const all = ['postgres', 'mysql', 'mongodb', 'misc'].flatMap((dir) =>
      fs
        .readdirSync(path.join(fixtures, dir))
        .filter((f) => f.endsWith('.json') && !f.endsWith('.key.json'))
        .map((f) => path.join(fixtures, dir, f)),
    );
    expect(all.length).toBeGreaterThan(30);
    const star = file('star.json', JSON.stringify([{ source: '*', invalidate: ['any:{id}'] }]));
    for (const event of all) {
      const r = cli(['explain', '--rules', star, event]);
      expect([0, 2]).toContain(r.code);
      if (r.code === 0) expect(() => JSON.parse(r.stdout)).not.toThrow();
      else expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
  });

  it('exits 2 with one clear line for undecodable input', () => {
    for (const content of ['this is not json', '{"before":', '[1,2,3]']) {
      const r = cli(['explain', '--rules', rules, file('bad.json', content)]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^cdc-cache: cannot explain .*bad\.json: .+\n$/);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stdout).toBe('');
    }
  });
});
