import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PolicyStore } from '../../../src/policy/index.js';
import { createAuditLog } from '../../../src/audit/log.js';
import { createListenerQuota } from '../../../src/quota/tracker.js';
import { ListenerGovernance } from '../../../src/governance/listener-governance.js';
import { RoleResolver, DEFAULT_ROLE } from '../../../src/governance/roles.js';
import { Inventory } from '../../../src/governance/inventory.js';
import { ScanAccumulator } from '../../../src/governance/scan-accumulator.js';
import { configFromObject } from '../../../src/config/load.js';
import { silentLogger } from '../../../src/logger.js';
import { registry } from '../../../src/metrics/index.js';

async function setup(failMode: 'closed' | 'open' = 'closed') {
  const dir = mkdtempSync(path.join(tmpdir(), 'dgf-gov-'));
  const file = path.join(dir, 'audit.jsonl');
  const config = configFromObject(
    {
      listeners: [{ name: 'pg-gov', protocol: 'postgres', listen: '127.0.0.1:0', upstream: { url: 'postgres://u@127.0.0.1:1/db' } }],
      roles: [{ match: { user: 'analyst' }, role: 'analyst' }, { match: { user: 'app', application: 'billing-*' }, role: 'service' }],
      audit: { failMode, sinks: [{ type: 'file', path: file, fsyncMs: 1 }] },
    },
    dir,
  );
  const policies = await PolicyStore.load({ hashKey: 'unit-test-hash-key-0123' });
  const audit = await createAuditLog(config.audit, { chainKey: 'unit-chain-key-0123456789' });
  const quota = await createListenerQuota({ listener: 'pg-gov', quota: config.listeners[0]!.quota, stateDir: dir, logger: silentLogger });
  const inventory = new Inventory();
  const gov = new ListenerGovernance(config.listeners[0]!, { policies, audit, quota, roles: new RoleResolver(config.roles), inventory, logger: silentLogger });
  return { gov, audit, file, inventory, policies };
}

test('roles: first match wins on every given attribute; no match is "default"', () => {
  const roles = new RoleResolver([
    { match: { user: 'app', application: 'billing-*' }, role: 'service' },
    { match: { user: 'app' }, role: 'app-other' },
    { match: { address: '10.*' }, role: 'internal' },
  ]);
  assert.equal(roles.resolve({ user: 'app', application: 'billing-api' }), 'service');
  assert.equal(roles.resolve({ user: 'app', application: 'reports' }), 'app-other');
  assert.equal(roles.resolve({ user: 'bob', address: '10.1.2.3' }), 'internal');
  assert.equal(roles.resolve({ user: 'bob', address: '127.0.0.1' }), DEFAULT_ROLE);
});

test('an allowed operation is audited with identity, labels and masked counts, after it is kept', async () => {
  const { gov, audit, file } = await setup();
  const identity = { user: 'analyst', application: 'psql', address: '127.0.0.1' };
  const role = gov.roleOf(identity);
  assert.equal(role, 'analyst');
  const op = gov.begin({ identity, role, operation: 'select', kind: 'read', objects: ['public.customers'], statement: 'select * from customers where id = $1' });
  assert.equal(op.denied, false);
  const plan = gov.policy().fieldPlan(role, { name: 'email', object: 'public.customers', type: 'text' });
  assert.equal(plan.mode, 'mask');
  const masked = plan.apply('alice@example.com', op);
  assert.notEqual(masked, 'alice@example.com');
  op.rows = 1;
  await op.finish({ upstreamMs: 0.5 });
  const records = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(records.length, 1, 'the record is on disk when finish resolves');
  const r = records[0]!;
  assert.deepEqual(r.identity, identity);
  assert.equal(r.role, 'analyst');
  assert.equal(r.decision, 'allow');
  assert.equal(r.rows, 1);
  assert.deepEqual(r.labels, ['pii.email']);
  assert.deepEqual(r.masked, { 'pii.email': 1 });
  assert.doesNotMatch(JSON.stringify(r), /alice@example\.com/);
  assert.equal(op.finish(), op.finish(), 'finish is idempotent');
  await audit.close();
});

test('a denied operation carries the rule and message, is audited as deny and counted in metrics', async () => {
  const { gov, audit, file } = await setup();
  const identity = { user: 'analyst' };
  const op = gov.begin({ identity, role: 'analyst', operation: 'drop', kind: 'ddl', objects: ['public.customers'], statement: 'drop table customers' });
  assert.equal(op.denied, true);
  assert.ok(op.decision.ruleId);
  assert.match(op.decision.message ?? '', /\S/);
  await op.finish();
  // A denial is recorded without anyone waiting for it (it never reached the upstream): kept by the next flush.
  await audit.close();
  const r = JSON.parse(readFileSync(file, 'utf8').trim()) as Record<string, unknown>;
  assert.equal(r.decision, 'deny');
  assert.equal(r.rows, null);
  assert.ok((r.rules as string[]).includes(op.decision.ruleId!));
  const metrics = await registry.metrics();
  assert.match(metrics, new RegExp(`dgf_policy_denials_total\\{listener="pg-gov",rule="${op.decision.ruleId}"\\} [1-9]`));
  assert.match(metrics, /dgf_queries_total\{listener="pg-gov",protocol="postgres",operation="drop",outcome="denied"\} [1-9]/);
});

test('an admin role may run what the firewall denies to others', async () => {
  const { gov, audit } = await setup();
  const op = gov.begin({ identity: { user: 'root' }, role: 'admin', operation: 'drop', kind: 'ddl', objects: ['public.t'] });
  assert.equal(op.denied, false);
  await op.finish();
  await audit.close();
});

test('inventory counts labels per listener, object and field, and ignores unlabelled fields', () => {
  const inv = new Inventory();
  inv.record('pg', 'public.customers', 'email', ['pii.email']);
  inv.record('pg', 'public.customers', 'email', ['pii.email']);
  inv.record('pg', 'public.customers', 'id', []);
  const snap = inv.snapshot();
  assert.equal(snap.pg!.length, 1);
  assert.deepEqual(snap.pg![0]!.labels, { 'pii.email': 2 });
});

test('scan accumulator classifies by name and by sampled value, walking nested documents', async () => {
  const policies = await PolicyStore.load({ hashKey: 'unit-test-hash-key-0123' });
  const acc = new ScanAccumulator(policies.current());
  acc.field('public.customers', 'email');
  acc.value('public.customers', 'notes', 'call me, card 4111 1111 1111 1111');
  acc.value('app.users', 'contact', { phone: '+14155552671', city: 'Paris' });
  const rows = acc.rows();
  const by = (o: string, f: string) => rows.find((r) => r.object === o && r.field === f);
  assert.deepEqual(by('public.customers', 'email')?.labels, ['pii.email']);
  assert.equal(by('public.customers', 'email')?.source, 'name');
  assert.ok(by('public.customers', 'notes')?.labels.includes('financial.card'));
  assert.equal(by('public.customers', 'notes')?.source, 'value');
  assert.ok(by('app.users', 'contact.phone')?.labels.some((l) => l.startsWith('pii.phone')));
  assert.deepEqual(by('app.users', 'contact.city')?.labels, []);
});

test('client-chosen operation names cannot grow the metrics without bound', async () => {
  const { gov, audit } = await setup('open');
  for (let i = 0; i < 1000; i++) {
    const op = gov.begin({ identity: { user: 'app' }, role: 'app', operation: `cmd-${i}`, kind: 'other', objects: [] });
    await op.finish();
  }
  const metrics = await registry.metrics();
  const series = metrics.split('\n').filter((l) => l.startsWith('dgf_queries_total{listener="pg-gov"')).length;
  assert.ok(series <= 300, `${series} series`);
  assert.match(metrics, /dgf_queries_total\{listener="pg-gov",protocol="postgres",operation="other",outcome="ok"\} [1-9]/);
  await audit.close();
});
