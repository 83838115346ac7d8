import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigErrors } from '../../../src/errors.js';
import { PolicyStore, defaultPacksDir, type CompiledPolicy } from '../../../src/policy/index.js';

const good = `classifiers:
  - label: pii.nickname
    names: [nickname]
masks:
  - labels: [pii.nickname]
    method: partial
    keep: { first: 1, last: 0 }
    except: [dpo]
rules:
  - id: no-drop-users
    match: { operation: drop, objects: [users] }
    action: deny
    message: no
`;

test('user dir: loaded after packs; user masks override packs', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dgf-store-'));
  await writeFile(join(dir, 'local.yaml'), good);
  await writeFile(join(dir, 'override.yaml'), 'masks:\n  - labels: [pii.email]\n    method: hash\n');
  const store = await PolicyStore.load({ dir });
  const p = store.current();
  assert.equal(p.version, 1);
  assert.deepEqual(p.labelsForName('NICKNAME'), ['pii.nickname']);
  assert.equal(p.explain('analyst', 'nickname', 'Bobby').masked, 'B****');
  assert.match(p.explain('analyst', 'email', 'a@b.co').masked as string, /^[0-9a-f]{24}$/);
  assert.equal(p.decide({ listener: 'l', protocol: 'postgres', identity: { user: 'x' }, role: 'admin', operation: 'drop', kind: 'ddl', objects: ['public.users'] }).ruleId, 'no-drop-users');
});

test('dir === packsDir loads every pack once', async () => {
  const store = await PolicyStore.load({ dir: defaultPacksDir() });
  assert.equal(store.current().summaries().length, 7);
});

test('load throws ConfigErrors with every error; unknown pack named', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dgf-store-'));
  await writeFile(join(dir, 'bad.yaml'), 'masks:\n  - labels: [pii.x]\n    method: nope\n');
  await assert.rejects(PolicyStore.load({ dir, packs: ['default', 'nosuch'] }), (err: unknown) => {
    assert.ok(err instanceof ConfigErrors);
    assert.equal(err.errors.length, 2);
    assert.match(err.message, /unknown policy pack "nosuch"/);
    assert.match(err.message, /bad\.yaml:3: masks\[0\]\.method: unknown mask method "nope"/);
    return true;
  });
});

test('reload is atomic: an invalid set is rejected and the old one stays', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dgf-store-'));
  await writeFile(join(dir, 'local.yaml'), good);
  const store = await PolicyStore.load({ dir, packs: ['default'] });
  const seen: CompiledPolicy[] = [];
  store.onReload((p) => seen.push(p));
  const before = store.current();

  await writeFile(join(dir, 'local.yaml'), good.replace('method: partial', 'method: shred'));
  const bad = await store.reload();
  assert.equal(bad.ok, false);
  if (!bad.ok) assert.match(bad.errors[0]!.message, /local\.yaml:6: masks\[0\]\.method: unknown mask method "shred"/);
  assert.equal(store.current(), before);
  assert.equal(store.current().explain('analyst', 'nickname', 'Bobby').masked, 'B****');
  assert.equal(seen.length, 0);

  await writeFile(join(dir, 'local.yaml'), good.replace('method: partial\n    keep: { first: 1, last: 0 }', 'method: redact'));
  const ok = await store.reload();
  assert.deepEqual(ok, { ok: true, version: 2 });
  assert.equal(store.current().version, 2);
  assert.equal(store.current().explain('analyst', 'nickname', 'Bobby').masked, '[REDACTED]');
  assert.equal(seen.length, 1);
  assert.equal(before.explain('analyst', 'nickname', 'Bobby').masked, 'B****', 'old snapshot unchanged');
});
