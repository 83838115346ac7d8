import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ValidationError } from '../../../src/compliance/errors.js';
import { listComplianceRules } from '../../../src/compliance/rules.js';
import { validateCompliance } from '../../../src/compliance/validate.js';

const ids = (r: ReturnType<typeof validateCompliance>): string[] =>
  [...r.violations.critical, ...r.violations.high, ...r.violations.medium, ...r.violations.low].map((v) => `${v.rule_id}:${v.field}`);

describe('compliance validate', () => {
  it('GDPR: unclassified and misclassified personal fields; values never echoed', () => {
    const r = validateCompliance({
      framework: 'gdpr',
      provider: 'supabase',
      data: { customerEmail: 'alice@example.com', PHONE_NUMBER: '+33612345678', ssn: '123-45-6789', order_total: 12, className: 'x' },
      context: { user_id: 'u1', audit_enabled: true, field_classifications: { customer_email: 'pii.email', phone_number: 'public' } },
    });
    assert.equal(r.framework, 'gdpr');
    assert.equal(r.status, 'non_compliant');
    assert.deepEqual(ids(r).sort(), ['GDPR-001:PHONE_NUMBER', 'GDPR-001:ssn']);
    assert.equal(r.total_violations, 2);
    assert.equal(r.score, 70);
    const json = JSON.stringify(r);
    for (const secret of ['alice@example.com', '+33612345678', '123-45-6789']) assert.ok(!json.includes(secret));
    const phone = r.violations.high.find((v) => v.field === 'PHONE_NUMBER')!;
    assert.equal(phone.current_value, 'classified as public');
    assert.equal(r.violations.high.find((v) => v.field === 'ssn')!.current_value, 'unclassified');
    assert.ok(!Number.isNaN(Date.parse(r.validated_at)));
  });

  it('GDPR: compliant data scores 100; retention beyond the maximum is GDPR-002 (medium)', () => {
    const ok = validateCompliance({ framework: 'GDPR', data: { email: 'a@b.c' }, context: { field_classifications: { email: 'confidential' } } });
    assert.deepEqual([ok.status, ok.score, ok.total_violations], ['compliant', 100, 0]);
    const r = validateCompliance({ framework: 'gdpr', data: { email: 'a@b.c' }, context: { field_classifications: { email: 'pii' }, retention_days: 400 } });
    assert.deepEqual(ids(r), ['GDPR-002:*']);
    assert.equal(r.score, 90);
    assert.equal(r.violations.medium[0]!.current_value, '400 days');
  });

  it('HIPAA: PHI not encrypted (critical) and minimum necessary (high)', () => {
    const r = validateCompliance({
      framework: 'hipaa',
      data: { patient_id: 'P-1', diagnosis: 'flu', visit_date: '2026-01-01' },
      context: { encryption_status: { patient_id: 'encrypted' }, data_classification: 'internal', role: 'analyst' },
    });
    assert.deepEqual(ids(r), ['HIPAA-001:diagnosis', 'HIPAA-002:patient_id, diagnosis', 'HIPAA-002:patient_id, diagnosis']);
    assert.equal(r.score, 100 - 25 - 15 - 15);
    assert.equal(r.violations.critical[0]!.current_value, 'not encrypted');
    assert.ok(!JSON.stringify(r).includes('flu'));
  });

  it('SOX: no user and no audit (critical x2), self-approval (high); score floors at 0', () => {
    const r = validateCompliance({
      framework: 'sox',
      data: { amount: 1000, account_number: '12345678' },
      context: { audit_enabled: false, initiator_id: 'bob', approver_id: 'bob' },
    });
    assert.deepEqual(
      r.violations.critical.map((v) => v.current_value),
      ['no user_id', 'audit disabled'],
    );
    assert.deepEqual(r.violations.high.map((v) => v.rule_id), ['SOX-002']);
    assert.equal(r.score, 100 - 50 - 15);
    const ok = validateCompliance({ framework: 'sox', data: { amount: 1 }, context: { user_id: 'u', audit_enabled: true, initiator_id: 'a', approver_id: 'b' } });
    assert.equal(ok.score, 100);
  });

  it('ISO 27001: one violation per missing control', () => {
    const r = validateCompliance({ framework: 'iso27001', data: { email: 'x', note: 'y' }, context: {} });
    assert.equal(r.violations.high.length, 4);
    assert.ok(r.violations.high.every((v) => v.rule_id === 'ISO-001'));
    assert.equal(r.score, 40);
    const full = validateCompliance({
      framework: 'iso-27001',
      data: { email: 'x' },
      context: { audit_enabled: true, user_id: 'u', data_classification: 'confidential', encryption_status: { email: 'encrypted' } },
    });
    assert.equal(full.score, 100);
    assert.equal(full.framework, 'iso27001');
    const floor = validateCompliance({
      framework: 'gdpr',
      data: Object.fromEntries(['email', 'phone', 'ssn', 'passport', 'first_name', 'last_name', 'address', 'zip_code'].map((k) => [k, 'v'])),
    });
    assert.equal(floor.total_violations, 8);
    assert.equal(floor.score, 0);
  });

  it('unknown or missing framework is a 400 listing the known ones', () => {
    for (const body of [{ framework: 'pci', data: {} }, { data: {} }, 'nope', { framework: 'gdpr', data: [1] }]) {
      assert.throws(
        () => validateCompliance(body),
        (e: unknown) => e instanceof ValidationError && e.status === 400,
      );
    }
    assert.throws(() => validateCompliance({ framework: 'pci' }), /gdpr, hipaa, sox, iso27001/);
  });

  it('lists rules with severities and what makes them pass or fail', () => {
    const all = listComplianceRules();
    assert.deepEqual(all.map((r) => `${r.id}:${r.severity}`), [
      'GDPR-001:high', 'GDPR-002:medium', 'HIPAA-001:critical', 'HIPAA-002:high', 'SOX-001:critical', 'SOX-002:high', 'ISO-001:high',
    ]);
    assert.deepEqual(listComplianceRules('sox').map((r) => r.id), ['SOX-001', 'SOX-002']);
    assert.ok(all.every((r) => r.validation && r.audit && r.name && r.description));
    assert.throws(() => listComplianceRules('pci'), ValidationError);
  });

  it('uses the live policy severities when given', () => {
    const r = validateCompliance(
      { framework: 'gdpr', data: { email: 'x' } },
      { summaries: () => [{ id: 'GDPR-001', framework: 'gdpr', name: 'n', description: 'd', severity: 'low' }] },
    );
    assert.equal(r.violations.low.length, 1);
    assert.equal(r.score, 95);
  });
});
