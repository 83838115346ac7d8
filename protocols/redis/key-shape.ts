/**
 * `classificationName` of the keys a client sends, reusing the previous key's result when the new key has the
 * same shape (its all-digit segments aside, the same bytes), decided on the key's bytes without building a string.
 *
 * Why: a client mostly sends keys of one shape (`GET key:000000012345`, `HGET user:48213 email`). Building the
 * classification name of every fresh key cost two strings, and the policy's name cache, the decision cache and the
 * plan cache then hashed and compared that fresh string again (at pipeline 16, ~5% of dgf's CPU). The reused string
 * is the same object, so those look-ups hash nothing and compare by identity.
 */
import { Buffer } from 'node:buffer';
import { classificationName } from './reply-masking.js';

const COLON = 58;

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Whether `a[start, end)` is one or more ASCII digits. */
function allDigits(a: Buffer, start: number, end: number): boolean {
  if (end <= start) return false;
  for (let i = start; i < end; i++) if (!isDigit(a[i]!)) return false;
  return true;
}

/** Where the `:`-separated segment starting at `start` ends. */
function segmentEnd(a: Buffer, start: number): number {
  let i = start;
  while (i < a.length && a[i] !== COLON) i++;
  return i;
}

/**
 * Whether two keys have the same `classificationName`: the same number of `:`-separated segments, each either
 * all digits in both (ids, which classify as `0`) or the same bytes in both.
 */
export function sameShape(a: Buffer, b: Buffer): boolean {
  return a.length === b.length ? sameShapeSameLength(a, b) : sameShapeBySegments(a, b);
}

/**
 * Keys of one length (fixed-width ids, the common case) in one pass: they can only differ where both hold digits,
 * and only inside segments that are all digits in both. The colons, being no digits, then stand at the same places.
 */
function sameShapeSameLength(a: Buffer, b: Buffer): boolean {
  const n = a.length;
  let segment = 0;
  let checked = -1;
  for (let k = 0; k < n; k++) {
    const x = a[k]!;
    const y = b[k]!;
    if (x !== y) {
      if (!isDigit(x) || !isDigit(y)) return false;
      if (checked !== segment) {
        for (let t = segment; t < n && a[t] !== COLON; t++) if (!isDigit(a[t]!) || !isDigit(b[t]!)) return false;
        checked = segment;
      }
    } else if (x === COLON) {
      segment = k + 1;
    }
  }
  return true;
}

/** Keys of different lengths, segment by segment. */
function sameShapeBySegments(a: Buffer, b: Buffer): boolean {
  let i = 0;
  let j = 0;
  for (;;) {
    const ie = segmentEnd(a, i);
    const je = segmentEnd(b, j);
    const aId = allDigits(a, i, ie);
    if (aId !== allDigits(b, j, je)) return false;
    if (!aId) {
      if (ie - i !== je - j) return false;
      for (let k = 0; k < ie - i; k++) if (a[i + k] !== b[j + k]) return false;
    }
    const aDone = ie >= a.length;
    const bDone = je >= b.length;
    if (aDone || bDone) return aDone && bDone;
    i = ie + 1;
    j = je + 1;
  }
}

/** One client's memo: a key of the last shape seen, and that shape's classification name. */
export class KeyShapeMemo {
  private lastKey: Buffer | null = null;
  private lastShape = '';

  /** `classificationName` of each key (`names[i]` is `keys[i]` read as latin1). */
  shapes(keys: readonly Buffer[], names: readonly string[]): string[] {
    const out = new Array<string>(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      if (this.lastKey === null || !sameShape(key, this.lastKey)) {
        this.lastShape = classificationName(names[i]!);
        // A copy: the key is a view of a shared read slab, which an idle client must not keep alive.
        this.lastKey = Buffer.from(key);
      }
      out[i] = this.lastShape;
    }
    return out;
  }
}
