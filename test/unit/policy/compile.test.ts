import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigErrors } from '../../../src/errors.js';
import { YamlSource } from '../../../src/config/yaml-source.js';
import { checkPolicyFiles, compilePolicySources, defaultPacksDir } from '../../../src/policy/index.js';

function errorsOf(text: string, file = 'policies/x.yaml'): string[] {
  try {
    compilePolicySources([YamlSource.parse(text, file)]);
  } catch (err) {
    assert.ok(err instanceof ConfigErrors, String(err));
    return err.errors.map((e) => e.message);
  }
  return [];
}

test('the shipped packs compile cleanly', async () => {
  assert.deepEqual((await checkPolicyFiles([defaultPacksDir()])).map((e) => e.message), []);
});

test('unknown mask method: file, line, key and the allowed methods', () => {
  const errs = errorsOf(['masks:', '  - labels: ["pii.email"]', '    method: foo', ''].join('\n'));
  assert.deepEqual(errs, ['policies/x.yaml:3: masks[0].method: unknown mask method "foo" (one of redact, null, partial, last4, email, hash, tokenize, generalize, fake)']);
});

test('unknown detector', () => {
  const errs = errorsOf(['classifiers:', '  - label: pii.x', '    names: [x]', '    values: credit_kard', ''].join('\n'));
  assert.equal(errs.length, 1);
  assert.match(errs[0]!, /^policies\/x\.yaml:4: classifiers\[0\]\.values: unknown detector "credit_kard" \(one of email, /);
});

test('bad regex', () => {
  const errs = errorsOf(['classifiers:', '  - label: pii.x', '    values: { regex: "a(b" }', ''].join('\n'));
  assert.equal(errs.length, 1);
  assert.match(errs[0]!, /^policies\/x\.yaml:3: classifiers\[0\]\.values\.regex: bad regex \/a\(b\/: /);
});

test('unknown key', () => {
  const errs = errorsOf(['rules:', '  - id: r1', '    action: deny', '    message: no', '    mtach: { role: analyst }', ''].join('\n'));
  assert.equal(errs.length, 1);
  assert.match(errs[0]!, /^policies\/x\.yaml:5: rules\[0\]\.mtach: unknown key "mtach" \(allowed: /);
});

test('duplicate rule id, bad glob, bad enum, bad YAML', () => {
  const errs = errorsOf(
    [
      'classifiers:',
      '  - label: pii.x',
      '    names: ["a[b"]',
      'rules:',
      '  - id: r1',
      '    severity: urgent',
      '  - id: r1',
      '',
    ].join('\n'),
  );
  assert.equal(errs.length, 3, errs.join('\n'));
  assert.ok(errs.some((e) => e.startsWith('policies/x.yaml:3: classifiers[0].names[0]: invalid glob "a[b"')), errs.join('\n'));
  assert.ok(errs.includes('policies/x.yaml:6: rules[0].severity: must be one of critical, high, medium, low'), errs.join('\n'));
  assert.ok(errs.includes('policies/x.yaml:7: rules[1].id: duplicate rule id "r1" (first defined at policies/x.yaml:5)'), errs.join('\n'));
  assert.throws(() => YamlSource.parse('masks: [\n', 'policies/y.yaml'), /policies\/y\.yaml:\d+:/);
});

test('several errors in several files are reported together', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dgf-policy-'));
  await writeFile(join(dir, 'a.yaml'), 'masks:\n  - labels: [pii.x]\n    method: scramble\n');
  await writeFile(join(dir, 'b.yaml'), 'classifiers:\n  - label: pii.y\n    values: nope\n');
  const errs = (await checkPolicyFiles([dir])).map((e) => e.message);
  assert.equal(errs.length, 2, errs.join('\n'));
  assert.match(errs[0]!, /a\.yaml:3: masks\[0\]\.method: unknown mask method "scramble"/);
  assert.match(errs[1]!, /b\.yaml:3: classifiers\[0\]\.values: unknown detector "nope"/);
});

test('malformed files are errors, never crashes; an empty file is an empty policy', () => {
  assert.deepEqual(errorsOf(''), []);
  assert.deepEqual(errorsOf('- a\n- b\n'), ['policies/x.yaml:1: must be a mapping']);
  assert.deepEqual(errorsOf('hello\n'), ['policies/x.yaml:1: must be a mapping']);
  const errs = errorsOf(['classifiers:', '  - label: 5', '    names: email', 'masks: 3', 'rules:', '  - {}', ''].join('\n'));
  assert.deepEqual(errs, [
    'policies/x.yaml:2: classifiers[0].label: must be a string',
    'policies/x.yaml:3: classifiers[0].names: must be a list',
    'policies/x.yaml:4: masks: must be a list',
    'policies/x.yaml:6: rules[0]: missing required key "id"',
  ]);
});
