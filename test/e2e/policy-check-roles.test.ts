/**
 * `dgf policy check --config` warns about role mappings a client can exploit by what it asserts without proof
 * (issue #18 item 4): a role exempt from masks or rules, reached by `application` (PostgreSQL application_name,
 * MongoDB appName, Redis client name, HTTP User-Agent) or by `user` on a listener without authentication. The
 * warnings do not fail the check (exit 0); mappings by authenticated user, address or listener are not reported.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { dgf } from './cli.js';

function config(roles: string[]): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'dgf-roles-'));
  const file = path.join(dir, 'dgf.yaml');
  writeFileSync(
    file,
    [
      'policies:',
      '  packs: [default, gdpr]',
      'roles:',
      ...roles,
      'audit:',
      '  sinks: [{ type: stdout }]',
      'listeners:',
      '  - name: pg',
      '    protocol: postgres',
      '    listen: 127.0.0.1:6432',
      '    users: [{ name: app, password: pw }, { name: analyst, password: pw }]',
      '    upstream: { url: "postgres://u@127.0.0.1:5432/db" }',
      '  - name: cache',
      '    protocol: redis',
      '    listen: 127.0.0.1:6380',
      '    auth: trust',
      '    upstream: { url: "redis://127.0.0.1:6379" }',
      '',
    ].join('\n'),
  );
  return file;
}

test('mappings by application, or by user on a trust listener, to exempt roles are warned about; exit 0', async () => {
  const file = config([
    '  - match: { user: analyst }',
    '    role: analyst',
    '  - match: { user: app, application: billing-* }',
    '    role: service',
    '  - match: { application: dashboard }',
    '    role: dpo',
    '  - match: { user: ops, listener: cache }',
    '    role: admin',
    '  - match: { address: 10.0.0.5 }',
    '    role: admin',
  ]);
  const r = await dgf(['policy', 'check', '--config', file]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const warnings = r.stdout.split('\n').filter((l) => l.startsWith('warning:'));
  assert.equal(warnings.length, 3, r.stdout);
  const [service, dpo, admin] = warnings as [string, string, string];
  assert.match(service, /roles\[1\] maps by application .* role "service", which sees [^;]*pii\.email[^;]* unmasked/);
  assert.match(service, /pg: the application_name startup parameter/);
  assert.match(dpo, /roles\[2\] .*role "dpo"/);
  assert.match(dpo, /cache: CLIENT SETNAME/);
  assert.match(admin, /roles\[3\] maps by user \(not authenticated: auth trust\) to role "admin".*escapes rules? [^;]*deny-destructive/);
  assert.match(admin, /cache: the user name, unauthenticated/);
  assert.doesNotMatch(r.stdout, /roles\[0\]|roles\[4\]/);
  assert.match(r.stdout, /^ok: /m);
});

test('a mapping by application to a role without exemptions, and one by authenticated user, are not reported', async () => {
  const file = config(['  - match: { application: reporting }', '    role: analyst', '  - match: { user: app, listener: pg }', '    role: service']);
  const r = await dgf(['policy', 'check', '--config', file]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.doesNotMatch(r.stdout, /warning:/);
});

test('a config named on the command line that does not load exits 2', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dgf-roles-'));
  const file = path.join(dir, 'dgf.yaml');
  writeFileSync(file, 'roles:\n  - match: { nobody: x }\n    role: admin\n');
  const r = await dgf(['policy', 'check', '--config', file]);
  assert.equal(r.code, 2, r.stdout + r.stderr);
  assert.match(r.stdout + r.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2`));
});
