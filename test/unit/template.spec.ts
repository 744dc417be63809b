import { checkTemplate, isFieldPath } from '../../lib/options';

describe('checkTemplate', () => {
  it.each([
    ['customers:all', []],
    ['customer:{id}', [{ path: 'id', fromKey: false }]],
    ['customer:{id}:{email}', [{ path: 'id', fromKey: false }, { path: 'email', fromKey: false }]],
    ['{a.b.c}', [{ path: 'a.b.c', fromKey: false }]],
    ['order:{key.id}', [{ path: 'id', fromKey: true }]],
    ['order:{key.pk.part_1}', [{ path: 'pk.part_1', fromKey: true }]],
    ['{_id}', [{ path: '_id', fromKey: false }]],
    ['{key}', [{ path: 'key', fromKey: false }]],
    ['lit:{{x}}', []],
    ['{{{id}}}', [{ path: 'id', fromKey: false }]],
    ['a}}b{{c', []],
    ['ünïcode:{id}', [{ path: 'id', fromKey: false }]],
  ])('accepts %j', (template, placeholders) => {
    expect(checkTemplate(template)).toEqual({ ok: true, placeholders });
  });

  it.each([
    ['{id', '{id'],
    ['customer:{id', '{id'],
    ['customer:{}', '{}'],
    ['c:{id-x}', '{id-x}'],
    ['c:{ id }', '{ id }'],
    ['c:{1abc}', '{1abc}'],
    ['c:{a..b}', '{a..b}'],
    ['c:{a.}', '{a.}'],
    ['c:{.a}', '{.a}'],
    ['c:{key.}', '{key.}'],
    ['c:{a{b}', '{a'],
    ['c:id}', '}'],
    ['c:{id}}', '}'],
    ['c:{$oid}', '{$oid}'],
  ])('rejects %j with fragment %j', (template, fragment) => {
    const r = checkTemplate(template);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.fragment).toBe(fragment);
      expect(r.message).toBe(
        `unknown placeholder syntax ${JSON.stringify(fragment)}` + (fragment === template ? '' : ` in ${JSON.stringify(template)}`),
      );
    }
  });
});

it('names only the fragment when it is the whole template', () => {
  const r = checkTemplate('{id');
  expect(!r.ok && r.message).toBe('unknown placeholder syntax "{id"');
});

describe('isFieldPath', () => {
  it('accepts identifier segments joined by "."', () => {
    for (const p of ['id', 'address.city', '_x.y_2']) expect(isFieldPath(p)).toBe(true);
  });
  it('rejects everything else', () => {
    for (const p of ['', 'a b', 'a.', '.a', '1a', 'a-b', 'key.']) expect(isFieldPath(p)).toBe(false);
  });
});
