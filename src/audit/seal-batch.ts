/**
 * Sealing a batch of audit records into chain lines, on bytes, when the audit log flushes: the bodies were
 * encoded once at append time, and the lines are assembled around them without building strings (measured
 * cheaper per record than sealing each record's string at append: no prev + canonical concatenation for the
 * HMAC, no line string kept until the write). A worker thread for this was measured slower under load: this
 * machine's cores are shared with the clients and the database, and the transfers added CPU.
 *
 * Input: the records' canonical bodies (`canonicalBody` in chain.ts: every field after `seq`, before `prev`),
 * UTF-8, back to back, with their end offsets. Output: the JSON lines as written to the sinks, each
 * `{"v":1,"seq":N<body>,"prev":"<hex>","hash":"<hex>"}\n` where hash = HMAC-SHA256(key, prev + the line up to and
 * including `"prev":"<hex>"}`), i.e. exactly what `seal` in chain.ts computes for the same record.
 */
import { createHmac } from 'node:crypto';

/**
 * A batch to seal: the `count` records from index `from` of a queue whose record j is `data[ends[j-1] .. ends[j])`
 * (ends[-1] = 0); the first gets seq `firstSeq`.
 */
export interface SealRequest {
  key: Uint8Array;
  firstSeq: number;
  prev: string;
  data: Buffer;
  ends: Uint32Array;
  from: number;
  count: number;
}

/** The sealed lines and the hash of the last one (the chain's new head, once the sinks keep them). */
export interface SealedBatch {
  lines: Buffer;
  lastHash: string;
}

/** Bytes a record's line adds to its body: `{"v":1,"seq":` + seq + `,"prev":"` + 64 + `","hash":"` + 64 + `"}\n`. */
const LINE_OVERHEAD = 13 + 16 + 9 + 64 + 10 + 64 + 3;

/** The most bytes the sealed lines of a batch take (the size of the `out` buffer `sealBatch` needs). */
export function sealedBytes(req: SealRequest): number {
  if (req.count === 0) return 0;
  return req.ends[req.from + req.count - 1]! - startOf(req) + req.count * LINE_OVERHEAD;
}

function startOf(req: SealRequest): number {
  return req.from > 0 ? req.ends[req.from - 1]! : 0;
}

/**
 * Seal a batch into `out` (at least `sealedBytes(req)` long). The caller recycles `out` buffers: fresh memory
 * costs a page fault per 4 KiB on first write, which on this VM made copying into a new buffer per batch ~100x
 * slower than the copy itself.
 */
export function sealBatch(req: SealRequest, out: Buffer): SealedBatch {
  const { key, data, ends, from, count } = req;
  let prev = req.prev;
  let pos = 0;
  let start = startOf(req);
  for (let i = 0; i < count; i++) {
    const end = ends[from + i]!;
    const lineStart = pos;
    pos += out.write('{"v":1,"seq":' + (req.firstSeq + i), pos, 'latin1');
    pos += data.copy(out, pos, start, end);
    pos += out.write(',"prev":"' + prev + '"}', pos, 'latin1');
    const hash = createHmac('sha256', key).update(prev, 'latin1').update(out.subarray(lineStart, pos)).digest('hex');
    // The line is the canonical JSON with the hash added before its closing brace.
    pos += out.write(',"hash":"' + hash + '"}\n', pos - 1, 'latin1') - 1;
    prev = hash;
    start = end;
  }
  return { lines: out.subarray(0, pos), lastHash: prev };
}
