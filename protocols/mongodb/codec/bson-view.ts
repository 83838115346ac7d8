/**
 * Lazy, bounds-checked access to BSON bytes (after the driver's OnDemandDocument): iterate a document's
 * elements in place, read the few fields a proxy needs, and never trust a length. Every length is checked
 * against its enclosing document so a document whose lengths lie fails with InvalidBSON instead of reading
 * past its end.
 */
import { ProtocolError } from '../../shared/errors.js';
import { ErrorCode } from './constants.js';

/** BSON element type bytes. */
export const BsonType = {
  double: 0x01,
  string: 0x02,
  object: 0x03,
  array: 0x04,
  binary: 0x05,
  undefined: 0x06,
  objectId: 0x07,
  bool: 0x08,
  date: 0x09,
  null: 0x0a,
  regex: 0x0b,
  dbPointer: 0x0c,
  javascript: 0x0d,
  symbol: 0x0e,
  javascriptWithScope: 0x0f,
  int32: 0x10,
  timestamp: 0x11,
  int64: 0x12,
  decimal128: 0x13,
  minKey: 0xff,
  maxKey: 0x7f,
} as const;

/** A BSON document (or element) that is not what its lengths claim. */
export class InvalidBsonError extends ProtocolError {
  constructor(message: string) {
    super(`invalid BSON: ${message}`, String(ErrorCode.InvalidBSON), false);
    this.name = 'InvalidBsonError';
  }
}

/** Validate the size prefix of a document at `start`; returns its exclusive end. */
export function documentEnd(buf: Uint8Array, start: number, limit: number = buf.length): number {
  if (start < 0 || start + 5 > limit) throw new InvalidBsonError('document header past the end of its container');
  const size = (buf[start]! | (buf[start + 1]! << 8) | (buf[start + 2]! << 16) | (buf[start + 3]! << 24)) >>> 0;
  if (size < 5 || start + size > limit) throw new InvalidBsonError(`document length ${size} does not fit its container`);
  if (buf[start + size - 1] !== 0) throw new InvalidBsonError('document does not end with a zero byte');
  return start + size;
}

function int32At(buf: Uint8Array, at: number): number {
  return buf[at]! | (buf[at + 1]! << 8) | (buf[at + 2]! << 16) | (buf[at + 3]! << 24);
}

/**
 * Cursor over one document's elements. Reused by resetting; fields are plain numbers so iterating allocates
 * nothing until a name or value is asked for.
 */
const EMPTY = new Uint8Array(0);

export class BsonIterator {
  buf: Uint8Array = EMPTY;
  /** Start of the current element (its type byte). */
  elementStart = 0;
  type = 0;
  nameStart = 0;
  nameEnd = 0;
  valueStart = 0;
  valueEnd = 0;
  private pos = 0;
  private end = 0;

  /** Iterate the document starting at `start`; validates its header against `limit`. */
  reset(buf: Uint8Array, start: number, limit: number = buf.length): this {
    this.buf = buf;
    const docEnd = documentEnd(buf, start, limit);
    this.pos = start + 4;
    this.end = docEnd - 1;
    return this;
  }

  /** Advance to the next element; false at the end of the document. */
  next(): boolean {
    const buf = this.buf;
    const pos = this.pos;
    const end = this.end;
    if (pos >= end) return false;
    this.elementStart = pos;
    const type = buf[pos]!;
    this.type = type;
    let n = pos + 1;
    this.nameStart = n;
    while (n < end && buf[n] !== 0) n++;
    if (n >= end) throw new InvalidBsonError('element name is not terminated');
    this.nameEnd = n;
    const v = n + 1;
    this.valueStart = v;
    let size: number;
    switch (type) {
      case BsonType.double:
      case BsonType.date:
      case BsonType.int64:
      case BsonType.timestamp:
        size = 8;
        break;
      case BsonType.int32:
        size = 4;
        break;
      case BsonType.decimal128:
        size = 16;
        break;
      case BsonType.objectId:
        size = 12;
        break;
      case BsonType.bool:
        size = 1;
        break;
      case BsonType.undefined:
      case BsonType.null:
      case BsonType.minKey:
      case BsonType.maxKey:
        size = 0;
        break;
      case BsonType.string:
      case BsonType.javascript:
      case BsonType.symbol: {
        if (v + 4 > end) throw new InvalidBsonError('string length past the end of the document');
        const len = int32At(buf, v);
        if (len < 1 || v + 4 + len > end || buf[v + 4 + len - 1] !== 0) throw new InvalidBsonError(`string length ${len} is wrong`);
        size = 4 + len;
        break;
      }
      case BsonType.object:
      case BsonType.array:
        size = documentEnd(buf, v, end) - v;
        break;
      case BsonType.binary: {
        if (v + 5 > end) throw new InvalidBsonError('binary length past the end of the document');
        const len = int32At(buf, v);
        if (len < 0 || v + 5 + len > end) throw new InvalidBsonError(`binary length ${len} is wrong`);
        size = 5 + len;
        break;
      }
      case BsonType.regex: {
        let r = v;
        while (r < end && buf[r] !== 0) r++;
        r++;
        while (r < end && buf[r] !== 0) r++;
        if (r >= end) throw new InvalidBsonError('regex is not terminated');
        size = r + 1 - v;
        break;
      }
      case BsonType.dbPointer: {
        if (v + 4 > end) throw new InvalidBsonError('dbPointer past the end');
        const len = int32At(buf, v);
        if (len < 1 || v + 4 + len + 12 > end) throw new InvalidBsonError('dbPointer length is wrong');
        size = 4 + len + 12;
        break;
      }
      case BsonType.javascriptWithScope: {
        if (v + 4 > end) throw new InvalidBsonError('code with scope past the end');
        const len = int32At(buf, v);
        if (len < 14 || v + len > end) throw new InvalidBsonError('code with scope length is wrong');
        size = len;
        break;
      }
      default:
        throw new InvalidBsonError(`unknown element type 0x${type.toString(16)}`);
    }
    const ve = v + size;
    if (ve > end) throw new InvalidBsonError('element value past the end of the document');
    this.valueEnd = ve;
    this.pos = ve;
    return true;
  }

  /** The current element's name. */
  name(): string {
    return utf8(this.buf, this.nameStart, this.nameEnd);
  }

  /** Whether the current element's name equals an ASCII `name` (no string allocated). */
  nameIs(name: string): boolean {
    const len = this.nameEnd - this.nameStart;
    if (len !== name.length) return false;
    const buf = this.buf;
    const s = this.nameStart;
    for (let i = 0; i < len; i++) if (buf[s + i] !== name.charCodeAt(i)) return false;
    return true;
  }

  /** String value of a string/javascript/symbol element. */
  stringValue(): string {
    return utf8(this.buf, this.valueStart + 4, this.valueEnd - 1);
  }

  int32Value(): number {
    return int32At(this.buf, this.valueStart);
  }

  /** Number of a double/int32/int64 element (int64 may lose precision; cursor ids use bigintValue). */
  numberValue(): number {
    switch (this.type) {
      case BsonType.int32:
        return int32At(this.buf, this.valueStart);
      case BsonType.double:
        return view(this.buf).getFloat64(this.valueStart, true);
      case BsonType.int64:
        return Number(view(this.buf).getBigInt64(this.valueStart, true));
      case BsonType.bool:
        return this.buf[this.valueStart] ? 1 : 0;
      default:
        return NaN;
    }
  }

  bigintValue(): bigint {
    if (this.type === BsonType.int64) return view(this.buf).getBigInt64(this.valueStart, true);
    return BigInt(Math.trunc(this.numberValue()) || 0);
  }
}

const decoder = new TextDecoder('utf-8');

function utf8(buf: Uint8Array, start: number, end: number): string {
  // Short ASCII names dominate; building them by char code beats TextDecoder's call overhead.
  if (end - start <= 24) {
    let s = '';
    for (let i = start; i < end; i++) {
      const c = buf[i]!;
      if (c >= 0x80) return decoder.decode(buf.subarray(start, end));
      s += String.fromCharCode(c);
    }
    return s;
  }
  return Buffer.isBuffer(buf) ? buf.toString('utf8', start, end) : decoder.decode(buf.subarray(start, end));
}

function view(buf: Uint8Array): DataView {
  // Offset-aware: a Buffer is often a view into a larger pooled ArrayBuffer.
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Find a top-level element by (ASCII) name; returns a positioned iterator or null. */
export function findElement(buf: Uint8Array, start: number, name: string, it: BsonIterator = new BsonIterator()): BsonIterator | null {
  it.reset(buf, start);
  while (it.next()) if (it.nameIs(name)) return it;
  return null;
}

/** Name of the first element (a command's name). */
export function firstElementName(buf: Uint8Array, start = 0): string | null {
  const it = new BsonIterator().reset(buf, start);
  return it.next() ? it.name() : null;
}
