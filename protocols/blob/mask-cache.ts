/**
 * Masked whole blobs by (blob address, ETag, role, policy version), within a memory budget (least recently used
 * first out), so the SDK's parallel ranged reads of one blob are masked once and cut from the same masked bytes.
 * A refusal is cached too (a ranged read of a blob dgf cannot mask is refused without reading it again).
 */
import type { MaskMethod, MaskStats } from '../../src/policy/types.js';

export interface MaskedEntry {
  etag: string;
  /** The answer's headers for the role (metadata masked, hashes and lengths removed), reused when revalidated. */
  headers: Record<string, string | string[]>;
  /** What the role receives: the masked bytes, or the stored bytes when nothing had to change. */
  body: Buffer | null;
  /** Why the blob is refused to the role (then body is null). */
  refused: string | null;
  /** Whether `body` has the stored blob's length (ranges line up with the blob's properties). */
  sameLength: boolean;
  /** The stats calls masking made, replayed into the audit record of every read served from this entry. */
  stats: Array<[label: string, method: MaskMethod | null]>;
}

/** A MaskStats that forwards to `inner` and records the calls for replay. */
export class RecordingStats implements MaskStats {
  readonly calls: Array<[string, MaskMethod | null]> = [];
  constructor(private readonly inner: MaskStats) {}
  seen(label: string): void {
    this.calls.push([label, null]);
    this.inner.seen(label);
  }
  masked(label: string, method: MaskMethod): void {
    this.calls.push([label, method]);
    this.inner.masked(label, method);
  }
}

export function replayStats(entry: MaskedEntry, stats: MaskStats): void {
  for (const [label, method] of entry.stats) {
    if (method === null) stats.seen(label);
    else stats.masked(label, method);
  }
}

export class MaskCache {
  private readonly entries = new Map<string, MaskedEntry>();
  private readonly inflight = new Map<string, Promise<void>>();
  private bytes = 0;

  constructor(private readonly budget: number) {}

  static key(version: number, role: string, address: string): string {
    return `${version}\u0000${role}\u0000${address}`;
  }

  get(key: string): MaskedEntry | undefined {
    const e = this.entries.get(key);
    if (e) {
      // Most recently used last.
      this.entries.delete(key);
      this.entries.set(key, e);
    }
    return e;
  }

  set(key: string, entry: MaskedEntry): void {
    this.delete(key);
    const size = (entry.body?.length ?? 0) + 256;
    if (size > this.budget / 4) return;
    this.entries.set(key, entry);
    this.bytes += size;
    for (const [k, e] of this.entries) {
      if (this.bytes <= this.budget) break;
      this.entries.delete(k);
      this.bytes -= (e.body?.length ?? 0) + 256;
    }
  }

  delete(key: string): void {
    const e = this.entries.get(key);
    if (!e) return;
    this.entries.delete(key);
    this.bytes -= (e.body?.length ?? 0) + 256;
  }

  get size(): number {
    return this.bytes;
  }

  /** Wait for a masking of `key` under way (another range of the same download), if any. */
  async settled(key: string): Promise<void> {
    const running = this.inflight.get(key);
    if (running) await running;
  }

  /** Mark a masking of `key` as under way; call the returned function when it is done (or failed). */
  start(key: string): () => void {
    let done!: () => void;
    const p = new Promise<void>((resolve) => (done = resolve));
    this.inflight.set(key, p);
    return () => {
      if (this.inflight.get(key) === p) this.inflight.delete(key);
      done();
    };
  }
}
