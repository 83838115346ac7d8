import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Binary, Decimal128, Double, Int32, Long, ObjectId } from 'bson';
import { MaskTally, PolicyStore, REDACTED, type OperationRequest, type PolicyImpl } from '../../../src/policy/index.js';

const policy: PolicyImpl = (await PolicyStore.load({ hashKey: 'engine-test' })).current();

test('explain: role analyst, name notes, a card inside text -> financial.card, only the span masked', () => {
  const ex = policy.explain('analyst', 'notes', 'card 4111 1111 1111 1111 ok');
  assert.ok(ex.labels.includes('financial.card'));
  assert.deepEqual(ex.findings, [{ label: 'financial.card', detector: 'payment_card', start: 5, end: 24 }]);
  assert.equal(ex.masked, 'card **** **** **** 1111 ok');
});

test('demo sample columns classify', () => {
  const expect: Record<string, string> = {
    email: 'pii.email', phone: 'pii.phone', ssn: 'pii.ssn', card_number: 'financial.card', date_of_birth: 'pii.dob',
    diagnosis: 'phi.diagnosis', medication: 'phi.medication', patient_id: 'phi.patient_id', first_name: 'pii.first_name',
  };
  for (const [name, label] of Object.entries(expect)) assert.ok(policy.labelsForName(name).includes(label), `${name} -> ${label}`);
  assert.deepEqual(policy.labelsForName('notes'), []);
  for (const n of ['email', 'phone', 'ssn', 'social_security', 'passport', 'license', 'first_name', 'last_name', 'full_name', 'address', 'zip_code', 'birth_date', 'date_of_birth', 'credit_card', 'bank_account']) {
    assert.ok(policy.labelsForName(n).some((l) => l.startsWith('pii.')), `GDPR name ${n}`);
  }
  for (const n of ['patient_id', 'medical_record', 'diagnosis', 'treatment', 'medication', 'insurance', 'provider_id', 'health_plan', 'prescription']) {
    assert.ok(policy.labelsForName(n).some((l) => l.startsWith('phi.')), `HIPAA name ${n}`);
  }
});

test('fieldPlan: mask, scan and clear modes', () => {
  const email = policy.fieldPlan('analyst', { name: 'email', type: 'text' });
  assert.equal(email.mode, 'mask');
  assert.equal(email.apply('alice@example.com'), 'a***@example.com');
  assert.equal(email.apply(null), null);
  assert.equal(policy.fieldPlan('admin', { name: 'email', type: 'text' }).mode, 'clear');
  assert.equal(policy.fieldPlan('dpo', { name: 'email', type: 'text' }).mode, 'scan', 'dpo sees PII but PHI/financial values are still scanned');
  const notes = policy.fieldPlan('analyst', { name: 'notes', type: 'text' });
  assert.equal(notes.mode, 'scan');
  const clean = 'nothing to see here';
  assert.equal(notes.apply(clean), clean);
  assert.equal(policy.fieldPlan('analyst', { name: 'id', type: 'integer' }).mode, 'clear');
  // a renamed column classifies through its source
  const renamed = policy.fieldPlan('analyst', { name: 'x', sourceName: 'ssn', type: 'text' });
  assert.equal(renamed.mode, 'mask');
  assert.equal(renamed.apply('123-45-6789'), '***-**-6789');
  // typed plans keep their type
  assert.equal(policy.fieldPlan('analyst', { name: 'date_of_birth', type: 'date' }).apply('1980-05-17'), '1980-01-01');
  assert.equal(policy.fieldPlan('analyst', { name: 'diagnosis', type: 'text' }).apply('flu'), REDACTED);
  assert.equal(policy.fieldPlan('clinician', { name: 'diagnosis', type: 'text' }).apply('flu'), 'flu');
  assert.equal(policy.scansValuesFor('analyst'), true);
  assert.equal(policy.fieldPlan('analyst', { name: 'email', type: 'text' }), email, 'plans are cached');
});

test('role default fails closed; stats count what was seen and masked', () => {
  const tally = new MaskTally();
  const plan = policy.fieldPlan('default', { name: 'passport', type: 'text' });
  assert.equal(plan.mode, 'mask');
  assert.equal(plan.apply('X1234567', tally), REDACTED);
  const notes = policy.fieldPlan('default', { name: 'notes', type: 'text' });
  assert.equal(notes.apply('mail alice@example.com', tally), 'mail a***@example.com');
  assert.deepEqual(tally.seenLabels().sort(), ['pii.email', 'pii.passport']);
  assert.deepEqual(tally.maskedCounts(), { 'pii.email': 1, 'pii.passport': 1 });
});

test('whole-value entity in scanned text uses the whole-value mask', () => {
  const plan = policy.fieldPlan('analyst', { name: 'misc', type: 'text' });
  assert.equal(plan.apply('123-45-6789'), '***-**-6789');
  assert.equal(plan.apply('ip 10.1.2.3 and +1 415 555 2671'), `ip ${REDACTED} and +* *** *** 2671`);
});

test('json plans mask by key and by value, returning JSON text for JSON text', () => {
  const plan = policy.fieldPlan('analyst', { name: 'payload', type: 'json' });
  assert.equal(plan.mode, 'scan');
  const out = plan.apply('{"contact":{"email":"a@b.co"},"note":"card 4111111111111111","n":1}');
  assert.deepEqual(JSON.parse(out as string), { contact: { email: 'a***@b.co' }, note: 'card ************1111', n: 1 });
  const same = '{"a":1}';
  assert.equal(plan.apply(same), same);
});

test('maskDocument: nested paths, arrays of docs, untouched docs identical, typed values kept', () => {
  const untouched = { a: 1, b: { c: 'hello' }, d: [1, 2] };
  assert.equal(policy.maskDocument('analyst', untouched), untouched);
  const doc = {
    _id: new ObjectId('64b7f0c2a1b2c3d4e5f60718'),
    name: 'x',
    contact: { email: 'alice@example.com', phone: '+44 20 7946 0958' },
    contacts: [{ email: 'bob@example.com' }, { email: 'carol@example.com' }],
    ssn: 123456789,
    salary: new Int32(52340),
    balance: new Double(1234.56),
    card_number: Long.fromString('4111111111111111'),
    amount: Decimal128.fromString('199.99'),
    date_of_birth: new Date(Date.UTC(1980, 4, 17)),
    insurance: new Binary(Buffer.from('policy-123')),
    password: Buffer.from('hunter2'),
    notes: 'reach me at dave@example.com',
  };
  const out = policy.maskDocument('analyst', doc) as typeof doc;
  assert.notEqual(out, doc);
  assert.equal(out._id, doc._id, 'unclassified ObjectId kept as is');
  assert.equal(out.contact.email, 'a***@example.com');
  assert.equal(out.contact.phone, '+** ** **** 0958');
  assert.deepEqual(out.contacts, [{ email: 'b***@example.com' }, { email: 'c***@example.com' }]);
  assert.equal(out.ssn, 6789);
  assert.ok(out.salary instanceof Int32);
  assert.equal(out.salary.value, 50000);
  assert.ok(out.balance instanceof Double);
  assert.equal(out.balance.value, 1200);
  assert.ok(out.card_number instanceof Long);
  assert.equal(out.card_number.toString(), '1111');
  assert.ok(out.amount instanceof Decimal128);
  assert.equal(out.amount.toString(), '100.00');
  assert.ok(out.date_of_birth instanceof Date);
  assert.equal(out.date_of_birth.toISOString(), '1980-01-01T00:00:00.000Z');
  assert.ok(out.insurance instanceof Binary);
  assert.equal(Buffer.from(out.insurance.buffer).toString('hex'), '00'.repeat(10));
  assert.ok(Buffer.isBuffer(out.password));
  assert.equal(out.notes, 'reach me at d***@example.com');
  assert.equal(out.name, 'x');
  assert.equal(doc.contact.email, 'alice@example.com', 'input not mutated');
});

const req = (over: Partial<OperationRequest>): OperationRequest => ({
  listener: 'pg',
  protocol: 'postgres',
  identity: { user: 'u' },
  role: 'analyst',
  operation: 'select',
  kind: 'read',
  objects: ['public.customers'],
  ...over,
});

test('decide: firewall rules, exceptions, kinds, requires, default allow', () => {
  const drop = policy.decide(req({ operation: 'drop', kind: 'ddl' }));
  assert.equal(drop.action, 'deny');
  assert.equal(drop.ruleId, 'deny-destructive');
  assert.equal(drop.message, 'destructive statements are not allowed for this role');
  assert.equal(policy.decide(req({ role: 'dba', operation: 'drop', kind: 'ddl' })).action, 'allow');
  assert.equal(policy.decide(req({ protocol: 'redis', operation: 'flushall', kind: 'admin' })).ruleId, 'deny-destructive');
  assert.equal(policy.decide(req({ protocol: 'redis', operation: 'deleteMany-all', kind: 'write' })).action, 'deny');
  assert.equal(policy.decide(req({ protocol: 'redis', operation: 'config', kind: 'admin', role: 'service' })).ruleId, 'deny-redis-admin');
  assert.equal(policy.decide(req({ protocol: 'redis', operation: 'config', kind: 'admin', role: 'admin' })).action, 'allow');
  assert.equal(policy.decide(req({ protocol: 'mongodb', operation: '$where', kind: 'read' })).ruleId, 'deny-mongo-server-js');
  assert.equal(policy.decide(req({ protocol: 'cosmos', operation: 'delete-container', kind: 'ddl' })).ruleId, 'deny-cloud-deletion');
  const sel = policy.decide(req({ fields: ['email', 'diagnosis'] }));
  assert.equal(sel.action, 'allow');
  assert.deepEqual([...sel.rules].sort(), ['GDPR-001', 'HIPAA-001', 'HIPAA-002', 'ISO-001']);
  assert.deepEqual([...sel.requires].sort(), ['audit', 'identity', 'tls']);
  const write = policy.decide(req({ operation: 'update', kind: 'write', fields: ['card_number'] }));
  assert.ok(write.rules.includes('SOX-001') && write.rules.includes('SOX-002'));
  assert.ok(write.requires.includes('approval'));
  const svc = policy.decide(req({ role: 'service', operation: 'update', kind: 'write', fields: ['card_number'] }));
  assert.ok(!svc.requires.includes('approval'));
  assert.deepEqual(policy.decide(req({ objects: ['user:42:email'], protocol: 'redis', operation: 'get' })).rules.includes('GDPR-001'), true);
});

test('summaries and frameworks', () => {
  assert.deepEqual(policy.summaries().map((s) => s.id), ['GDPR-001', 'GDPR-002', 'HIPAA-001', 'HIPAA-002', 'SOX-001', 'SOX-002', 'ISO-001']);
  const sox = policy.summaries('sox');
  assert.deepEqual(sox.map((s) => [s.id, s.severity]), [['SOX-001', 'critical'], ['SOX-002', 'high']]);
  assert.ok(sox.every((s) => s.description.length > 20 && s.name.length > 0));
  assert.deepEqual(policy.summaries('gdpr').map((s) => s.severity), ['high', 'medium']);
  assert.deepEqual(policy.summaries('hipaa').map((s) => s.severity), ['critical', 'high']);
  assert.deepEqual(policy.summaries('iso27001').map((s) => s.severity), ['high']);
  assert.ok(policy.frameworksOf('financial.card').includes('sox'));
  assert.deepEqual(policy.frameworksOf('nope'), []);
});
