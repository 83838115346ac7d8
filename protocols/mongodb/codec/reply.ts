/**
 * Reads and rewrites the parts of command replies that carry user documents: cursor batches
 * (`cursor.firstBatch` / `cursor.nextBatch`), findAndModify's `value`, distinct's `values`. Everything else
 * in a reply is copied as bytes.
 */
import { BsonIterator, BsonType, documentEnd } from './bson-view.js';
import { maskBsonArray, maskBsonDocument, type PathPlanner } from './bson-mask.js';

/** Cursor facts a proxy needs: the id (to pin getMore) and the namespace. */
export interface CursorInfo {
  id: bigint;
  ns: string;
  /** Documents in this batch. */
  count: number;
}

/** Read `cursor.id`, `cursor.ns` and the batch size of a cursor reply; null when the reply has no cursor. */
export function readCursorInfo(reply: Uint8Array): CursorInfo | null {
  const it = new BsonIterator().reset(reply, 0);
  while (it.next()) {
    if (it.type === BsonType.object && it.nameIs('cursor')) {
      const c = new BsonIterator().reset(reply, it.valueStart);
      let id = 0n;
      let ns = '';
      let count = 0;
      while (c.next()) {
        if (c.nameIs('id')) id = c.bigintValue();
        else if (c.nameIs('ns') && c.type === BsonType.string) ns = c.stringValue();
        else if ((c.nameIs('firstBatch') || c.nameIs('nextBatch')) && c.type === BsonType.array) {
          const b = new BsonIterator().reset(reply, c.valueStart);
          while (b.next()) count++;
        }
      }
      return { id, ns, count };
    }
  }
  return null;
}

/** Replace the value of the top-level element at the iterator's position with `value` (same type). */
function spliceValue(doc: Uint8Array, docStart: number, valueStart: number, valueEnd: number, value: Uint8Array): Buffer {
  const docEnd = documentEnd(doc, docStart);
  const total = docEnd - docStart - (valueEnd - valueStart) + value.length;
  const out = Buffer.allocUnsafe(total);
  out.set(doc.subarray(docStart, valueStart), 0);
  out.set(value, valueStart - docStart);
  out.set(doc.subarray(valueEnd, docEnd), valueStart - docStart + value.length);
  out.writeInt32LE(total, 0);
  return out;
}

/** Mask every document of a BSON array of documents; null when none changed. */
export function maskDocumentArray(buf: Uint8Array, start: number, planner: PathPlanner, onDocument?: () => void): Buffer | null {
  const it = new BsonIterator().reset(buf, start);
  let parts: Uint8Array[] | null = null;
  let copied = start + 4;
  let size = 0;
  while (it.next()) {
    onDocument?.();
    if (it.type !== BsonType.object) continue;
    const masked = maskBsonDocument(buf, it.valueStart, planner);
    if (!masked) continue;
    parts ??= [];
    if (it.valueStart > copied) {
      parts.push(buf.subarray(copied, it.valueStart));
      size += it.valueStart - copied;
    }
    parts.push(masked);
    size += masked.length;
    copied = it.valueEnd;
  }
  if (!parts) return null;
  const end = documentEnd(buf, start);
  parts.push(buf.subarray(copied, end));
  size += end - copied;
  const out = Buffer.allocUnsafe(4 + size);
  out.writeInt32LE(4 + size, 0);
  let o = 4;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Mask the batch of a cursor reply. Returns the new reply, or null when nothing changed. */
export function maskCursorReply(reply: Uint8Array, planner: PathPlanner, onDocument?: () => void): Buffer | null {
  const it = new BsonIterator().reset(reply, 0);
  while (it.next()) {
    if (it.type !== BsonType.object || !it.nameIs('cursor')) continue;
    const c = new BsonIterator().reset(reply, it.valueStart);
    while (c.next()) {
      if (c.type !== BsonType.array || !(c.nameIs('firstBatch') || c.nameIs('nextBatch'))) continue;
      const batch = maskDocumentArray(reply, c.valueStart, planner, onDocument);
      if (!batch) return null;
      // One copy: reply head, new batch, reply tail; then fix the two enclosing lengths.
      const end = documentEnd(reply, 0);
      const delta = batch.length - (c.valueEnd - c.valueStart);
      const out = Buffer.allocUnsafe(end + delta);
      out.set(reply.subarray(0, c.valueStart), 0);
      out.set(batch, c.valueStart);
      out.set(reply.subarray(c.valueEnd, end), c.valueStart + batch.length);
      out.writeInt32LE(end + delta, 0);
      out.writeInt32LE(documentEnd(reply, it.valueStart) - it.valueStart + delta, it.valueStart);
      return out;
    }
    return null;
  }
  return null;
}

/** Mask findAndModify's `value` document. */
export function maskValueReply(reply: Uint8Array, planner: PathPlanner, onDocument?: () => void): Buffer | null {
  const it = new BsonIterator().reset(reply, 0);
  while (it.next()) {
    if (!it.nameIs('value')) continue;
    if (it.type !== BsonType.object) return null;
    onDocument?.();
    const masked = maskBsonDocument(reply, it.valueStart, planner);
    return masked ? spliceValue(reply, 0, it.valueStart, it.valueEnd, masked) : null;
  }
  return null;
}

/** Mask distinct's `values`, which are values of the field `key`. */
export function maskDistinctReply(reply: Uint8Array, planner: PathPlanner, key: string, onValue?: () => void): Buffer | null {
  const it = new BsonIterator().reset(reply, 0);
  while (it.next()) {
    if (!it.nameIs('values') || it.type !== BsonType.array) continue;
    if (onValue) {
      const v = new BsonIterator().reset(reply, it.valueStart);
      while (v.next()) onValue();
    }
    const masked = maskBsonArray(reply, it.valueStart, planner, key);
    return masked ? spliceValue(reply, 0, it.valueStart, it.valueEnd, masked) : null;
  }
  return null;
}
