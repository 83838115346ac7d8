/**
 * Policy-engine capabilities for sound PostgreSQL masking (issue #15): the derived mask (`derivedPlan`), whether a
 * role is held to the masking guarantee (`masksAnyFor`), the `onUnknownLineage` setting, and rule matching on
 * operation tags, `readsMasked` and `maskedRole` (the shipped rules masked-no-copies and masked-no-blind-code).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ConfigErrors } from '../../../src/errors.js';
import { YamlSource } from '../../../src/config/yaml-source.js';
import {
  DEFAULT_PACKS,
  MaskTally,
  PolicyStore,
  REDACTED,
  compilePolicySources,
  defaultPacksDir,
  type MaskMethod,
  type MaskStats,
  type OperationRequest,
  type PolicyImpl,
  UNTRACED_LABEL,
} from '../../../src/policy/index.js';

const policy: PolicyImpl = (await PolicyStore.load({ hashKey: 'lineage-test' })).current();
const packSources = await Promise.all(DEFAULT_PACKS.map((p) => YamlSource.read(join(defaultPacksDir(), `${p}.yaml`))));

/** The shipped packs followed by inline user files `policies/u0.yaml`, `policies/u1.yaml`, ... */
function withPacks(...texts: string[]): PolicyImpl {
  const user = texts.map((t, i) => YamlSource.parse(t, `policies/u${i}.yaml`));
  return compilePolicySources([...packSources, ...user], { hashKey: 'lineage-test', userFiles: new Set(user.map((u) => u.file)) });
}

/** Inline files only. */
function inline(...texts: string[]): PolicyImpl {
  return compilePolicySources(texts.map((t, i) => YamlSource.parse(t, `policies/u${i}.yaml`)));
}

function errorsOf(...texts: string[]): string[] {
  try {
    inline(...texts);
  } catch (err) {
    assert.ok(err instanceof ConfigErrors, String(err));
    return err.errors.map((e) => e.message);
  }
  return [];
}

class Recorder implements MaskStats {
  readonly seenLog: string[] = [];
  readonly maskedLog: string[] = [];
  seen(label: string): void {
    this.seenLog.push(label);
  }
  masked(label: string, method: MaskMethod): void {
    this.maskedLog.push(`${label}:${method}`);
  }
}

function req(role: string, operation: string, extra: Partial<OperationRequest> = {}): OperationRequest {
  return { listener: 'pg', protocol: 'postgres', identity: { user: 'u1' }, role, operation, kind: 'ddl', objects: [], ...extra };
}

// ---------------------------------------------------------------------------------------------------------------
// derivedPlan

test('derivedPlan, masked role: text redacted whole, json the JSON string of the redaction, other types null', () => {
  const text = policy.derivedPlan('analyst', ['pii.ssn'], 'text');
  assert.equal(text.mode, 'mask');
  assert.deepEqual(text.labels, ['pii.ssn']);
  // not the label's format-preserving last4: a derived value is redacted whole
  assert.equal(text.apply('123-45-6789'), REDACTED);
  assert.equal(text.apply('123456789'), REDACTED);
  assert.equal(text.apply(''), REDACTED);
  assert.equal(text.apply(null), null);
  assert.equal(text.apply(undefined), undefined);
  // text handed as bytes (binary format) stays bytes: the UTF-8 of the redaction, nothing of the length kept
  const bytes = text.apply(Buffer.from('123-45-6789'));
  assert.ok(Buffer.isBuffer(bytes));
  assert.equal((bytes as Buffer).toString('utf8'), REDACTED);
  assert.deepEqual(text.apply(new TextEncoder().encode('x')), new TextEncoder().encode(REDACTED));
  assert.equal(text.apply(123456789), REDACTED, 'a non-string handed for text is still redacted, never forwarded');

  const json = policy.derivedPlan('analyst', ['pii.email'], 'json');
  assert.equal(json.mode, 'mask');
  assert.equal(json.apply('{"email":"alice@example.com","n":1}'), JSON.stringify(REDACTED));
  assert.equal(json.apply('"alice@example.com"'), JSON.stringify(REDACTED));
  assert.equal(json.apply('[1,2,3]'), JSON.stringify(REDACTED), 'no structure survives');
  assert.equal(json.apply('not json at all'), JSON.stringify(REDACTED));
  assert.equal(json.apply({ email: 'alice@example.com' }), REDACTED, 'a parsed value becomes the redaction as a JSON value');
  assert.equal(json.apply(null), null);

  for (const type of ['integer', 'numeric', 'date', 'timestamp', 'uuid', 'bytes', 'boolean'] as const) {
    const plan = policy.derivedPlan('analyst', ['pii.ssn'], type);
    assert.equal(plan.mode, 'mask', type);
    assert.deepEqual(plan.labels, ['pii.ssn'], type);
    assert.equal(plan.apply(null), null, type);
  }
  assert.equal(policy.derivedPlan('analyst', ['pii.ssn'], 'integer').apply(123456789), null);
  assert.equal(policy.derivedPlan('analyst', ['pii.ssn'], 'integer').apply('123456789'), null);
  assert.equal(policy.derivedPlan('analyst', ['pii.ssn'], 'integer').apply(123456789n), null);
  assert.equal(policy.derivedPlan('analyst', ['pii.dob'], 'date').apply('1980-05-17'), null, 'not generalized: a derived date is not safe to keep');
  assert.equal(policy.derivedPlan('analyst', ['pii.dob'], 'date').apply(new Date('1980-05-17')), null);
  assert.equal(policy.derivedPlan('analyst', ['pii.ssn'], 'bytes').apply(Buffer.from('123-45-6789')), null);
  assert.equal(policy.derivedPlan('analyst', ['pii.ssn'], 'boolean').apply(true), null);
  assert.equal(policy.derivedPlan('analyst', ['pii.ssn'], 'boolean').apply('t'), null);
});

test('derivedPlan, role that sees every label clear: the plan of an unnamed field, labels reported, same value back', () => {
  for (const type of ['text', 'json', 'integer', 'date', 'bytes', 'boolean'] as const) {
    const plan = policy.derivedPlan('admin', ['pii.ssn', 'pii.email'], type);
    assert.equal(plan.mode, 'clear', `admin scans nothing: ${type}`);
    assert.deepEqual([...plan.labels].sort(), ['pii.email', 'pii.ssn']);
    assert.equal(plan.mode, policy.fieldPlan('admin', { name: '', type }).mode);
  }
  const admin = policy.derivedPlan('admin', ['pii.ssn'], 'text');
  assert.equal(admin.apply('123-45-6789'), '123-45-6789');
  const buf = Buffer.from('x');
  assert.equal(policy.derivedPlan('admin', ['pii.ssn'], 'bytes').apply(buf), buf);
  assert.equal(policy.derivedPlan('admin', ['pii.ssn'], 'integer').apply(42), 42);

  // dpo sees pii.* clear but financial data masked: a scan still runs on text and json
  const dpo = policy.derivedPlan('dpo', ['pii.email'], 'text');
  assert.equal(dpo.mode, 'scan');
  assert.deepEqual(dpo.labels, ['pii.email']);
  const clean = 'alice@example.com';
  assert.equal(dpo.apply(clean), clean, 'nothing the role may not see: the same string');
  assert.equal(dpo.apply('alice card 4111 1111 1111 1111'), 'alice card **** **** **** 1111');
  const dpoJson = policy.derivedPlan('dpo', ['pii.email'], 'json');
  assert.equal(dpoJson.mode, 'scan');
  const sameJson = '{"email":"alice@example.com"}';
  assert.equal(dpoJson.apply(sameJson), sameJson);
  assert.equal(policy.derivedPlan('dpo', ['pii.email'], 'integer').mode, 'clear');
  assert.equal(policy.derivedPlan('dpo', ['pii.email'], 'integer').apply(7), 7);
  assert.equal(typeof dpo.scanNeededUtf8, 'function');

  // no labels: exactly the unnamed field's treatment (values of a masked role are still scanned)
  const none = policy.derivedPlan('analyst', [], 'text');
  assert.equal(none.mode, 'scan');
  assert.deepEqual(none.labels, []);
  assert.equal(none.apply('call +1 415 555 2671'), 'call +* *** *** 2671');
  assert.equal(policy.derivedPlan('analyst', [], 'integer').mode, 'clear');
});

test('derivedPlan: one masked label among clear ones masks the whole value', () => {
  const plan = policy.derivedPlan('dpo', ['pii.email', 'financial.card'], 'text');
  assert.equal(plan.mode, 'mask');
  assert.equal(plan.apply('alice 4111111111111111'), REDACTED);
  assert.equal(policy.derivedPlan('clinician', ['phi.diagnosis', 'pii.full_name'], 'text').mode, 'mask');
  assert.equal(policy.derivedPlan('clinician', ['phi.diagnosis'], 'text').mode, 'scan');
  assert.equal(policy.derivedPlan('default', ['pii.email'], 'integer').apply(1), null, 'the unmapped role fails closed');
});

test('derivedPlan: cached per role, label set and type; labels sorted and deduplicated', () => {
  const a = policy.derivedPlan('analyst', ['pii.ssn', 'pii.email'], 'text');
  const b = policy.derivedPlan('analyst', ['pii.email', 'pii.ssn', 'pii.email'], 'text');
  assert.equal(a, b);
  assert.deepEqual(a.labels, ['pii.email', 'pii.ssn']);
  assert.ok(Object.isFrozen(a.labels));
  assert.notEqual(policy.derivedPlan('analyst', ['pii.ssn', 'pii.email'], 'json'), a);
  assert.notEqual(policy.derivedPlan('admin', ['pii.ssn', 'pii.email'], 'text'), a);
  assert.notEqual(policy.derivedPlan('analyst', ['pii.ssn'], 'text'), a);
  // label text cannot collide with the separator of the cache key
  assert.notEqual(policy.derivedPlan('analyst', ['pii.a', 'pii.b'], 'text'), policy.derivedPlan('analyst', ['pii.a,pii.b'], 'text'));
  // the caller's array is not kept: changing it afterwards changes nothing
  const given = ['pii.ssn'];
  const plan = policy.derivedPlan('analyst', given, 'integer');
  given.push('pii.email');
  assert.deepEqual(plan.labels, ['pii.ssn']);
});

test('derivedPlan stats: every label seen, the strongest masked label counted with redact or null', () => {
  // analyst: pii.email -> email (weak), pii.ip -> redact (strong)
  const text = new Recorder();
  assert.equal(policy.derivedPlan('analyst', ['pii.email', 'pii.ip'], 'text').apply('alice 10.1.2.3', text), REDACTED);
  assert.deepEqual(text.seenLog.sort(), ['pii.email', 'pii.ip']);
  assert.deepEqual(text.maskedLog, ['pii.ip:redact']);

  const json = new Recorder();
  policy.derivedPlan('analyst', ['pii.email', 'phi.patient_id'], 'json').apply('{"a":1}', json);
  assert.deepEqual(json.maskedLog, ['phi.patient_id:redact'], 'tokenize is stronger than email');

  const int = new Recorder();
  assert.equal(policy.derivedPlan('analyst', ['pii.email', 'pii.ip'], 'integer').apply(5, int), null);
  assert.deepEqual(int.seenLog.sort(), ['pii.email', 'pii.ip']);
  assert.deepEqual(int.maskedLog, ['pii.ip:null']);

  // the label the role sees clear is seen, never counted as masked
  const dpo = new Recorder();
  policy.derivedPlan('dpo', ['pii.email', 'financial.card'], 'date').apply('2024-01-01', dpo);
  assert.deepEqual(dpo.seenLog.sort(), ['financial.card', 'pii.email']);
  assert.deepEqual(dpo.maskedLog, ['financial.card:null']);

  // a SQL NULL is not a masked value
  const nul = new Recorder();
  const sqlNull: unknown = null;
  assert.equal(policy.derivedPlan('analyst', ['pii.ip'], 'text').apply(sqlNull, nul), null);
  assert.deepEqual(nul.maskedLog, []);
  assert.deepEqual(nul.seenLog, []);

  // clear plans count what was seen; MaskTally works as the stats sink
  const tally = new MaskTally();
  policy.derivedPlan('admin', ['pii.ssn'], 'text').apply('123-45-6789', tally);
  policy.derivedPlan('analyst', ['pii.ssn'], 'integer').apply(1, tally);
  assert.deepEqual(tally.seenLabels(), ['pii.ssn']);
  assert.deepEqual(tally.maskedCounts(), { 'pii.ssn': 1 });
});

test('derivedPlan misuse: unknown labels and types do not throw; a new policy version has its own plans', () => {
  // a label no classifier defines is unclassified for every role (as a field would be)
  assert.equal(policy.derivedPlan('analyst', ['no.such'], 'integer').mode, 'clear');
  assert.equal(policy.derivedPlan('analyst', ['no.such', 'pii.ssn'], 'integer').mode, 'mask');
  // an unknown type (a caller's cast gone wrong) is not text: masked to null, never forwarded
  const odd = policy.derivedPlan('analyst', ['pii.ssn'], 'varchar' as never);
  assert.equal(odd.mode, 'mask');
  assert.equal(odd.apply('123-45-6789'), null);
  const other = withPacks('description: empty\n');
  assert.notEqual(other.derivedPlan('analyst', ['pii.ssn'], 'text'), policy.derivedPlan('analyst', ['pii.ssn'], 'text'));
});

test('derivedPlan of an untraced value: masked for every role with a masked label, clear for the others', () => {
  for (const role of ['analyst', 'dpo', 'clinician', 'service', 'default', 'someone-unmapped']) {
    const plan = policy.derivedPlan(role, [UNTRACED_LABEL], 'text');
    assert.equal(plan.mode, 'mask', role);
    assert.equal(plan.apply('anything at all'), REDACTED, role);
    assert.equal(policy.derivedPlan(role, [UNTRACED_LABEL], 'integer').apply(42), null, role);
  }
  const admin = policy.derivedPlan('admin', [UNTRACED_LABEL, 'pii.ssn'], 'text');
  assert.equal(admin.mode, 'clear');
  assert.equal(admin.apply('123-45-6789'), '123-45-6789');
  assert.equal(inline('description: nothing\n').derivedPlan('default', [UNTRACED_LABEL], 'text').mode, 'clear', 'nothing is masked for anyone');
  // stats: the untraced label is counted when nothing else is masked; a classified source's label wins otherwise
  const alone = new Recorder();
  policy.derivedPlan('dpo', [UNTRACED_LABEL, 'pii.email'], 'json').apply('{}', alone);
  assert.deepEqual(alone.seenLog.sort(), [UNTRACED_LABEL, 'pii.email']);
  assert.deepEqual(alone.maskedLog, [`${UNTRACED_LABEL}:redact`]);
  const withSource = new Recorder();
  policy.derivedPlan('analyst', [UNTRACED_LABEL, 'pii.email'], 'integer').apply(1, withSource);
  assert.deepEqual(withSource.maskedLog, ['pii.email:null']);
});

// ---------------------------------------------------------------------------------------------------------------
// masksAnyFor

test('masksAnyFor with the shipped packs', () => {
  assert.equal(policy.masksAnyFor('analyst'), true);
  assert.equal(policy.masksAnyFor('admin'), false);
  assert.equal(policy.masksAnyFor('dpo'), true, 'dpo sees pii clear but financial and health data masked');
  assert.equal(policy.masksAnyFor('clinician'), true);
  assert.equal(policy.masksAnyFor('service'), true, 'service sees health data masked');
  assert.equal(policy.masksAnyFor('default'), true);
  assert.equal(policy.masksAnyFor('someone-unmapped'), true, 'a role no mask exempts sees masked data');
  assert.equal(policy.masksAnyFor('admin'), false, 'cached answer is the same');
});

test('masksAnyFor: no classifiers, nothing masked; a user mask can make a role masked', () => {
  const empty = inline('description: nothing\n');
  assert.equal(empty.masksAnyFor('default'), false);
  assert.equal(empty.masksAnyFor('analyst'), false);
  const p = withPacks(['masks:', '  - labels: ["secret.password"]', '    method: redact', '    roles: [admin]', ''].join('\n'));
  assert.equal(p.masksAnyFor('admin'), true);
});

// ---------------------------------------------------------------------------------------------------------------
// onUnknownLineage

test('onUnknownLineage: deny unless set', () => {
  for (const role of ['analyst', 'admin', 'default', 'dpo']) assert.equal(policy.onUnknownLineage(role), 'deny', role);
  assert.equal(inline('description: x\n').onUnknownLineage('analyst'), 'deny');
});

test('onUnknownLineage: string form applies to every role', () => {
  const p = withPacks('onUnknownLineage: mask\n');
  for (const role of ['analyst', 'admin', 'default']) assert.equal(p.onUnknownLineage(role), 'mask', role);
  assert.equal(withPacks('onUnknownLineage: deny\n').onUnknownLineage('analyst'), 'deny');
});

test('onUnknownLineage: map form, role then default then deny', () => {
  const p = withPacks('onUnknownLineage: { default: mask, admin: deny }\n');
  assert.equal(p.onUnknownLineage('analyst'), 'mask');
  assert.equal(p.onUnknownLineage('admin'), 'deny');
  const q = withPacks(['onUnknownLineage:', '  analyst: mask', ''].join('\n'));
  assert.equal(q.onUnknownLineage('analyst'), 'mask');
  assert.equal(q.onUnknownLineage('dpo'), 'deny');
  assert.equal(q.onUnknownLineage('default'), 'deny');
  assert.equal(withPacks('onUnknownLineage: {}\n').onUnknownLineage('analyst'), 'deny');
});

test('onUnknownLineage: later files override earlier ones per role key', () => {
  const p = inline('onUnknownLineage: { default: mask, analyst: deny, dpo: mask }\n', 'onUnknownLineage: { analyst: mask, admin: deny }\n');
  assert.equal(p.onUnknownLineage('analyst'), 'mask', 'overridden by the later file');
  assert.equal(p.onUnknownLineage('dpo'), 'mask', 'kept from the earlier file');
  assert.equal(p.onUnknownLineage('admin'), 'deny');
  assert.equal(p.onUnknownLineage('clinician'), 'mask', 'default kept from the earlier file');
  const q = inline('onUnknownLineage: { default: deny }\n', 'onUnknownLineage: { default: mask }\n');
  assert.equal(q.onUnknownLineage('analyst'), 'mask');
  // the string form is a statement about every role: it replaces earlier per-role settings
  const r = inline('onUnknownLineage: { analyst: mask, default: mask }\n', 'onUnknownLineage: deny\n');
  assert.equal(r.onUnknownLineage('analyst'), 'deny');
  assert.equal(r.onUnknownLineage('other'), 'deny');
  // and a later map refines it
  const s = inline('onUnknownLineage: mask\n', 'onUnknownLineage: { admin: deny }\n');
  assert.equal(s.onUnknownLineage('analyst'), 'mask');
  assert.equal(s.onUnknownLineage('admin'), 'deny');
  // a file that does not set it changes nothing
  assert.equal(inline('onUnknownLineage: mask\n', 'description: x\n').onUnknownLineage('analyst'), 'mask');
});

test('onUnknownLineage: bad values rejected with file:line', () => {
  assert.deepEqual(errorsOf('description: x\nonUnknownLineage: allow\n'), [
    'policies/u0.yaml:2: onUnknownLineage: must be one of deny, mask (or a mapping of role to deny or mask)',
  ]);
  assert.deepEqual(errorsOf('onUnknownLineage: Deny\n'), [
    'policies/u0.yaml:1: onUnknownLineage: must be one of deny, mask (or a mapping of role to deny or mask)',
  ]);
  assert.deepEqual(errorsOf(['onUnknownLineage:', '  default: mask', '  analyst: allow', ''].join('\n')), [
    'policies/u0.yaml:3: onUnknownLineage.analyst: must be one of deny, mask',
  ]);
  assert.deepEqual(errorsOf(['onUnknownLineage:', '  analyst: { x: 1 }', ''].join('\n')), [
    'policies/u0.yaml:2: onUnknownLineage.analyst: must be one of deny, mask',
  ]);
  assert.deepEqual(errorsOf('onUnknownLineage: [deny]\n'), ['policies/u0.yaml:1: onUnknownLineage: must be a string or a mapping']);
  assert.deepEqual(errorsOf('onUnknownLineage: 3\n'), ['policies/u0.yaml:1: onUnknownLineage: must be a string or a mapping']);
  assert.deepEqual(errorsOf('onUnknownLineage:\n'), ['policies/u0.yaml:1: onUnknownLineage: must be a string or a mapping']);
  assert.deepEqual(errorsOf('onUnknownLineage: true\n'), ['policies/u0.yaml:1: onUnknownLineage: must be a string or a mapping']);
  const typo = errorsOf('onUnknownLinage: deny\n');
  assert.equal(typo.length, 1);
  assert.match(typo[0]!, /^policies\/u0\.yaml:1: onUnknownLinage: unknown key "onUnknownLinage" \(allowed: .*onUnknownLineage/);
  // errors in two files are reported together, each with its own file and line
  assert.deepEqual(errorsOf('onUnknownLineage: open\n', 'description: y\nonUnknownLineage: { dpo: never }\n'), [
    'policies/u0.yaml:1: onUnknownLineage: must be one of deny, mask (or a mapping of role to deny or mask)',
    'policies/u1.yaml:2: onUnknownLineage.dpo: must be one of deny, mask',
  ]);
});

// ---------------------------------------------------------------------------------------------------------------
// rule matching: tags, readsMasked, maskedRole and the shipped rules

test('masked-no-copies: a masked role may not copy what it sees masked into a view, table, function...', () => {
  const denied = policy.decide(req('analyst', 'create', { tags: ['create-view'], readsMasked: true, objects: ['public.v'] }));
  assert.equal(denied.action, 'deny');
  assert.equal(denied.ruleId, 'masked-no-copies');
  assert.equal(denied.message, 'dgf: this role sees masked data and may not copy it where dgf cannot follow it (views, tables, functions, rules, triggers)');
  assert.ok(denied.rules.includes('masked-no-copies'));
  for (const tag of ['create-materialized-view', 'create-table-as', 'select-into', 'create-function', 'create-procedure', 'create-rule', 'create-trigger']) {
    assert.equal(policy.decide(req('analyst', 'create', { tags: [tag], readsMasked: true })).ruleId, 'masked-no-copies', tag);
  }
  assert.equal(policy.decide(req('analyst', 'create', { tags: ['CREATE-VIEW'], readsMasked: true })).ruleId, 'masked-no-copies', 'tags are case-insensitive like operations');
  assert.equal(policy.decide(req('analyst', 'create', { tags: ['something', 'create-view'], readsMasked: true })).action, 'deny', 'any tag matches');
  assert.equal(policy.decide(req('dpo', 'create', { tags: ['create-view'], readsMasked: true })).action, 'deny');
  assert.equal(policy.decide(req('default', 'create', { tags: ['create-view'], readsMasked: true })).action, 'deny');

  // roles without masks keep everything
  const admin = policy.decide(req('admin', 'create', { tags: ['create-view'], readsMasked: true }));
  assert.equal(admin.action, 'allow');
  assert.ok(!admin.rules.includes('masked-no-copies'));
  // nothing masked is read: allowed
  assert.equal(policy.decide(req('analyst', 'create', { tags: ['create-view'], readsMasked: false })).action, 'allow');
  assert.equal(policy.decide(req('analyst', 'create', { tags: ['create-view'] })).action, 'allow', 'absent readsMasked counts as false');
  assert.equal(policy.decide(req('analyst', 'create', { objects: ['public.t'] })).action, 'allow', 'a plain table');
  assert.equal(policy.decide(req('analyst', 'create', { tags: ['create-table'], readsMasked: true })).action, 'allow', 'not a copy');
  // a tag does not make an operation another one: tags are matched, the operation still is
  assert.equal(policy.decide(req('analyst', 'create-view', { readsMasked: true })).ruleId, 'masked-no-copies');
});

test('masked-no-blind-code: a masked role may not run code or settings dgf cannot trace', () => {
  const d = policy.decide(req('analyst', 'do', { kind: 'admin' }));
  assert.equal(d.action, 'deny');
  assert.equal(d.ruleId, 'masked-no-blind-code');
  assert.equal(d.message, 'dgf: this role sees masked data and may not run code or settings dgf cannot trace');
  assert.equal(policy.decide(req('admin', 'do', { kind: 'admin' })).action, 'allow');
  assert.equal(policy.decide(req('analyst', 'load', { kind: 'admin' })).ruleId, 'masked-no-blind-code');
  for (const [op, tag] of [['create', 'create-extension'], ['copy', 'copy-to-program'], ['copy', 'copy-to-file'], ['copy', 'copy-from-program'], ['set', 'set-unresolved']]) {
    assert.equal(policy.decide(req('analyst', op!, { tags: [tag!] })).ruleId, 'masked-no-blind-code', tag);
    assert.equal(policy.decide(req('admin', op!, { tags: [tag!] })).action, 'allow', tag);
  }
  // no readsMasked needed: the code itself is what dgf cannot follow
  assert.equal(policy.decide(req('analyst', 'do', { kind: 'admin', readsMasked: false })).action, 'deny');
  // ordinary statements of a masked role are untouched
  assert.equal(policy.decide(req('analyst', 'set', { kind: 'session', tags: ['set-search-path'] })).action, 'allow');
  assert.equal(policy.decide(req('analyst', 'copy', { kind: 'read', tags: ['copy-to-stdout'], readsMasked: true })).action, 'allow');
  assert.equal(policy.decide(req('analyst', 'select', { kind: 'read', readsMasked: true, objects: ['public.customers'] })).action, 'allow');
});

test('the new rules do not change existing outcomes', () => {
  const drop = policy.decide(req('analyst', 'drop', { tags: ['create-view'], readsMasked: true }));
  assert.equal(drop.ruleId, 'deny-destructive', 'earlier rules still decide first');
  assert.equal(policy.decide(req('dba', 'drop', { objects: ['public.t'] })).action, 'allow');
  assert.equal(policy.decide(req('analyst', 'flushall', { protocol: 'redis', kind: 'admin' })).ruleId, 'deny-destructive');
  assert.equal(policy.decide(req('analyst', 'config', { protocol: 'redis', kind: 'admin' })).ruleId, 'deny-redis-admin');
  assert.equal(policy.decide(req('analyst', 'get', { protocol: 'redis', kind: 'read', objects: ['user:1:email'] })).action, 'allow');
  const w = policy.decide(req('service', 'insert', { kind: 'write', objects: ['public.customers'], fields: ['email', 'card_number'] }));
  assert.equal(w.action, 'allow');
  for (const id of ['GDPR-001', 'GDPR-002', 'SOX-001', 'ISO-001']) assert.ok(w.rules.includes(id), id);
});

test('match keys on inline rules: maskedRole false/true, readsMasked false, operation globs over tags and kinds', () => {
  const p = withPacks(
    [
      'rules:',
      '  - id: only-unmasked-may-vacuum',
      '    match: { operation: [vacuum], maskedRole: true }',
      '    action: deny',
      '    message: no vacuum for masked roles',
      '  - id: unmasked-report',
      '    match: { maskedRole: false, operation: [report] }',
      '    action: deny',
      '    message: unmasked roles may not report',
      '  - id: clear-reads-only',
      '    match: { readsMasked: false, operation: [export] }',
      '    action: deny',
      '    message: export only reads of masked data',
      '  - id: any-create-tag',
      '    match: { operation: ["create-*"], role: [auditor] }',
      '    action: deny',
      '    message: auditor creates nothing',
      '  - id: ddl-by-kind',
      '    match: { operation: [ddl], role: [service] }',
      '    require: [approval]',
      '',
    ].join('\n'),
  );
  assert.equal(p.decide(req('analyst', 'vacuum', { kind: 'admin' })).ruleId, 'only-unmasked-may-vacuum');
  assert.equal(p.decide(req('admin', 'vacuum', { kind: 'admin' })).action, 'allow');
  assert.equal(p.decide(req('admin', 'report')).ruleId, 'unmasked-report');
  assert.equal(p.decide(req('analyst', 'report')).action, 'allow');
  assert.equal(p.decide(req('analyst', 'export')).ruleId, 'clear-reads-only', 'absent readsMasked matches false');
  assert.equal(p.decide(req('analyst', 'export', { readsMasked: false })).ruleId, 'clear-reads-only');
  assert.equal(p.decide(req('analyst', 'export', { readsMasked: true })).action, 'allow');
  assert.equal(p.decide(req('auditor', 'create', { tags: ['create-index'] })).ruleId, 'any-create-tag', 'globs match tags');
  assert.equal(p.decide(req('auditor', 'create')).action, 'allow');
  const ddl = p.decide(req('service', 'alter'));
  assert.ok(ddl.rules.includes('ddl-by-kind'), 'operation still matches the kind');
  assert.deepEqual(ddl.requires.includes('approval'), true);
});

test('match keys maskedRole and readsMasked must be booleans (file:line)', () => {
  const errs = errorsOf(
    [
      'rules:',
      '  - id: r1',
      '    match: { maskedRole: "true" }',
      '    action: deny',
      '    message: x',
      '  - id: r2',
      '    match:',
      '      readsMasked: yes',
      '    action: deny',
      '    message: x',
      '  - id: r3',
      '    match: { readsMask: true }',
      '',
    ].join('\n'),
  );
  assert.equal(errs.length, 3, errs.join('\n'));
  assert.equal(errs[0], 'policies/u0.yaml:3: rules[0].match.maskedRole: must be a boolean');
  assert.equal(errs[1], 'policies/u0.yaml:8: rules[1].match.readsMasked: must be a boolean');
  assert.match(errs[2]!, /^policies\/u0\.yaml:12: rules\[2\]\.match\.readsMask: unknown key "readsMask" \(allowed: .*maskedRole, readsMasked/);
  assert.deepEqual(errorsOf('rules:\n  - id: ok\n    match: { maskedRole: false, readsMasked: true }\n'), []);
});

test('the shipped packs define the two rules with their metadata', () => {
  const ids = policy.defs.rules.map((r) => r.id);
  for (const id of ['masked-no-copies', 'masked-no-blind-code']) {
    const def = policy.defs.rules.find((r) => r.id === id)!;
    assert.ok(def, id);
    assert.equal(def.action, 'deny');
    assert.equal(def.match.maskedRole, true);
    assert.ok(def.name.length > 0 && def.description.length > 0, id);
    assert.ok(ids.indexOf(id) > ids.indexOf('deny-cloud-deletion'), `${id} comes after the existing firewall rules`);
  }
  assert.equal(policy.defs.rules.find((r) => r.id === 'masked-no-copies')!.match.readsMasked, true);
  assert.equal(policy.defs.rules.find((r) => r.id === 'masked-no-blind-code')!.match.readsMasked, null);
});

describe('policy section content: objects declared clean or binary-only', () => {
  test('globs over object names, merged across files; clean wins over binary-only', () => {
    const p = withPacks('content:\n  clean: ["public-assets/*"]\n  binaryOnly: ["media/*", "public-assets/*"]\n', 'content:\n  binaryOnly: ["backups/*.tar"]\n');
    assert.equal(p.contentClass('public-assets/logo.json'), 'clean');
    assert.equal(p.contentClass('media/a/b.png'), 'binary-only');
    assert.equal(p.contentClass('backups/2026.tar'), 'binary-only');
    assert.equal(p.contentClass('reports/q1.json'), null);
    assert.equal(withPacks().contentClass('media/x.png'), null, 'nothing is declared by the shipped packs');
  });

  test('unknown keys are refused with file and line', () => {
    assert.ok(errorsOf('content:\n  cleen: ["x/*"]\n').some((e) => /u0\.yaml:2/.test(e) && /unknown key "cleen"/.test(e)));
  });
});
