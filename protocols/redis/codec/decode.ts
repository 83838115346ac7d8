/**
 * Decode one complete RESP2/RESP3 frame (already delimited by ReplyScanner) into a light tree of byte offsets.
 * Only frames a policy must look inside are decoded; nodes point into the frame buffer (no copies), so a masked
 * reply is re-encoded by splicing replaced leaves between untouched byte ranges (see encode.ts `spliceFrame`).
 */
import { isUtf8 } from 'node:buffer';
import { ProtocolError } from '../../shared/errors.js';
import { CR, RespType } from './resp-types.js';
import { MAX_DEPTH } from './reply-scanner.js';

/** One decoded value. `start`/`end` cover its whole encoding; `dataStart`/`dataEnd` its payload or line. */
export interface RespNode {
  type: number;
  start: number;
  end: number;
  dataStart: number;
  dataEnd: number;
  /** Elements of an aggregate (a map's keys and values alternate), else null. */
  children: RespNode[] | null;
  /** True for `$-1`, `*-1` and `_`. */
  isNull: boolean;
  /** A RESP3 attribute preceding this value, if any. */
  attribute: RespNode | null;
}

/** Whether the last `decodeFrame` met a RESP3 attribute (so a walker must look at attributes too). */
export let lastFrameHadAttributes = false;

/** Decode the frame starting at `offset`; returns the node (its `end` is where the next frame starts). */
export function decodeFrame(buf: Buffer, offset = 0): RespNode {
  lastFrameHadAttributes = false;
  return decodeAt(buf, offset, 0);
}

function lineEnd(buf: Buffer, from: number): number {
  const cr = buf.indexOf(CR, from);
  if (cr < 0 || cr + 1 >= buf.length) throw new ProtocolError('Protocol error: incomplete frame', 'ERR');
  return cr;
}

function parseLength(buf: Buffer, from: number, to: number): number {
  if (to - from === 2 && buf[from] === 45 && buf[from + 1] === 49) return -1;
  if (to === from || to - from > 15) throw new ProtocolError('Protocol error: invalid length', 'ERR');
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = buf[i]!;
    if (c < 48 || c > 57) throw new ProtocolError('Protocol error: invalid length', 'ERR');
    n = n * 10 + (c - 48);
  }
  return n;
}

function decodeAt(buf: Buffer, offset: number, depth: number): RespNode {
  if (depth > MAX_DEPTH) throw new ProtocolError('Protocol error: nesting too deep', 'ERR');
  if (offset >= buf.length) throw new ProtocolError('Protocol error: incomplete frame', 'ERR');
  const type = buf[offset]!;
  if (type === RespType.Attribute) {
    lastFrameHadAttributes = true;
    const attr = decodeAggregate(buf, offset, depth, type);
    // Attributes before one value are read in a loop, not by recursion: the scanner accepts any number of them
    // (`|0\r\n` repeated), and one recursion each would exhaust the stack. The first attribute is the one kept.
    let at = attr.end;
    while (at < buf.length && buf[at] === RespType.Attribute) at = decodeAggregate(buf, at, depth, RespType.Attribute).end;
    const value = decodeAt(buf, at, depth);
    value.attribute = attr;
    value.start = offset;
    return value;
  }
  switch (type) {
    case RespType.SimpleString:
    case RespType.SimpleError:
    case RespType.Integer:
    case RespType.Double:
    case RespType.BigNumber:
    case RespType.Boolean:
    case RespType.Null: {
      const cr = lineEnd(buf, offset + 1);
      return {
        type,
        start: offset,
        end: cr + 2,
        dataStart: offset + 1,
        dataEnd: cr,
        children: null,
        isNull: type === RespType.Null,
        attribute: null,
      };
    }
    case RespType.BulkString:
    case RespType.BulkError:
    case RespType.VerbatimString: {
      const cr = lineEnd(buf, offset + 1);
      const n = parseLength(buf, offset + 1, cr);
      if (n < 0) {
        return { type, start: offset, end: cr + 2, dataStart: cr, dataEnd: cr, children: null, isNull: true, attribute: null };
      }
      const dataStart = cr + 2;
      const end = dataStart + n + 2;
      if (end > buf.length) throw new ProtocolError('Protocol error: incomplete frame', 'ERR');
      return { type, start: offset, end, dataStart, dataEnd: dataStart + n, children: null, isNull: false, attribute: null };
    }
    case RespType.Array:
    case RespType.Set:
    case RespType.Map:
    case RespType.Push:
      return decodeAggregate(buf, offset, depth, type);
    default:
      throw new ProtocolError(`Protocol error: unexpected RESP type byte 0x${type.toString(16)}`, 'ERR');
  }
}

function decodeAggregate(buf: Buffer, offset: number, depth: number, type: number): RespNode {
  const cr = lineEnd(buf, offset + 1);
  const n = parseLength(buf, offset + 1, cr);
  if (n < 0) {
    return { type, start: offset, end: cr + 2, dataStart: cr, dataEnd: cr, children: null, isNull: true, attribute: null };
  }
  const count = type === RespType.Map || type === RespType.Attribute ? n * 2 : n;
  // Each element takes at least 3 bytes (`_\r\n`): a count the frame cannot hold is refused before the array
  // is sized (a count past 2^32 - 1 would throw a RangeError, a large one would reserve memory for nothing).
  if (count > (buf.length - cr - 2) / 3) throw new ProtocolError('Protocol error: incomplete frame', 'ERR');
  const children: RespNode[] = new Array<RespNode>(count);
  let pos = cr + 2;
  for (let i = 0; i < count; i++) {
    const child = decodeAt(buf, pos, depth + 1);
    children[i] = child;
    pos = child.end;
  }
  return { type, start: offset, end: pos, dataStart: cr + 2, dataEnd: pos, children, isNull: false, attribute: null };
}

/** True for nodes holding text a policy may read: bulk strings, verbatim strings, simple strings. */
export function isStringNode(node: RespNode): boolean {
  return (
    !node.isNull &&
    (node.type === RespType.BulkString || node.type === RespType.VerbatimString || node.type === RespType.SimpleString)
  );
}

/** The payload of a string node (verbatim strings without their `txt:` format prefix). */
export function stringBytes(buf: Buffer, node: RespNode): Buffer {
  const start = node.type === RespType.VerbatimString ? Math.min(node.dataStart + 4, node.dataEnd) : node.dataStart;
  return buf.subarray(start, node.dataEnd);
}

/** Text of a node's payload (latin1 when it is not valid UTF-8, so bytes survive a round trip). */
export function nodeText(buf: Buffer, node: RespNode): string {
  const bytes = stringBytes(buf, node);
  return bytes.toString(textEncoding(bytes));
}

/** UTF-8 when the bytes are valid UTF-8, else latin1 (byte-preserving), for decoding and re-encoding a value. */
export function textEncoding(bytes: Buffer): 'utf8' | 'latin1' {
  return isUtf8(bytes) ? 'utf8' : 'latin1';
}

/** An integer reply's value. */
export function nodeInteger(buf: Buffer, node: RespNode): number {
  return Number(buf.toString('latin1', node.dataStart, node.dataEnd));
}

/** Convert a decoded node to plain JS (tests, tools): strings as UTF-8, maps as arrays of [k, v] pairs. */
export function toJs(buf: Buffer, node: RespNode): unknown {
  if (node.isNull) return null;
  switch (node.type) {
    case RespType.SimpleString:
    case RespType.BulkString:
    case RespType.VerbatimString:
      return nodeText(buf, node);
    case RespType.SimpleError:
    case RespType.BulkError:
      return new Error(buf.toString('utf8', node.dataStart, node.dataEnd));
    case RespType.Integer:
      return nodeInteger(buf, node);
    case RespType.Double: {
      const s = buf.toString('latin1', node.dataStart, node.dataEnd);
      return s === 'inf' ? Infinity : s === '-inf' ? -Infinity : Number(s);
    }
    case RespType.BigNumber:
      return BigInt(buf.toString('latin1', node.dataStart, node.dataEnd));
    case RespType.Boolean:
      return buf[node.dataStart] === 0x74;
    case RespType.Map: {
      const out: Array<[unknown, unknown]> = [];
      const c = node.children!;
      for (let i = 0; i < c.length; i += 2) out.push([toJs(buf, c[i]!), toJs(buf, c[i + 1]!)]);
      return out;
    }
    default:
      return node.children!.map((c) => toJs(buf, c));
  }
}
