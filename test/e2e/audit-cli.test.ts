import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createAuditLog } from '../../src/audit/log.js';
import type { AuditEvent } from '../../src/audit/types.js';
import { dgf } from './cli.js';

const KEY = 'e2e-chain-key-0123456789';

function event(i: number, over: Partial<AuditEvent> = {}): AuditEvent {
  return {
    listener: 'pg',
    protocol: 'postgres',
    identity: { user: i % 2 ? 'analyst' : 'app', application: 'psql', address: '127.0.0.1' },
    role: i % 2 ? 'analyst' : 'service',
    operation: i % 3 ? 'select' : 'update',
    object: 'public.customers',
    statement: 'select * from customers where id = $1',
    labels: ['pii.email', 'financial.card'],
    masked: i % 2 ? { 'pii.email': 2, 'financial.card': 2 } : {},
    rows: 2,
    decision: 'allow',
    rules: [],
    duration_ms: 1.5,
    error: null,
    ...over,
  };
}

async function writeTrail(n: number): Promise<string> {
  const dir = mkdtempSync(path.join(tmpdir(), 'dgf-audit-e2e-'));
  const file = path.join(dir, 'audit.jsonl');
  const log = await createAuditLog({ failMode: 'closed', sinks: [{ type: 'file', path: file, fsyncMs: 1 }] }, { chainKey: KEY });
  for (let i = 0; i < n; i++) await log.append(event(i, i === 4 ? { decision: 'deny', operation: 'drop', rules: ['deny-destructive'], rows: null } : {}));
  await log.close();
  return file;
}

test('dgf audit verify accepts an intact chain and names the first tampered record', async () => {
  const file = await writeTrail(10);
  const ok = await dgf(['audit', 'verify', '--key', KEY, file]);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);

  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  const edited = JSON.parse(lines[6]!) as Record<string, unknown>;
  edited.role = 'admin';
  lines[6] = JSON.stringify(edited);
  writeFileSync(file, lines.join('\n') + '\n');
  const bad = await dgf(['audit', 'verify', '--key', KEY, file]);
  assert.equal(bad.code, 1);
  assert.match(bad.stdout + bad.stderr, /seq[^0-9]*7|line 7/);

  const wrongKey = await dgf(['audit', 'verify', '--key', 'another-key-0123456789', await writeTrail(3)]);
  assert.equal(wrongKey.code, 1);

  const missing = await dgf(['audit', 'verify', '--key', KEY, '/nonexistent/audit.jsonl']);
  assert.equal(missing.code, 2);
});

test('dgf report computes the GDPR report from the audit trail in json, md and html', async () => {
  const file = await writeTrail(10);
  const r = await dgf(['report', '--framework', 'gdpr', '--audit', file, '--format', 'json']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as Record<string, unknown>;
  assert.equal(report.framework, 'gdpr');
  assert.equal(typeof report.score, 'number');
  assert.match(r.stdout, /pii\.email/);
  assert.match(r.stdout, /analyst/);
  const md = await dgf(['report', '--framework', 'sox', '--audit', file, '--format', 'md']);
  assert.equal(md.code, 0, md.stderr);
  assert.match(md.stdout, /^#/m);
  const html = await dgf(['report', '--framework', 'hipaa', '--audit', file, '--format', 'html']);
  assert.equal(html.code, 0, html.stderr);
  assert.match(html.stdout, /<html/i);
});
