/**
 * Reads and rewrites the parts of command replies that carry user documents: cursor batches
 * (`cursor.firstBatch` / `cursor.nextBatch`), findAndModify's `value`, distinct's `values`. Everything else
 * in a reply is copied as bytes.
 */
import { BsonIterator, BsonType, documentEnd } from './bson-view.js';
import {
  applyEdits,
  asBuffer,
  beginEdits,
  closeLengthSlot,
  editMark,
  maskArrayInto,
  maskDocumentInto,
  openLengthSlot,
  type PathPlanner,
} from './bson-mask.js';

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

/** Mask every document of a BSON array of documents; null when none changed. */
export function maskDocumentArray(buf: Uint8Array, start: number, planner: PathPlanner, onDocument?: () => void): Buffer | null {
  const b = asBuffer(buf);
  const end = documentEnd(b, start);
  beginEdits();
  batchInto(b, start, planner, onDocument);
  return editMark() === 0 ? null : applyEdits(b, start, end);
}

/** Record the edits that mask each document of the array at `start`; returns the array's length change. */
function batchInto(buf: Buffer, start: number, planner: PathPlanner, onDocument: (() => void) | undefined): number {
  const it = new BsonIterator().reset(buf, start);
  const slot = openLengthSlot(start);
  let delta = 0;
  while (it.next()) {
    onDocument?.();
    if (it.type === BsonType.object) delta += maskDocumentInto(buf, it.valueStart, planner);
  }
  closeLengthSlot(buf, slot, delta);
  return delta;
}

/**
 * Mask the batch of a cursor reply. Returns the new reply, or null when nothing changed. The reply, the
 * cursor document, the batch and every changed document get their new lengths in one output pass.
 */
export function maskCursorReply(reply: Uint8Array, planner: PathPlanner, onDocument?: () => void): Buffer | null {
  const buf = asBuffer(reply);
  const it = new BsonIterator().reset(buf, 0);
  while (it.next()) {
    if (it.type !== BsonType.object || !it.nameIs('cursor')) continue;
    const c = new BsonIterator().reset(buf, it.valueStart);
    while (c.next()) {
      if (c.type !== BsonType.array || !(c.nameIs('firstBatch') || c.nameIs('nextBatch'))) continue;
      beginEdits();
      const replySlot = openLengthSlot(0);
      const cursorSlot = openLengthSlot(it.valueStart);
      const delta = batchInto(buf, c.valueStart, planner, onDocument);
      closeLengthSlot(buf, cursorSlot, delta);
      if (!closeLengthSlot(buf, replySlot, delta)) return null;
      return applyEdits(buf, 0, documentEnd(buf, 0));
    }
    return null;
  }
  return null;
}

/** Mask findAndModify's `value` document. */
export function maskValueReply(reply: Uint8Array, planner: PathPlanner, onDocument?: () => void): Buffer | null {
  const buf = asBuffer(reply);
  const it = new BsonIterator().reset(buf, 0);
  while (it.next()) {
    if (!it.nameIs('value')) continue;
    if (it.type !== BsonType.object) return null;
    onDocument?.();
    beginEdits();
    const replySlot = openLengthSlot(0);
    const delta = maskDocumentInto(buf, it.valueStart, planner);
    return closeLengthSlot(buf, replySlot, delta) ? applyEdits(buf, 0, documentEnd(buf, 0)) : null;
  }
  return null;
}

/** Mask distinct's `values`, which are values of the field `key`. */
export function maskDistinctReply(reply: Uint8Array, planner: PathPlanner, key: string, onValue?: () => void): Buffer | null {
  const buf = asBuffer(reply);
  const it = new BsonIterator().reset(buf, 0);
  while (it.next()) {
    if (!it.nameIs('values') || it.type !== BsonType.array) continue;
    if (onValue) {
      const v = new BsonIterator().reset(buf, it.valueStart);
      while (v.next()) onValue();
    }
    beginEdits();
    const replySlot = openLengthSlot(0);
    const delta = maskArrayInto(buf, it.valueStart, planner, key);
    return closeLengthSlot(buf, replySlot, delta) ? applyEdits(buf, 0, documentEnd(buf, 0)) : null;
  }
  return null;
}
