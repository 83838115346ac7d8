/**
 * Replies dgf computes itself from the masked value, for a masked role (see masked-commands.ts): a window
 * (GETRANGE, SUBSTR), a length (STRLEN, HSTRLEN), bits (GETBIT, BITCOUNT, BITPOS, BITFIELD_RO GET), a longest common
 * subsequence (LCS), and the values of HVALS read from HGETALL. Redis would compute them from the clear value; dgf
 * asks Redis for the whole value, masks it as the role would see it, and answers with Redis' own semantics (index
 * rules, clamping, reply types, error texts) applied to the masked bytes.
 */
import { Buffer } from 'node:buffer';
import { byteWindow } from '../../src/governance/masked-window.js';
import { errorReply } from './codec/encode.js';
import { decodeFrame, stringBytes, type RespNode } from './codec/decode.js';
import { RespType } from './codec/resp-types.js';

const CRLF = '\r\n';
const NOT_INTEGER = 'ERR value is not an integer or out of range';
const SYNTAX = 'ERR syntax error';
const BIT_OFFSET = 'ERR bit offset is not an integer or out of range';
/** Redis' largest bit offset: 2^32 - 1 (a 512 MB string). */
const MAX_BIT_OFFSET = 4294967295n;

function int(n: number | bigint): Buffer {
  return Buffer.from(`:${n}${CRLF}`);
}

function bulkBytes(data: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(`$${data.length}${CRLF}`), data, Buffer.from(CRLF)]);
}

/** A Redis integer argument (`string2ll`: optional '-', digits, no leading zeros or '+', within int64). */
export function parseInteger(arg: Buffer | undefined): bigint | null {
  if (!arg || arg.length === 0 || arg.length > 20) return null;
  const s = arg.toString('latin1');
  if (!/^(0|-?[1-9][0-9]*)$/.test(s)) return null;
  const n = BigInt(s);
  if (n > 9223372036854775807n || n < -9223372036854775808n) return null;
  return n;
}

function same(arg: Buffer | undefined, word: string): boolean {
  return arg !== undefined && arg.length === word.length && arg.toString('latin1').toLowerCase() === word;
}

/**
 * The masked value of a reply to GET/HGET (already masked): its bytes, null for a missing key, or the frame itself
 * when it is an error (passed on as Redis' answer, e.g. WRONGTYPE).
 */
function valueOf(frame: Buffer): { bytes: Buffer | null; error: Buffer | null } {
  const t = frame[0];
  if (t === RespType.SimpleError || t === RespType.BulkError) return { bytes: null, error: frame };
  if (t === RespType.Null) return { bytes: null, error: null };
  const node = decodeFrame(frame);
  if (node.isNull) return { bytes: null, error: null };
  if (node.type === RespType.BulkString || node.type === RespType.VerbatimString || node.type === RespType.SimpleString) {
    return { bytes: stringBytes(frame, node), error: null };
  }
  // Not a string reply: fail closed.
  return { bytes: null, error: errorReply('ERR dgf: unexpected reply to a value read') };
}

// ---- windows and lengths --------------------------------------------------------------------------------------

/** GETRANGE/SUBSTR `start end` (validated integers) on the masked value. */
export function getRange(frame: Buffer, start: bigint, end: bigint): Buffer {
  const v = valueOf(frame);
  if (v.error) return v.error;
  const bytes = v.bytes ?? Buffer.alloc(0);
  const len = BigInt(bytes.length);
  if (start < 0n && end < 0n && start > end) return bulkBytes(Buffer.alloc(0));
  let s = start < 0n ? len + start : start;
  let e = end < 0n ? len + end : end;
  if (s < 0n) s = 0n;
  if (e < 0n) e = 0n;
  if (e >= len) e = len - 1n;
  if (s > e || len === 0n) return bulkBytes(Buffer.alloc(0));
  return bulkBytes(byteWindow(bytes, Number(s), Number(e) + 1));
}

/** STRLEN / HSTRLEN: the byte length of the masked value (0 when missing). */
export function length(frame: Buffer): Buffer {
  const v = valueOf(frame);
  if (v.error) return v.error;
  return int(v.bytes?.length ?? 0);
}

// ---- bits -----------------------------------------------------------------------------------------------------

function bitAt(bytes: Uint8Array, bit: bigint): number {
  const byte = Number(bit >> 3n);
  if (byte >= bytes.length) return 0;
  return (bytes[byte]! >> (7 - Number(bit & 7n))) & 1;
}

/** A bit offset argument of GETBIT/SETBIT (0 ... 2^32-1), or null. */
export function parseBitOffset(arg: Buffer | undefined): bigint | null {
  const n = parseInteger(arg);
  return n === null || n < 0n || n > MAX_BIT_OFFSET ? null : n;
}

/** GETBIT key offset on the masked value. */
export function getBit(frame: Buffer, offset: bigint): Buffer {
  const v = valueOf(frame);
  if (v.error) return v.error;
  return int(v.bytes ? bitAt(v.bytes, offset) : 0);
}

/**
 * SETBIT's answer from the (masked) reply to `MULTI; GET key; SETBIT ...; EXEC`: SETBIT's own error if it failed,
 * else the bit at `offset` of the masked old value.
 */
export function oldBit(frame: Buffer, offset: bigint): Buffer {
  const t = frame[0];
  if (t === RespType.SimpleError || t === RespType.BulkError) return frame;
  const root = decodeFrame(frame);
  const c = root.children;
  if (!c || c.length !== 2) return errorReply('ERR dgf: unexpected reply to a transaction');
  const set = c[1]!;
  if (set.type === RespType.SimpleError || set.type === RespType.BulkError) return frame.subarray(set.start, set.end);
  return getBit(frame.subarray(c[0]!.start, c[0]!.end), offset);
}

/** The bit range [first, last] (inclusive, in bits) of BITCOUNT/BITPOS `start end [BYTE|BIT]` on `len` bytes. */
function bitRange(len: number, start: bigint, end: bigint, isBit: boolean): [bigint, bigint] | null {
  let total = BigInt(len);
  if (isBit) total <<= 3n;
  let s = start < 0n ? total + start : start;
  let e = end < 0n ? total + end : end;
  if (s < 0n) s = 0n;
  if (e < 0n) e = 0n;
  if (e >= total) e = total - 1n;
  if (s > e) return null;
  return isBit ? [s, e] : [s * 8n, e * 8n + 7n];
}

/** BITCOUNT key [start end [BYTE|BIT]] (args from index 2) on the masked value. */
export function bitCount(frame: Buffer, args: readonly Buffer[]): Buffer {
  const v = valueOf(frame);
  if (v.error) return v.error;
  if (args.length !== 2 && args.length !== 4 && args.length !== 5) return errorReply(SYNTAX);
  let range: [bigint, bigint] | null = null;
  const bytes = v.bytes;
  if (args.length >= 4) {
    const start = parseInteger(args[2]);
    const end = parseInteger(args[3]);
    if (start === null || end === null) return errorReply(NOT_INTEGER);
    let isBit = false;
    if (args.length === 5) {
      if (same(args[4], 'bit')) isBit = true;
      else if (!same(args[4], 'byte')) return errorReply(SYNTAX);
    }
    if (!bytes) return int(0);
    if (start < 0n && end < 0n && start > end) return int(0);
    range = bitRange(bytes.length, start, end, isBit);
  } else {
    if (!bytes) return int(0);
    range = bytes.length === 0 ? null : [0n, BigInt(bytes.length) * 8n - 1n];
  }
  if (range === null) return int(0);
  return int(countBits(bytes, range[0], range[1]));
}

/** Set bits of a byte. */
const POPCOUNT = new Uint8Array(256).map((_, i) => {
  let n = 0;
  for (let b = i; b !== 0; b >>= 1) n += b & 1;
  return n;
});

/** Set bits in the inclusive bit range [first, last] (within the value). */
function countBits(bytes: Uint8Array, first: bigint, last: bigint): number {
  let count = 0;
  let b = first;
  for (; b <= last && (b & 7n) !== 0n; b++) count += bitAt(bytes, b);
  for (; b + 7n <= last; b += 8n) count += POPCOUNT[bytes[Number(b >> 3n)] ?? 0]!;
  for (; b <= last; b++) count += bitAt(bytes, b);
  return count;
}

/** The first bit equal to `bit` in the inclusive range [first, last], or -1. */
function findBit(bytes: Uint8Array, bit: number, first: bigint, last: bigint): bigint {
  const skip = bit === 1 ? 0x00 : 0xff;
  let b = first;
  while (b <= last) {
    if ((b & 7n) === 0n && b + 7n <= last && (bytes[Number(b >> 3n)] ?? 0) === skip) {
      b += 8n;
      continue;
    }
    if (bitAt(bytes, b) === bit) return b;
    b++;
  }
  return -1n;
}

/** BITPOS key bit [start [end [BYTE|BIT]]] (args from index 2) on the masked value. */
export function bitPos(frame: Buffer, args: readonly Buffer[]): Buffer {
  const v = valueOf(frame);
  if (v.error) return v.error;
  const bitArg = parseInteger(args[2]);
  if (bitArg === null) return errorReply(NOT_INTEGER);
  if (bitArg !== 0n && bitArg !== 1n) return errorReply('ERR The bit argument must be 1 or 0.');
  const bit = Number(bitArg);
  if (args.length > 6) return errorReply(SYNTAX);
  let start = 0n;
  let end: bigint | null = null;
  let isBit = false;
  if (args.length >= 4) {
    const s = parseInteger(args[3]);
    if (s === null) return errorReply(NOT_INTEGER);
    start = s;
    if (args.length === 6) {
      if (same(args[5], 'bit')) isBit = true;
      else if (!same(args[5], 'byte')) return errorReply(SYNTAX);
    }
    if (args.length >= 5) {
      const e = parseInteger(args[4]);
      if (e === null) return errorReply(NOT_INTEGER);
      end = e;
    }
  }
  const bytes = v.bytes;
  if (!bytes) return int(bit ? -1 : 0);
  let range: [bigint, bigint] | null;
  if (args.length === 3) {
    range = bytes.length === 0 ? null : [0n, BigInt(bytes.length) * 8n - 1n];
  } else {
    const total = isBit ? BigInt(bytes.length) * 8n : BigInt(bytes.length);
    range = bitRange(bytes.length, start, end ?? (isBit ? total + 7n : total - 1n), isBit);
  }
  if (range === null) return int(-1);
  const found = findBit(bytes, bit, range[0], range[1]);
  if (found >= 0n) return int(found);
  // No such bit in the range: a clear bit is found right after it when no end was given (zero padding).
  if (bit === 1 || end !== null) return int(-1);
  return int(range[1] + 1n);
}

/** One `GET <type> <offset>` of BITFIELD/BITFIELD_RO. */
export interface BitFieldGet {
  signed: boolean;
  bits: number;
  offset: bigint;
}

/**
 * The GET operations of a BITFIELD_RO (or of a BITFIELD made only of GET and OVERFLOW), or an error text; null when
 * the BITFIELD writes (SET, INCRBY).
 */
export function parseBitFieldGets(args: readonly Buffer[], readOnly: boolean): BitFieldGet[] | string | null {
  const out: BitFieldGet[] = [];
  for (let i = 2; i < args.length; i++) {
    const op = args[i]!.toString('latin1').toLowerCase();
    const more = args.length - 1 - i;
    if (op === 'get' && more >= 2) {
      const type = parseType(args[i + 1]!);
      if (typeof type === 'string') return type;
      const off = parseFieldOffset(args[i + 2]!, type.bits);
      if (off === null) return BIT_OFFSET;
      out.push({ ...type, offset: off });
      i += 2;
    } else if (readOnly) {
      return 'ERR BITFIELD_RO only supports the GET subcommand';
    } else if (op === 'overflow' && more >= 1) {
      const how = args[i + 1]!.toString('latin1').toLowerCase();
      if (how !== 'wrap' && how !== 'sat' && how !== 'fail') return 'ERR Invalid OVERFLOW type specified';
      i += 1;
    } else if ((op === 'set' || op === 'incrby') && more >= 3) {
      return null;
    } else {
      return SYNTAX;
    }
  }
  return out;
}

function parseType(arg: Buffer): { signed: boolean; bits: number } | string {
  const s = arg.toString('latin1');
  const m = /^([iIuU])([0-9]+)$/.exec(s);
  const bad = 'ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.';
  if (!m) return bad;
  const signed = m[1] === 'i' || m[1] === 'I';
  const bits = Number(m[2]);
  if (bits < 1 || (signed && bits > 64) || (!signed && bits > 63)) return bad;
  return { signed, bits };
}

function parseFieldOffset(arg: Buffer, bits: number): bigint | null {
  const hash = arg[0] === 35; // '#': in units of the type's width
  const n = parseInteger(hash ? arg.subarray(1) : arg);
  if (n === null || n < 0n) return null;
  const off = hash ? n * BigInt(bits) : n;
  return off > MAX_BIT_OFFSET ? null : off;
}

/** BITFIELD_RO / read-only BITFIELD GETs on the masked value: an array of integers. */
export function bitFieldGets(frame: Buffer, gets: readonly BitFieldGet[]): Buffer {
  const v = valueOf(frame);
  if (v.error) return v.error;
  const bytes = v.bytes ?? Buffer.alloc(0);
  const parts: Buffer[] = [Buffer.from(`*${gets.length}${CRLF}`)];
  for (const g of gets) {
    let n = 0n;
    for (let b = 0n; b < BigInt(g.bits); b++) n = (n << 1n) | BigInt(bitAt(bytes, g.offset + b));
    if (g.signed && g.bits > 0 && (n >> BigInt(g.bits - 1)) & 1n) n -= 1n << BigInt(g.bits);
    parts.push(int(n));
  }
  return Buffer.concat(parts);
}

// ---- LCS ------------------------------------------------------------------------------------------------------

/** LCS options (args from index 3). */
export interface LcsOptions {
  len: boolean;
  idx: boolean;
  withMatchLen: boolean;
  minMatchLen: number;
}

export function parseLcsOptions(args: readonly Buffer[]): LcsOptions | string {
  const o: LcsOptions = { len: false, idx: false, withMatchLen: false, minMatchLen: 0 };
  for (let j = 3; j < args.length; j++) {
    const opt = args[j]!.toString('latin1').toLowerCase();
    const more = args.length - 1 - j;
    if (opt === 'idx') o.idx = true;
    else if (opt === 'len') o.len = true;
    else if (opt === 'withmatchlen') o.withMatchLen = true;
    else if (opt === 'minmatchlen' && more > 0) {
      const n = parseInteger(args[j + 1]);
      if (n === null) return NOT_INTEGER;
      o.minMatchLen = n < 0n ? 0 : Number(n > 4294967295n ? 4294967295n : n);
      j++;
    } else return SYNTAX;
  }
  if (o.idx && o.len) return 'ERR If you want both the length and indexes, please just use IDX.';
  return o;
}

/** Cells of the LCS table dgf computes at most (4 bytes each): beyond it a masked role's LCS is refused. */
export const MAX_LCS_CELLS = 16 * 1024 * 1024;

/**
 * LCS of the two masked values of an MGET reply (already masked per key), with Redis' reply for the options: the
 * subsequence, its length (LEN), or the matches (IDX, a map in RESP3). A missing key is the empty string.
 */
export function lcs(frame: Buffer, o: LcsOptions, resp3: boolean): Buffer {
  const t = frame[0];
  if (t === RespType.SimpleError || t === RespType.BulkError) return frame;
  const root = decodeFrame(frame);
  const c = root.children;
  if (!c || c.length !== 2) return errorReply('ERR dgf: unexpected reply to a value read');
  const value = (n: RespNode): Buffer => (n.isNull || n.children ? Buffer.alloc(0) : stringBytes(frame, n));
  const a = value(c[0]!);
  const b = value(c[1]!);
  const alen = a.length;
  const blen = b.length;
  if ((alen + 1) * (blen + 1) > MAX_LCS_CELLS) {
    return errorReply('NOPERM dgf: LCS of values this long is not computed for a role that sees masked data');
  }
  const w = blen + 1;
  const table = new Uint32Array((alen + 1) * w);
  for (let i = 1; i <= alen; i++) {
    for (let j = 1; j <= blen; j++) {
      table[i * w + j] = a[i - 1] === b[j - 1] ? table[(i - 1) * w + j - 1]! + 1 : Math.max(table[(i - 1) * w + j]!, table[i * w + j - 1]!);
    }
  }
  const total = table[alen * w + blen]!;
  if (o.len && !o.idx) return int(total);
  // Walk back from the end, as Redis does, collecting the subsequence and the contiguous matching ranges.
  const result = Buffer.alloc(total);
  const matches: number[][] = [];
  let idx = total;
  let i = alen;
  let j = blen;
  let aStart = alen;
  let aEnd = 0;
  let bStart = 0;
  let bEnd = 0;
  while (i > 0 && j > 0) {
    let emit = false;
    if (a[i - 1] === b[j - 1]) {
      result[idx - 1] = a[i - 1]!;
      if (aStart === alen) {
        aStart = i - 1;
        aEnd = i - 1;
        bStart = j - 1;
        bEnd = j - 1;
      } else if (aStart === i && bStart === j) {
        aStart--;
        bStart--;
      } else {
        emit = true;
      }
      if (aStart === 0 || bStart === 0) emit = true;
      idx--;
      i--;
      j--;
    } else {
      if (table[(i - 1) * w + j]! > table[i * w + j - 1]!) i--;
      else j--;
      if (aStart !== alen) emit = true;
    }
    if (emit) {
      const matchLen = aEnd - aStart + 1;
      if (o.minMatchLen === 0 || matchLen >= o.minMatchLen) matches.push([aStart, aEnd, bStart, bEnd, matchLen]);
      aStart = alen;
    }
  }
  if (!o.idx) return bulkBytes(result);
  const parts: string[] = [];
  parts.push(resp3 ? `%2${CRLF}` : `*4${CRLF}`, `$7${CRLF}matches${CRLF}`, `*${matches.length}${CRLF}`);
  for (const [as, ae, bs, be, ml] of matches) {
    parts.push(`*${o.withMatchLen ? 3 : 2}${CRLF}*2${CRLF}:${as}${CRLF}:${ae}${CRLF}*2${CRLF}:${bs}${CRLF}:${be}${CRLF}`);
    if (o.withMatchLen) parts.push(`:${ml}${CRLF}`);
  }
  parts.push(`$3${CRLF}len${CRLF}:${total}${CRLF}`);
  return Buffer.from(parts.join(''));
}

// ---- HVALS ----------------------------------------------------------------------------------------------------

/** HVALS from a (masked) HGETALL reply: the values in the hash's order, as an array. */
export function hashValues(frame: Buffer): Buffer {
  const t = frame[0];
  if (t === RespType.SimpleError || t === RespType.BulkError) return frame;
  const root = decodeFrame(frame);
  const c = root.children ?? [];
  const parts: Buffer[] = [Buffer.from(`*${c.length >> 1}${CRLF}`)];
  for (let i = 1; i < c.length; i += 2) parts.push(frame.subarray(c[i]!.start, c[i]!.end));
  return Buffer.concat(parts);
}

/**
 * A SORT reply with the `GET #` dgf put first among the GET patterns removed: every `stride`-th element, starting
 * with the first, goes.
 */
export function dropInjected(frame: Buffer, stride: number): Buffer {
  const t = frame[0];
  if (t === RespType.SimpleError || t === RespType.BulkError || stride < 2) return frame;
  const root = decodeFrame(frame);
  const c = root.children;
  if (!c) return frame;
  const kept: Buffer[] = [];
  for (let i = 0; i < c.length; i++) if (i % stride !== 0) kept.push(frame.subarray(c[i]!.start, c[i]!.end));
  return Buffer.concat([Buffer.from(`*${kept.length}${CRLF}`), ...kept]);
}

/**
 * The name a SORT GET pattern reads for `element`, as Redis' lookupKeyByPattern: the first `*` replaced by the
 * element, `->field` after it naming a hash field (classified as `key:field`); `#` is the element itself (named by
 * the sorted key); a pattern without `*` reads nothing.
 */
export function sortPatternName(pattern: string, element: string, sortedKey: string): string {
  if (pattern === '#') return sortedKey;
  const star = pattern.indexOf('*');
  if (star < 0) return pattern;
  const arrow = pattern.indexOf('->', star + 1);
  if (arrow >= 0 && arrow + 2 < pattern.length) {
    return `${pattern.slice(0, star)}${element}${pattern.slice(star + 1, arrow)}:${pattern.slice(arrow + 2)}`;
  }
  return `${pattern.slice(0, star)}${element}${pattern.slice(star + 1)}`;
}
