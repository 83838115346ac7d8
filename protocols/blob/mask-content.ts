/**
 * Length-preserving masking of a whole blob for one role, decided by the bytes, never by the labels the writer set:
 *  - Content-Encoding (gzip, deflate, br, also sniffed by magic bytes) is decoded first and the masked content encoded
 *    again the same way;
 *  - bytes that are not UTF-8 text (or hold NUL / control bytes other than a trailing NUL run, as page blobs do) are
 *    binary: dgf cannot parse them, and they are refused for a role with masks unless the path is binary-only;
 *  - text that starts like JSON is JSON (or NDJSON): parsed, masked with `maskDocument`, and every changed value is
 *    written back into the original text at the same byte length (strings truncated or padded with spaces outside
 *    the quotes, numbers and literals padded with spaces), so the document stays valid JSON of the same length;
 *  - other text: CSV (columns classified by the header) when it looks like CSV, `key: value` / `key=value` lines,
 *    `"key": "value"` pairs and XML elements and attributes classified by name, and the value detectors over all of it.
 *    Each masked span keeps its byte length (the mask truncated, or padded with `*`).
 * Because every mask keeps the byte length, a masked blob has the clear blob's length: Content-Length, ranges and
 * parallel ranged downloads line up, and a window is cut from the masked whole, never from the clear bytes.
 */
import { brotliCompressSync, brotliDecompressSync, deflateSync, gunzipSync, gzipSync, inflateRawSync, inflateSync } from 'node:zlib';
import type { CompiledPolicy, FieldPlan, MaskStats } from '../../src/policy/types.js';
import { splitCsvLine } from './content.js';

export interface BlobMaskOptions {
  policy: CompiledPolicy;
  role: string;
  stats: MaskStats;
  /** 'container/blob', for name classification. */
  object: string;
  /** The Content-Type the blob carries (a hint only: decides nothing except that declared JSON must parse). */
  contentType?: string | undefined;
  /** The Content-Encoding the blob carries. */
  contentEncoding?: string | undefined;
  blobName: string | null;
  /** Policy declares this path binary-only: binary bytes are served as stored (text is still masked). */
  binaryOnly: boolean;
  /** Largest decoded size dgf masks. */
  maxBytes: number;
}

export type BlobMaskResult =
  | { outcome: 'unchanged'; detected: string }
  | { outcome: 'masked'; body: Buffer; detected: string; sameLength: boolean }
  | { outcome: 'refused'; reason: string };

type Encoding = 'gzip' | 'deflate' | 'br';

function decodeLayer(enc: Encoding, buf: Buffer, maxBytes: number): Buffer {
  const opts = { maxOutputLength: Math.max(1, maxBytes) };
  if (enc === 'gzip') return gunzipSync(buf, opts);
  if (enc === 'deflate') {
    try {
      return inflateSync(buf, opts);
    } catch {
      // Some writers send raw deflate under "deflate".
      return inflateRawSync(buf, opts);
    }
  }
  return brotliDecompressSync(buf, opts);
}

function encodeLayer(enc: Encoding, buf: Buffer): Buffer {
  if (enc === 'gzip') return gzipSync(buf, { level: 9 });
  if (enc === 'deflate') return deflateSync(buf, { level: 9 });
  return brotliCompressSync(buf);
}

/**
 * Pad a gzip member to exactly `length` bytes with an FEXTRA header field (RFC 1952), so a re-encoded masked blob keeps
 * the stored length. Null when it does not fit (the masked member is longer, or needs more than one field can hold).
 */
export function padGzip(member: Buffer, length: number): Buffer | null {
  if (member.length === length) return member;
  const extra = length - member.length - 2; // XLEN takes 2 bytes
  if (extra < 4 || extra > 0xffff || member.length < 10 || (member[3]! & 0x04) !== 0) return null;
  const sub = Buffer.alloc(extra); // one subfield: SI1 SI2 LEN(2) data
  sub[0] = 0x44; // 'D'
  sub[1] = 0x47; // 'G'
  sub.writeUInt16LE(extra - 4, 2);
  const xlen = Buffer.alloc(2);
  xlen.writeUInt16LE(extra, 0);
  const head = Buffer.from(member.subarray(0, 10));
  head[3] = head[3]! | 0x04;
  return Buffer.concat([head, xlen, sub, member.subarray(10)]);
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function byteLen(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** `s` cut to at most `bytes` UTF-8 bytes (whole code points), then padded with `pad` to exactly `bytes`. */
export function fitPlain(s: string, bytes: number, pad = '*'): string {
  let out = '';
  let used = 0;
  for (const ch of s) {
    const n = byteLen(ch);
    if (used + n > bytes) break;
    out += ch;
    used += n;
  }
  return out + pad.repeat(bytes - used);
}

/** A JSON text of exactly `bytes` bytes for `value` (whitespace after the token), truncating strings if needed. */
export function fitJson(value: unknown, bytes: number): string {
  const j = value === undefined ? 'null' : JSON.stringify(value);
  if (j !== undefined && byteLen(j) <= bytes) return j + ' '.repeat(bytes - byteLen(j));
  if (typeof value === 'string' && bytes >= 2) {
    const chars = Array.from(value);
    let lo = 0;
    let hi = chars.length;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (byteLen(JSON.stringify(chars.slice(0, mid).join(''))) <= bytes) lo = mid;
      else hi = mid - 1;
    }
    const t = JSON.stringify(chars.slice(0, lo).join(''));
    return t + ' '.repeat(bytes - byteLen(t));
  }
  if (bytes >= 4) return 'null' + ' '.repeat(bytes - 4);
  return '0' + ' '.repeat(Math.max(0, bytes - 1));
}

interface Edit {
  start: number;
  end: number;
  text: string;
}

/** Apply edits (each keeping its span's byte length); overlapping edits are merged into one span of `*`. */
function applyEdits(s: string, edits: Edit[]): string {
  if (edits.length === 0) return s;
  edits.sort((a, b) => a.start - b.start || b.end - a.end);
  const merged: Edit[] = [];
  for (const e of edits) {
    const last = merged[merged.length - 1];
    if (last && e.start < last.end) {
      const end = Math.max(last.end, e.end);
      last.text = '*'.repeat(byteLen(s.slice(last.start, end)));
      last.end = end;
    } else merged.push({ ...e });
  }
  let out = '';
  let at = 0;
  for (const e of merged) {
    out += s.slice(at, e.start) + e.text;
    at = e.end;
  }
  return out + s.slice(at);
}

function asText(v: unknown): string {
  if (v === null || v === undefined) return '';
  return typeof v === 'string' ? v : String(v);
}

/** Text given to the detectors at once: their cost grows faster than the length, and the event loop gets a turn between windows. */
const WINDOW = 16 * 1024;
/** Characters shared by neighbouring windows of one long line, longer than any entity a detector finds. */
const OVERLAP = 256;

const yieldTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * `entityEdits` over a large text, window by window: windows end at line ends (a line longer than a window is cut
 * into windows that overlap by OVERLAP characters, so an entity cut by one window is whole in the next).
 */
async function entityEditsWindowed(text: string, o: BlobMaskOptions, unsafe: RegExp | null): Promise<Edit[]> {
  const edits: Edit[] = [];
  let at = 0;
  let sinceYield = 0;
  while (at < text.length) {
    let end = Math.min(text.length, at + WINDOW);
    if (end < text.length) {
      const nl = text.lastIndexOf('\n', end);
      if (nl > at) end = nl + 1;
    }
    const nlInside = text.lastIndexOf('\n', end - 1) >= at;
    const windowEnd = !nlInside && end < text.length ? Math.min(text.length, end + OVERLAP) : end;
    edits.push(...entityEdits(text.slice(at, windowEnd), o, unsafe, at));
    sinceYield += windowEnd - at;
    at = end;
    if (sinceYield >= 16 * WINDOW) {
      sinceYield = 0;
      await yieldTurn();
    }
  }
  return edits;
}

/** Edits masking every entity the detectors find whose label the role may not see; `unsafe` characters become `*`. */
function entityEdits(text: string, o: BlobMaskOptions, unsafe: RegExp | null, offset = 0): Edit[] {
  const edits: Edit[] = [];
  for (const f of o.policy.findEntities(text)) {
    const plan = o.policy.labelPlan(o.role, [f.label], 'text');
    const entity = text.slice(f.start, f.end);
    if (plan.mode === 'clear') {
      o.stats.seen(f.label);
      continue;
    }
    let masked = asText(plan.apply(entity, o.stats));
    if (masked === entity) continue;
    if (unsafe) masked = masked.replace(unsafe, '*');
    edits.push({ start: offset + f.start, end: offset + f.end, text: fitPlain(masked, byteLen(entity)) });
  }
  return edits;
}

function namePlan(o: BlobMaskOptions, name: string): FieldPlan | null {
  if (o.policy.labelsForName(name).length === 0) return null;
  const plan = o.policy.fieldPlan(o.role, { name, object: o.object, type: 'text' });
  return plan.mode === 'mask' ? plan : null;
}

function maskNamed(o: BlobMaskOptions, plan: FieldPlan, value: string, unsafe: RegExp): string {
  return fitPlain(asText(plan.apply(value, o.stats)).replace(unsafe, '*'), byteLen(value));
}

// ---------------------------------------------------------------- JSON

type JNode =
  | { t: 'obj'; start: number; end: number; entries: Array<{ key: string; kStart: number; kEnd: number; value: JNode }> }
  | { t: 'arr'; start: number; end: number; items: JNode[] }
  | { t: 'str' | 'num' | 'lit'; start: number; end: number; value: unknown };

class JsonSyntax extends Error {}

/** A JSON parser that keeps each token's span; refuses duplicate keys (which would make two values share one path). */
export function parseJsonSpans(s: string): { node: JNode; doc: unknown } {
  let i = 0;
  const ws = (): void => {
    while (i < s.length) {
      const c = s.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0xfeff) i++;
      else break;
    }
  };
  const str = (): { value: string; start: number; end: number } => {
    const start = i;
    if (s[i] !== '"') throw new JsonSyntax(`expected a string at ${i}`);
    i++;
    while (i < s.length && s[i] !== '"') {
      if (s[i] === '\\') i++;
      else if (s.charCodeAt(i) < 0x20) throw new JsonSyntax('control character in a string');
      i++;
    }
    if (i >= s.length) throw new JsonSyntax('unterminated string');
    i++;
    return { value: JSON.parse(s.slice(start, i)) as string, start, end: i };
  };
  const value = (depth: number): { node: JNode; doc: unknown } => {
    if (depth > 512) throw new JsonSyntax('nesting too deep');
    ws();
    const start = i;
    const c = s[i];
    if (c === '{') {
      i++;
      const entries: Array<{ key: string; kStart: number; kEnd: number; value: JNode }> = [];
      const doc: Record<string, unknown> = {};
      ws();
      if (s[i] === '}') i++;
      else {
        for (;;) {
          ws();
          const k = str();
          if (Object.prototype.hasOwnProperty.call(doc, k.value)) throw new JsonSyntax(`duplicate key "${k.value.slice(0, 40)}"`);
          ws();
          if (s[i] !== ':') throw new JsonSyntax(`expected ':' at ${i}`);
          i++;
          const v = value(depth + 1);
          Object.defineProperty(doc, k.value, { value: v.doc, enumerable: true, writable: true, configurable: true });
          entries.push({ key: k.value, kStart: k.start, kEnd: k.end, value: v.node });
          ws();
          if (s[i] === ',') {
            i++;
            continue;
          }
          if (s[i] === '}') {
            i++;
            break;
          }
          throw new JsonSyntax(`expected ',' or '}' at ${i}`);
        }
      }
      return { node: { t: 'obj', start, end: i, entries }, doc };
    }
    if (c === '[') {
      i++;
      const items: JNode[] = [];
      const doc: unknown[] = [];
      ws();
      if (s[i] === ']') i++;
      else {
        for (;;) {
          const v = value(depth + 1);
          items.push(v.node);
          doc.push(v.doc);
          ws();
          if (s[i] === ',') {
            i++;
            continue;
          }
          if (s[i] === ']') {
            i++;
            break;
          }
          throw new JsonSyntax(`expected ',' or ']' at ${i}`);
        }
      }
      return { node: { t: 'arr', start, end: i, items }, doc };
    }
    if (c === '"') {
      const t = str();
      return { node: { t: 'str', start: t.start, end: t.end, value: t.value }, doc: t.value };
    }
    const m = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(s.slice(i, i + 400));
    if (!m) throw new JsonSyntax(`unexpected character at ${i}`);
    i += m[0].length;
    const v = JSON.parse(m[0]) as unknown;
    return { node: { t: typeof v === 'number' ? 'num' : 'lit', start, end: i, value: v }, doc: v };
  };
  const out = value(0);
  ws();
  if (i !== s.length) throw new JsonSyntax(`unexpected text after the document at ${i}`);
  return out;
}

function maskJsonText(s: string, o: BlobMaskOptions): string {
  const { node, doc } = parseJsonSpans(s);
  const masked = o.policy.maskDocument(o.role, doc, o.stats, o.object);
  const edits: Edit[] = [];
  const span = (n: { start: number; end: number }): number => byteLen(s.slice(n.start, n.end));
  const walk = (n: JNode, orig: unknown, m: unknown): void => {
    if (n.t === 'obj' && m !== null && typeof m === 'object' && !Array.isArray(m) && orig !== m) {
      const mo = m as Record<string, unknown>;
      const oo = orig as Record<string, unknown>;
      for (const e of n.entries) {
        if (!Object.prototype.hasOwnProperty.call(mo, e.key)) edits.push({ start: e.value.start, end: e.value.end, text: fitJson(null, span(e.value)) });
        else walk(e.value, oo[e.key], mo[e.key]);
      }
      return;
    }
    if (n.t === 'arr' && Array.isArray(m) && m.length === n.items.length && orig !== m) {
      const oa = orig as unknown[];
      n.items.forEach((it, k) => walk(it, oa[k], m[k]));
      return;
    }
    if (orig === m) return;
    if (typeof orig === 'number' && typeof m === 'number' && Number.isNaN(orig) && Number.isNaN(m)) return;
    edits.push({ start: n.start, end: n.end, text: fitJson(m, span(n)) });
  };
  walk(node, doc, masked);
  // Keys and numbers: maskDocument classifies by key and scans string values; a key or a number can carry a value too.
  const scanned = new Set(edits.map((e) => e.start));
  const extra = (n: JNode): void => {
    if (n.t === 'obj') {
      for (const e of n.entries) {
        const ke = entityEdits(e.key, o, null);
        if (ke.length > 0) edits.push({ start: e.kStart, end: e.kEnd, text: fitJson(applyEdits(e.key, ke), byteLen(s.slice(e.kStart, e.kEnd))) });
        extra(e.value);
      }
    } else if (n.t === 'arr') n.items.forEach(extra);
    else if (n.t === 'num' && !scanned.has(n.start)) {
      const text = s.slice(n.start, n.end);
      if (entityEdits(text, o, null).length > 0) edits.push({ start: n.start, end: n.end, text: fitJson(0, span(n)) });
    }
  };
  extra(node);
  return applyEdits(s, edits);
}

// ---------------------------------------------------------------- CSV

interface CsvCell {
  start: number;
  end: number;
  row: number;
  col: number;
}

function csvCells(s: string, delim: string): CsvCell[] {
  const cells: CsvCell[] = [];
  let row = 0;
  let col = 0;
  let start = 0;
  let quoted = false;
  for (let i = 0; i <= s.length; i++) {
    const c = s[i];
    if (quoted) {
      if (c === '"') {
        if (s[i + 1] === '"') i++;
        else quoted = false;
      }
      if (i < s.length) continue;
    }
    if (c === '"' && i === start) {
      quoted = true;
      continue;
    }
    if (c === delim || c === '\n' || i === s.length) {
      let end = i;
      if (c === '\n' && s[i - 1] === '\r') end = i - 1;
      cells.push({ start, end, row, col });
      if (c === delim) col++;
      else {
        row++;
        col = 0;
      }
      start = i + 1;
    }
  }
  return cells;
}

function unquoteCell(raw: string): { value: string; quoted: boolean } {
  if (raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"')) return { value: raw.slice(1, -1).replace(/""/g, '"'), quoted: true };
  return { value: raw, quoted: false };
}

function csvDelimiter(s: string): string | null {
  const nl = s.indexOf('\n');
  const first = nl < 0 ? s : s.slice(0, nl);
  let best: string | null = null;
  let count = 0;
  for (const d of [',', ';', '\t', '|']) {
    const n = first.split(d).length - 1;
    if (n > count) {
      best = d;
      count = n;
    }
  }
  return best;
}

function maskCsvText(s: string, delim: string, o: BlobMaskOptions): string {
  const cells = csvCells(s, delim);
  const unsafe = csvUnsafe(delim);
  const plans: Array<FieldPlan | null> = [];
  const edits: Edit[] = [];
  for (const cell of cells) {
    const rawCell = s.slice(cell.start, cell.end);
    if (cell.row === 0) plans[cell.col] = namePlan(o, unquoteCell(rawCell).value.trim());
    const plan = cell.row === 0 ? null : (plans[cell.col] ?? null);
    if (plan) {
      const { value, quoted } = unquoteCell(rawCell);
      if (value === '') continue;
      const inner = quoted ? byteLen(rawCell) - 2 : byteLen(rawCell);
      const masked = fitPlain(asText(plan.apply(value, o.stats)).replace(unsafe, '*'), inner);
      edits.push({ start: cell.start, end: cell.end, text: quoted ? `"${masked}"` : masked });
    }
    // Other cells: the detectors' pass over the whole text (maskText) covers them.
  }
  return applyEdits(s, edits);
}

function csvUnsafe(delim: string): RegExp {
  return new RegExp(`["\\r\\n${delim === '\t' ? '\\t' : delim.replace(/[|]/g, '\\|')}]`, 'g');
}

// ---------------------------------------------------------------- text

const KV_LINE = /^([ \t]*-?[ \t]*)(["']?)([A-Za-z_][\w.-]*)\2([ \t]*[:=][ \t]*)(.*?)([ \t]*)$/gm;
/** `name: "value"`, `'name': 'value'`, `name="value"` (attributes), `"name": 123` anywhere in a line. */
const PAIR = /(["']?)(?:[A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)\1\s*[:=]\s*(?:"((?:[^"\\\n]|\\.)*)"|'((?:[^'\\\n]|\\.)*)'|(-?\d[\d.eE+-]*))/g;
const XML_LEAF = /<([A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)(\s[^<>]*)?>(?:<!\[CDATA\[([\s\S]*?)\]\]>|([^<]*))<\/\1?\2\s*>/g;

/** Name-classified values in free text: YAML / properties lines, "key": "value" pairs, XML elements and attributes. */
function namedEdits(s: string, o: BlobMaskOptions): Edit[] {
  const edits: Edit[] = [];
  const add = (name: string, start: number, value: string, unsafe: RegExp): void => {
    if (value === '') return;
    const plan = namePlan(o, name);
    if (plan) edits.push({ start, end: start + value.length, text: maskNamed(o, plan, value, unsafe) });
  };
  for (const m of s.matchAll(KV_LINE)) {
    let value = m[5]!;
    let start = m.index + m[1]!.length + m[2]!.length * 2 + m[3]!.length + m[4]!.length;
    if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.endsWith(value[0])) {
      value = value.slice(1, -1);
      start++;
    }
    add(m[3]!, start, value, /["'\r\n]/g);
  }
  for (const m of s.matchAll(PAIR)) {
    const quoted = m[3] ?? m[4];
    const value = quoted ?? m[5] ?? '';
    add(m[2]!, m.index + m[0].length - (quoted !== undefined ? 1 : 0) - value.length, value, /["'\\<>&\r\n]/g);
  }
  for (const m of s.matchAll(XML_LEAF)) {
    const cdata = m[4];
    const value = cdata ?? m[5]!;
    add(m[2]!, m.index + m[0].lastIndexOf('</') - (cdata !== undefined ? 3 : 0) - value.length, value, /[<>&\]\r\n]/g);
  }
  return edits;
}

function looksLikeCsv(s: string, o: BlobMaskOptions): string | null {
  const ct = (o.contentType ?? '').toLowerCase();
  const name = (o.blobName ?? '').toLowerCase();
  const delim = csvDelimiter(s);
  if (delim === null) return null;
  if (ct.includes('csv') || name.endsWith('.csv')) return delim;
  if (name.endsWith('.tsv') || ct.includes('tab-separated')) return '\t';
  const lines = s.split('\n', 3).filter((l) => l.trim() !== '');
  if (lines.length < 2) return null;
  const n0 = splitCsvLine(lines[0]!).length;
  return delim === ',' && n0 > 1 && splitCsvLine(lines[1]!).length === n0 ? ',' : delim !== ',' && lines[1]!.split(delim).length === lines[0]!.split(delim).length ? delim : null;
}

/** Mask decoded text; the result has the same UTF-8 byte length. */
async function maskText(s: string, o: BlobMaskOptions): Promise<{ text: string; detected: string } | { refused: string }> {
  const lead = s.replace(/^[\uFEFF\s]+/, '');
  if (lead.startsWith('{') || lead.startsWith('[')) {
    try {
      return { text: maskJsonText(s, o), detected: 'json' };
    } catch (err) {
      if (!(err instanceof JsonSyntax) && !(err instanceof SyntaxError)) throw err;
      // NDJSON: one document per line.
      const lines = s.split('\n');
      try {
        const out = lines.map((l) => (l.trim() === '' ? l : maskJsonText(l.endsWith('\r') ? l.slice(0, -1) : l, o) + (l.endsWith('\r') ? '\r' : '')));
        return { text: out.join('\n'), detected: 'ndjson' };
      } catch {
        return { refused: `its content starts like JSON but is not valid JSON (${(err as Error).message})` };
      }
    }
  }
  const delim = lead.startsWith('<') ? null : looksLikeCsv(s, o);
  let text: string;
  let detected: string;
  if (delim !== null) {
    text = maskCsvText(s, delim, o);
    detected = 'csv';
  } else {
    text = applyEdits(s, namedEdits(s, o));
    detected = lead.startsWith('<') ? 'xml' : 'text';
  }
  // The detectors over the whole text (every CSV cell, text between names, an entity across an element boundary).
  text = applyEdits(text, await entityEditsWindowed(text, o, delim !== null ? csvUnsafe(delim) : null));
  return { text, detected };
}

/** True when bytes are text dgf can read: UTF-8 without NUL or control bytes other than tab, CR, LF, FF. */
function decodeText(buf: Buffer): string | null {
  for (let i = 0; i < buf.length; i++) {
    const b = buf[i]!;
    if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x0c) return null;
    if (b === 0x7f) return null;
  }
  try {
    return utf8.decode(buf);
  } catch {
    return null;
  }
}

function declaredEncodings(header: string | undefined): Encoding[] | 'unknown' {
  const out: Encoding[] = [];
  for (const raw of (header ?? '').split(',')) {
    const e = raw.trim().toLowerCase();
    if (e === '' || e === 'identity') continue;
    if (e === 'gzip' || e === 'x-gzip') out.push('gzip');
    else if (e === 'deflate') out.push('deflate');
    else if (e === 'br') out.push('br');
    else return 'unknown';
  }
  return out;
}

function sniffEncoding(buf: Buffer): Encoding | null {
  if (buf.length >= 18 && buf[0] === 0x1f && buf[1] === 0x8b) return 'gzip';
  if (buf.length >= 6 && (buf[0]! & 0x0f) === 8 && ((buf[0]! << 8) | buf[1]!) % 31 === 0) return 'deflate';
  return null;
}

/** Mask a whole blob for a role; see the module comment. */
export async function maskBlobContent(stored: Buffer, o: BlobMaskOptions): Promise<BlobMaskResult> {
  // 1. Content-Encoding: the declared layers, then any layer the bytes themselves show (gzip/zlib magic).
  const layers: Encoding[] = [];
  let body = stored;
  const declared = declaredEncodings(o.contentEncoding);
  if (declared === 'unknown') return { outcome: 'refused', reason: `its Content-Encoding "${o.contentEncoding ?? ''}" is not one dgf decodes (gzip, deflate, br)` };
  for (const enc of [...declared].reverse()) {
    try {
      body = decodeLayer(enc, body, o.maxBytes);
      layers.push(enc);
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') return { outcome: 'refused', reason: `it decodes to more than ${o.maxBytes} bytes` };
      break; // a lie: the bytes are not that encoding; judge them as they are
    }
  }
  for (let depth = 0; depth < 3; depth++) {
    const enc = sniffEncoding(body);
    if (enc === null) break;
    try {
      body = decodeLayer(enc, body, o.maxBytes);
      layers.push(enc);
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') return { outcome: 'refused', reason: `it decodes to more than ${o.maxBytes} bytes` };
      break;
    }
  }
  // 2. Page blobs end in zero pages: a trailing NUL run is kept as is, the text before it is judged.
  let end = body.length;
  while (end > 0 && body[end - 1] === 0) end--;
  const content = body.subarray(0, end);
  const text = decodeText(content);
  if (text === null) {
    if (o.binaryOnly) return { outcome: 'unchanged', detected: 'binary' };
    return { outcome: 'refused', reason: 'its content is not text dgf can parse (binary, or not UTF-8)' };
  }
  if (text.length === 0) return { outcome: 'unchanged', detected: 'empty' };
  const r = await maskText(text, o);
  if ('refused' in r) return { outcome: 'refused', reason: r.refused };
  if (r.text === text) return { outcome: 'unchanged', detected: r.detected };
  const maskedText = Buffer.from(r.text, 'utf8');
  if (maskedText.length !== content.length) return { outcome: 'refused', reason: 'its masked form would not keep the byte length' };
  let out: Buffer = Buffer.concat([maskedText, body.subarray(end)]);
  for (const enc of [...layers].reverse()) out = encodeLayer(enc, out);
  let sameLength = out.length === stored.length;
  if (!sameLength && layers.length === 1 && layers[0] === 'gzip') {
    const padded = padGzip(out, stored.length);
    if (padded) {
      out = padded;
      sameLength = true;
    }
  }
  return { outcome: 'masked', body: out, detected: r.detected, sameLength };
}
