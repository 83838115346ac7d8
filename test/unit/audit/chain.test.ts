import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GENESIS, canonicalBody, canonicalJson, chainKey, expectedHash, fieldsOf, recordOf, seal } from '../../../src/audit/chain.js';
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
