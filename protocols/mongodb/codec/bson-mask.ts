/**
 * Masks a BSON document in place of bytes: walks the elements, asks a planner how each field path is
 * treated, decodes only the values that must be masked or scanned, and re-encodes only what changed, each
 * masked value with its original BSON type. An untouched document costs one walk and no allocation of
 * values; a document with no change is returned as null so the caller forwards the original bytes.
 */
import { Decimal128 } from 'bson';
import type { FieldPlan, LogicalType, MaskStats } from '../../../src/policy/types.js';
import { BsonIterator, BsonType } from './bson-view.js';

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
}

/** How field paths of one result shape are treated (see masking.ts: caches plans, applies renames). */
export interface PathPlanner {
  root(): PathNode;
  readonly stats: MaskStats | undefined;
}

const MAX_DEPTH = 100;

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

/**
 * Mask the document at `buf[start..]`. Returns the new document bytes when something changed, else null.
 * Throws InvalidBsonError when the bytes lie about their lengths.
 */
export function maskBsonDocument(buf: Uint8Array, start: number, planner: PathPlanner): Buffer | null {
  return walk(asBuffer(buf), start, planner, planner.root(), false, null, 0);
}

/** A Buffer view of the same bytes (no copy), so leaves can use Buffer's fast readers. */
function asBuffer(buf: Uint8Array): Buffer {
  return Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Mask the elements of a BSON array whose values all live at `path` (distinct's `values`). */
export function maskBsonArray(buf: Uint8Array, start: number, planner: PathPlanner, path: string): Buffer | null {
  let node = planner.root();
  if (path !== '') for (const part of path.split('.')) node = node.child(part);
  return walk(asBuffer(buf), start, planner, node, true, null, 0);
}

function walk(
  buf: Buffer,
  start: number,
  planner: PathPlanner,
  node: PathNode,
  isArray: boolean,
  inherit: string | null,
  depth: number,
): Buffer | null {
  if (depth > MAX_DEPTH) return null;
  const it = new BsonIterator().reset(buf, start);
  const stats = planner.stats;
  let parts: Uint8Array[] | null = null;
  let copied = start + 4; // bytes before this offset are already in `parts` (or the header)
  let size = 0;
  let index = 0;
  while (it.next()) {
    const type = it.type;
    const here = isArray ? node : node.childAt(index++, it);
    /** New value bytes for the current element (its type byte and name are kept). */
    let replacement: Uint8Array | null = null;
    if (type === BsonType.object || type === BsonType.array) {
      let childInherit = inherit;
      if (childInherit === null && here.plan('json', null).mode === 'mask') childInherit = here.path;
      replacement = walk(buf, it.valueStart, planner, here, type === BsonType.array, childInherit, depth + 1);
    } else {
      const lt = logicalType(type);
      if (lt !== null) {
        const plan = here.plan(lt, inherit);
        if (plan.mode === 'mask' || (plan.mode === 'scan' && lt === 'text')) {
          replacement = maskLeaf(buf, it, lt, plan, stats);
        } else if (stats !== undefined && plan.labels.length > 0) {
          for (const l of plan.labels) stats.seen(l);
        }
      }
    }
    if (replacement) {
      parts ??= [];
      // Everything up to this value (earlier untouched elements, this element's type and name) as one view.
      parts.push(buf.subarray(copied, it.valueStart));
      size += it.valueStart - copied;
      parts.push(replacement);
      size += replacement.length;
      copied = it.valueEnd;
    }
  }
  if (!parts) return null;
  const docEnd = start + ((buf[start]! | (buf[start + 1]! << 8) | (buf[start + 2]! << 16) | (buf[start + 3]! << 24)) >>> 0);
  if (docEnd > copied) {
    parts.push(buf.subarray(copied, docEnd));
    size += docEnd - copied;
  }
  const total = 4 + size;
  const out = Buffer.allocUnsafe(total);
  out.writeInt32LE(total, 0);
  let o = 4;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** A BSON string value: int32 length, UTF-8 bytes, NUL. */
function stringValueBytes(s: string): Buffer {
  const len = Buffer.byteLength(s, 'utf8');
  const out = Buffer.allocUnsafe(4 + len + 1);
  out.writeInt32LE(len + 1, 0);
  out.write(s, 4, 'utf8');
  out[4 + len] = 0;
  return out;
}

function cstringSafe(s: string): string {
  return s.includes('\0') ? s.replace(/\0/g, '') : s;
}

/** Decode, mask, and re-encode one leaf's value with its own BSON type; null when the mask left it unchanged. */
function maskLeaf(b: Buffer, it: BsonIterator, lt: LogicalType, plan: FieldPlan, stats: MaskStats | undefined): Uint8Array | null {
  const v = it.valueStart;
  switch (it.type) {
    case BsonType.string:
    case BsonType.javascript:
    case BsonType.symbol: {
      const s = it.stringValue();
      const m = plan.apply(s, stats);
      if (m === s) return null;
      return stringValueBytes(m === null || m === undefined ? '' : String(m));
    }
    case BsonType.regex: {
      let e = v;
      while (b[e] !== 0) e++;
      const pattern = b.toString('utf8', v, e);
      const m = plan.apply(pattern, stats);
      if (m === pattern) return null;
      const flags = b.subarray(e + 1, it.valueEnd);
      const p = Buffer.from(`${cstringSafe(String(m ?? ''))}\0`, 'utf8');
      return Buffer.concat([p, flags]);
    }
    case BsonType.int32: {
      const n = b.readInt32LE(v);
      const m = plan.apply(n, stats);
      if (m === n) return null;
      const out = Buffer.allocUnsafe(4);
      const x = typeof m === 'number' ? Math.trunc(m) : typeof m === 'bigint' ? Number(m) : typeof m === 'string' ? Number.parseInt(m, 10) : 0;
      out.writeInt32LE(Number.isFinite(x) && x >= -2147483648 && x <= 2147483647 ? x : 0, 0);
      return out;
    }
    case BsonType.int64: {
      const n = b.readBigInt64LE(v);
      const m = plan.apply(n, stats);
      if (m === n) return null;
      const out = Buffer.allocUnsafe(8);
      let x: bigint;
      try {
        x = typeof m === 'bigint' ? m : BigInt(typeof m === 'number' ? Math.trunc(m) : String(m ?? 0));
      } catch {
        x = 0n;
      }
      out.writeBigInt64LE(BigInt.asIntN(64, x), 0);
      return out;
    }
    case BsonType.double: {
      const n = b.readDoubleLE(v);
      const m = plan.apply(n, stats);
      if (m === n || (Number.isNaN(n) && Number.isNaN(m))) return null;
      const out = Buffer.allocUnsafe(8);
      const x = typeof m === 'number' ? m : Number(m ?? 0);
      out.writeDoubleLE(Number.isNaN(x) && m !== m ? 0 : x, 0);
      return out;
    }
    case BsonType.decimal128: {
      const d = new Decimal128(b.subarray(v, v + 16)).toString();
      const m = plan.apply(d, stats);
      if (m === d) return null;
      let out: Uint8Array;
      try {
        out = Decimal128.fromString(String(m ?? '0')).bytes;
      } catch {
        out = Decimal128.fromString('0').bytes;
      }
      return out;
    }
    case BsonType.bool: {
      const n = b[v] !== 0;
      const m = plan.apply(n, stats);
      if (m === n) return null;
      return Buffer.from([m === true || m === 'true' || m === 't' ? 1 : 0]);
    }
    case BsonType.date: {
      const ms = Number(b.readBigInt64LE(v));
      const d = new Date(ms);
      const m = plan.apply(d, stats);
      if (m === d) return null;
      const t = m instanceof Date ? m.getTime() : typeof m === 'string' ? Date.parse(m) : 0;
      const out = Buffer.allocUnsafe(8);
      out.writeBigInt64LE(BigInt(Number.isFinite(t) ? t : 0), 0);
      return out;
    }
    case BsonType.binary: {
      const len = b.readInt32LE(v);
      const subtype = b[v + 4]!;
      const data = b.subarray(v + 5, v + 5 + len);
      const m = plan.apply(data, stats);
      if (m === data) return null;
      const bytes = m instanceof Uint8Array ? m : Buffer.alloc(0);
      // A UUID (subtype 4) must stay 16 bytes for the driver to read it back as a UUID.
      const fixed = subtype === 4 || subtype === 3 ? fit(bytes, 16) : bytes;
      const out = Buffer.allocUnsafe(5 + fixed.length);
      out.writeInt32LE(fixed.length, 0);
      out[4] = subtype;
      out.set(fixed, 5);
      return out;
    }
    case BsonType.objectId: {
      const data = b.subarray(v, v + 12);
      const m = plan.apply(data, stats);
      if (m === data) return null;
      return fit(m instanceof Uint8Array ? m : Buffer.alloc(0), 12);
    }
    default:
      void lt;
      return null;
  }
}

/** Exactly `n` bytes: truncated or zero-padded, so fixed-size BSON types stay valid. */
function fit(bytes: Uint8Array, n: number): Uint8Array {
  if (bytes.length === n) return bytes;
  const out = Buffer.alloc(n);
  out.set(bytes.subarray(0, n), 0);
  return out;
}
