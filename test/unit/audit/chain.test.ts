import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GENESIS, canonicalBody, canonicalJson, chainKey, expectedHash, fieldsOf, recordOf, seal } from '../../../src/audit/chain.js';
import { CanonicalEntry } from '../../../src/audit/entry.js';
import { sealBatch, sealedBytes, type SealRequest } from '../../../src/audit/seal-batch.js';
import type { AuditEvent, AuditRecord } from '../../../src/audit/types.js';

const key = chainKey('unit-chain-key');

function event(entries: AuditEvent['entries']): AuditEvent {
  return {
    listener: 'cache',
    protocol: 'redis',
    identity: { user: 'analyst', address: '127.0.0.1' },
    role: 'analyst',
    operation: 'pipeline',
    object: 'user:1:email',
    statement: 'GET user:1:email',
    labels: ['pii.email'],
    masked: { 'pii.email': 1 },
    rows: 2,
    decision: 'allow',
    rules: ['GDPR-001'],
    duration_ms: 0.5,
    error: null,
    ...(entries ? { entries } : {}),
  };
}

test('the written line re-serializes to the same bytes from its parsed form (what verify recomputes)', () => {
  // An entry literal in another key order and with an absent field, next to a regular one.
  const odd = { rows: 1, operation: 'get', decision: 'allow', statement: 'GET "user:1:\\u00e9"', labels: [], masked: {}, rules: [], error: null } as unknown as NonNullable<AuditEvent['entries']>[number];
  const regular = { operation: 'set', object: 'k', statement: 'SET k ?', labels: ['pii.email'], masked: { 'pii.email': 2 }, rows: null, decision: 'deny' as const, rules: ['R-1', 'R-2'], error: 'NOPERM "quoted"' };
  const r = recordOf(event([odd, regular]), 1, '2026-11-24T00:00:00.000Z', GENESIS);
  const { hash, line } = seal(key, r);
  const parsed = JSON.parse(line) as AuditRecord;
  assert.equal(expectedHash(key, parsed), hash);
  assert.equal(canonicalJson(parsed).slice(0, -1) + `,"hash":"${hash}"}\n`, line);
});

test('a key added to an entry changes the recomputed hash', () => {
  const r = recordOf(event([{ operation: 'get', object: 'k', statement: 'GET k', labels: [], masked: {}, rows: 1, decision: 'allow', rules: [], error: null }]), 1, '2026-11-24T00:00:00.000Z', GENESIS);
  const { hash, line } = seal(key, r);
  const parsed = JSON.parse(line) as AuditRecord & { entries: Array<Record<string, unknown>> };
  parsed.entries[0]!.extra = 'x';
  assert.notEqual(expectedHash(key, parsed), hash);
});

test('records without entries and with repeated identities seal identically to the generic serialization', () => {
  const e = event(undefined);
  for (let i = 1; i <= 3; i++) {
    const r = recordOf(e, i, '2026-11-24T00:00:00.000Z', GENESIS);
    const { line } = seal(key, r);
    assert.equal(line, canonicalJson(JSON.parse(line) as AuditRecord).slice(0, -1) + line.slice(line.lastIndexOf(',"hash"')));
  }
});

/** What a CanonicalEntry leaves out: null object, statement, rows and error; empty labels and masked. */
function compact(e: CanonicalEntry): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(e)) {
    if (v === null && (k === 'object' || k === 'statement' || k === 'rows' || k === 'error')) continue;
    if ((k === 'labels' && (v as unknown[]).length === 0) || (k === 'masked' && Object.keys(v as object).length === 0)) continue;
    out[k] = v;
  }
  return out;
}

test('canonical entries serialize as JSON.stringify does without their null and empty fields, whatever their strings and numbers', () => {
  const rulesA = ['ISO-001'];
  const rulesB = ['GDPR-001', 'ISO-001'];
  const tricky = ['key:000000012345', 'a"b', 'back\\slash', 'tab\tnew\nline\u0001', 'clé:😀', 'lone \ud800 surrogate', '\u2028sep', ''];
  const entries: CanonicalEntry[] = [];
  for (const s of tricky) {
    entries.push(new CanonicalEntry('get', s, `GET ${s}`, [], {}, 0, 'allow', rulesA, null));
    entries.push(new CanonicalEntry(s || 'op', null, null, [], {}, 3, 'allow', rulesA, null));
  }
  // Tails that differ in one part each, back to back (the memo of the last tail must not leak).
  entries.push(
    new CanonicalEntry('get', 'k', 'GET k', [], {}, 0, 'allow', rulesB, null),
    new CanonicalEntry('get', 'k', 'GET k', [], {}, 0, 'deny', rulesB, null),
    new CanonicalEntry('get', 'k', 'GET k', [], {}, null, 'deny', rulesB, null),
    new CanonicalEntry('get', 'k', 'GET k', [], {}, -0, 'deny', [], null),
    new CanonicalEntry('get', 'k', 'GET k', [], {}, Number.NaN, 'deny', [], null),
    new CanonicalEntry('get', 'k', 'GET k', [], {}, 1.5e21, 'deny', [], null),
    new CanonicalEntry('get', 'k', 'GET k', ['pii.email'], { 'pii.email': 2 }, 1, 'allow', rulesA, null),
    new CanonicalEntry('get', 'k', 'GET k', [], {}, 1, 'allow', rulesA, 'NOPERM "quoted"'),
    new CanonicalEntry('get', 'k', 'GET k', [], { 'pii.email': 1 }, 1, 'allow', rulesA, null),
  );
  const fields = fieldsOf(event(entries), '2026-11-24T00:00:00.000Z');
  const expected = JSON.stringify(entries.map(compact));
  // What verification does: parse the line and serialize its entries again, as plain objects.
  const parsed = JSON.parse(expected) as NonNullable<AuditEvent['entries']>;
  assert.equal(canonicalBody(fields), canonicalBody({ ...fields, entries: parsed }));
  assert.ok(canonicalBody(fields).endsWith(',"entries":' + expected));
  assert.ok(!expected.includes('"labels":[]') && !expected.includes('"error":null') && expected.includes('"statement":"GET k"'));
});

test('durations serialize exactly as JSON.stringify does', () => {
  const ts = '2026-11-24T00:00:00.000Z';
  const samples = [0, 0.001, 0.005, 0.01, 0.02, 0.1, 0.25, 0.257, 1, 1.2, 9.999, 10.05, 123.456, 999_999_999.999, 1e9, 2e9, 0.0001, 1 / 3, -1, -0, Number.NaN, Infinity];
  for (let us = 0; us < 20_000; us += 7) samples.push(us / 1000);
  for (const ms of samples) {
    const fields = { ...fieldsOf(event(undefined), ts), duration_ms: ms };
    const body = canonicalBody(fields);
    assert.ok(body.includes(',"duration_ms":' + JSON.stringify(ms) + ','), `${ms}: ${body.slice(body.indexOf('duration_ms'), body.indexOf(',"error"'))}`);
  }
});

test('a chain key longer than the hash block is hashed first, as HMAC requires; a long record grows the scratch', () => {
  const longKey = chainKey('k'.repeat(100));
  const ts = '2026-11-24T00:00:00.000Z';
  for (const e of [event(undefined), { ...event(undefined), statement: 'x'.repeat(10_000) }, event(undefined)]) {
    const body = Buffer.from(canonicalBody(fieldsOf(e, ts)), 'utf8');
    const req: SealRequest = { key: longKey, firstSeq: 1, prev: GENESIS, data: body, ends: Uint32Array.of(body.length), from: 0, count: 1 };
    const sealed = sealBatch(req, Buffer.alloc(sealedBytes(req)));
    assert.equal(sealed.lines.toString('utf8'), seal(longKey, recordOf(e, 1, ts, GENESIS)).line);
  }
});

test('a batch sealed on bytes gives the lines of sealing each record on strings, multi-byte text included', () => {
  const ts = '2026-11-24T00:00:00.000Z';
  const events = [
    event(undefined),
    { ...event(undefined), statement: 'GET "clé:ünï:😀"', object: 'clé' },
    event([{ operation: 'get', object: 'k', statement: 'GET k', labels: [], masked: {}, rows: 1, decision: 'allow', rules: [], error: null }]),
  ];
  const bodies = events.map((e) => Buffer.from(canonicalBody(fieldsOf(e, ts)), 'utf8'));
  const ends = new Uint32Array(bodies.length);
  bodies.reduce((at, b, i) => (ends[i] = at + b.length), 0);
  const prev = 'ab'.repeat(32);
  const req: SealRequest = { key, firstSeq: 41, prev, data: Buffer.concat(bodies), ends, from: 0, count: bodies.length };
  // A reused, dirty output buffer: sealing must not depend on its contents.
  const out = Buffer.alloc(sealedBytes(req) + 100, 0x7b);
  const sealed = sealBatch(req, out);

  let expected = '';
  let chain = prev;
  events.forEach((e, i) => {
    const { hash, line } = seal(key, recordOf(e, 41 + i, ts, chain));
    expected += line;
    chain = hash;
  });
  assert.equal(sealed.lines.toString('utf8'), expected);
  assert.equal(sealed.lastHash, chain);
  assert.ok(sealed.lines.length <= sealedBytes(req));
  for (const line of expected.trimEnd().split('\n')) {
    const r = JSON.parse(line) as AuditRecord;
    assert.equal(expectedHash(key, r), r.hash);
  }
});
