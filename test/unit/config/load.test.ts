import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfigText, loadConfigFile, configFromObject } from '../../../src/config/load.js';
import { ConfigErrors } from '../../../src/errors.js';

function errorsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigErrors, `expected ConfigErrors, got ${String(err)}`);
    return err.errors.map((e) => e.message);
  }
  assert.fail('expected a config error');
}

test('an invalid enum names file, line and key with the allowed values', () => {
  const text = ['listeners:', '  - name: pg', '    protocol: postgres', '    pool: sessions', '    upstream: { url: "postgres://u@h/db" }', ''].join('\n');
  assert.deepEqual(errorsOf(() => loadConfigText(text, 'dgf.yaml')), ['dgf.yaml:4: listeners[0].pool: must be one of session, transaction']);
});

test('unknown keys are rejected at their line, at every depth', () => {
  const text = ['admin:', '  listen: 127.0.0.1:8080', '  tokn: x', 'listeners:', '  - name: r', '    protocol: redis', '    upstream: { url: "redis://h:1", pasword: x }', 'extra: 1', ''].join('\n');
  const errors = errorsOf(() => loadConfigText(text, 'dgf.yaml'));
  assert.ok(errors.includes('dgf.yaml:3: admin.tokn: unknown key "tokn"'), errors.join('\n'));
  assert.ok(errors.includes('dgf.yaml:7: listeners[0].upstream.pasword: unknown key "pasword"'), errors.join('\n'));
  assert.ok(errors.includes('dgf.yaml:8: extra: unknown key "extra"'), errors.join('\n'));
});

test('${ENV} is interpolated; a missing variable is an error at its line', () => {
  const text = ['admin:', '  token: ${DGF_T_TOKEN}', 'policies:', '  hashKey: ${DGF_T_MISSING}', ''].join('\n');
  const cfg = loadConfigText(text.replace('${DGF_T_MISSING}', 'k'.repeat(20)), 'dgf.yaml', { DGF_T_TOKEN: 'secret' });
  assert.equal(cfg.admin.token, 'secret');
  assert.deepEqual(errorsOf(() => loadConfigText(text, 'dgf.yaml', { DGF_T_TOKEN: 'x' })), [
    'dgf.yaml:4: policies.hashKey: environment variable DGF_T_MISSING is not set',
  ]);
});

test('YAML syntax errors name the file and line', () => {
  const errors = errorsOf(() => loadConfigText('listeners:\n  - name: [a,\n  b: 2\n', 'bad.yaml'));
  assert.equal(errors.length, 1);
  assert.match(errors[0]!, /^bad\.yaml:\d+: /);
});

test('defaults: ports per protocol, transaction pool, 16 MiB frames, closed audit, all packs', () => {
  const cfg = loadConfigText(
    ['listeners:', '  - { name: m, protocol: mongodb, upstream: { url: "mongodb://h/app" } }', '  - { name: r, protocol: redis, upstream: { url: "redis://h:1" } }', ''].join('\n'),
    path.join(tmpdir(), 'x.yaml'),
  );
  assert.equal(cfg.admin.listen, '127.0.0.1:8080');
  assert.equal(cfg.listeners[0]!.listen, '127.0.0.1:27018');
  assert.equal(cfg.listeners[1]!.listen, '127.0.0.1:6380');
  assert.equal(cfg.listeners[0]!.pool, 'transaction');
  assert.equal(cfg.listeners[0]!.maxMessageBytes, 16 * 1024 * 1024);
  assert.equal(cfg.listeners[0]!.auth, 'trust');
  assert.equal(cfg.audit.failMode, 'closed');
  assert.deepEqual(cfg.policies.packs, ['default', 'gdpr', 'hipaa', 'sox', 'iso27001']);
  assert.equal(cfg.audit.sinks[0]!.type, 'file');
  assert.ok(path.isAbsolute(cfg.audit.sinks[0]!.path!));
});

test('cross-field checks: trust off loopback, duplicate names and ports, users without secrets, upstream urls', () => {
  const text = [
    'listeners:',
    '  - name: pg',
    '    protocol: postgres',
    '    listen: 0.0.0.0:6432',
    '    upstream: { url: "postgres://u@h/db" }',
    '  - name: pg',
    '    protocol: postgres',
    '    listen: 0.0.0.0:6432',
    '    users: [{ name: app }]',
    '    upstream: { url: "postgres://u@h/db" }',
    '  - name: c',
    '    protocol: cosmos',
    '    upstream: { endpoint: "https://x" }',
    '',
  ].join('\n');
  const errors = errorsOf(() => loadConfigText(text, 'dgf.yaml'));
  assert.ok(errors.some((e) => e.startsWith('dgf.yaml:4: listeners[0].listen: auth: trust is only allowed on a loopback address')), errors.join('\n'));
  assert.ok(errors.includes('dgf.yaml:6: listeners[1].name: duplicate listener name "pg"'), errors.join('\n'));
  assert.ok(errors.includes('dgf.yaml:8: listeners[1].listen: address 0.0.0.0:6432 is already used by listeners[0]'), errors.join('\n'));
  assert.ok(errors.includes('dgf.yaml:9: listeners[1].users[0]: user "app" needs a password'), errors.join('\n'));
  assert.ok(errors.includes('dgf.yaml:13: listeners[2].upstream: missing required key "key" for a cosmos upstream'), errors.join('\n'));
});

test('a file that is missing or not a mapping is a clear config error', async () => {
  await assert.rejects(loadConfigFile('/nonexistent/dgf.yaml'), (err: unknown) => err instanceof ConfigErrors && /dgf\.yaml: cannot read file: ENOENT/.test(err.message));
  assert.deepEqual(errorsOf(() => loadConfigText('- a\n- b\n', 'list.yaml')), ['list.yaml:1: the config must be a mapping of keys (admin, policies, roles, audit, listeners)']);
  assert.ok(errorsOf(() => loadConfigText('\u0000\u0001garbage: [', 'bin.yaml'))[0]!.startsWith('bin.yaml:'));
});

test('relative paths resolve against the config file directory', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dgf-cfg-'));
  const file = path.join(dir, 'dgf.yaml');
  writeFileSync(file, ['policies: { dir: ./pol }', 'audit: { sinks: [{ type: file, path: ./a/audit.jsonl }] }', ''].join('\n'));
  const cfg = await loadConfigFile(file);
  assert.equal(cfg.policies.dir, path.join(dir, 'pol'));
  assert.equal(cfg.audit.sinks[0]!.path, path.join(dir, 'a', 'audit.jsonl'));
  assert.equal(cfg.stateDir, path.join(dir, 'a'));
});

test('the shipped dgf.example.yaml is valid', () => {
  const text = readFileSync(new URL('../../../dgf.example.yaml', import.meta.url), 'utf8');
  const env = new Proxy({}, { get: () => 'example-value-0123456789' }) as NodeJS.ProcessEnv;
  const cfg = loadConfigText(text, 'dgf.example.yaml', env);
  assert.deepEqual(cfg.listeners.map((l) => l.protocol), ['postgres', 'mongodb', 'redis', 'cosmos', 'blob']);
});

test('configFromObject validates objects the same way', () => {
  assert.deepEqual(errorsOf(() => configFromObject({ listeners: [{ name: 'x', protocol: 'ftp', upstream: {} }] }, tmpdir())), [
    'listeners[0].protocol: must be one of postgres, mongodb, redis, cosmos, blob',
  ]);
});
