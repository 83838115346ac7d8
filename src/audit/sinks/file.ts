/**
 * The file sink: JSON lines, written and fdatasync'ed one batch at a time (group commit), rotated by size.
 * A rotated file is renamed `<stem>.<UTC timestamp>-<last seq>.jsonl` next to the active file; the chain simply
 * continues in the new file, whose first record's `prev` is the last hash of the rotated one.
 */
import { closeSync, fdatasync, fdatasyncSync, fstatSync, ftruncateSync, openSync, renameSync, writeSync } from 'node:fs';
import { open, mkdir, readdir, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { AuditUnavailableError } from '../../errors.js';
import type { AuditLogger, AuditSink, ChainHead } from './types.js';

/** Default rotation size: 100 MiB. */
export const DEFAULT_ROTATE_BYTES = 100 * 1024 * 1024;

/** Options of the file sink (from `AuditSinkConfig`). */
export interface FileSinkOptions {
  path: string;
  /** Rotate when the file would exceed this many bytes; default 100 MiB. */
  rotateBytes?: number;
  /** fdatasync at most this long after a write (durability write); default 20. */
  fsyncMs?: number;
  logger?: AuditLogger;
}

/** `audit.jsonl` -> { dir, stem: 'audit', ext: '.jsonl' }. */
export function splitAuditPath(path: string): { dir: string; stem: string; ext: string } {
  const ext = extname(path) || '.jsonl';
  const base = basename(path);
  return { dir: dirname(path), stem: base.endsWith(ext) ? base.slice(0, -ext.length) : base, ext };
}

/** Rotated siblings of an active audit file, oldest first (names sort by timestamp). */
export async function rotatedFiles(path: string): Promise<string[]> {
  const { dir, stem, ext } = splitAuditPath(path);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const prefix = stem + '.';
  const active = basename(path);
  return names
    .filter((n) => n !== active && n.startsWith(prefix) && n.endsWith(ext) && /^\d{8}T\d{9}Z-\d+$/.test(n.slice(prefix.length, -ext.length)))
    .sort()
    .map((n) => join(dir, n));
}

/** Every file of an audit sink, rotated ones first, the active one last (if it exists). */
export async function auditFilesOf(path: string): Promise<string[]> {
  const files = await rotatedFiles(path);
  try {
    await stat(path);
    files.push(path);
  } catch {
    // no active file yet: only rotated ones
  }
  return files;
}

function compactTs(d: Date): string {
  return d.toISOString().replace(/[-:.]/g, '');
}

const TAIL_CHUNK = 64 * 1024;

/**
 * Find the last parseable record of a file. A torn last line (no trailing newline: a crash mid-write) is cut
 * away (when `repair`) with a warning. Complete but unparseable lines are left for `dgf audit verify` to flag.
 */
export async function lastRecordOf(
  path: string,
  opts: { repair: boolean; logger?: AuditLogger },
): Promise<ChainHead | null> {
  let fh: FileHandle;
  try {
    fh = await open(path, opts.repair ? 'r+' : 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  try {
    let size = (await fh.stat()).size;
    if (size === 0) return null;
    let chunk = Math.min(size, TAIL_CHUNK);
    for (;;) {
      const buf = Buffer.allocUnsafe(chunk);
      const { bytesRead } = await fh.read(buf, 0, chunk, size - chunk);
      const tail = buf.subarray(0, bytesRead);
      let end = tail.length;
      if (tail[end - 1] !== 0x0a) {
        const nl = tail.lastIndexOf(0x0a);
        if (nl < 0 && chunk < size) {
          chunk = Math.min(size, chunk * 4);
          continue;
        }
        const keep = size - chunk + nl + 1;
        const torn = tail.subarray(nl + 1);
        // Only a prefix of a record ('{"v":1,...') or zero fill (a crash on some filesystems) is a torn write;
        // anything else means this is not our audit file, and cutting it would destroy someone's data.
        if (torn[0] !== 0x7b && !torn.every((b) => b === 0)) {
          throw new AuditUnavailableError(`${path}: ends with data that is not an audit record; refusing to append to it`);
        }
        opts.logger?.warn({ file: path, bytes: size - keep }, 'audit file ends with a torn record (crash mid-write); cutting it away');
        if (opts.repair) {
          await fh.truncate(keep);
          await fh.datasync();
        }
        size = keep;
        if (size === 0) return null;
        chunk = Math.min(size, TAIL_CHUNK);
        continue;
      }
      // Walk complete lines backwards to the last parseable record.
      end -= 1;
      let skipped = 0;
      while (end > 0) {
        const start = tail.lastIndexOf(0x0a, end - 1) + 1;
        if (start === 0 && chunk < size) break; // the line may begin before this chunk
        const head = parseHead(tail.toString('utf8', start, end));
        if (head) {
          if (skipped) opts.logger?.warn({ file: path, lines: skipped, seq: head.seq }, 'audit file ends with unparseable lines; the chain continues from the last valid record');
          return head;
        }
        skipped++;
        end = start - 1;
      }
      if (chunk >= size) return null;
      chunk = Math.min(size, chunk * 4);
    }
  } finally {
    await fh.close();
  }
}

function parseHead(line: string): ChainHead | null {
  try {
    const r = JSON.parse(line) as { seq?: unknown; hash?: unknown };
    if (typeof r.seq === 'number' && Number.isInteger(r.seq) && typeof r.hash === 'string') return { seq: r.seq, hash: r.hash };
  } catch {
    // not JSON: keep walking back
  }
  return null;
}

async function syncDir(dir: string): Promise<void> {
  try {
    const d = await open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // some platforms cannot fsync a directory; the data itself is synced
  }
}

/**
 * Group-commit file sink. `writeNow` hands a batch to the kernel with write(2) on the event loop: a page-cache write
 * of a few KiB costs microseconds, less than a round trip to the thread pool, and it is what write-ahead waits for
 * (durability write); fdatasync then runs off the loop within `fsyncMs`. `write` (durability fsync) waits for it.
 */
export class FileSink implements AuditSink {
  readonly name: string;
  readonly durable = true;
  private fd = -1;
  private size = 0;
  private lastSeq = 0;
  private readonly rotateBytes: number;
  private readonly fsyncMs: number;
  /** Bytes written since the last fdatasync started. */
  private dirty = false;
  private syncTimer: NodeJS.Timeout | null = null;
  private syncing: Promise<void> | null = null;

  constructor(private readonly opts: FileSinkOptions) {
    this.name = `file:${opts.path}`;
    this.rotateBytes = opts.rotateBytes && opts.rotateBytes > 0 ? opts.rotateBytes : DEFAULT_ROTATE_BYTES;
    this.fsyncMs = opts.fsyncMs !== undefined && opts.fsyncMs >= 0 ? opts.fsyncMs : 20;
  }

  async open(): Promise<ChainHead | null> {
    const { path, logger } = this.opts;
    await mkdir(dirname(path), { recursive: true });
    let head = await lastRecordOf(path, { repair: true, logger });
    if (!head) {
      // The active file is new or empty (e.g. just rotated): continue from the newest rotated file.
      const rotated = await rotatedFiles(path);
      for (let i = rotated.length - 1; i >= 0 && !head; i--) head = await lastRecordOf(rotated[i]!, { repair: false, logger });
    }
    this.openActive();
    await syncDir(dirname(path));
    this.lastSeq = head?.seq ?? 0;
    return head;
  }

  private openActive(): void {
    this.fd = openSync(this.opts.path, 'a');
    this.size = fstatSync(this.fd).size;
  }

  /** Rotation (every rotateBytes): synchronous, so a batch never straddles two files. */
  private rotate(): void {
    const { path } = this.opts;
    const { dir, stem, ext } = splitAuditPath(path);
    const old = this.fd;
    this.fd = -1;
    try {
      fdatasyncSync(old);
    } finally {
      closeSync(old);
    }
    renameSync(path, join(dir, `${stem}.${compactTs(new Date())}-${String(this.lastSeq).padStart(12, '0')}${ext}`));
    this.openActive();
  }

  writeNow(buf: Buffer, count: number, firstSeq: number): void {
    if (this.fd < 0) this.openActive();
    if (this.size > 0 && this.size + buf.length > this.rotateBytes) this.rotate();
    const fd = this.fd;
    const before = this.size;
    try {
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    } catch (e) {
      // Leave no partial line behind: the next batch must start on a line boundary.
      try {
        ftruncateSync(fd, before);
      } catch {
        // the next open repairs a torn tail
      }
      throw e;
    }
    this.size = before + buf.length;
    this.lastSeq = firstSeq + count - 1;
    this.dirty = true;
    if (this.syncTimer === null && this.syncing === null) {
      this.syncTimer = setTimeout(this.syncSoon, this.fsyncMs);
      this.syncTimer.unref();
    }
  }

  private readonly syncSoon = (): void => {
    this.syncTimer = null;
    this.sync().catch((err: unknown) => this.opts.logger?.error({ err, file: this.opts.path }, 'audit file fdatasync failed'));
  };

  async write(buf: Buffer, count: number, firstSeq: number): Promise<void> {
    this.writeNow(buf, count, firstSeq);
    await this.sync();
  }

  /** fdatasync everything written so far (one at a time; a call during one waits for the next). */
  async sync(): Promise<void> {
    while (this.syncing) await this.syncing.catch(() => undefined);
    if (!this.dirty || this.fd < 0) return;
    this.dirty = false;
    const fd = this.fd;
    this.syncing = new Promise<void>((resolve, reject) => fdatasync(fd, (err) => (err ? reject(err) : resolve())));
    try {
      await this.syncing;
    } catch (e) {
      this.dirty = true;
      throw e;
    } finally {
      this.syncing = null;
      if (this.dirty && this.syncTimer === null) {
        this.syncTimer = setTimeout(this.syncSoon, this.fsyncMs);
        this.syncTimer.unref();
      }
    }
  }

  async close(): Promise<void> {
    if (this.syncTimer) {
      clearTimeout(this.syncTimer);
      this.syncTimer = null;
    }
    await this.sync().catch(() => undefined);
    const fd = this.fd;
    this.fd = -1;
    if (fd >= 0) closeSync(fd);
  }
}
