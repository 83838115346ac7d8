/**
 * A counter that resets at the start of each calendar month (UTC) and survives restarts in a small JSON state
 * file. Writes are atomic (temp file + rename, so a crash leaves the old or the new file, never half of one)
 * and coalesced: at most one write per `flushIntervalMs`, plus one on `close()`.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '../logger.js';

/** What the state file holds. */
export interface MonthlyCounterState {
  v: 1;
  /** UTC calendar month the count belongs to, `YYYY-MM`. */
  month: string;
  count: number;
  updatedAt: string;
}

/** `2026-11` for any instant in November 2026 (UTC). */
export function monthKey(epochMs: number): string {
  const d = new Date(epochMs);
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

export interface MonthlyCounterOptions {
  path: string;
  logger: Logger;
  /** Wall clock, epoch ms; default Date.now. */
  now?: () => number;
  /** Least time between two writes; default 1000 ms. */
  flushIntervalMs?: number;
}

export class MonthlyCounter {
  private month: string;
  private count = 0;
  private dirty = false;
  private lastWrite = 0;
  private timer: NodeJS.Timeout | null = null;
  private writing: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly now: () => number;
  private readonly flushIntervalMs: number;

  private constructor(private readonly opts: MonthlyCounterOptions) {
    this.now = opts.now ?? Date.now;
    this.flushIntervalMs = opts.flushIntervalMs ?? 1000;
    this.month = monthKey(this.now());
  }

  /** Open the counter, continuing this month's count from the state file when there is one. */
  static async open(opts: MonthlyCounterOptions): Promise<MonthlyCounter> {
    const c = new MonthlyCounter(opts);
    await c.load();
    return c;
  }

  private async load(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.opts.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.opts.logger.warn({ err, file: this.opts.path }, 'cannot read quota state; counting from 0');
      return;
    }
    try {
      const state = JSON.parse(text) as Partial<MonthlyCounterState>;
      if (typeof state.month !== 'string' || typeof state.count !== 'number' || !Number.isFinite(state.count) || state.count < 0) {
        throw new Error('missing or invalid month/count');
      }
      // A count from an earlier month is stale: the provider reset it too.
      if (state.month === this.month) this.count = Math.floor(state.count);
      else this.dirty = true;
    } catch (err) {
      // A damaged state file must not stop the proxy; the loss is bounded by one month's count.
      this.opts.logger.warn({ err: (err as Error).message, file: this.opts.path }, 'quota state file is damaged; counting from 0');
    }
  }

  /** This month's count. */
  value(): number {
    this.rollover();
    return this.count;
  }

  /** The month `value()` refers to. */
  currentMonth(): string {
    this.rollover();
    return this.month;
  }

  add(n = 1): number {
    this.rollover();
    this.count += n;
    this.markDirty();
    return this.count;
  }

  /** Write now if anything changed since the last write. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (!this.dirty) return this.writing;
    this.dirty = false;
    const state: MonthlyCounterState = { v: 1, month: this.month, count: this.count, updatedAt: new Date(this.now()).toISOString() };
    this.lastWrite = this.now();
    // Chained so two writes never race on the temp file and the newest state always lands last.
    this.writing = this.writing.then(() => this.write(state));
    return this.writing;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }

  private async write(state: MonthlyCounterState): Promise<void> {
    const tmp = `${this.opts.path}.${process.pid}.tmp`;
    try {
      await mkdir(dirname(this.opts.path), { recursive: true });
      await writeFile(tmp, JSON.stringify(state) + '\n');
      await rename(tmp, this.opts.path);
    } catch (err) {
      this.opts.logger.warn({ err, file: this.opts.path }, 'cannot save quota state; will retry');
      if (!this.closed) {
        this.dirty = true;
        this.schedule();
      }
    }
  }

  private rollover(): void {
    const month = monthKey(this.now());
    if (month === this.month) return;
    this.month = month;
    this.count = 0;
    this.markDirty();
  }

  private markDirty(): void {
    this.dirty = true;
    this.schedule();
  }

  private schedule(): void {
    if (this.timer || this.closed) return;
    const wait = Math.max(0, this.lastWrite + this.flushIntervalMs - this.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.flush();
    }, wait);
    // A pending write must not keep a finishing process alive; close() writes what is left.
    this.timer.unref();
  }
}
