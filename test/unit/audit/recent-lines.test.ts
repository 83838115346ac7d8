import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { describe, it } from 'node:test';
import { RecentLines } from '../../../src/audit/recent-lines.js';

/** `count` JSON lines with seqs from `first`, padded so that a batch has about `bytes` bytes. */
function batch(first: number, count: number, bytes = 0): Buffer {
  const pad = 'x'.repeat(Math.max(0, Math.floor(bytes / count) - 40));
  let s = '';
  for (let i = 0; i < count; i++) s += JSON.stringify({ seq: first + i, ts: `2026-12-08T00:00:${String((first + i) % 60).padStart(2, '0')}.000Z`, pad }) + '\n';
  return Buffer.from(s);
}

/** A sealing buffer holding `lines` at its start, as the log hands them over. */
function sealed(lines: Buffer, outBytes: number): { out: Buffer; lines: Buffer } {
  const out = Buffer.alloc(Math.max(outBytes, lines.length));
  lines.copy(out);
  return { out, lines: out.subarray(0, lines.length) };
}

const parse = (line: string): { ts: string; seq: number } => JSON.parse(line) as { ts: string; seq: number };

describe('RecentLines', () => {
  it('keeps the newest records across batches, copies of small batches surviving the reuse of their sealing buffer', () => {
    const released: Buffer[] = [];
    const ring = new RecentLines(5, (out) => released.push(out));
    let seq = 1;
    for (const n of [1, 3, 2, 4, 1]) {
      const { out, lines } = sealed(batch(seq, n), 1 << 20);
      ring.add(out, lines, n);
      out.fill(0x20); // the log reuses the buffer at once: the ring must hold a copy
      seq += n;
      const want = Array.from({ length: Math.min(5, seq - 1) }, (_, i) => seq - Math.min(5, seq - 1) + i);
      // The log asks for at most `size` (the ring keeps whole batches, so it may hold a few more).
      assert.deepEqual(ring.recent(5, null, parse).map((r) => r.seq), want);
    }
    assert.equal(released.length, 5, 'every small batch hands its sealing buffer back at once');
  });

  it('holds a batch that fills its sealing buffer and hands the buffer back once the batch leaves', () => {
    const released: Buffer[] = [];
    const ring = new RecentLines(3, (out) => released.push(out));
    const a = sealed(batch(1, 3, 4000), 4096);
    ring.add(a.out, a.lines, 3);
    assert.equal(released.length, 0);
    const b = sealed(batch(4, 3, 4000), 4096);
    ring.add(b.out, b.lines, 3);
    assert.deepEqual(released, [a.out]);
    assert.deepEqual(ring.recent(3, null, parse).map((r) => r.seq), [4, 5, 6]);
  });

  it('reuses its chunks under steady load instead of allocating per batch', () => {
    const ring = new RecentLines(1000, () => undefined);
    const arrays = new Set<ArrayBufferLike>();
    let seq = 1;
    for (let i = 0; i < 3000; i++) {
      const { out, lines } = sealed(batch(seq, 2, 20_000), 1 << 20);
      ring.add(out, lines, 2);
      seq += 2;
      // Every kept copy lies in one of the ring's chunks: their count stays bounded however many batches pass.
      assert.equal(ring.recent(1, null, parse)[0]!.seq, seq - 1);
      arrays.add((ring as unknown as { kept: Array<{ lines: Buffer }> }).kept.at(-1)!.lines.buffer);
    }
    // 1000 records of ~10 KB: ~10 MB in use, in 1 MiB chunks, plus a few spares.
    assert.ok(arrays.size <= 20, `chunks allocated: ${arrays.size}`);
  });

  it('filters by since and limits from the newest', () => {
    const ring = new RecentLines(10, () => undefined);
    const { out, lines } = sealed(batch(1, 6), 1 << 20);
    ring.add(out, lines, 6);
    assert.deepEqual(ring.recent(2, null, parse).map((r) => r.seq), [5, 6]);
    assert.deepEqual(ring.recent(10, '2026-12-08T00:00:04.000Z', parse).map((r) => r.seq), [4, 5, 6]);
  });

  it('keeps nothing with size 0 and hands every buffer back', () => {
    const released: Buffer[] = [];
    const ring = new RecentLines(0, (out) => released.push(out));
    const { out, lines } = sealed(batch(1, 2), 64);
    ring.add(out, lines, 2);
    assert.deepEqual(released, [out]);
    assert.deepEqual(ring.recent(10, null, parse), []);
  });
});
