import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GENESIS, canonicalBody, chainKey, fieldsOf } from '../../../src/audit/chain.js';
import { sealBatch, sealBatchJs, sealedBytes, sealerKind, type SealRequest } from '../../../src/audit/seal-batch.js';
import type { AuditEvent } from '../../../src/audit/types.js';
import { event } from './helpers.js';

// `npm run build` (run by npm ci) builds the native sealer; DGF_NATIVE_SEAL=0 is the only way to run without it.
const expectNative = process.env.DGF_NATIVE_SEAL !== '0';

test('the native sealer is built and used (scripts/build-native.sh), unless turned off', () => {
  assert.equal(sealerKind, expectNative ? 'native' : 'js');
});

/** Records of varied sizes and labels, some with multi-byte object names. */
function varied(i: number): AuditEvent {
  return event(i, {
    object: i % 3 === 0 ? `clé:ünï:${i}` : `key:${i}`,
    statement: `GET ${'x'.repeat((i * 37) % 900)}`,
    labels: i % 2 ? ['pii.email'] : [],
    duration_ms: i / 7,
  });
}

function queue(n: number): { data: Buffer; ends: Uint32Array } {
  const bodies = Array.from({ length: n }, (_, i) => Buffer.from(canonicalBody(fieldsOf(varied(i), '2026-11-24T00:00:00.000Z')), 'utf8'));
  const ends = new Uint32Array(n);
  bodies.reduce((at, b, i) => (ends[i] = at + b.length), 0);
  return { data: Buffer.concat(bodies), ends };
}

test('native and JS sealing give the same lines and head: keys of every length class, slices of a queue, big seqs', () => {
  const { data, ends } = queue(60);
  const keys = ['', 'k', 'k'.repeat(64), 'k'.repeat(65), 'ключ'.repeat(50)].map(chainKey);
  const cases: Array<Pick<SealRequest, 'firstSeq' | 'prev' | 'from' | 'count'>> = [
    { firstSeq: 1, prev: GENESIS, from: 0, count: 60 },
    { firstSeq: 41, prev: 'ab'.repeat(32), from: 17, count: 1 },
    { firstSeq: 9007199254740000, prev: 'f0'.repeat(32), from: 30, count: 30 },
    { firstSeq: 99, prev: GENESIS, from: 59, count: 1 },
  ];
  for (const key of keys) {
    for (const c of cases) {
      const req: SealRequest = { key, data, ends, ...c };
      // Dirty, oversized output buffers: sealing must not depend on their contents.
      const viaNative = sealBatch(req, Buffer.alloc(sealedBytes(req) + 50, 0x7b));
      const viaJs = sealBatchJs(req, Buffer.alloc(sealedBytes(req) + 50, 0x20));
      assert.equal(viaNative.lines.toString('utf8'), viaJs.lines.toString('utf8'), `key ${key.length} bytes, from ${c.from}`);
      assert.equal(viaNative.lastHash, viaJs.lastHash);
      assert.equal(viaNative.lines.toString('utf8').split('\n').length, c.count + 1);
    }
  }
});

test('the native sealer refuses a too small output buffer or inconsistent offsets with a RangeError', () => {
  const { data, ends } = queue(3);
  const req: SealRequest = { key: chainKey('k'), firstSeq: 1, prev: GENESIS, data, ends, from: 0, count: 3 };
  assert.throws(() => sealBatch(req, Buffer.alloc(sealedBytes(req) - 200)), RangeError);
  assert.throws(() => sealBatch({ ...req, count: 4 }, Buffer.alloc(sealedBytes(req) * 2)), RangeError);
  const shuffled = Uint32Array.of(ends[1]!, ends[0]!, ends[2]!);
  assert.throws(() => sealBatch({ ...req, ends: shuffled }, Buffer.alloc(sealedBytes(req) * 2)), RangeError);
  const beyond = Uint32Array.of(ends[0]!, ends[1]!, data.length + 1);
  assert.throws(() => sealBatch({ ...req, ends: beyond }, Buffer.alloc(sealedBytes(req) * 2)), RangeError);
});
