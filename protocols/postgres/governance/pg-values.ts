/**
 * Decoding and re-encoding of one PostgreSQL column value, in text and binary format, for the types a mask must
 * preserve. A masked value must still parse in every driver: an int4 stays 4 bytes, a numeric is a valid binary
 * numeric, a date stays an int32 day count. Encoders return null (SQL NULL, length -1) when the masked value
 * cannot be represented in the column's type: failing closed beats sending the clear value or corrupt bytes.
 */
import type { FieldPlan, LogicalType, MaskableValue, MaskStats } from '../../../src/policy/types.js';
import { maskBinaryTextArray, maskTextArray, TEXT_ARRAY_TYPES } from './pg-arrays.js';

/** Type OIDs from pg_type.dat that masking distinguishes. */
export const TypeOid = {
  bool: 16,
  bytea: 17,
  char: 18,
  name: 19,
  int8: 20,
  int2: 21,
  int4: 23,
  text: 25,
  oid: 26,
  json: 114,
  xml: 142,
  float4: 700,
  float8: 701,
  unknown: 705,
  bpchar: 1042,
  varchar: 1043,
  date: 1082,
  timestamp: 1114,
  timestamptz: 1184,
  numeric: 1700,
  uuid: 2950,
  jsonb: 3802,
} as const;

/** The logical type a mask sees for a type OID; everything not listed is handled as text. */
export function logicalTypeOf(typeOid: number): LogicalType {
  switch (typeOid) {
    case TypeOid.int2:
    case TypeOid.int4:
    case TypeOid.int8:
    case TypeOid.oid:
      return 'integer';
    case TypeOid.numeric:
    case TypeOid.float4:
    case TypeOid.float8:
      return 'numeric';
    case TypeOid.bool:
      return 'boolean';
    case TypeOid.date:
      return 'date';
    case TypeOid.timestamp:
    case TypeOid.timestamptz:
      return 'timestamp';
    case TypeOid.uuid:
      return 'uuid';
    case TypeOid.json:
    case TypeOid.jsonb:
      return 'json';
    case TypeOid.bytea:
      return 'bytes';
    default:
      return 'text';
  }
}

/** Types whose binary form is plain UTF-8 text (textsend / varcharsend / namesend / ...). */
const BINARY_TEXT_TYPES = new Set<number>([TypeOid.text, TypeOid.varchar, TypeOid.bpchar, TypeOid.name, TypeOid.unknown, TypeOid.xml, TypeOid.char]);

/**
 * One column's value codec. `decode` hands the mask the JS form documented in src/policy/types.ts; `encode`
 * turns the mask's answer back into the column's wire bytes (null: send SQL NULL).
 */
export interface ValueCodec {
  readonly type: LogicalType;
  /** Whether values can be decoded at all (false: an unknown binary type; masking it means sending NULL). */
  readonly decodable: boolean;
  decode(buf: Buffer, start: number, end: number): MaskableValue;
  encode(value: MaskableValue): Buffer | null;
  /**
   * Arrays: mask element by element instead of decode/apply/encode. Returns the new bytes, or undefined when
   * nothing changed.
   */
  maskElements?(buf: Buffer, start: number, end: number, plan: FieldPlan, stats: MaskStats): Buffer | undefined;
}

/** The codec for a column of `typeOid` in wire `format` (0 text, 1 binary). Codecs are shared singletons. */
export function codecFor(typeOid: number, format: number): ValueCodec {
  if (format === 0) return textCodec(typeOid);
  return binaryCodec(typeOid);
}

// ---------------------------------------------------------------------------------------------- text format

function textCodec(typeOid: number): ValueCodec {
  switch (typeOid) {
    case TypeOid.int2:
      return TEXT_INT2;
    case TypeOid.int4:
      return TEXT_INT4;
    case TypeOid.int8:
      return TEXT_INT8;
    case TypeOid.oid:
      return TEXT_OID;
    case TypeOid.numeric:
      return TEXT_NUMERIC;
    case TypeOid.float4:
    case TypeOid.float8:
      return TEXT_FLOAT;
    case TypeOid.bool:
      return TEXT_BOOL;
    case TypeOid.date:
      return TEXT_DATE;
    case TypeOid.timestamp:
      return TEXT_TIMESTAMP;
    case TypeOid.timestamptz:
      return TEXT_TIMESTAMPTZ;
    case TypeOid.uuid:
      return TEXT_UUID;
    case TypeOid.json:
    case TypeOid.jsonb:
      return TEXT_JSON;
    case TypeOid.bytea:
      return TEXT_BYTEA;
    default:
      if (TEXT_ARRAY_TYPES.has(typeOid)) return TEXT_ARRAY;
      return TEXT_LIKE_TYPES.has(typeOid) ? TEXT_TEXT : TEXT_OTHER;
  }
}

/** Types whose text form any text is valid for. */
const TEXT_LIKE_TYPES = BINARY_TEXT_TYPES;

function utf8(buf: Buffer, start: number, end: number): string {
  return buf.toString('utf8', start, end);
}

function textOf(s: string | null): Buffer | null {
  return s === null ? null : Buffer.from(s, 'utf8');
}

/** A text-format codec: the value as its text form, re-encoded after `canonical` validates the mask's answer. */
function textFormat(type: LogicalType, canonical: (v: MaskableValue) => string | null): ValueCodec {
  return {
    type,
    decodable: true,
    decode: utf8,
    encode: (v) => (v === null || v === undefined ? null : textOf(canonical(v))),
  };
}

const INT_RE = /^-?\d+$/;

function integerText(min: bigint, max: bigint): (v: MaskableValue) => string | null {
  return (v) => {
    let n: bigint;
    if (typeof v === 'bigint') n = v;
    else if (typeof v === 'number') {
      if (!Number.isFinite(v)) return null;
      n = BigInt(Math.trunc(v));
    } else if (typeof v === 'string' && INT_RE.test(v.trim())) n = BigInt(v.trim());
    else return null;
    return n < min || n > max ? null : n.toString();
  };
}

const INT2_RANGE: [bigint, bigint] = [-32768n, 32767n];
const INT4_RANGE: [bigint, bigint] = [-2147483648n, 2147483647n];
const INT8_RANGE: [bigint, bigint] = [-9223372036854775808n, 9223372036854775807n];
const OID_RANGE: [bigint, bigint] = [0n, 4294967295n];

const TEXT_INT2 = textFormat('integer', integerText(...INT2_RANGE));
const TEXT_INT4 = textFormat('integer', integerText(...INT4_RANGE));
const TEXT_INT8 = textFormat('integer', integerText(...INT8_RANGE));
const TEXT_OID = textFormat('integer', integerText(...OID_RANGE));

const NUMERIC_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const SPECIAL_NUMERIC = new Set(['NaN', 'Infinity', '-Infinity']);

/** A numeric's canonical decimal text (no exponent), or null when it is not a number. */
export function numericText(v: MaskableValue): string | null {
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return 'NaN';
    if (!Number.isFinite(v)) return v > 0 ? 'Infinity' : '-Infinity';
    return plainDecimal(String(v));
  }
  if (typeof v === 'bigint') return v.toString();
  if (typeof v !== 'string') return null;
  const s = v.trim();
  if (SPECIAL_NUMERIC.has(s)) return s;
  if (!NUMERIC_RE.test(s)) return null;
  return plainDecimal(s);
}

/** '1.5e3' -> '1500', '-.5' -> '-0.5'; decimal text without an exponent. */
function plainDecimal(s: string): string {
  let sign = '';
  if (s[0] === '-' || s[0] === '+') {
    if (s[0] === '-') sign = '-';
    s = s.slice(1);
  }
  const e = s.search(/[eE]/);
  let exp = 0;
  if (e >= 0) {
    exp = Number(s.slice(e + 1));
    s = s.slice(0, e);
  }
  const dot = s.indexOf('.');
  let int = dot >= 0 ? s.slice(0, dot) : s;
  let frac = dot >= 0 ? s.slice(dot + 1) : '';
  if (exp > 0) {
    frac = frac.padEnd(exp, '0');
    int += frac.slice(0, exp);
    frac = frac.slice(exp);
  } else if (exp < 0) {
    int = int.padStart(-exp + 1, '0');
    frac = int.slice(int.length + exp) + frac;
    int = int.slice(0, int.length + exp);
  }
  int = int.replace(/^0+(?=\d)/, '');
  if (int === '') int = '0';
  const out = frac.length > 0 ? `${int}.${frac}` : int;
  return sign && /[1-9]/.test(out) ? `-${out}` : out;
}

const TEXT_NUMERIC = textFormat('numeric', numericText);
const TEXT_FLOAT = textFormat('numeric', (v) => {
  if (typeof v === 'number') return Number.isNaN(v) ? 'NaN' : !Number.isFinite(v) ? (v > 0 ? 'Infinity' : '-Infinity') : String(v);
  return numericText(v);
});

function boolText(v: MaskableValue): string | null {
  if (typeof v === 'boolean') return v ? 't' : 'f';
  if (typeof v !== 'string') return null;
  const s = v.trim().toLowerCase();
  if (s === 't' || s === 'true' || s === 'on' || s === 'yes' || s === '1') return 't';
  if (s === 'f' || s === 'false' || s === 'off' || s === 'no' || s === '0') return 'f';
  return null;
}

const TEXT_BOOL = textFormat('boolean', boolText);

const DATE_RE = /^\d{4,}-\d{2}-\d{2}( BC)?$/;

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

/** 'YYYY-MM-DD' of a Date (UTC), or null outside years 1..9999. */
function isoDate(d: Date): string | null {
  const y = d.getUTCFullYear();
  if (Number.isNaN(y) || y < 1 || y > 9999) return null;
  return `${pad(y, 4)}-${pad(d.getUTCMonth() + 1, 2)}-${pad(d.getUTCDate(), 2)}`;
}

function dateText(v: MaskableValue): string | null {
  if (v instanceof Date) return isoDate(v);
  if (typeof v !== 'string') return null;
  const s = v.trim();
  if (s === 'infinity' || s === '-infinity' || DATE_RE.test(s)) return s;
  return null;
}

const TEXT_DATE = textFormat('date', dateText);

function timestampText(withZone: boolean): (v: MaskableValue) => string | null {
  return (v) => {
    if (v instanceof Date) {
      const day = isoDate(v);
      if (day === null) return null;
      const time = `${pad(v.getUTCHours(), 2)}:${pad(v.getUTCMinutes(), 2)}:${pad(v.getUTCSeconds(), 2)}.${pad(v.getUTCMilliseconds(), 3)}`;
      return `${day} ${time}${withZone ? '+00' : ''}`;
    }
    if (typeof v !== 'string') return null;
    const s = v.trim();
    if (s === 'infinity' || s === '-infinity') return s;
    // Any text PostgreSQL's timestamp input accepts starts with a date; the mask only ever hands back such forms.
    return /^\d{4,}-\d{2}-\d{2}/.test(s) ? s : null;
  };
}

const TEXT_TIMESTAMP = textFormat('timestamp', timestampText(false));
const TEXT_TIMESTAMPTZ = textFormat('timestamp', timestampText(true));

const UUID_RE = /^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$/;

function uuidText(v: MaskableValue): string | null {
  return typeof v === 'string' && UUID_RE.test(v.trim()) ? v.trim() : null;
}

const TEXT_UUID = textFormat('uuid', uuidText);

/** JSON text of a mask's answer (already text, or a parsed value); null when it is not valid JSON. */
function jsonText(v: MaskableValue): string | null {
  if (typeof v === 'string') {
    try {
      JSON.parse(v);
      return v;
    } catch {
      return null;
    }
  }
  try {
    const s = JSON.stringify(v);
    return s === undefined ? null : s;
  } catch {
    return null;
  }
}

const TEXT_JSON = textFormat('json', jsonText);

/**
 * Text form of a type with its own syntax (inet, interval, money, ranges, arrays of other types, ...): values can be
 * read and scanned, but a changed value could not be guaranteed to parse, so it becomes NULL.
 */
const TEXT_OTHER: ValueCodec = { type: 'text', decodable: true, decode: utf8, encode: () => null };

const TEXT_TEXT = textFormat('text', (v) => (typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean' ? String(v) : null));

/** bytea in text format: '\x' + hex (bytea_output = hex, the default since 9.0). */
const TEXT_BYTEA: ValueCodec = {
  type: 'bytes',
  decodable: true,
  decode(buf, start, end) {
    if (end - start >= 2 && buf[start] === 0x5c && buf[start + 1] === 0x78) return Buffer.from(buf.toString('latin1', start + 2, end), 'hex');
    // bytea_output = escape: hand over the raw text; a mask answer is then re-encoded as hex, which input accepts.
    return Buffer.from(buf.subarray(start, end));
  },
  encode(v) {
    if (v === null || v === undefined) return null;
    if (v instanceof Uint8Array) return Buffer.from(`\\x${Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('hex')}`, 'latin1');
    if (typeof v === 'string') return Buffer.from(`\\x${Buffer.from(v, 'utf8').toString('hex')}`, 'latin1');
    return null;
  },
};

// -------------------------------------------------------------------------------------------- binary format

function binaryCodec(typeOid: number): ValueCodec {
  switch (typeOid) {
    case TypeOid.int2:
      return BIN_INT2;
    case TypeOid.int4:
      return BIN_INT4;
    case TypeOid.int8:
      return BIN_INT8;
    case TypeOid.oid:
      return BIN_OID;
    case TypeOid.numeric:
      return BIN_NUMERIC;
    case TypeOid.float4:
      return BIN_FLOAT4;
    case TypeOid.float8:
      return BIN_FLOAT8;
    case TypeOid.bool:
      return BIN_BOOL;
    case TypeOid.date:
      return BIN_DATE;
    case TypeOid.timestamp:
    case TypeOid.timestamptz:
      return BIN_TIMESTAMP;
    case TypeOid.uuid:
      return BIN_UUID;
    case TypeOid.json:
      return BIN_JSON;
    case TypeOid.jsonb:
      return BIN_JSONB;
    case TypeOid.bytea:
      return BIN_BYTEA;
    default:
      if (TEXT_ARRAY_TYPES.has(typeOid)) return BIN_TEXT_ARRAY;
      return BINARY_TEXT_TYPES.has(typeOid) ? BIN_TEXT : BIN_OPAQUE;
  }
}

function intBinary(size: 2 | 4 | 8, range: [bigint, bigint], unsigned = false): ValueCodec {
  const canonical = integerText(...range);
  return {
    type: 'integer',
    decodable: true,
    decode(buf, start) {
      if (size === 2) return buf.readInt16BE(start);
      if (size === 4) return unsigned ? buf.readUInt32BE(start) : buf.readInt32BE(start);
      return buf.readBigInt64BE(start);
    },
    encode(v) {
      if (v === null || v === undefined) return null;
      const text = canonical(v);
      if (text === null) return null;
      const out = Buffer.allocUnsafe(size);
      if (size === 2) out.writeInt16BE(Number(text));
      else if (size === 4) {
        if (unsigned) out.writeUInt32BE(Number(text));
        else out.writeInt32BE(Number(text));
      } else out.writeBigInt64BE(BigInt(text));
      return out;
    },
  };
}

const BIN_INT2 = intBinary(2, INT2_RANGE);
const BIN_INT4 = intBinary(4, INT4_RANGE);
const BIN_INT8 = intBinary(8, INT8_RANGE);
const BIN_OID = intBinary(4, OID_RANGE, true);

function floatBinary(size: 4 | 8): ValueCodec {
  return {
    type: 'numeric',
    decodable: true,
    decode: (buf, start) => (size === 4 ? buf.readFloatBE(start) : buf.readDoubleBE(start)),
    encode(v) {
      if (v === null || v === undefined) return null;
      const n = typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : typeof v === 'string' && numericText(v) !== null ? Number(numericText(v)) : null;
      if (n === null) return null;
      const out = Buffer.allocUnsafe(size);
      if (size === 4) out.writeFloatBE(n);
      else out.writeDoubleBE(n);
      return out;
    },
  };
}

const BIN_FLOAT4 = floatBinary(4);
const BIN_FLOAT8 = floatBinary(8);

const NUMERIC_POS = 0x0000;
const NUMERIC_NEG = 0x4000;
const NUMERIC_NAN = 0xc000;
const NUMERIC_PINF = 0xd000;
const NUMERIC_NINF = 0xf000;

/** Binary numeric (numeric_send: ndigits, weight, sign, dscale, base-10000 digits) to decimal text. */
export function decodeNumeric(buf: Buffer, start: number): string {
  const ndigits = buf.readInt16BE(start);
  const weight = buf.readInt16BE(start + 2);
  const sign = buf.readUInt16BE(start + 4);
  const dscale = buf.readUInt16BE(start + 6);
  if (sign === NUMERIC_NAN) return 'NaN';
  if (sign === NUMERIC_PINF) return 'Infinity';
  if (sign === NUMERIC_NINF) return '-Infinity';
  const digit = (i: number): number => (i >= 0 && i < ndigits ? buf.readInt16BE(start + 8 + 2 * i) : 0);
  let int = '';
  if (weight < 0) int = '0';
  else for (let i = 0; i <= weight; i++) int += i === 0 ? String(digit(i)) : pad(digit(i), 4);
  let frac = '';
  for (let i = weight + 1; frac.length < dscale; i++) frac += pad(digit(i), 4);
  frac = frac.slice(0, dscale);
  const text = dscale > 0 ? `${int}.${frac}` : int;
  return sign === NUMERIC_NEG ? `-${text}` : text;
}

/** Decimal text (canonical, from numericText) to binary numeric. */
export function encodeNumeric(text: string): Buffer {
  if (text === 'NaN' || text === 'Infinity' || text === '-Infinity') {
    const out = Buffer.alloc(8);
    out.writeUInt16BE(text === 'NaN' ? NUMERIC_NAN : text === 'Infinity' ? NUMERIC_PINF : NUMERIC_NINF, 4);
    return out;
  }
  const negative = text.startsWith('-');
  const body = negative ? text.slice(1) : text;
  const dot = body.indexOf('.');
  const intDigits = (dot >= 0 ? body.slice(0, dot) : body).replace(/^0+/, '');
  const fracDigits = dot >= 0 ? body.slice(dot + 1) : '';
  const dscale = fracDigits.length;
  const intPadded = '0'.repeat((4 - (intDigits.length % 4)) % 4) + intDigits;
  const fracPadded = fracDigits + '0'.repeat((4 - (fracDigits.length % 4)) % 4);
  const groups: number[] = [];
  for (let i = 0; i < intPadded.length; i += 4) groups.push(Number(intPadded.slice(i, i + 4)));
  for (let i = 0; i < fracPadded.length; i += 4) groups.push(Number(fracPadded.slice(i, i + 4)));
  let weight = intPadded.length / 4 - 1;
  let first = 0;
  while (first < groups.length && groups[first] === 0) {
    first++;
    weight--;
  }
  let last = groups.length;
  while (last > first && groups[last - 1] === 0) last--;
  const digits = groups.slice(first, last);
  if (digits.length === 0) weight = 0;
  const out = Buffer.allocUnsafe(8 + 2 * digits.length);
  out.writeInt16BE(digits.length, 0);
  out.writeInt16BE(weight, 2);
  out.writeUInt16BE(negative && digits.length > 0 ? NUMERIC_NEG : NUMERIC_POS, 4);
  out.writeUInt16BE(dscale, 6);
  for (let i = 0; i < digits.length; i++) out.writeInt16BE(digits[i]!, 8 + 2 * i);
  return out;
}

const BIN_NUMERIC: ValueCodec = {
  type: 'numeric',
  decodable: true,
  decode: (buf, start) => decodeNumeric(buf, start),
  encode(v) {
    if (v === null || v === undefined) return null;
    const text = numericText(v);
    return text === null ? null : encodeNumeric(text);
  },
};

const BIN_BOOL: ValueCodec = {
  type: 'boolean',
  decodable: true,
  decode: (buf, start) => buf[start] !== 0,
  encode(v) {
    if (v === null || v === undefined) return null;
    const text = boolText(v);
    return text === null ? null : Buffer.from([text === 't' ? 1 : 0]);
  },
};

/** 2000-01-01, PostgreSQL's epoch for binary dates and timestamps, in ms since 1970. */
const PG_EPOCH_MS = Date.UTC(2000, 0, 1);
const DAY_MS = 86_400_000;
const DATE_PINF = 0x7fffffff;
const DATE_NINF = -0x80000000;

const BIN_DATE: ValueCodec = {
  type: 'date',
  decodable: true,
  decode(buf, start) {
    const days = buf.readInt32BE(start);
    if (days === DATE_PINF) return 'infinity';
    if (days === DATE_NINF) return '-infinity';
    const d = new Date(PG_EPOCH_MS + days * DAY_MS);
    return isoDate(d) ?? d;
  },
  encode(v) {
    if (v === null || v === undefined) return null;
    let days: number;
    if (v instanceof Date) {
      if (Number.isNaN(v.getTime())) return null;
      days = Math.floor((v.getTime() - PG_EPOCH_MS) / DAY_MS);
    } else {
      const text = dateText(v);
      if (text === null || text.endsWith(' BC')) return null;
      if (text === 'infinity') days = DATE_PINF;
      else if (text === '-infinity') days = DATE_NINF;
      else {
        const [y, m, d] = text.split('-').map(Number) as [number, number, number];
        const ms = Date.UTC(y, m - 1, d);
        if (Number.isNaN(ms)) return null;
        days = Math.round((ms - PG_EPOCH_MS) / DAY_MS);
      }
    }
    const out = Buffer.allocUnsafe(4);
    out.writeInt32BE(days);
    return out;
  },
};

const TS_PINF = 0x7fffffffffffffffn;
const TS_NINF = -0x8000000000000000n;

/** Binary timestamp/timestamptz: int64 microseconds since 2000-01-01 (UTC for timestamptz). */
const BIN_TIMESTAMP: ValueCodec = {
  type: 'timestamp',
  decodable: true,
  decode(buf, start) {
    const us = buf.readBigInt64BE(start);
    if (us === TS_PINF) return 'infinity';
    if (us === TS_NINF) return '-infinity';
    return new Date(PG_EPOCH_MS + Number(us / 1000n));
  },
  encode(v) {
    if (v === null || v === undefined) return null;
    let us: bigint;
    if (v === 'infinity') us = TS_PINF;
    else if (v === '-infinity') us = TS_NINF;
    else {
      const ms = v instanceof Date ? v.getTime() : typeof v === 'string' ? Date.parse(toIsoTimestamp(v)) : NaN;
      if (Number.isNaN(ms)) return null;
      us = BigInt(ms - PG_EPOCH_MS) * 1000n;
    }
    const out = Buffer.allocUnsafe(8);
    out.writeBigInt64BE(us);
    return out;
  },
};

/** Postgres text timestamps ('2024-01-02 03:04:05+00') to a form Date.parse reads. */
function toIsoTimestamp(s: string): string {
  let t = s.trim().replace(' ', 'T');
  if (/[+-]\d{2}$/.test(t)) t += ':00';
  return t;
}

const BIN_UUID: ValueCodec = {
  type: 'uuid',
  decodable: true,
  decode(buf, start) {
    const h = buf.toString('hex', start, start + 16);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  },
  encode(v) {
    const text = v === null || v === undefined ? null : uuidText(v);
    return text === null ? null : Buffer.from(text.replace(/-/g, ''), 'hex');
  },
};

const BIN_JSON: ValueCodec = { ...TEXT_JSON };

/** jsonb_send: a version byte (1) followed by the JSON text. */
const BIN_JSONB: ValueCodec = {
  type: 'json',
  decodable: true,
  decode: (buf, start, end) => buf.toString('utf8', start + 1, end),
  encode(v) {
    if (v === null || v === undefined) return null;
    const text = jsonText(v);
    if (text === null) return null;
    const len = Buffer.byteLength(text, 'utf8');
    const out = Buffer.allocUnsafe(1 + len);
    out[0] = 1;
    out.write(text, 1, 'utf8');
    return out;
  },
};

const BIN_BYTEA: ValueCodec = {
  type: 'bytes',
  decodable: true,
  decode: (buf, start, end) => Buffer.from(buf.subarray(start, end)),
  encode(v) {
    if (v === null || v === undefined) return null;
    if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    if (typeof v === 'string') return Buffer.from(v, 'utf8');
    return null;
  },
};

const BIN_TEXT: ValueCodec = { ...TEXT_TEXT };

/** A binary type dgf cannot decode (arrays, ranges, geometric, ...): a mask can only replace it with NULL. */
const BIN_OPAQUE: ValueCodec = {
  type: 'text',
  decodable: false,
  decode: () => null,
  encode: () => null,
};

/** text[] and friends in text format: the literal is kept, each element masked in place. */
const TEXT_ARRAY: ValueCodec = {
  type: 'text',
  decodable: true,
  decode: utf8,
  encode: () => null,
  maskElements(buf, start, end, plan, stats) {
    const out = maskTextArray(buf.toString('utf8', start, end), plan, stats);
    return out === undefined ? undefined : Buffer.from(out, 'utf8');
  },
};

/** text[] and friends in binary format (array_send): each element masked in place. */
const BIN_TEXT_ARRAY: ValueCodec = {
  type: 'text',
  decodable: true,
  decode: () => null,
  encode: () => null,
  maskElements: maskBinaryTextArray,
};
