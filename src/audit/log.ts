/**
 * The audit log: takes records in call order, and writes them to the sinks in sealed batches (group commit).
 *
 * An append builds the record's canonical body (chain.ts) and encodes it into the queued batch; nothing else is
 * kept of it. At flush time the batch is sealed (seal-batch.ts: numbered after the chain head, HMACs chained,
 * lines assembled on bytes) and the sinks write the lines.
 *
 * Write-ahead (failMode closed): a protocol appends an operation's intent record and sends nothing upstream until
 * the promise `append` returned resolves; the outcome follows as a record nobody waits for (`note`). The records
 * appended during one event-loop turn form a batch, flushed at the turn's end (setImmediate, or earlier through
 * `appendedAtTurnEnd`). With `durability: write` (default) the flush is synchronous: sealed, handed to the
 * operating system with one write(2) per sink, and the waiters released in the same turn, so a statement costs no
 * extra round trip and the upstream writes follow the audit write at once; the file sink fdatasyncs every
 * `fsyncMs` on its own. With `durability: fsync` a batch is kept once fdatasync returned; records appended
 * meanwhile form the next batch. In open mode (nobody waits) batches are cut every `fsyncMs` (default 20).
 *
 * Failure: with failMode closed, the promise of every record of a batch rejects with AuditUnavailableError when
 * a durable sink could not write it; with open, the records are counted as dropped. The chain head moves only past
 * a batch some durable sink kept, so the next batch is sealed from the last kept record and the file's chain stays
 * intact (the lost records are simply absent, and their callers were told).
 */
import { Buffer } from 'node:buffer';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AuditConfig } from '../config/types.js';
import { AuditUnavailableError } from '../errors.js';
import { auditRecords } from '../metrics/index.js';
import type { CounterChild } from '../metrics/labelled.js';
import { hasCommonShape, writeBody } from './body-bytes.js';
import { GENESIS, canonicalBody, chainKey, fieldsOf, type ChainKey } from './chain.js';
import { nativeSealerMissing, sealBatch, sealedBytes, type SealRequest } from './seal-batch.js';
import { RecentLines } from './recent-lines.js';
import { FileSink } from './sinks/file.js';
import { StdoutSink } from './sinks/stdout.js';
import type { AuditLogger, AuditSink, ChainHead } from './sinks/types.js';
import type { AuditDurability, AuditEvent, AuditFailMode, AuditLog, AuditRecord, IntentSlot } from './types.js';

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
  /** Per queued record, where its seq goes once sealed (write-ahead intents); mostly null. */
  private slots: Array<IntentSlot | null> = [];
  private slotCount = 0;
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
  /** A flush is queued with setImmediate (end of this turn). */
  private scheduled = false;
  /** The deadline of the records nobody waits for (fsyncMs), armed by the oldest of them; see `schedule`. */
  private timer: NodeJS.Timeout | null = null;
  /** A queued record has a waiter (closed mode): flush at the end of this turn, not on the timer. */
  private urgent = false;
  private closing = false;
  /** The last kept batches, for `recent()`. */
  private readonly recentLines: RecentLines;
  /** Buffers batches were sealed into, free again (see sealBatch: fresh memory is slow to fill). */
  private readonly spareOuts: Buffer[] = [];
  private readonly durableCount: number;
  /** Every sink can take a batch synchronously (durability write flushes in the turn that appended it). */
  private readonly syncFlush: boolean;
  /** `dgf_audit_records_total{outcome="kept"}` per sink, resolved once (label hashing per batch showed in profiles). */
  private readonly keptCounters: CounterChild[];
  /** Per sink, what its records that could not be kept count as: `failed` (closed) or `dropped` (open). */
  private readonly lostCounters: CounterChild[];

  constructor(
    readonly failMode: AuditFailMode,
    readonly durability: AuditDurability,
    private readonly key: ChainKey,
    private readonly sinks: AuditSink[],
    private readonly fsyncMs: number,
    private readonly maxQueue: number,
    private readonly ringSize: number,
    private readonly logger: AuditLogger | undefined,
    private readonly statePath: string | null,
  ) {
    this.durableCount = sinks.filter((s) => s.durable).length;
    this.syncFlush = durability === 'write' && sinks.every((s) => s.writeNow !== undefined);
    this.keptCounters = sinks.map((s) => auditRecords.child(s.name, 'kept'));
    this.lostCounters = sinks.map((s) => auditRecords.child(s.name, failMode === 'closed' ? 'failed' : 'dropped'));
    this.recentLines = new RecentLines(ringSize, (out) => this.recycle(out));
  }

  /** Continue the chain after `head`. */
  resume(head: ChainHead | null): void {
    if (head) {
      this.seq = head.seq;
      this.prev = head.hash;
    }
  }

  append(event: AuditEvent, slot?: IntentSlot): Promise<void> {
    if (!this.enqueue(event, slot, this.failMode === 'closed')) {
      const why = this.closing ? 'audit log is closed' : `audit queue is full (${this.maxQueue} records waiting)`;
      return this.failMode === 'closed' ? Promise.reject(new AuditUnavailableError(why)) : QUEUED;
    }
    if (this.failMode === 'open') return QUEUED;
    return (this.waiting[Math.floor((this.queued - 1) / SEAL_CHUNK)] ??= deferred()).promise;
  }

  note(event: AuditEvent): void {
    this.enqueue(event, undefined, false);
  }

  /** Queue a record's body; false (counted) when the log is closed or its queue is full. */
  private enqueue(event: AuditEvent, slot: IntentSlot | undefined, urgent: boolean): boolean {
    if (this.closing || this.queued >= this.maxQueue) {
      for (const c of this.lostCounters) c.inc(1);
      return false;
    }
    const ts = this.now();
    if (slot !== undefined) {
      // Slots line up with `ends`: fill the records queued without one.
      while (this.slotCount < this.count) this.slots[this.slotCount++] = null;
      this.slots[this.slotCount++] = slot;
    }
    if (hasCommonShape(event)) this.putCommon(event, ts);
    else this.put(canonicalBody(fieldsOf(event, ts)));
    // Closed mode under load: start writing once a batch is worth an fsync instead of waiting for the end of the
    // turn, so queueing the rest of the burst overlaps with this batch's fsync. (Synchronous flushes wait for the
    // turn's end: one write for the whole turn.)
    if (this.queued >= EARLY_BATCH && !this.flushing && this.failMode === 'closed' && !this.syncFlush) this.runFlush();
    else this.schedule(urgent);
    return true;
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
    if (this.slotCount > this.head) {
      for (let i = this.head; i < this.slotCount; i++) this.slots[i - this.head] = this.slots[i]!;
      this.slotCount -= this.head;
    } else this.slotCount = 0;
    this.count -= this.head;
    this.head = 0;
  }

  appendedAtTurnEnd(): void {
    if (this.urgent && this.scheduled && this.flushing === null && !this.closing) this.runFlush();
  }

  /**
   * Flush at the end of this turn when someone waits (`urgent`: a closed-mode append), else within `fsyncMs`:
   * records nobody waits for (outcomes, open mode) then share the write of the next intent, so a statement costs
   * one write(2), not two (measured: ~10 us each on this VM's ext4).
   */
  private schedule(urgent: boolean): void {
    if (urgent) this.urgent = true;
    if (this.flushing) return;
    if (urgent || this.fsyncMs <= 0 || this.closing) {
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.onImmediate);
      }
      return;
    }
    // A deadline already armed is kept: it was armed by an older record, so it fires within fsyncMs of this one
    // too, and an intent's flush meanwhile leaves it nothing to do. Not re-arming (and not clearing) a timer per
    // statement saves a setTimeout/clearTimeout pair per statement at one client.
    if (this.timer === null && !this.scheduled) this.timer = setTimeout(this.onDeadline, this.fsyncMs);
  }

  /**
   * The end-of-turn flush, unless `appendedAtTurnEnd` already ran it: records appended since (outcomes) would
   * otherwise cost a write(2) of their own instead of sharing the next intent's.
   */
  private readonly onImmediate = (): void => {
    if (this.scheduled) this.runFlush();
  };

  private readonly onDeadline = (): void => {
    this.timer = null;
    if (!this.scheduled) this.runFlush();
  };

  private readonly runFlush = (): void => {
    this.scheduled = false;
    if (this.flushing || this.queued === 0) return;
    if (this.syncFlush) {
      this.urgent = false;
      // The queue-depth gauge is read at scrape time (queueDepth()): setting it per flush was ~1% at one client.
      while (this.queued > 0) this.flushSync();
      return;
    }
    this.urgent = false;
    this.flushing = this.flush()
      .catch((err: unknown) => this.logger?.error({ err }, 'audit flush failed'))
      .finally(() => {
        this.flushing = null;
        const queued = this.queued;
        if (queued > 0) {
          if (this.urgent || this.closing || queued >= SEAL_CHUNK) this.runFlush();
          else this.schedule(false);
        }
      });
  };

  /** Seal the next chunk of the queue: its lines, and where its records' seqs start. */
  private sealNext(): { out: Buffer; lines: Buffer; lastHash: string; firstSeq: number; n: number; waiting: Deferred | undefined } {
    const n = Math.min(this.queued, SEAL_CHUNK);
    const firstSeq = this.seq + 1;
    const req: SealRequest = { key: this.key, firstSeq, prev: this.prev, data: this.buf, ends: this.ends, from: this.head, count: n };
    const out = this.outFor(sealedBytes(req));
    const { lines, lastHash } = sealBatch(req, out);
    const waiting = this.waiting.shift();
    if (this.slotCount > this.head) {
      const to = Math.min(this.slotCount, this.head + n);
      for (let i = this.head; i < to; i++) {
        const slot = this.slots[i];
        if (slot) {
          slot.intentSeq = firstSeq + (i - this.head);
          this.slots[i] = null;
        }
      }
    }
    this.head += n;
    // Everything sealed: the queue's buffers are free again (the lines are in `out`).
    if (this.head === this.count) this.head = this.count = this.pos = this.slotCount = 0;
    return { out, lines, lastHash, firstSeq, n, waiting };
  }

  /** Count a batch's fate per sink; true when the chain head may move past it (some durable sink kept it). */
  private settle(results: Array<unknown | null>, firstSeq: number, n: number): { kept: boolean; durableFailures: number; firstError: unknown } {
    let durableFailures = 0;
    let firstError: unknown = null;
    for (let i = 0; i < results.length; i++) {
      const sink = this.sinks[i]!;
      const err = results[i];
      if (err === null) {
        this.keptCounters[i]!.inc(n);
        continue;
      }
      this.lostCounters[i]!.inc(n);
      if (sink.durable) {
        durableFailures++;
        firstError ??= err;
      }
      this.logger?.error({ err, sink: sink.name, firstSeq, lastSeq: firstSeq + n - 1 }, `audit sink could not keep ${n} record(s)`);
    }
    return { kept: durableFailures === 0 || durableFailures < this.durableCount, durableFailures, firstError };
  }

  /** Durability write: seal a chunk, hand it to every sink now, release its waiters in this turn. */
  private flushSync(): void {
    const { out, lines, lastHash, firstSeq, n, waiting } = this.sealNext();
    const results: Array<unknown | null> = new Array(this.sinks.length);
    for (let i = 0; i < this.sinks.length; i++) {
      try {
        this.sinks[i]!.writeNow!(lines, n, firstSeq);
        results[i] = null;
      } catch (err) {
        results[i] = err ?? new Error('sink write failed');
      }
    }
    this.finishBatch(out, lines, lastHash, firstSeq, n, waiting, results);
  }

  private finishBatch(out: Buffer, lines: Buffer, lastHash: string, firstSeq: number, n: number, waiting: Deferred | undefined, results: Array<unknown | null>): void {
    const { kept, durableFailures, firstError } = this.settle(results, firstSeq, n);
    // The head moves past this batch unless every durable sink lost it; then the next batch is sealed from the
    // last kept record, so the file's chain stays intact.
    if (kept) {
      this.seq = firstSeq + n - 1;
      this.prev = lastHash;
    }
    if (durableFailures > 0) {
      this.recycle(out);
      waiting?.reject(unavailable(firstSeq, n, firstError));
      return;
    }
    this.recentLines.add(out, lines, n);
    waiting?.resolve();
  }

  private async flush(): Promise<void> {
    const { out, lines, lastHash, firstSeq, n, waiting } = this.sealNext();
    const settled = await Promise.allSettled(this.sinks.map((s) => s.write(lines, n, firstSeq)));
    const results = settled.map((r) => (r.status === 'fulfilled' ? null : (r.reason ?? new Error('sink write failed'))));
    this.finishBatch(out, lines, lastHash, firstSeq, n, waiting, results);
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

  recent(limit: number, since?: Date): AuditRecord[] {
    const max = Math.max(0, Math.min(limit, this.ringSize));
    return this.recentLines.recent(max, since ? since.toISOString() : null, (line) => JSON.parse(line) as AuditRecord);
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
    }
    while (this.flushing || this.queued > 0) {
      if (this.flushing) await this.flushing.catch(() => undefined);
      else this.runFlush();
    }
    await Promise.allSettled(this.sinks.map((s) => s.sync?.()));
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
      return new FileSink({ path: s.path, rotateBytes: s.rotateBytes, fsyncMs: s.fsyncMs ?? DEFAULT_FSYNC_MS, logger });
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
    config.durability ?? 'write',
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
