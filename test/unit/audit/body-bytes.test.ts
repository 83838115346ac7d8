import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasCommonShape, writeBody } from '../../../src/audit/body-bytes.js';
import { canonicalBody, fieldsOf } from '../../../src/audit/chain.js';
import { CanonicalEntry } from '../../../src/audit/entry.js';
import type { AuditEvent } from '../../../src/audit/types.js';

const TS = '2026-12-07T10:00:00.123Z';
const PLAIN = Object.freeze({ tls: false });
const TLS = Object.freeze({ tls: true });
const RULES = ['ISO-001'];
const NO_RULES: string[] = [];

// Strings a record may carry in object and statement: plain ASCII, JSON escapes, DEL, Latin-1 (a Redis key read
// as latin1), multi-byte UTF-8, a surrogate pair, lone surrogates, and long ones.
const STRINGS = [
  '',
  'key:000000012345',
  'GET key:000000012345',
  'public.customers',
  'select * from t where a = $1',
  'quote " and backslash \\',
  'tab\tnewline\ncontrol\u0001\u001f',
  'del\u007f',
  'caf\u00e9 \u00ff',
  'ключ:1',
  'emoji \ud83d\ude00',
  'lone \ud800 high',
  'lone \udc00 low',
  'x'.repeat(5000),
  '\u0000'.repeat(300),
];

function identity(i: number): AuditEvent['identity'] {
  return i % 3 === 0 ? { user: 'analyst', address: '127.0.0.1', database: '0' } : i % 3 === 1 ? { user: 'app', application: 'billing-"x"', address: '::1' } : { user: '' };
}

/** Plain batch entries (nothing classified, masked or failed): null and non-null fields, odd strings. */
function entries(i: number): CanonicalEntry[] {
  return Array.from({ length: i % 5 }, (_, k) => {
    const s = STRINGS[(i + k) % STRINGS.length]!;
    return new CanonicalEntry(k % 2 ? 'get' : 'set', k % 3 ? s : null, k % 4 ? null : 'SET ' + s, [], {}, k % 3 === 1 ? null : k, k % 5 === 4 ? 'deny' : 'allow', k % 2 ? RULES : NO_RULES, null);
  });
}

function events(): AuditEvent[] {
  const out: AuditEvent[] = [];
  const ids = [identity(0), identity(1), identity(2)];
  let i = 0;
  for (const object of [...STRINGS, null, undefined]) {
    for (const statement of [STRINGS[(i * 7) % STRINGS.length]!, null]) {
      i++;
      out.push({
        listener: i % 2 ? 'cache' : 'pg',
        protocol: i % 2 ? 'redis' : 'postgres',
        identity: ids[i % 3]!,
        role: i % 4 ? 'analyst' : 'service',
        operation: ['get', 'set', 'select', 'pipeline'][i % 4]!,
        object: object as string | null,
        statement,
        labels: i % 5 ? [] : (undefined as unknown as string[]),
        masked: i % 6 ? {} : (undefined as unknown as Record<string, number>),
        rows: [0, 1, 42, null, 1e21, -3, 2.5, Number.NaN][i % 8] as number | null,
        decision: i % 7 ? 'allow' : 'deny',
        rules: [RULES, NO_RULES, undefined as unknown as string[]][i % 3]!,
        duration_ms: [0.443, 0, 12.3456789, 1e10, Number.POSITIVE_INFINITY, 0.0004, 3][i % 7]!,
        error: i % 9 ? null : (undefined as unknown as null),
        ...(i % 3 === 0 ? {} : { extra: i % 3 === 1 ? PLAIN : TLS }),
        ...(i % 4 === 3 ? { entries: entries(i) } : {}),
      });
    }
  }
  return out;
}

test('common-shape bodies written as bytes equal canonicalBody, byte for byte', () => {
  const all = events();
  assert.ok(all.length > 30);
  // Twice: the second pass is served from the memoized pieces.
  for (let pass = 0; pass < 2; pass++) {
    for (const e of all) {
      assert.ok(hasCommonShape(e));
      const out = Buffer.alloc(80_000, 0xee);
      const end = writeBody(out, 7, e, TS);
      assert.ok(end > 7, 'room enough');
      const want = Buffer.from(canonicalBody(fieldsOf(e, TS)), 'utf8');
      assert.equal(out.subarray(7, end).toString('hex'), want.toString('hex'), JSON.stringify(e).slice(0, 200));
      assert.equal(out[6], 0xee, 'nothing written before pos');
    }
  }
});

test('durations and row counts across their range equal canonicalBody', () => {
  const durations = [0, 0.001, 0.005, 0.01, 0.05, 0.1, 0.105, 0.12, 0.5, 0.999, 1, 1.5, 9.99, 10, 99.909, 123456.789, 999999999.999, 1e9, 0.0005, 0.0015, 1e-7, -0, -1, 2 ** 31, Number.NaN];
  for (let k = 0; k < 3000; k++) durations.push(Math.random() * 10 ** (k % 10));
  const rows = [0, -0, 1, 9, 10, 99, 100, 12345, 999999999, 1e9, 1e15, -1, 0.5, Number.NaN, null];
  const base = events()[1]!;
  for (let k = 0; k < durations.length; k++) {
    const e: AuditEvent = { ...base, duration_ms: durations[k]!, rows: rows[k % rows.length]! };
    const out = Buffer.alloc(4096);
    const end = writeBody(out, 0, e, TS);
    assert.equal(out.subarray(0, end).toString(), canonicalBody(fieldsOf(e, TS)), `duration ${durations[k]} rows ${e.rows}`);
  }
});

test('a buffer too small gets nothing written and the room needed back', () => {
  const e = events()[1]!;
  const small = Buffer.alloc(64, 0xee);
  const need = writeBody(small, 10, e, TS);
  assert.ok(need < 0);
  assert.ok(small.every((b) => b === 0xee), 'untouched');
  const big = Buffer.alloc(10 - need);
  const end = writeBody(big, 10, e, TS);
  assert.ok(end > 0 && end <= big.length);
});

test('records of another shape are left to canonicalBody', () => {
  const base = events()[1]!;
  assert.equal(hasCommonShape({ ...base, labels: ['pii.email'] }), false);
  assert.equal(hasCommonShape({ ...base, masked: { 'pii.email': 1 } }), false);
  assert.equal(hasCommonShape({ ...base, error: 'NOPERM' }), false);
  assert.equal(hasCommonShape({ ...base, extra: { ru: 1 } }), false, 'an unshared extra may change: not memoized');
  const plain = new CanonicalEntry('get', 'k', null, [], {}, 1, 'allow', RULES, null);
  assert.equal(hasCommonShape({ ...base, entries: [plain] }), true);
  assert.equal(hasCommonShape({ ...base, entries: [plain, new CanonicalEntry('get', 'k', null, ['pii.email'], {}, 1, 'allow', RULES, null)] }), false);
  assert.equal(hasCommonShape({ ...base, entries: [new CanonicalEntry('get', 'k', null, [], { 'pii.email': 1 }, 1, 'allow', RULES, null)] }), false);
  assert.equal(hasCommonShape({ ...base, entries: [new CanonicalEntry('get', 'k', null, [], {}, null, 'deny', RULES, 'NOPERM')] }), false);
  assert.equal(hasCommonShape({ ...base, entries: [{ ...plain }] }), false, 'an entry literal (e.g. parsed back) keeps the string path');
});
