/**
 * The audit log: takes records in call order, and writes them to the sinks in sealed batches (group commit).
 *
 * An append builds the record's canonical body (chain.ts) and encodes it into the queued batch; nothing else is
 * kept of it. At flush time the batch is sealed (seal-batch.ts: numbered after the chain head, HMACs chained,
 * lines assembled on bytes) and the sinks write the lines.
 *
 * Batching: when the writer is idle, the records appended during the current turn of the event loop form a
 * batch (flushed on `setImmediate`); while a batch is being sealed, written and fsynced, new records queue up and
 * form the next batch, flushed as soon as the previous one is done. So one write + one fdatasync serves every
 * record that arrived during the previous fsync, and a closed-mode statement never waits for a timer. In open
 * mode (nobody waits) batches are cut every `fsyncMs` (default 20) to spend fewer fsyncs.
 *
 * Failure: with failMode closed, the promise of every record of a batch rejects with AuditUnavailableError when
 * a durable sink could not write or fsync it; with open, the records are counted as dropped. The chain head moves only past a batch some durable sink kept, so the next batch is sealed from the
 * last kept record and the file's chain stays intact (the lost records are simply absent, and their callers were
 * told).
 */
import { Buffer } from 'node:buffer';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AuditConfig } from '../config/types.js';
import { AuditUnavailableError } from '../errors.js';
import { auditQueueDepth, auditRecords } from '../metrics/index.js';
import { hasCommonShape, writeBody } from './body-bytes.js';
import { GENESIS, canonicalBody, chainKey, fieldsOf, type ChainKey } from './chain.js';
import { nativeSealerMissing, sealBatch, sealedBytes, type SealRequest } from './seal-batch.js';
import { FileSink } from './sinks/file.js';
import { StdoutSink } from './sinks/stdout.js';
import type { AuditLogger, AuditSink, ChainHead } from './sinks/types.js';
import type { AuditEvent, AuditFailMode, AuditLog, AuditRecord } from './types.js';

/** Options of `createAuditLog` besides the config. */
export interface AuditLogOptions {
  /** HMAC key of the chain. */
  chainKey: string;
  /** Where the chain head is kept across restarts when no file sink holds it (stdout-only setups). */
  stateDir?: string;
  logger?: AuditLogger;
  /** Most records waiting to be written; beyond it closed mode rejects and open mode drops. Default 100,000. */
  maxQueue?: number;
  /** Records kept in memory for `recent()`. Default 1,000. */
  ringSize?: number;
  /** Use these sinks instead of the configured ones (tests, embedding). */
  sinks?: AuditSink[];
}

/** Default group-commit window in open mode (ms). */
export const DEFAULT_FSYNC_MS = 20;

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(e: Error): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/**
 * What `append` returns in failMode open, always (it never rejects there: a record that cannot be kept is counted
 * as dropped). Callers may compare with it to skip attaching a rejection handler, a promise and a microtask each.
 */
export const QUEUED: Promise<void> = Promise.resolve();

/** Queued records that start a closed-mode batch at once rather than at the end of the event-loop turn. */
const EARLY_BATCH = 256;

/**
 * Most records one flush seals and writes: sealing is synchronous (~2.5 us a record), so a burst queued behind a
 * slow fsync is sealed in steps of at most ~10 ms of event-loop time, with I/O in between.
 */
const SEAL_CHUNK = 4096;

/** Initial size of a batch's body buffer; it grows for bigger batches. */
const BATCH_BYTES = 1 << 20;

function unavailable(firstSeq: number, n: number, err: unknown): AuditUnavailableError {
  return new AuditUnavailableError(`audit records ${firstSeq}..${firstSeq + n - 1} could not be kept: ${(err as Error)?.message ?? err}`, { cause: err });
}

/** Sealed lines kept for `recent()`: whole batches, newest last, with the buffer they were sealed into. */
interface KeptBatch {
  /** The sealing buffer `lines` lies in, returned to the spares when the batch leaves the ring; null for a copy. */
  out: Buffer | null;
  lines: Buffer;
  count: number;
}

/** Sealing buffers kept for reuse, and the largest one worth keeping. */
const SPARE_OUTS = 4;
const MAX_SPARE_BYTES = 8 << 20;

class GroupCommitLog implements AuditLog {
  /** The chain head: the last record a durable sink kept (or genesis). The next batch is sealed after it. */
  private seq = 0;
  private prev = GENESIS;
  /**
   * The queued records' canonical bodies, UTF-8 encoded as they are appended, and where each ends: cheaper than
   * keeping record objects or strings until the flush (measured: a queue of record objects kept the GC busy, and
   * joining strings at flush time cost ~20% of the CPU at 50k records/s). Reused once the batch is sealed.
   */
  private buf: Buffer = Buffer.allocUnsafe(BATCH_BYTES);
  private pos = 0;
  private ends = new Uint32Array(1024);
  /** Records in `ends`; those before `head` are already sealed (a flush takes at most SEAL_CHUNK of them). */
  private count = 0;
  private head = 0;

  /** Records waiting to be sealed. */
  private get queued(): number {
    return this.count - this.head;
  }

  /** Closed mode: who waits for the queued records, per SEAL_CHUNK records from `head` (one flush each). */
  private readonly waiting: Deferred[] = [];
  private flushing: Promise<void> | null = null;
  private scheduled = false;
  private timer: NodeJS.Timeout | null = null;
  private closing = false;
  /** The last kept batches, for `recent()`: at most `ringSize` records beyond the newest batch's. */
  private readonly kept: KeptBatch[] = [];
  private keptCount = 0;
  /** Buffers batches were sealed into, free again (see sealBatch: fresh memory is slow to fill). */
  private readonly spareOuts: Buffer[] = [];
  private readonly durableCount: number;

  constructor(
    readonly failMode: AuditFailMode,
    private readonly key: ChainKey,
    private readonly sinks: AuditSink[],
    private readonly fsyncMs: number,
    private readonly maxQueue: number,
    private readonly ringSize: number,
    private readonly logger: AuditLogger | undefined,
    private readonly statePath: string | null,
  ) {
    this.durableCount = sinks.filter((s) => s.durable).length;
  }

  /** Continue the chain after `head`. */
  resume(head: ChainHead | null): void {
    if (head) {
      this.seq = head.seq;
      this.prev = head.hash;
    }
  }

  append(event: AuditEvent): Promise<void> {
    if (this.closing || this.queued >= this.maxQueue) {
      const why = this.closing ? 'audit log is closed' : `audit queue is full (${this.maxQueue} records waiting)`;
      for (const s of this.sinks) auditRecords.inc({ sink: s.name, outcome: this.failMode === 'closed' ? 'failed' : 'dropped' });
      return this.failMode === 'closed' ? Promise.reject(new AuditUnavailableError(why)) : QUEUED;
    }
    const ts = this.now();
    if (hasCommonShape(event)) this.putCommon(event, ts);
    else this.put(canonicalBody(fieldsOf(event, ts)));
    // Closed mode under load: start writing once a batch is worth an fsync instead of waiting for the end of the
    // turn, so queueing the rest of the burst overlaps with this batch's fsync.
    const queued = this.queued;
    if (queued >= EARLY_BATCH && !this.flushing && this.failMode === 'closed') this.runFlush();
    else this.schedule();
    if (this.failMode === 'open') return QUEUED;
    return (this.waiting[Math.floor((queued - 1) / SEAL_CHUNK)] ??= deferred()).promise;
  }

  private lastMs = 0;
  private lastIso = '';

  /** ISO timestamp, formatted once per millisecond (toISOString is ~10% of an append at high rates). */
  private now(): string {
    const ms = Date.now();
    if (ms !== this.lastMs) {
      this.lastMs = ms;
      this.lastIso = new Date(ms).toISOString();
    }
    return this.lastIso;
  }

  /** Queue one record's body. */
  private put(body: string): void {
    this.reserve(body.length * 3);
    this.pos += this.buf.write(body, this.pos, 'utf8');
    this.endRecord();
  }

  /** Queue the body of a record of the common shape, written as bytes (body-bytes.ts). */
  private putCommon(event: AuditEvent, ts: string): void {
    let end = writeBody(this.buf, this.pos, event, ts);
    if (end < 0) {
      this.reserve(-end);
      end = writeBody(this.buf, this.pos, event, ts);
    }
    this.pos = end;
    this.endRecord();
  }

  /** Make room for `max` more bytes of bodies. */
  private reserve(max: number): void {
    if (this.pos + max > this.buf.length) {
      this.compact();
      if (this.pos + max > this.buf.length) {
        const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + max));
        this.buf.copy(bigger, 0, 0, this.pos);
        this.buf = bigger;
      }
    }
  }

  /** Close the record whose body ends at `pos`. */
  private endRecord(): void {
    if (this.count === this.ends.length) this.compact();
    if (this.count === this.ends.length) {
      const more = new Uint32Array(this.ends.length * 2);
      more.set(this.ends);
      this.ends = more;
    }
    this.ends[this.count++] = this.pos;
  }

  /** Drop the sealed records before `head` from the queue's buffers. */
  private compact(): void {
    if (this.head === 0) return;
    const bytes = this.ends[this.head - 1]!;
    this.buf.copy(this.buf, 0, bytes, this.pos);
    this.pos -= bytes;
    for (let i = this.head; i < this.count; i++) this.ends[i - this.head] = this.ends[i]! - bytes;
    this.count -= this.head;
    this.head = 0;
  }

  appendedAtTurnEnd(): void {
    if (this.failMode === 'closed' && this.scheduled && this.flushing === null && !this.closing) this.runFlush();
  }

  private schedule(): void {
    if (this.scheduled || this.flushing) return;
    this.scheduled = true;
    if (this.failMode === 'open' && this.fsyncMs > 0 && !this.closing) {
      this.timer = setTimeout(this.runFlush, this.fsyncMs);
    } else {
      setImmediate(this.runFlush);
    }
  }

  private readonly runFlush = (): void => {
    this.scheduled = false;
    this.timer = null;
    if (this.flushing || this.queued === 0) return;
    this.flushing = this.flush()
      .catch((err: unknown) => this.logger?.error({ err }, 'audit flush failed'))
      .finally(() => {
        this.flushing = null;
        const queued = this.queued;
        auditQueueDepth.set(queued);
        if (queued > 0) {
          if (this.failMode === 'closed' || this.closing || queued >= SEAL_CHUNK) this.runFlush();
          else this.schedule();
        }
      });
  };

  private async flush(): Promise<void> {
    const n = Math.min(this.queued, SEAL_CHUNK);
    const firstSeq = this.seq + 1;
    const req: SealRequest = { key: this.key, firstSeq, prev: this.prev, data: this.buf, ends: this.ends, from: this.head, count: n };
    const out = this.outFor(sealedBytes(req));
    const { lines, lastHash } = sealBatch(req, out);
    const waiting = this.waiting.shift();
    this.head += n;
    // Everything sealed: the queue's buffers are free again (the lines are in `out`).
    if (this.head === this.count) this.head = this.count = this.pos = 0;
    auditQueueDepth.set(this.queued);
    const results = await Promise.allSettled(this.sinks.map((s) => s.write(lines, n, firstSeq)));
    let durableFailures = 0;
    let firstError: unknown = null;
    results.forEach((res, i) => {
      const sink = this.sinks[i]!;
      if (res.status === 'fulfilled') {
        auditRecords.inc({ sink: sink.name, outcome: 'kept' }, n);
        return;
      }
      auditRecords.inc({ sink: sink.name, outcome: this.failMode === 'closed' ? 'failed' : 'dropped' }, n);
      if (sink.durable) {
        durableFailures++;
        firstError ??= res.reason;
      }
      this.logger?.error({ err: res.reason, sink: sink.name, firstSeq, lastSeq: firstSeq + n - 1 }, `audit sink could not keep ${n} record(s)`);
    });
    // The head moves past this batch unless every durable sink lost it; then the next batch is sealed from the
    // last kept record, so the file's chain stays intact.
    if (durableFailures === 0 || durableFailures < this.durableCount) {
      this.seq = firstSeq + n - 1;
      this.prev = lastHash;
    }
    if (durableFailures > 0) {
      this.recycle(out);
      waiting?.reject(unavailable(firstSeq, n, firstError));
      return;
    }
    this.remember(out, lines, n);
    waiting?.resolve();
  }

  private outFor(bytes: number): Buffer {
    for (let i = this.spareOuts.length - 1; i >= 0; i--) {
      if (this.spareOuts[i]!.length >= bytes) return this.spareOuts.splice(i, 1)[0]!;
    }
    // With headroom: batch sizes wander with the load, and a batch a little bigger than the spares would
    // otherwise be sealed into fresh memory every time (measured: 4% of the event loop at pipeline 16).
    return Buffer.allocUnsafe(Math.max(BATCH_BYTES, bytes + (bytes >> 1)));
  }

  private recycle(out: Buffer): void {
    if (out.length > MAX_SPARE_BYTES) return;
    if (this.spareOuts.length < SPARE_OUTS) {
      this.spareOuts.push(out);
      return;
    }
    // Full: keep the bigger buffers, the small ones are the ones that stop fitting.
    let smallest = 0;
    for (let i = 1; i < this.spareOuts.length; i++) if (this.spareOuts[i]!.length < this.spareOuts[smallest]!.length) smallest = i;
    if (this.spareOuts[smallest]!.length < out.length) this.spareOuts[smallest] = out;
  }

  private remember(out: Buffer, lines: Buffer, count: number): void {
    if (this.ringSize <= 0) {
      this.recycle(out);
      return;
    }
    if (lines.length * 4 < out.length) {
      // A small batch in a big sealing buffer: keep a copy of its lines and reuse the buffer at once. Held for
      // recent() until ringSize records had passed, small batches (one record per fsync) emptied the spares, and
      // every flush sealed into a fresh 1 MiB buffer: an mmap, page faults and external memory that drove GCs
      // (measured: closed mode's fsync-to-reply p99 3-5 ms became 8-15 ms).
      this.recycle(out);
      this.kept.push({ out: null, lines: Buffer.from(lines), count });
    } else {
      this.kept.push({ out, lines, count });
    }
    this.keptCount += count;
    while (this.kept.length > 1 && this.keptCount - this.kept[0]!.count >= this.ringSize) {
      const old = this.kept.shift()!;
      this.keptCount -= old.count;
      if (old.out !== null) this.recycle(old.out);
    }
  }

  recent(limit: number, since?: Date): AuditRecord[] {
    const out: AuditRecord[] = [];
    const sinceIso = since ? since.toISOString() : null;
    const max = Math.max(0, Math.min(limit, this.ringSize));
    for (let b = this.kept.length - 1; b >= 0 && out.length < max; b--) {
      const lines = this.kept[b]!.lines;
      // Walk the batch's lines from its end: each ends with '\n'.
      let end = lines.length - 1;
      while (end > 0 && out.length < max) {
        const start = lines.lastIndexOf(0x0a, end - 1) + 1;
        const r = JSON.parse(lines.toString('utf8', start, end)) as AuditRecord;
        if (sinceIso && r.ts < sinceIso) return out.reverse();
        out.push(r);
        end = start - 1;
      }
    }
    return out.reverse();
  }

  queueDepth(): number {
    return this.queued;
  }

  async close(): Promise<void> {
    if (this.closing && !this.flushing && this.queued === 0) return;
    this.closing = true;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
      this.scheduled = false;
    }
    while (this.flushing || this.queued > 0) {
      if (this.flushing) await this.flushing.catch(() => undefined);
      else this.runFlush();
    }
    await Promise.allSettled(this.sinks.map((s) => s.close()));
    if (this.statePath) {
      await writeFile(this.statePath, JSON.stringify({ seq: this.seq, hash: this.prev }) + '\n').catch((err: unknown) =>
        this.logger?.warn({ err, file: this.statePath }, 'could not save the audit chain head'),
      );
    }
  }
}

/** Build the configured sinks. */
function sinksOf(config: AuditConfig, logger?: AuditLogger): AuditSink[] {
  return config.sinks.map((s) => {
    if (s.type === 'file') {
      if (!s.path) throw new AuditUnavailableError('audit file sink needs a path');
      return new FileSink({ path: s.path, rotateBytes: s.rotateBytes, logger });
    }
    return new StdoutSink();
  });
}

/**
 * Open the audit log: opens every sink, repairs a torn tail, and continues the chain from the newest record
 * found (file sinks), else from the head saved in `stateDir`, else from genesis.
 */
export async function createAuditLog(config: AuditConfig, opts: AuditLogOptions): Promise<AuditLog> {
  const sinks = opts.sinks ?? sinksOf(config, opts.logger);
  if (nativeSealerMissing) {
    opts.logger?.warn({ sealer: 'js' }, 'the native audit sealer is not built (npm run build); sealing audit records in JavaScript, slower');
  }
  const fileSinks = config.sinks.filter((s) => s.type === 'file');
  const fsyncMs = fileSinks.length ? Math.min(...fileSinks.map((s) => s.fsyncMs ?? DEFAULT_FSYNC_MS)) : DEFAULT_FSYNC_MS;
  const durable = sinks.some((s) => s.durable);
  const statePath = !durable && opts.stateDir ? join(opts.stateDir, 'audit-chain.json') : null;

  let head: ChainHead | null = null;
  for (const s of sinks) {
    const h = await s.open();
    if (h && (!head || h.seq > head.seq)) {
      if (head) opts.logger?.warn({ sink: s.name, seq: h.seq, other: head.seq }, 'audit sinks disagree on the chain head; continuing from the newest');
      head = h;
    }
  }
  if (!head && statePath) {
    try {
      const saved = JSON.parse(await readFile(statePath, 'utf8')) as ChainHead;
      if (Number.isInteger(saved.seq) && typeof saved.hash === 'string') head = saved;
    } catch {
      // no saved head: start a new chain
    }
    await mkdir(opts.stateDir!, { recursive: true }).catch(() => undefined);
  }
  const log = new GroupCommitLog(
    config.failMode ?? 'closed',
    chainKey(opts.chainKey),
    sinks,
    fsyncMs,
    opts.maxQueue ?? 100_000,
    opts.ringSize ?? 1000,
    opts.logger,
    statePath,
  );
  log.resume(head);
  return log;
}
