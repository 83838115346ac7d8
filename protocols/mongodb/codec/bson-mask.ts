/**
 * Masks a BSON document in place of bytes: walks the elements, asks a planner how each field path is
 * treated, decodes only the values that must be masked or scanned, and re-encodes only what changed, each
 * masked value with its original BSON type. An untouched document costs one walk and no allocation of
 * values; a document with no change is returned as null so the caller forwards the original bytes.
 *
 * Changes are recorded as an edit list over the source bytes (replaced ranges, their new bytes in a reused
 * arena, and the new length prefix of every enclosing document), and the output is built once, in one
 * allocation and one copy pass, however deep the changes are (reply, cursor, batch, document, subdocument).
 */
import { Decimal128 } from 'bson';
import type { FieldPlan, LogicalType, MaskStats } from '../../../src/policy/types.js';
import { BsonIterator, BsonType, documentEnd } from './bson-view.js';

/**
 * One field path of a result shape (dotted, array indices omitted, as MongoDB names paths). Nodes are
 * cached by the planner, so walking a document builds no path strings once the shape is known.
 */
export interface PathNode {
  readonly path: string;
  child(name: string): PathNode;
  /**
   * The child for the iterator's current element, the `index`-th of its document. Documents of one shape
   * repeat their field order, so a node remembers the child seen at each position and confirms it by
   * comparing name bytes: no name string is decoded on the hot path.
   */
  childAt(index: number, it: BsonIterator): PathNode;
  /** Plan for a value of `type` here; `inherit` is the path of a classified ancestor whose labels it carries. */
  plan(type: LogicalType, inherit: string | null): FieldPlan;
  /** `plan(type, inherit)` for a leaf of BSON element type `bsonType` (whose logical type is `type`), cached by type byte. */
  leafPlan(bsonType: number, type: LogicalType, inherit: string | null): FieldPlan;
}

/** How field paths of one result shape are treated (see masking.ts: caches plans, applies renames). */
export interface PathPlanner {
  root(): PathNode;
  readonly stats: MaskStats | undefined;
}

/** MongoDB's own nesting limit; deeper documents cannot be checked, so they are refused, never passed clear. */
const MAX_DEPTH = 100;

/** A reply the masking walk could not fully inspect (fail closed: the caller withholds it). */
export class UnmaskableDocumentError extends Error {}

/** Logical type of a BSON element type for the policy engine; null for types that carry no data to mask. */
function logicalType(t: number): LogicalType | null {
  switch (t) {
    case BsonType.string:
    case BsonType.javascript:
    case BsonType.symbol:
    case BsonType.regex:
      return 'text';
    case BsonType.int32:
    case BsonType.int64:
      return 'integer';
    case BsonType.double:
    case BsonType.decimal128:
      return 'numeric';
    case BsonType.bool:
      return 'boolean';
    case BsonType.date:
      return 'timestamp';
    case BsonType.binary:
    case BsonType.objectId:
      return 'bytes';
    default:
      return null;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Edit list. Masking is synchronous and never re-entered, so one module-level list and arena serve every call
// (no per-value Buffer, no per-document parts array).

/**
 * Flat [sourceStart, sourceEnd, arenaStart, arenaEnd] quadruples, in source order, non-overlapping; `editLen`
 * entries used. A typed array with a separate count: truncating it is an integer store, not an Array#length call.
 */
let edits = new Int32Array(1024);
let editLen = 0;
const ARENA_DEFAULT = 16 * 1024;
let arena = Buffer.allocUnsafe(ARENA_DEFAULT);
let arenaLen = 0;
/** One iterator per nesting depth, reused: walking allocates no iterator per subdocument. */
const iterators: BsonIterator[] = [];

/** Start a masking call: forget the previous call's edits. */
export function beginEdits(): void {
  editLen = 0;
  arenaLen = 0;
  // One huge reply does not pin its arena and edit list.
  if (arena.length > 1 << 20) arena = Buffer.allocUnsafe(ARENA_DEFAULT);
  if (edits.length > 1 << 16) edits = new Int32Array(1024);
}

/** How many edit entries are recorded (0: nothing changed since `beginEdits`). */
export function editMark(): number {
  return editLen;
}

function pushEdit(sourceStart: number, sourceEnd: number, arenaStart: number, arenaEnd: number): void {
  if (editLen + 4 > edits.length) {
    const next = new Int32Array(edits.length * 2);
    next.set(edits);
    edits = next;
  }
  edits[editLen] = sourceStart;
  edits[editLen + 1] = sourceEnd;
  edits[editLen + 2] = arenaStart;
  edits[editLen + 3] = arenaEnd;
  editLen += 4;
}

function reserve(n: number): void {
  if (arenaLen + n <= arena.length) return;
  const next = Buffer.allocUnsafe(Math.max(arena.length * 2, arenaLen + n));
  arena.copy(next, 0, 0, arenaLen);
  arena = next;
}

/**
 * Reserve the slot of a document's length prefix before its inner edits (edits stay in source order);
 * returns the slot for `closeLengthSlot`. An empty slot costs nothing if the document turns out unchanged.
 */
export function openLengthSlot(docStart: number): number {
  const slot = editLen;
  pushEdit(docStart, docStart, 0, 0);
  return slot;
}

/**
 * Settle a slot: drop it when nothing inside changed, else record the document's new length prefix
 * (`docStart`'s old length + `delta`). Returns whether the document changed.
 */
export function closeLengthSlot(buf: Uint8Array, slot: number, delta: number): boolean {
  if (editLen === slot + 4) {
    editLen = slot; // the slot is the last entry: nothing inside changed
    return false;
  }
  const docStart = edits[slot]!;
  const oldLength = (buf[docStart]! | (buf[docStart + 1]! << 8) | (buf[docStart + 2]! << 16) | (buf[docStart + 3]! << 24)) >>> 0;
  reserve(4);
  arena.writeInt32LE(oldLength + delta, arenaLen);
  edits[slot + 1] = docStart + 4;
  edits[slot + 2] = arenaLen;
  edits[slot + 3] = arenaLen + 4;
  arenaLen += 4;
  return true;
}

/** `buf[start, end)` with every recorded edit applied, as one new Buffer. */
export function applyEdits(buf: Uint8Array, start: number, end: number): Buffer {
  let total = end - start;
  for (let i = 0; i < editLen; i += 4) total += edits[i + 3]! - edits[i + 2]! - (edits[i + 1]! - edits[i]!);
  const out = Buffer.allocUnsafe(total);
  let o = 0;
  let from = start;
  for (let i = 0; i < editLen; i += 4) {
    o = copyBytes(buf, from, edits[i]!, out, o);
    o = copyBytes(arena, edits[i + 2]!, edits[i + 3]!, out, o);
    from = edits[i + 1]!;
  }
  copyBytes(buf, from, end, out, o);
  return out;
}

/** Copy `src[s, e)` to `dst[o..]`; returns the end offset in dst. */
function copyBytes(src: Uint8Array, s: number, e: number, dst: Uint8Array, o: number): number {
  const n = e - s;
  if (n <= 32) {
    // Most copies are a few bytes (a length prefix, a name): a loop beats creating a view for TypedArray#set.
    for (let i = 0; i < n; i++) dst[o + i] = src[s + i]!;
  } else {
    dst.set(new Uint8Array(src.buffer, src.byteOffset + s, n), o);
  }
  return o + n;
}

// ---------------------------------------------------------------------------------------------------------

/**
 * Mask the document at `buf[start..]`. Returns the new document bytes when something changed, else null.
 * Throws InvalidBsonError when the bytes lie about their lengths.
 */
export function maskBsonDocument(buf: Uint8Array, start: number, planner: PathPlanner): Buffer | null {
  const b = asBuffer(buf);
  const end = documentEnd(b, start);
  beginEdits();
  maskDocumentInto(b, start, planner);
  return editLen === 0 ? null : applyEdits(b, start, end);
}

/** Record the edits that mask the document at `buf[start..]` (a batch element); returns its length change. */
export function maskDocumentInto(buf: Buffer, start: number, planner: PathPlanner): number {
  return walk(buf, start, planner, planner.root(), false, null, 0, planner.stats);
}

/** A Buffer view of the same bytes (no copy), so leaves can use Buffer's fast readers. */
export function asBuffer(buf: Uint8Array): Buffer {
  return Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Record the edits that mask a BSON array whose values all live at `path` (distinct's `values`); returns its length change. */
export function maskArrayInto(buf: Buffer, start: number, planner: PathPlanner, path: string): number {
  let node = planner.root();
  if (path !== '') for (const part of path.split('.')) node = node.child(part);
  return walk(buf, start, planner, node, true, null, 0, planner.stats);
}

/** Mask the elements of a BSON array whose values all live at `path` (distinct's `values`). */
export function maskBsonArray(buf: Uint8Array, start: number, planner: PathPlanner, path: string): Buffer | null {
  const b = asBuffer(buf);
  const end = documentEnd(b, start);
  beginEdits();
  maskArrayInto(b, start, planner, path);
  return editLen === 0 ? null : applyEdits(b, start, end);
}

/** Records the edits of one document (or array) and returns the change of its length. */
function walk(
  buf: Buffer,
  start: number,
  planner: PathPlanner,
  node: PathNode,
  isArray: boolean,
  inherit: string | null,
  depth: number,
  stats: MaskStats | undefined,
): number {
  if (depth > MAX_DEPTH) throw new UnmaskableDocumentError(`dgf: a result document is nested deeper than ${MAX_DEPTH} levels and cannot be masked; the reply is withheld`);
  const it = (iterators[depth] ??= new BsonIterator()).reset(buf, start);
  const slot = openLengthSlot(start);
  let delta = 0;
  let index = 0;
  while (it.next()) {
    const type = it.type;
    const here = isArray ? node : node.childAt(index++, it);
    if (type === BsonType.object || type === BsonType.array) {
      let childInherit = inherit;
      // Objects and arrays share the 'json' plan, cached under the object type byte.
      if (childInherit === null && here.leafPlan(BsonType.object, 'json', null).mode === 'mask') childInherit = here.path;
      delta += walk(buf, it.valueStart, planner, here, type === BsonType.array, childInherit, depth + 1, stats);
      continue;
    }
    const lt = logicalType(type);
    if (lt === null) continue;
    const plan = here.leafPlan(type, lt, inherit);
    const mode = plan.mode;
    if (mode === 'mask' || (mode === 'scan' && lt === 'text')) {
      // Most scanned strings cannot hold any entity: rejected on their bytes, never decoded.
      if (mode === 'scan' && type === BsonType.string && plan.scanNeededUtf8 !== undefined && !plan.scanNeededUtf8(buf, it.valueStart + 4, it.valueEnd - 1)) {
        if (stats !== undefined) for (const l of plan.labels) stats.seen(l);
        continue;
      }
      const from = arenaLen;
      if (maskLeaf(buf, it, plan, stats)) {
        delta += arenaLen - from - (it.valueEnd - it.valueStart);
        pushEdit(it.valueStart, it.valueEnd, from, arenaLen);
      } else {
        arenaLen = from;
      }
    } else if (stats !== undefined && plan.labels.length > 0) {
      for (const l of plan.labels) stats.seen(l);
    }
  }
  closeLengthSlot(buf, slot, delta);
  return delta;
}

/** Append a BSON string value (int32 length, UTF-8 bytes, NUL) to the arena. */
function putString(s: string): void {
  const n = s.length;
  reserve(5 + 3 * n);
  const at = arenaLen;
  const a = arena;
  let o = at + 4;
  let i = 0;
  // Masked strings are mostly ASCII ('[REDACTED]', 'a***@example.com'): written by char code, no encoder call.
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) break;
    a[o++] = c;
  }
  if (i < n) o = at + 4 + a.write(s, at + 4, 'utf8');
  a[o] = 0;
  a.writeInt32LE(o - at - 4 + 1, at);
  arenaLen = o + 1;
}

function putBytes(bytes: Uint8Array): void {
  reserve(bytes.length);
  arena.set(bytes, arenaLen);
  arenaLen += bytes.length;
}

function cstringSafe(s: string): string {
  return s.includes('\0') ? s.replace(/\0/g, '') : s;
}

/** Decode, mask, and append one leaf's new value (same BSON type) to the arena; false when the mask left it unchanged. */
function maskLeaf(b: Buffer, it: BsonIterator, plan: FieldPlan, stats: MaskStats | undefined): boolean {
  const v = it.valueStart;
  switch (it.type) {
    case BsonType.string:
    case BsonType.javascript:
    case BsonType.symbol: {
      const s = it.stringValue();
      const m = plan.apply(s, stats);
      if (m === s) return false;
      putString(m === null || m === undefined ? '' : String(m));
      return true;
    }
    case BsonType.regex: {
      let e = v;
      while (b[e] !== 0) e++;
      const pattern = b.toString('utf8', v, e);
      const m = plan.apply(pattern, stats);
      if (m === pattern) return false;
      putBytes(Buffer.from(`${cstringSafe(String(m ?? ''))}\0`, 'utf8'));
      putBytes(b.subarray(e + 1, it.valueEnd)); // flags
      return true;
    }
    case BsonType.int32: {
      const n = b.readInt32LE(v);
      const m = plan.apply(n, stats);
      if (m === n) return false;
      const x = typeof m === 'number' ? Math.trunc(m) : typeof m === 'bigint' ? Number(m) : typeof m === 'string' ? Number.parseInt(m, 10) : 0;
      reserve(4);
      arena.writeInt32LE(Number.isFinite(x) && x >= -2147483648 && x <= 2147483647 ? x : 0, arenaLen);
      arenaLen += 4;
      return true;
    }
    case BsonType.int64: {
      const n = b.readBigInt64LE(v);
      const m = plan.apply(n, stats);
      if (m === n) return false;
      let x: bigint;
      try {
        x = typeof m === 'bigint' ? m : BigInt(typeof m === 'number' ? Math.trunc(m) : String(m ?? 0));
      } catch {
        x = 0n;
      }
      reserve(8);
      arena.writeBigInt64LE(BigInt.asIntN(64, x), arenaLen);
      arenaLen += 8;
      return true;
    }
    case BsonType.double: {
      const n = b.readDoubleLE(v);
      const m = plan.apply(n, stats);
      if (m === n || (Number.isNaN(n) && Number.isNaN(m))) return false;
      const x = typeof m === 'number' ? m : Number(m ?? 0);
      reserve(8);
      arena.writeDoubleLE(Number.isNaN(x) && m !== m ? 0 : x, arenaLen);
      arenaLen += 8;
      return true;
    }
    case BsonType.decimal128: {
      const d = new Decimal128(b.subarray(v, v + 16)).toString();
      const m = plan.apply(d, stats);
      if (m === d) return false;
      let out: Uint8Array;
      try {
        out = Decimal128.fromString(String(m ?? '0')).bytes;
      } catch {
        out = Decimal128.fromString('0').bytes;
      }
      putBytes(out);
      return true;
    }
    case BsonType.bool: {
      const n = b[v] !== 0;
      const m = plan.apply(n, stats);
      if (m === n) return false;
      reserve(1);
      arena[arenaLen++] = m === true || m === 'true' || m === 't' ? 1 : 0;
      return true;
    }
    case BsonType.date: {
      const ms = Number(b.readBigInt64LE(v));
      const d = new Date(ms);
      const m = plan.apply(d, stats);
      if (m === d) return false;
      const t = m instanceof Date ? m.getTime() : typeof m === 'string' ? Date.parse(m) : 0;
      reserve(8);
      arena.writeBigInt64LE(BigInt(Number.isFinite(t) ? t : 0), arenaLen);
      arenaLen += 8;
      return true;
    }
    case BsonType.binary: {
      const len = b.readInt32LE(v);
      const subtype = b[v + 4]!;
      const data = b.subarray(v + 5, v + 5 + len);
      const m = plan.apply(data, stats);
      if (m === data) return false;
      const bytes = m instanceof Uint8Array ? m : Buffer.alloc(0);
      // A UUID (subtype 4) must stay 16 bytes for the driver to read it back as a UUID.
      const fixed = subtype === 4 || subtype === 3 ? fit(bytes, 16) : bytes;
      reserve(5);
      arena.writeInt32LE(fixed.length, arenaLen);
      arena[arenaLen + 4] = subtype;
      arenaLen += 5;
      putBytes(fixed);
      return true;
    }
    case BsonType.objectId: {
      const data = b.subarray(v, v + 12);
      const m = plan.apply(data, stats);
      if (m === data) return false;
      putBytes(fit(m instanceof Uint8Array ? m : Buffer.alloc(0), 12));
      return true;
    }
    default:
      return false;
  }
}

/** Exactly `n` bytes: truncated or zero-padded, so fixed-size BSON types stay valid. */
function fit(bytes: Uint8Array, n: number): Uint8Array {
  if (bytes.length === n) return bytes;
  const out = Buffer.alloc(n);
  out.set(bytes.subarray(0, n), 0);
  return out;
}
