/** RESP encoders for the replies dgf answers itself and for commands it sends upstream. */
import { Buffer } from 'node:buffer';
import { RespType } from './resp-types.js';
import type { RespNode } from './decode.js';

const CRLF = '\r\n';

/** `+OK\r\n` and friends, shared singletons (never mutated). */
export const OK = Buffer.from('+OK\r\n');
export const QUEUED = Buffer.from('+QUEUED\r\n');
export const NULL_BULK = Buffer.from('$-1\r\n');
export const NULL3 = Buffer.from('_\r\n');
export const RESET_REPLY = Buffer.from('+RESET\r\n');

export function simpleString(s: string): Buffer {
  return Buffer.from(`+${s}${CRLF}`);
}

/** An error reply; CR/LF in the message would break framing, so they become spaces. */
export function errorReply(message: string): Buffer {
  return Buffer.from(`-${message.replace(/[\r\n]+/g, ' ')}${CRLF}`);
}

export function integer(n: number): Buffer {
  return Buffer.from(`:${n}${CRLF}`);
}

export function bulk(value: string | Buffer | null, resp3 = false): Buffer {
  if (value === null) return resp3 ? NULL3 : NULL_BULK;
  const data = typeof value === 'string' ? Buffer.from(value) : value;
  const head = Buffer.from(`$${data.length}${CRLF}`);
  return Buffer.concat([head, data, Buffer.from(CRLF)]);
}

/** A command as a multibulk of bulk strings (what upstream expects). */
export function command(args: ReadonlyArray<string | Buffer>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}${CRLF}`)];
  for (const a of args) {
    const data = typeof a === 'string' ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${data.length}${CRLF}`), data, Buffer.from(CRLF));
  }
  return Buffer.concat(parts);
}

/** Plain values for HELLO-style replies: a map in RESP3, a flat array in RESP2. */
export type Plain = string | number | null | Plain[] | { [key: string]: Plain };

export function plain(value: Plain, resp3: boolean): string {
  if (value === null) return resp3 ? '_\r\n' : '$-1\r\n';
  if (typeof value === 'number') return `:${value}${CRLF}`;
  if (typeof value === 'string') return `$${Buffer.byteLength(value)}${CRLF}${value}${CRLF}`;
  if (Array.isArray(value)) return `*${value.length}${CRLF}${value.map((v) => plain(v, resp3)).join('')}`;
  const entries = Object.entries(value);
  const body = entries.map(([k, v]) => plain(k, resp3) + plain(v, resp3)).join('');
  return resp3 ? `%${entries.length}${CRLF}${body}` : `*${entries.length * 2}${CRLF}${body}`;
}

/** One leaf of a decoded frame replaced by new payload bytes. */
export interface Replacement {
  node: RespNode;
  payload: Buffer;
  /** `payload` is a whole encoded value that replaces the node (and any attribute before it), not a leaf's bytes. */
  raw?: boolean;
}

/** Where a replacement starts in the frame: a leaf keeps the attribute before it, a raw replacement does not. */
export function replacementStart(r: Replacement): number {
  return !r.raw && r.node.attribute ? r.node.attribute.end : r.node.start;
}

/**
 * Re-encode a frame with some string leaves replaced, copying every other byte range unchanged; each leaf keeps
 * its RESP type (a simple string stays simple and may not contain CR/LF, a verbatim string keeps its format).
 * `replacements` must be in ascending `replacementStart` order and must not nest.
 */
export function spliceFrame(buf: Buffer, start: number, end: number, replacements: readonly Replacement[]): Buffer {
  if (replacements.length === 0) return buf.subarray(start, end);
  const parts: Buffer[] = [];
  let pos = start;
  for (const r of replacements) {
    const { node, payload } = r;
    // Keep any attribute that precedes the leaf.
    parts.push(buf.subarray(pos, replacementStart(r)));
    parts.push(r.raw ? payload : encodeLeaf(buf, node, payload));
    pos = node.end;
  }
  parts.push(buf.subarray(pos, end));
  return Buffer.concat(parts);
}

function encodeLeaf(buf: Buffer, node: RespNode, payload: Buffer): Buffer {
  switch (node.type) {
    case RespType.SimpleString: {
      const clean = Buffer.from(payload.toString('latin1').replace(/[\r\n]/g, ' '), 'latin1');
      return Buffer.concat([Buffer.from('+'), clean, Buffer.from(CRLF)]);
    }
    case RespType.VerbatimString: {
      const format = buf.subarray(node.dataStart, Math.min(node.dataStart + 4, node.dataEnd));
      return Buffer.concat([Buffer.from(`=${format.length + payload.length}${CRLF}`), format, payload, Buffer.from(CRLF)]);
    }
    default:
      return Buffer.concat([Buffer.from(`$${payload.length}${CRLF}`), payload, Buffer.from(CRLF)]);
  }
}
