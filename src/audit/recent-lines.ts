/**
 * The newest sealed lines of the audit log, for `recent()`: whole batches, newest last, at least the last `size`
 * records.
 *
 * A batch that fills much of its sealing buffer is kept in that buffer, which returns to the log's spares once the
 * batch leaves the ring. A small batch in a big sealing buffer is copied (holding the buffer would pin up to 1 MiB
 * per batch: see `add`) into reused chunks of 1 MiB, so that steady load allocates nothing here: a fresh Buffer per
 * batch meant an mmap, page faults and external memory that drove GCs (measured: ~3% of the event loop at Redis
 * pipeline 16, V8 profile; the copy itself is a memcpy of what the file sink writes anyway).
 */
import { Buffer } from 'node:buffer';

const CHUNK_BYTES = 1 << 20;
/** Empty chunks kept for reuse; the ring's working set of chunks is in use, these absorb its ups and downs. */
const SPARE_CHUNKS = 4;

interface Chunk {
  buf: Buffer;
  /** Bytes handed out from the start of `buf`. */
  used: number;
  /** Kept batches whose lines lie in this chunk. */
  live: number;
}

interface KeptBatch {
  lines: Buffer;
  count: number;
  /** The sealing buffer `lines` lies in, handed back through `release` when the batch leaves the ring. */
  out: Buffer | null;
  /** The chunk a copy of `lines` lies in. */
  chunk: Chunk | null;
}

export class RecentLines {
  /**
   * The kept batches are `kept[first..]`: dropping the oldest advances `first` (compacted now and then) instead of
   * `Array.prototype.shift`, which on a ring of hundreds of batches (one client: a batch per statement) runs in
   * C++ and moved the array (measured: ~0.5% of dgf's CPU at one pgbench client).
   */
  private kept: KeptBatch[] = [];
  private first = 0;
  private keptCount = 0;
  private current: Chunk | null = null;
  private readonly spare: Chunk[] = [];

  /** `release` takes back a sealing buffer the ring held (or did not need). */
  constructor(
    private readonly size: number,
    private readonly release: (out: Buffer) => void,
  ) {}

  /** Keep `count` records' `lines`, sealed into `out`; `out` goes back through `release` when no longer needed. */
  add(out: Buffer, lines: Buffer, count: number): void {
    if (this.size <= 0) {
      this.release(out);
      return;
    }
    if (lines.length * 4 < out.length) {
      // A small batch in a big sealing buffer: held for recent() until `size` records had passed, small batches (one
      // record per fsync) emptied the log's spares and every flush sealed into fresh memory (measured: closed
      // mode's fsync-to-reply p99 3-5 ms became 8-15 ms). Copy it and hand the buffer back at once.
      this.release(out);
      this.kept.push(this.copied(lines, count));
    } else {
      this.kept.push({ lines, count, out, chunk: null });
    }
    this.keptCount += count;
    while (this.kept.length - this.first > 1 && this.keptCount - this.kept[this.first]!.count >= this.size) this.drop(this.kept[this.first++]!);
    if (this.first >= 64 && this.first * 2 >= this.kept.length) {
      this.kept = this.kept.slice(this.first);
      this.first = 0;
    }
  }

  private copied(lines: Buffer, count: number): KeptBatch {
    if (lines.length > CHUNK_BYTES) {
      const copy = Buffer.allocUnsafe(lines.length);
      lines.copy(copy);
      return { lines: copy, count, out: null, chunk: null };
    }
    let c = this.current;
    if (c === null || c.buf.length - c.used < lines.length) {
      if (c !== null && c.live === 0) c.used = 0;
      else {
        c = this.spare.pop() ?? { buf: Buffer.allocUnsafeSlow(CHUNK_BYTES), used: 0, live: 0 };
        this.current = c;
      }
    }
    const start = c.used;
    lines.copy(c.buf, start);
    c.used += lines.length;
    c.live++;
    return { lines: c.buf.subarray(start, c.used), count, out: null, chunk: c };
  }

  private drop(old: KeptBatch): void {
    this.keptCount -= old.count;
    if (old.out !== null) this.release(old.out);
    const c = old.chunk;
    if (c !== null && --c.live === 0 && c !== this.current && this.spare.length < SPARE_CHUNKS) {
      c.used = 0;
      this.spare.push(c);
    }
  }

  /** The newest records, at most `max`, oldest first; none older than `sinceIso` when given. */
  recent<T extends { ts: string }>(max: number, sinceIso: string | null, parse: (line: string) => T): T[] {
    const out: T[] = [];
    for (let b = this.kept.length - 1; b >= this.first && out.length < max; b--) {
      const lines = this.kept[b]!.lines;
      // Walk the batch's lines from its end: each ends with '\n'.
      let end = lines.length - 1;
      while (end > 0 && out.length < max) {
        const start = lines.lastIndexOf(0x0a, end - 1) + 1;
        const r = parse(lines.toString('utf8', start, end));
        if (sinceIso && r.ts < sinceIso) return out.reverse();
        out.push(r);
        end = start - 1;
      }
    }
    return out.reverse();
  }
}
