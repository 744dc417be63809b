// The integer option limits and defaults have one source (src/native/core/common/option_limits.h):
// lib/option-limits.ts is generated from it, the TypeScript validator reads that, and the C++
// parser reads the header itself (test/native/option_limits_test.cc checks that side).
import { execFileSync } from 'child_process';
import * as path from 'path';

import { DEFAULTS, validateOptions } from '../../lib/options';
import { LimitedOption, OPTION_LIMITS } from '../../lib/option-limits';
import { CHANGE_KINDS } from '../../lib/types';
import { loadNative } from '../../lib/native';
import * as fs from 'fs';

const root = path.resolve(__dirname, '..', '..');

function base(): Record<string, unknown> {
  return { kafka: { brokers: '127.0.0.1:19092', groupId: 'g', topics: ['t'] }, redis: { url: 'redis://127.0.0.1:16379' } };
}

// The options object with `path` set to value.
function withOption(optionPath: LimitedOption, value: number): Record<string, unknown> {
  const options = base();
  const parts = optionPath.split('.');
  let at = options;
  for (const part of parts.slice(0, -1)) {
    at[part] = { ...((at[part] as Record<string, unknown>) ?? {}) };
    at = at[part] as Record<string, unknown>;
  }
  at[parts[parts.length - 1]] = value;
  return options;
}

function defaultOf(optionPath: LimitedOption): unknown {
  let at: unknown = DEFAULTS;
  for (const part of optionPath.split('.')) at = (at as Record<string, unknown>)[part];
  return at;
}

describe('option limits table', () => {
  it('lib/option-limits.ts is generated from the C++ header and up to date', () => {
    expect(() => execFileSync(process.execPath, [path.join(root, 'scripts', 'gen-option-limits.mjs'), '--check'], { stdio: 'pipe' })).not.toThrow();
  });

  it.each(Object.keys(OPTION_LIMITS) as LimitedOption[])('%s: validation and defaults follow the table', (optionPath) => {
    const limit = OPTION_LIMITS[optionPath];
    expect(defaultOf(optionPath)).toBe(limit.default);
    expect(() => validateOptions(withOption(optionPath, limit.min))).not.toThrow();
    expect(() => validateOptions(withOption(optionPath, limit.max))).not.toThrow();
    expect(() => validateOptions(withOption(optionPath, limit.min - 1))).toThrow(optionPath);
    expect(() => validateOptions(withOption(optionPath, limit.max + 1))).toThrow(optionPath);
  });
});

describe('event kind spelling', () => {
  it('the native core spells a schema change as lib/types.ts does', () => {
    const fixture = path.join(root, 'test', 'fixtures', 'debezium', 'mysql', 'mysql-docs-schema-change.with-schema.json');
    const out = JSON.parse(loadNative().explain('[]', fs.readFileSync(fixture), null)) as { event: { kind: string } };
    expect(out.event.kind).toBe('schemaChange');
    expect(CHANGE_KINDS).toContain(out.event.kind);
  });
});
