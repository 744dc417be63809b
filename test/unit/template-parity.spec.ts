// The TypeScript template check against the native rule compiler (real addon). TypeScript must never
// accept a template the engine rejects (the user would pass validation and fail at start()).
// TypeScript is deliberately stricter in one respect: placeholder paths are identifier segments
// ([A-Za-z_][A-Za-z0-9_]*) joined by '.', while the engine accepts any characters except braces
// between the dots; those cases are listed in STRICTER_IN_TYPESCRIPT.
import * as fs from 'fs';
import * as path from 'path';

import { loadNative } from '../../lib/native';
import { checkTemplate } from '../../lib/options';

const event = fs.readFileSync(path.resolve(__dirname, '..', 'fixtures', 'debezium', 'postgres', 'pg-v2.7-create.schemaless.json'));

const templates = [
  'customers:all',
  'customer:{id}',
  'customer:{id}:{name}',
  '{address.city}',
  'order:{key.id}',
  'lit:{{x}}',
  '{{{id}}}',
  'a}}b{{c',
  '{_id}',
  '{id',
  'customer:{}',
  'c:{id-x}',
  'c:{ id }',
  'c:{1abc}',
  'c:{a..b}',
  'c:{a.}',
  'c:{key.}',
  'c:{a{b}',
  'c:id}',
  'c:{id}}',
];

const STRICTER_IN_TYPESCRIPT = new Set(['c:{id-x}', 'c:{ id }', 'c:{1abc}']);

describe('template syntax parity with the native rule compiler', () => {
  const { explain } = loadNative();
  it.each(templates)('%j', (template) => {
    const ts = checkTemplate(template);
    let nativeError: string | undefined;
    try {
      explain(JSON.stringify([{ source: 'public.widgets', invalidate: [template] }]), event, null);
    } catch (e) {
      nativeError = (e as Error).message;
    }
    if (ts.ok) {
      expect(nativeError).toBeUndefined();
    } else if (STRICTER_IN_TYPESCRIPT.has(template)) {
      expect(nativeError).toBeUndefined();
    } else {
      expect(nativeError).toBeDefined();
      expect(nativeError).toContain('rules[0].invalidate[0]');
    }
  });

  it('both sides word the contract example the same way', () => {
    expect(() => explain(JSON.stringify([{ source: 'a', invalidate: ['a'] }, { source: 'b', invalidate: ['b'] }, { source: 'c', invalidate: ['{id'] }]), event, null)).toThrow(
      'rules[2].invalidate[0]: unknown placeholder syntax "{id"',
    );
  });
});
