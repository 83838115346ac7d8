import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { AuditRecord } from '../../../src/audit/types.js';
import { report } from '../../../src/cli/commands/report.js';
import { buildReport, computeReport, readAuditFiles, type BadLine } from '../../../src/compliance/report.js';
import { renderReport } from '../../../src/compliance/render.js';

let seq = 0;
function rec(over: Partial<AuditRecord> & { ts: string }): AuditRecord {
  seq++;
  return {
    v: 1,
    seq,
    listener: 'pg',
    protocol: 'postgres',
    identity: { user: 'alice' },
    role: 'analyst',
    operation: 'select',
    object: 'public.customers',
    statement: 'select * from customers',
    labels: [],
    masked: {},
    rows: 1,
    decision: 'allow',
    rules: [],
    duration_ms: 1,
    error: null,
    prev: 'p',
    hash: 'h',
    ...over,
  };
}

/** A synthetic trail with known counts. */
function trail(): AuditRecord[] {
  seq = 0;
  const h = (m: number) => `2026-11-24T10:${String(m).padStart(2, '0')}:00.000Z`;
  return [
    // 3 analyst reads with email masked: fine
    rec({ ts: h(0), labels: ['pii.email'], masked: { 'pii.email': 5 }, rows: 5 }),
    rec({ ts: h(1), labels: ['pii.email'], masked: { 'pii.email': 2 }, rows: 2 }),
    rec({ ts: h(2), labels: ['pii.email', 'financial.card'], masked: { 'pii.email': 1, 'financial.card': 1 }, rows: 1 }),
    // analyst saw pii.phone in clear: GDPR-001 x2
    rec({ ts: h(3), labels: ['pii.phone'], masked: {}, rows: 3 }),
    rec({ ts: h(4), labels: ['pii.phone', 'pii.email'], masked: { 'pii.email': 4 }, rows: 4 }),
    // dpo is exempt
    rec({ ts: h(5), identity: { user: 'dora' }, role: 'dpo', labels: ['pii.phone'], masked: {}, rows: 9 }),
    // a write carrying pii: not a clear read
    rec({ ts: h(6), operation: 'insert', labels: ['pii.email'], masked: {}, rows: 1 }),
    // denied drop
    rec({ ts: h(7), operation: 'drop', labels: [], decision: 'deny', rules: ['deny-destructive'], rows: null, error: 'denied' }),
    // financial write without user: SOX-001
    rec({ ts: h(8), identity: { user: '' }, role: 'service', operation: 'update', object: 'public.payments', labels: ['financial.card'], masked: {}, rows: 1 }),
    // self-approval: SOX-002
    rec({ ts: h(9), identity: { user: 'bob' }, role: 'service', operation: 'update', labels: ['financial.amount'], extra: { initiator_id: 'bob', approver_id: 'bob' } }),
    // PHI over plain TCP to a clinician: HIPAA-001 (not HIPAA-002: clinician exempt)
    rec({ ts: h(10), identity: { user: 'carl' }, role: 'clinician', labels: ['phi.diagnosis'], masked: {}, rows: 2, extra: { tls: false } }),
    // PHI in clear to an analyst over TLS: HIPAA-002
    rec({ ts: h(11), labels: ['phi.diagnosis'], masked: {}, rows: 1, extra: { tls: true } }),
    // outside the period
    rec({ ts: '2026-11-25T00:00:00.000Z', labels: ['pii.phone'], masked: {}, rows: 1 }),
  ];
}

const period = { since: new Date('2026-11-24T00:00:00Z'), until: new Date('2026-11-25T00:00:00Z') };

describe('compliance report from audit records', () => {
  it('GDPR: exact counts', () => {
    const r = computeReport(trail(), { framework: 'gdpr', ...period });
    assert.equal(r.source.records_read, 13);
    assert.equal(r.source.records_in_period, 12);
    assert.deepEqual(r.violations_by_rule, { 'GDPR-001': 2 });
    assert.equal(r.violations.high[0]!.count, 2);
    assert.deepEqual(r.violations.high[0]!.examples.map((e) => e.seq), [4, 5]);
    assert.equal(r.score, 85);
    assert.equal(r.status, 'non_compliant');
    assert.deepEqual(r.data_touched, [
      { label: 'pii.email', operations: 5, masked_operations: 4, clear_operations: 0, masked_values: 12, rows: 13 },
      { label: 'pii.phone', operations: 3, masked_operations: 0, clear_operations: 3, masked_values: 0, rows: 16 },
    ]);
    assert.deepEqual(
      r.who.map((w) => [w.user, w.role, w.operations, w.labels]),
      [
        ['alice', 'analyst', 6, { 'pii.email': 5, 'pii.phone': 2 }],
        ['dora', 'dpo', 1, { 'pii.phone': 1 }],
      ],
    );
    assert.deepEqual(r.denials, { total: 1, by_rule: { 'deny-destructive': 1 }, by_user: { alice: 1 } });
    assert.equal(r.errors, 1);
    assert.deepEqual(r.rules.map((x) => [x.id, x.status, x.count]), [['GDPR-001', 'fail', 2], ['GDPR-002', 'pass', 0]]);
  });

  it('SOX, HIPAA and ISO 27001: exact counts and scores', () => {
    const sox = computeReport(trail(), { framework: 'sox', ...period });
    assert.deepEqual(sox.violations_by_rule, { 'SOX-001': 1, 'SOX-002': 1 });
    assert.equal(sox.score, 100 - 25 - 15);
    assert.deepEqual(sox.data_touched.map((d) => [d.label, d.operations]), [['financial.card', 2], ['financial.amount', 1]]);
    assert.deepEqual(sox.who.map((w) => [w.user, w.operations]), [['alice', 1], ['bob', 1], [null, 1]]);

    const hipaa = computeReport(trail(), { framework: 'hipaa', ...period });
    assert.deepEqual(hipaa.violations_by_rule, { 'HIPAA-001': 1, 'HIPAA-002': 1 });
    assert.equal(hipaa.score, 60);

    const iso = computeReport(trail(), { framework: 'iso27001', ...period });
    assert.deepEqual(iso.violations_by_rule, { 'ISO-001': 1 });
    assert.equal(iso.violations.high[0]!.examples[0]!.seq, 9);
    assert.equal(iso.score, 85);
  });

  it('ISO 27001: an hour with half its operations denied is a spike', () => {
    seq = 0;
    const recs = Array.from({ length: 20 }, (_, i) =>
      rec({ ts: `2026-11-24T11:${String(i).padStart(2, '0')}:00.000Z`, decision: i % 2 ? 'deny' : 'allow', rules: i % 2 ? ['r1'] : [] }),
    );
    const r = computeReport(recs, { framework: 'iso27001' });
    assert.equal(r.violations_by_rule['ISO-001'], 1);
    assert.match(r.violations.high[0]!.examples[0]!.reason, /10 of 20/);
  });

  it('no records in the period: compliant, 100, all zero', () => {
    const r = computeReport(trail(), { framework: 'gdpr', since: new Date('2030-01-01T00:00:00Z') });
    assert.deepEqual([r.score, r.status, r.total_violations, r.source.records_in_period], [100, 'compliant', 0, 0]);
  });

  it('renders md and html from the same numbers', () => {
    const r = computeReport(trail(), { framework: 'gdpr', ...period });
    const md = renderReport(r, 'md');
    assert.match(md, /Score: \*\*85\*\*/);
    assert.match(md, /\| GDPR-001 \| high \| 2 \|/);
    const html = renderReport(r, 'html');
    assert.match(html, /<td>pii.phone<\/td><td>3<\/td>/);
    assert.ok(!html.includes('<script'));
    assert.deepEqual(JSON.parse(renderReport(r, 'json')), JSON.parse(JSON.stringify(r)));
  });

  it('a batch record counts each entry as an operation: its labels, masking, denial and rows, not the union', () => {
    seq = 0;
    const ts = '2026-11-24T10:00:00.000Z';
    // As the audit file holds them: an entry leaves its empty fields out.
    const entries = [
      { operation: 'get', object: 'user:1:email', labels: ['pii.email'], masked: { 'pii.email': 1 }, rows: 1, decision: 'allow', rules: ['GDPR-001'] },
      { operation: 'hget', object: 'customer:7', labels: ['pii.phone'], rows: 1, decision: 'allow', rules: ['GDPR-001'] },
      { operation: 'flushall', rows: 0, decision: 'deny', rules: ['ISO-001', 'deny-destructive'], error: 'denied' },
      { operation: 'get', object: 'counter', rows: 1, decision: 'allow', rules: ['ISO-001'] },
    ] as unknown as AuditRecord['entries'];
    const batch = rec({
      ts,
      protocol: 'redis',
      operation: 'pipeline',
      statement: 'PIPELINE 4 FROM 3 CLIENTS: GET HGET FLUSHALL',
      labels: ['pii.email', 'pii.phone'],
      masked: { 'pii.email': 1 },
      rows: 3,
      rules: ['ISO-001'],
      entries,
    });
    const r = computeReport([batch], { framework: 'gdpr', ...period });
    assert.equal(r.source.records_read, 1);
    // The phone went out clear; the email was masked: one GDPR-001 finding (the record's union would hide which).
    assert.deepEqual(r.violations_by_rule, { 'GDPR-001': 1 });
    assert.deepEqual(r.denials, { total: 1, by_rule: { 'deny-destructive': 1 }, by_user: { alice: 1 } });
    assert.equal(r.errors, 1);
    assert.deepEqual(r.data_touched, [
      { label: 'pii.email', operations: 1, masked_operations: 1, clear_operations: 0, masked_values: 1, rows: 1 },
      { label: 'pii.phone', operations: 1, masked_operations: 0, clear_operations: 1, masked_values: 0, rows: 1 },
    ]);
    assert.deepEqual(r.who.map((w) => [w.user, w.role, w.operations]), [['alice', 'analyst', 2]]);
    const iso = computeReport([batch], { framework: 'iso27001', ...period });
    assert.equal(iso.denials.total, 1);
  });
});

describe('reading audit files and the report command', () => {
  let dir: string;
  let file: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dgf-report-test-'));
    file = join(dir, 'audit.jsonl');
    const lines = trail().map((r) => JSON.stringify(r));
    lines.splice(2, 0, 'not json', '{"no":"seq"}');
    await writeFile(file, lines.join('\n') + '\n{"v":1,"seq":99,"ts":"2026-');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('streams records, tolerating and reporting bad lines', async () => {
    const problems: BadLine[] = [];
    const r = await buildReport(readAuditFiles([file, join(dir, 'missing.jsonl')], problems), { framework: 'gdpr', ...period, problems });
    assert.equal(r.source.records_read, 13);
    assert.deepEqual(r.violations_by_rule, { 'GDPR-001': 2 });
    assert.deepEqual(problems.map((p) => [p.line, p.reason]), [
      [3, 'not valid JSON'],
      [4, 'not an audit record (seq or ts missing)'],
      [16, 'truncated last line'],
      [0, 'no such file'],
    ]);
    assert.equal(r.source.bad_lines, 4);
  });

  function io(): { out: { write(s: string): boolean }; err: { write(s: string): boolean }; text: () => [string, string] } {
    let o = '';
    let e = '';
    return { out: { write: (s) => ((o += s), true) }, err: { write: (s) => ((e += s), true) }, text: () => [o, e] };
  }

  it('dgf report prints the JSON report and exits 0', async () => {
    const t = io();
    const code = await report({ framework: 'gdpr', audit: [file], since: '2026-11-24', until: '2026-11-25T00:00:00Z', format: 'json' }, t.out, t.err);
    assert.equal(code, 0);
    const [out, err] = t.text();
    const r = JSON.parse(out) as { score: number; violations_by_rule: Record<string, number> };
    assert.equal(r.score, 85);
    assert.deepEqual(r.violations_by_rule, { 'GDPR-001': 2 });
    assert.match(err, /warning: .*audit\.jsonl:3: not valid JSON/);
  });

  it('dgf report exits 2 on a bad framework, date, format or file', async () => {
    const cases: [Parameters<typeof report>[0], RegExp][] = [
      [{ framework: 'pci', audit: [file], format: 'json' }, /unknown framework 'pci'.*gdpr, hipaa, sox, iso27001/],
      [{ framework: 'gdpr', audit: [file], since: 'yesterday', format: 'json' }, /invalid --since 'yesterday'/],
      [{ framework: 'gdpr', audit: [file], until: '2026-13-45', format: 'json' }, /invalid --until/],
      [{ framework: 'gdpr', audit: [file], format: 'pdf' as 'json' }, /unknown format 'pdf'/],
      [{ framework: 'gdpr', audit: [join(dir, 'nope.jsonl')], format: 'json' }, /nope\.jsonl: no such file/],
      [{ framework: 'gdpr', audit: [], format: 'json' }, /no audit file/],
    ];
    for (const [opts, re] of cases) {
      const t = io();
      assert.equal(await report(opts, t.out, t.err), 2, JSON.stringify(opts));
      assert.match(t.text()[1], re);
    }
  });
});
