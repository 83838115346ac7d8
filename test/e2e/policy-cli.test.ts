import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { dgf } from './cli.js';

test('dgf policy check passes on the shipped packs', async () => {
  const r = await dgf(['policy', 'check']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
});

test('dgf policy check names file and line of an unknown detector and an unknown mask method, exit 1', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dgf-pol-'));
  const file = path.join(dir, 'bad.yaml');
  writeFileSync(
    file,
    [
      'classifiers:',
      '  - label: pii.thing',
      '    names: ["thing"]',
      '    values: no_such_detector',
      'masks:',
      '  - labels: ["pii.thing"]',
      '    method: scramble',
      '',
    ].join('\n'),
  );
  const r = await dgf(['policy', 'check', file]);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  const out = r.stdout + r.stderr;
  assert.match(out, new RegExp(`${escape(file)}:4: .*no_such_detector`));
  assert.match(out, new RegExp(`${escape(file)}:7: .*scramble`));
});

test('dgf policy explain finds a card inside free text and masks only that span', async () => {
  const r = await dgf(['policy', 'explain', '--role', 'analyst', '--name', 'notes', '--value', 'card 4111 1111 1111 1111 ok']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /financial\.card/);
  assert.match(r.stdout, /card [^\n]*1111 ok/);
  assert.doesNotMatch(r.stdout.split('\n').filter((l) => /masked/i.test(l)).join('\n'), /4111 1111 1111 1111/);
});

test('a malformed config exits 2 naming the file and line; bad usage exits 2', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dgf-cfg-'));
  const file = path.join(dir, 'dgf.yaml');
  writeFileSync(file, ['listeners:', '  - name: pg', '    protocol: postgres', '    pool: sessions', '    upstream: { url: "postgres://u@127.0.0.1:1/db" }', ''].join('\n'));
  const r = await dgf(['start', '--config', file]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, new RegExp(`${escape(file)}:4: listeners\\[0\\]\\.pool: must be one of session, transaction`));
  const u = await dgf(['report', '--framework', 'nope', '--audit', file]);
  assert.equal(u.code, 2);
  const v = await dgf(['frobnicate']);
  assert.equal(v.code, 2);
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
