/**
 * Blob content inspection, streamed: uploads are classified chunk by chunk (with an overlap so an entity cut
 * by a chunk boundary is still found) while the bytes pass through untouched. Downloads are masked whole, keeping
 * their byte length (mask-content.ts), so ranges can be cut from the masked blob.
 */
import { StringDecoder } from 'node:string_decoder';
import { Transform, type TransformCallback } from 'node:stream';
import type { CompiledPolicy } from '../../src/policy/types.js';
import { BodyError } from '../shared/http-body.js';
import { classifyDocument } from '../shared/http-json.js';

/** What kind of text a blob holds, by content type and then by name; null for binary (never inspected). */
export type ContentKind = 'json' | 'csv' | 'text';

export function contentKind(contentType: string | undefined, blobName: string | null): ContentKind | null {
  const ct = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (ct === 'application/json' || ct.endsWith('+json') || ct === 'application/x-ndjson') return ct.includes('ndjson') ? 'text' : 'json';
  if (ct === 'text/csv' || ct === 'application/csv') return 'csv';
  if (ct.startsWith('text/')) return 'text';
  if (ct === '' || ct === 'application/octet-stream' || ct === 'binary/octet-stream') {
    const ext = (blobName ?? '').toLowerCase().split('.').pop() ?? '';
    if (ext === 'json') return 'json';
    if (ext === 'csv' || ext === 'tsv') return 'csv';
    if (['txt', 'log', 'md', 'ndjson', 'jsonl', 'xml', 'html', 'yaml', 'yml'].includes(ext)) return 'text';
  }
  return null;
}

/** Characters kept from one scan window to the next, longer than any entity a detector finds. */
const OVERLAP = 256;
/** Text scanned at once: small enough that one scan (~1 ms of dense text) never stalls other clients for long. */
const WINDOW = 16 * 1024;
/** JSON uploads up to this size are also parsed, so key names (not only values) classify them. */
const JSON_PARSE_LIMIT = 1024 * 1024;

export interface UploadScanOptions {
  policy: CompiledPolicy;
  kind: ContentKind | null;
  /** Refuse the body past this many bytes (413). */
  maxBytes: number;
  /** Abandon the body when nothing arrives for this long (408). */
  idleMs: number;
  /** Stop classifying (but keep forwarding) after this many bytes. */
  maxScanBytes: number;
}

/**
 * A pass-through stream that counts, bounds and classifies an upload. Bytes leave exactly as they came;
 * `labels`/`fields` are complete once the stream ends.
 */
export class UploadScanner extends Transform {
  bytes = 0;
  readonly labels = new Set<string>();
  readonly fieldLabels = new Map<string, Set<string>>();
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';
  private scanned = 0;
  private firstLine: string | null = null;
  private jsonChunks: Buffer[] | null;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly opts: UploadScanOptions) {
    super();
    this.jsonChunks = opts.kind === 'json' ? [] : null;
    this.timer = setTimeout(() => this.destroy(new BodyError(`upload stalled: no data for ${opts.idleMs} ms`, 408)), opts.idleMs);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.timer.refresh();
    this.bytes += chunk.length;
    if (this.bytes > this.opts.maxBytes) {
      cb(new BodyError(`upload exceeds the limit of ${this.opts.maxBytes} bytes`, 413));
      return;
    }
    if (this.jsonChunks) {
      if (this.bytes <= JSON_PARSE_LIMIT) this.jsonChunks.push(chunk);
      else this.jsonChunks = null;
    }
    if (this.opts.kind !== null && this.scanned < this.opts.maxScanBytes) {
      this.scanned += chunk.length;
      this.pending += this.decoder.write(chunk);
      if (this.pending.length >= WINDOW) this.scanPending(false);
    }
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    clearTimeout(this.timer);
    if (this.opts.kind !== null) {
      this.pending += this.decoder.end();
      this.scanPending(true);
    }
    if (this.jsonChunks && this.jsonChunks.length > 0) {
      try {
        const doc = JSON.parse(Buffer.concat(this.jsonChunks).toString('utf8')) as unknown;
        const c = classifyDocument(this.opts.policy, doc);
        for (const f of c.fields) this.addField(f.name, f.labels);
      } catch {
        // Not JSON after all: the value scan above already classified it as text.
      }
    }
    cb();
  }

  override _destroy(err: Error | null, cb: (error: Error | null) => void): void {
    clearTimeout(this.timer);
    cb(err);
  }

  private scanPending(final: boolean): void {
    const text = this.pending;
    if (this.opts.kind === 'csv' && this.firstLine === null) {
      const nl = text.indexOf('\n');
      if (nl >= 0 || final) {
        this.firstLine = nl >= 0 ? text.slice(0, nl) : text;
        for (const col of splitCsvLine(this.firstLine.replace(/\r$/, ''))) {
          const labels = this.opts.policy.labelsForName(col.trim());
          if (labels.length > 0) this.addField(col.trim(), labels);
        }
      }
    }
    for (const f of this.opts.policy.findEntities(text)) this.addField('(content)', [f.label]);
    this.pending = final ? '' : text.slice(-OVERLAP);
  }

  private addField(name: string, labels: readonly string[]): void {
    let set = this.fieldLabels.get(name);
    if (!set) this.fieldLabels.set(name, (set = new Set()));
    for (const l of labels) {
      set.add(l);
      this.labels.add(l);
    }
  }

  /** Whether every byte was scanned (text content under the scan limit), so no labels means clean. */
  get complete(): boolean {
    return this.opts.kind !== null && this.bytes <= this.opts.maxScanBytes;
  }

  /** Classified fields for the inventory. */
  fields(): Array<{ name: string; labels: string[] }> {
    return [...this.fieldLabels].map(([name, labels]) => ({ name, labels: [...labels] }));
  }
}

/** Split one CSV line into raw cells (quotes kept), honouring quoted commas. */
export function splitCsvLine(line: string): string[] {
  const cells: string[] = [];
  let start = 0;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c === 34) quoted = !quoted;
    else if (c === 44 && !quoted) {
      cells.push(line.slice(start, i));
      start = i + 1;
    }
  }
  cells.push(line.slice(start));
  return cells;
}
