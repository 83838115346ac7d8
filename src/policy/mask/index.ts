/**
 * The nine mask methods of SPEC, each type-preserving for every logical type: the output has the same JS type
 * and stays a valid value of the type (a masked int4 still fits int4, a masked date is still a date, a uuid is
 * still a uuid, JSON stays JSON, bytes stay bytes). null and undefined pass through unchanged.
 */
import type { LogicalType, MaskMethod, MaskableValue } from '../types.js';
import { fakeKindOf, fakeRng, fakeText } from './fake.js';
import { detokenizeString, tokenizeString } from './fpe.js';
import type { Keyring } from './keyring.js';

export { Keyring, DEVELOPMENT_HASH_KEY } from './keyring.js';

/** Every mask method, in the order error messages list them. */
export const MASK_METHODS: readonly MaskMethod[] = ['redact', 'null', 'partial', 'last4', 'email', 'hash', 'tokenize', 'generalize', 'fake'];

/** A compiled mask: method plus its options. */
export interface MaskSpec {
  readonly method: MaskMethod;
  /** partial: how many characters/digits stay clear at each end. Default {first: 1, last: 1}; last4 is {0, 4}. */
  readonly keep?: { readonly first?: number; readonly last?: number };
  /** generalize on dates: default 'month'. */
  readonly granularity?: 'month' | 'year';
  /** generalize on numbers: bucket width, default 10. */
  readonly bucket?: number;
  /** fake: what kind of value to invent (a label or detector name, e.g. 'pii.email'). */
  readonly kind?: string;
}

/** Text that replaces a redacted string or span. */
export const REDACTED = '[REDACTED]';
const NIL_UUID = '00000000-0000-0000-0000-000000000000';
const INT4_MAX = 2147483647n;
const INT8_MAX = 9223372036854775807n;
const SAFE_MAX = BigInt(Number.MAX_SAFE_INTEGER);
const DAY_MS = 86_400_000;
const DAY0 = Date.UTC(1900, 0, 1);
const DAY_SPAN = 73_049; // days from 1900-01-01 to 2100-01-01

function keepOf(spec: MaskSpec): { first: number; last: number } {
  if (spec.method === 'last4') return { first: 0, last: 4 };
  return { first: spec.keep?.first ?? 1, last: spec.keep?.last ?? 1 };
}

// ---------------------------------------------------------------------------------------------------------------
// text

/** Mask alphanumerics except the first/last ones; separators stay, so `4111 1111 1111 1111` -> `**** **** **** 1111`. */
export function partialText(s: string, first: number, last: number, maskChar = '*'): string {
  let count = 0;
  for (let i = 0; i < s.length; i++) if (isAlnum(s.charCodeAt(i))) count++;
  const revealAll = count > first + last;
  let out = '';
  let k = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!isAlnum(c)) {
      out += s[i];
      continue;
    }
    out += revealAll && (k < first || k >= count - last) ? s[i] : maskChar;
    k++;
  }
  return out;
}

function isAlnum(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c > 127;
}

/** `alice@example.com` -> `a***@example.com`; a non-address keeps its first character only. */
export function emailText(s: string): string {
  const at = s.lastIndexOf('@');
  if (at <= 0) return partialText(s, 1, 0);
  return `${s[0]}***${s.slice(at)}`;
}

function hashText(s: string, keys: Keyring): string {
  return keys.hash(s).toString('hex', 0, 12);
}

function generalizeText(s: string, spec: MaskSpec): string {
  const d = /^(\d{4})-(\d{2})-(\d{2})/.exec(s);
  if (d) return generalizeDateString(s, spec);
  if (/^-?\d+(\.\d+)?$/.test(s)) {
    const b = spec.bucket ?? 10;
    const lo = Math.floor(Number(s) / b) * b;
    return `${lo}-${lo + b - 1}`;
  }
  return REDACTED;
}

/** Mask a whole text value. */
export function maskText(spec: MaskSpec, s: string, keys: Keyring): string | null {
  switch (spec.method) {
    case 'redact': return REDACTED;
    case 'null': return null;
    case 'partial':
    case 'last4': {
      const k = keepOf(spec);
      return partialText(s, k.first, k.last);
    }
    case 'email': return emailText(s);
    case 'hash': return hashText(s, keys);
    case 'tokenize': return tokenizeString(s, keys);
    case 'generalize': return generalizeText(s, spec);
    case 'fake': return fakeText(s, fakeKindOf(spec.kind), keys);
  }
}

/** Mask an entity found inside a longer text: never null (the rest of the text stays). */
export function maskSpan(spec: MaskSpec, span: string, keys: Keyring): string {
  return maskText(spec, span, keys) ?? REDACTED;
}

// ---------------------------------------------------------------------------------------------------------------
// integer / numeric

function bigOf(value: unknown): bigint | null {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number') return Number.isInteger(value) ? BigInt(value) : null;
  if (typeof value === 'string' && /^\s*[-+]?\d+\s*$/.test(value)) return BigInt(value.trim());
  return null;
}

function sameIntForm(original: unknown, r: bigint): MaskableValue {
  if (typeof original === 'bigint') return r;
  if (typeof original === 'number') return Number(r);
  return r.toString();
}

function intLimit(original: unknown, abs: bigint): bigint {
  if (abs <= INT4_MAX) return INT4_MAX;
  if (typeof original === 'number') return SAFE_MAX;
  return INT8_MAX;
}

function digitsKeep(abs: string, first: number, last: number): string {
  let out = '';
  for (let i = 0; i < abs.length; i++) out += i < first || i >= abs.length - last ? abs[i] : '0';
  return out;
}

function maskInteger(spec: MaskSpec, value: unknown, keys: Keyring): MaskableValue {
  const v = bigOf(value);
  if (v === null) {
    // Not an integer (e.g. 'NaN' text, a fractional number): fall back to the numeric mask of its form.
    return typeof value === 'number' || typeof value === 'string' ? maskNumeric(spec, value, keys) : value;
  }
  const neg = v < 0n;
  const abs = neg ? -v : v;
  const absStr = abs.toString();
  const limit = intLimit(value, abs);
  let r: bigint;
  switch (spec.method) {
    case 'redact':
    case 'email':
      r = 0n;
      break;
    case 'null':
      return null;
    case 'partial':
    case 'last4': {
      const k = keepOf(spec);
      const n = absStr.length;
      r = BigInt(n <= k.first + k.last ? '0' : digitsKeep(absStr, k.first, k.last));
      if (neg) r = -r;
      break;
    }
    case 'hash': {
      const h = BigInt('0x' + keys.hash(v.toString()).toString('hex', 0, 16));
      r = h % (limit + 1n);
      break;
    }
    case 'tokenize': {
      const ok = (t: string): boolean => (t.length === 1 || t[0] !== '0') && BigInt(t) <= limit;
      r = BigInt(tokenizeString(absStr, keys, ok));
      if (neg) r = -r;
      break;
    }
    case 'generalize': {
      const b = BigInt(Math.max(1, Math.trunc(spec.bucket ?? 10)));
      r = v >= 0n ? (v / b) * b : -(((-v + b - 1n) / b) * b);
      break;
    }
    case 'fake': {
      const rng = fakeRng(keys, `int|${v}`);
      let s = '';
      for (let i = 0; i < absStr.length; i++) s += String(i === 0 && absStr.length > 1 ? 1 + rng.next(9) : rng.next(10));
      r = BigInt(s) % (limit + 1n);
      if (neg) r = -r;
      break;
    }
  }
  return sameIntForm(value, r);
}

interface Dec {
  neg: boolean;
  int: string;
  frac: string;
}

function decOf(value: unknown): Dec | null {
  const s = typeof value === 'number' ? (Number.isFinite(value) ? String(value) : '') : typeof value === 'string' ? value.trim() : '';
  const m = /^([-+]?)(\d+)(?:\.(\d*))?$/.exec(s);
  if (!m) return null;
  return { neg: m[1] === '-', int: m[2]!, frac: m[3] ?? '' };
}

function decForm(original: unknown, d: Dec): MaskableValue {
  let int = d.int.replace(/^0+(?=\d)/, '');
  if (int === '') int = '0';
  const text = `${d.neg ? '-' : ''}${int}${d.frac.length > 0 || (typeof original === 'string' && original.includes('.')) ? '.' + d.frac : ''}`;
  if (typeof original === 'number') {
    const n = Number(text);
    return Object.is(n, -0) ? 0 : n;
  }
  return text;
}

function zero(s: string): string {
  return s.replace(/\d/g, '0');
}

/** Whether String(n) is plain decimal (no exponent), i.e. decOf(n) succeeds: ECMAScript uses exponents outside [1e-6, 1e21). */
function plainDecimal(n: number): boolean {
  const abs = Math.abs(n);
  return abs === 0 || (abs >= 1e-6 && abs < 1e21);
}

function maskNumeric(spec: MaskSpec, value: unknown, keys: Keyring): MaskableValue {
  if (typeof value === 'bigint') return maskInteger(spec, value, keys);
  if (spec.method === 'generalize' && typeof value === 'number' && plainDecimal(value)) {
    // Same bucket as the decimal-text path below (String(n) round-trips to n), without formatting and parsing
    // it; + 0 turns -0 into 0 as that path does.
    const b = spec.bucket ?? 10;
    return Math.floor(value / b) * b + 0;
  }
  const d = decOf(value);
  if (d === null) {
    // NaN, Infinity, exponent forms: a constant keeps the type without leaking the value.
    if (spec.method === 'null') return null;
    return typeof value === 'number' ? 0 : typeof value === 'string' ? '0' : value;
  }
  switch (spec.method) {
    case 'redact':
    case 'email':
      return decForm(value, { neg: false, int: '0', frac: zero(d.frac) });
    case 'null':
      return null;
    case 'partial':
    case 'last4': {
      const k = keepOf(spec);
      const all = digitsKeep(d.int + d.frac, k.first, k.last);
      const masked = all.length <= k.first + k.last ? zero(all) : all;
      return decForm(value, { neg: d.neg, int: masked.slice(0, d.int.length), frac: masked.slice(d.int.length) });
    }
    case 'hash':
    case 'fake': {
      const rng = fakeRng(keys, `${spec.method}|num|${d.neg ? '-' : ''}${d.int}.${d.frac}`);
      const gen = (len: number, lead: boolean): string => {
        let s = '';
        for (let i = 0; i < len; i++) s += String(lead && i === 0 && len > 1 ? 1 + rng.next(9) : rng.next(10));
        return s;
      };
      return decForm(value, { neg: spec.method === 'fake' ? d.neg : false, int: gen(d.int.length, true), frac: gen(d.frac.length, false) });
    }
    case 'tokenize': {
      const intLen = d.int.length;
      const numberForm = typeof value === 'number';
      const ok = (t: string): boolean =>
        (intLen === 1 || t[0] !== '0') && (!numberForm || t.length === intLen || t[t.length - 1] !== '0');
      const t = tokenizeString(d.int + d.frac, keys, ok);
      return decForm(value, { neg: d.neg, int: t.slice(0, intLen), frac: t.slice(intLen) });
    }
    case 'generalize': {
      const b = spec.bucket ?? 10;
      const n = Math.floor(Number(`${d.neg ? '-' : ''}${d.int}.${d.frac || '0'}`) / b) * b;
      if (typeof value === 'number') return n;
      return d.frac.length > 0 ? n.toFixed(d.frac.length) : String(n);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// boolean

function maskBoolean(spec: MaskSpec, value: unknown, keys: Keyring): MaskableValue {
  let b: boolean;
  let form: 'bool' | 'tf' | 'TF' | 'word' | 'WORD' | '01';
  if (typeof value === 'boolean') {
    b = value;
    form = 'bool';
  } else if (typeof value === 'string') {
    const s = value.trim();
    const lower = s.toLowerCase();
    if (lower === 't' || lower === 'f') { b = lower === 't'; form = s === lower ? 'tf' : 'TF'; }
    else if (lower === 'true' || lower === 'false') { b = lower === 'true'; form = s === lower ? 'word' : 'WORD'; }
    else if (s === '1' || s === '0') { b = s === '1'; form = '01'; }
    else return spec.method === 'null' ? null : 'f';
  } else {
    return value;
  }
  let r: boolean;
  switch (spec.method) {
    case 'null': return null;
    case 'hash': r = (keys.hash(String(b))[0]! & 1) === 1; break;
    case 'fake': r = (keys.seed(`bool|${b}`)[0]! & 1) === 1; break;
    case 'tokenize': r = b !== ((keys.round('bool')[0]! & 1) === 1); break; // keyed flip: reversible
    default: r = false;
  }
  switch (form) {
    case 'bool': return r;
    case 'tf': return r ? 't' : 'f';
    case 'TF': return r ? 'T' : 'F';
    case 'word': return r ? 'true' : 'false';
    case 'WORD': return r ? 'TRUE' : 'FALSE';
    case '01': return r ? '1' : '0';
  }
}

// ---------------------------------------------------------------------------------------------------------------
// date / timestamp

function ymd(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

function dayIndexToken(day: number, keys: Keyring, decrypt: boolean): number {
  const ok = (t: string): boolean => Number(t) < DAY_SPAN;
  const s = String(day).padStart(5, '0');
  return Number(decrypt ? detokenizeString(s, keys, ok) : tokenizeString(s, keys, ok));
}

/** New UTC midnight (ms) for a date at `ms`, per method; null for 'null'. `keepTime` says whether time survives. */
function maskDay(spec: MaskSpec, ms: number, keys: Keyring): { day: number; keepTime: boolean } | null {
  const day = Math.floor(ms / DAY_MS) * DAY_MS;
  switch (spec.method) {
    case 'null': return null;
    case 'hash': {
      const h = keys.hash(`date|${ymd(ms)}`).readUInt32BE(0) % DAY_SPAN;
      return { day: DAY0 + h * DAY_MS, keepTime: false };
    }
    case 'fake': {
      const rng = fakeRng(keys, `date|${ymd(ms)}`);
      return { day: Date.UTC(1940 + rng.next(66), rng.next(12), 1 + rng.next(28)), keepTime: false };
    }
    case 'tokenize': {
      const idx = Math.round((day - DAY0) / DAY_MS);
      if (idx < 0 || idx >= DAY_SPAN) return maskDay({ method: 'hash' }, ms, keys);
      return { day: DAY0 + dayIndexToken(idx, keys, false) * DAY_MS, keepTime: true };
    }
    case 'generalize': {
      const d = new Date(ms);
      return { day: Date.UTC(d.getUTCFullYear(), spec.granularity === 'year' ? 0 : d.getUTCMonth(), 1), keepTime: false };
    }
    default:
      return { day: 0, keepTime: false };
  }
}

function generalizeDateString(s: string, spec: MaskSpec): string {
  return spec.granularity === 'year' ? `${s.slice(0, 4)}-01-01${s.slice(10).replace(/\d/g, '0')}` : `${s.slice(0, 7)}-01${s.slice(10).replace(/\d/g, '0')}`;
}

function maskDate(spec: MaskSpec, value: unknown, keys: Keyring): MaskableValue {
  if (value instanceof Date) {
    const ms = value.getTime();
    if (Number.isNaN(ms)) return value;
    const r = maskDay(spec, ms, keys);
    if (r === null) return null;
    return new Date(r.day + (r.keepTime ? ms - Math.floor(ms / DAY_MS) * DAY_MS : 0));
  }
  if (typeof value !== 'string') return value;
  const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(value);
  if (!m) {
    if (/^[-+]?infinity$/i.test(value.trim())) return spec.method === 'null' ? null : value;
    return spec.method === 'null' ? null : '1970-01-01';
  }
  const ms = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  if (Number.isNaN(ms)) return '1970-01-01';
  const r = maskDay(spec, ms, keys);
  if (r === null) return null;
  const rest = value.slice(10);
  return ymd(r.day) + (r.keepTime ? rest : rest.replace(/\d/g, '0'));
}

// ---------------------------------------------------------------------------------------------------------------
// uuid

const UUID = /^([0-9a-f]{8})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{4})-?([0-9a-f]{12})$/i;

function formatUuid(hex32: string, upper: boolean): string {
  const h = `${hex32.slice(0, 8)}-${hex32.slice(8, 12)}-${hex32.slice(12, 16)}-${hex32.slice(16, 20)}-${hex32.slice(20)}`;
  return upper ? h.toUpperCase() : h;
}

function versioned(hex32: string, version: string): string {
  const variant = '89ab'[parseInt(hex32[16]!, 16) & 3]!;
  return hex32.slice(0, 12) + version + hex32.slice(13, 16) + variant + hex32.slice(17);
}

function tokenizeHex(hex: string, keys: Keyring, decrypt: boolean): string {
  // Hex is not one of the FPE alphabets: run the Feistel over the decimal form of the number and walk
  // until the result fits the same number of hex digits.
  const bits = BigInt(hex.length * 4);
  const max = 1n << bits;
  const width = (max - 1n).toString().length;
  const ok = (t: string): boolean => BigInt(t) < max;
  const dec = BigInt('0x' + (hex || '0')).toString().padStart(width, '0');
  const out = decrypt ? detokenizeString(dec, keys, ok) : tokenizeString(dec, keys, ok);
  return BigInt(out).toString(16).padStart(hex.length, '0');
}

function maskUuid(spec: MaskSpec, value: unknown, keys: Keyring): MaskableValue {
  if (typeof value !== 'string') return maskByRuntime(spec, value, keys);
  const m = UUID.exec(value);
  if (!m) return spec.method === 'null' ? null : NIL_UUID;
  const hex = (m[1]! + m[2] + m[3] + m[4] + m[5]).toLowerCase();
  const upper = value !== value.toLowerCase();
  switch (spec.method) {
    case 'null': return null;
    case 'partial':
    case 'last4': {
      const k = keepOf(spec);
      return formatUuid(partialText(hex, k.first, k.last, '0'), upper);
    }
    case 'hash': return formatUuid(versioned(keys.hash(hex).toString('hex', 0, 16), '8'), upper);
    case 'fake': return formatUuid(versioned(keys.seed(`uuid|${hex}`).toString('hex', 0, 16), '4'), upper);
    case 'tokenize': return formatUuid(tokenizeHex(hex, keys, false), upper);
    default: return upper ? NIL_UUID.toUpperCase() : NIL_UUID;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// bytes

function sameBytes(original: Uint8Array, out: Uint8Array): Uint8Array {
  if (Buffer.isBuffer(original)) return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  return new Uint8Array(out);
}

function maskBytes(spec: MaskSpec, value: Uint8Array, keys: Keyring): MaskableValue {
  const n = value.length;
  switch (spec.method) {
    case 'null': return null;
    case 'partial':
    case 'last4': {
      const k = keepOf(spec);
      const out = new Uint8Array(n);
      if (n > k.first + k.last) for (let i = 0; i < n; i++) if (i < k.first || i >= n - k.last) out[i] = value[i]!;
      return sameBytes(value, out);
    }
    case 'hash': return sameBytes(value, keys.hash(value));
    case 'fake': {
      const out = new Uint8Array(n);
      let block = keys.seed(value);
      for (let i = 0; i < n; i++) {
        if (i > 0 && i % 32 === 0) block = keys.seed(block);
        out[i] = block[i % 32]!;
      }
      return sameBytes(value, out);
    }
    case 'tokenize': {
      if (n === 0) return value;
      const hex = tokenizeHex(Buffer.from(value.buffer, value.byteOffset, n).toString('hex'), keys, false);
      return sameBytes(value, Buffer.from(hex, 'hex'));
    }
    default: return sameBytes(value, new Uint8Array(n));
  }
}

// ---------------------------------------------------------------------------------------------------------------
// json

function maskJsonValue(spec: MaskSpec, v: unknown, keys: Keyring): unknown {
  if (v === null || v === undefined) return v;
  if (Array.isArray(v)) return v.map((x) => maskJsonValue(spec, x, keys));
  if (typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = maskJsonValue(spec, x, keys);
    return out;
  }
  return maskByRuntime(spec, v, keys);
}

function maskJson(spec: MaskSpec, value: unknown, keys: Keyring): MaskableValue {
  if (typeof value === 'string') {
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      return maskText(spec, value, keys); // not JSON text after all: mask as text
    }
    return JSON.stringify(maskJsonValue(spec, parsed, keys));
  }
  return maskJsonValue(spec, value, keys);
}

// ---------------------------------------------------------------------------------------------------------------

/** Infer the logical type of a runtime value (documents, JSON leaves). */
export function runtimeType(value: unknown): LogicalType {
  switch (typeof value) {
    case 'string': return 'text';
    case 'number': return Number.isInteger(value) ? 'integer' : 'numeric';
    case 'bigint': return 'integer';
    case 'boolean': return 'boolean';
    default:
      if (value instanceof Date) return 'timestamp';
      if (value instanceof Uint8Array) return 'bytes';
      return 'json';
  }
}

function maskByRuntime(spec: MaskSpec, value: unknown, keys: Keyring): MaskableValue {
  return maskValue(spec, value, runtimeType(value), keys);
}

/** Mask `value` of logical `type` with `spec`. The result has the same JS type (or is null). */
export function maskValue(spec: MaskSpec, value: MaskableValue, type: LogicalType, keys: Keyring): MaskableValue {
  if (value === null || value === undefined) return value;
  if (value instanceof Uint8Array) return maskBytes(spec, value, keys);
  if (value instanceof Date) return maskDate(spec, value, keys);
  switch (type) {
    case 'text':
      if (typeof value === 'string') return maskText(spec, value, keys);
      return typeof value === 'object' ? maskJson(spec, value, keys) : maskByRuntime(spec, value, keys);
    case 'integer': return maskInteger(spec, value, keys);
    case 'numeric': return maskNumeric(spec, value, keys);
    case 'boolean': return maskBoolean(spec, value, keys);
    case 'date':
    case 'timestamp': return maskDate(spec, value, keys);
    case 'uuid': return maskUuid(spec, value, keys);
    case 'json': return maskJson(spec, value, keys);
    case 'bytes':
      return typeof value === 'string' ? maskText(spec, value, keys) : maskByRuntime(spec, value, keys);
  }
}

/**
 * Invert the `tokenize` mask. Works for text, integer, numeric, date, timestamp, uuid, boolean and bytes values
 * produced by `maskValue({method: 'tokenize'}, ...)` with the same key.
 */
export function detokenizeValue(value: MaskableValue, type: LogicalType, keys: Keyring): MaskableValue {
  if (value === null || value === undefined) return value;
  if (value instanceof Uint8Array) {
    if (value.length === 0) return value;
    const hex = tokenizeHex(Buffer.from(value.buffer, value.byteOffset, value.length).toString('hex'), keys, true);
    return sameBytes(value, Buffer.from(hex, 'hex'));
  }
  if (value instanceof Date) {
    const ms = value.getTime();
    const day = Math.floor(ms / DAY_MS) * DAY_MS;
    const idx = Math.round((day - DAY0) / DAY_MS);
    return new Date(DAY0 + dayIndexToken(idx, keys, true) * DAY_MS + (ms - day));
  }
  switch (type) {
    case 'integer': {
      const v = bigOf(value);
      if (v === null) return value;
      const neg = v < 0n;
      const abs = neg ? -v : v;
      const limit = intLimit(value, abs);
      const ok = (t: string): boolean => (t.length === 1 || t[0] !== '0') && BigInt(t) <= limit;
      let r = BigInt(detokenizeString(abs.toString(), keys, ok));
      if (neg) r = -r;
      return sameIntForm(value, r);
    }
    case 'numeric': {
      if (typeof value === 'bigint') return detokenizeValue(value, 'integer', keys);
      const d = decOf(value);
      if (d === null) return value;
      const intLen = d.int.length;
      const numberForm = typeof value === 'number';
      const ok = (t: string): boolean =>
        (intLen === 1 || t[0] !== '0') && (!numberForm || t.length === intLen || t[t.length - 1] !== '0');
      const t = detokenizeString(d.int + d.frac, keys, ok);
      return decForm(value, { neg: d.neg, int: t.slice(0, intLen), frac: t.slice(intLen) });
    }
    case 'boolean': return maskBoolean({ method: 'tokenize' }, value, keys); // a keyed flip is its own inverse
    case 'date':
    case 'timestamp': {
      if (typeof value !== 'string') return value;
      const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(value);
      if (!m) return value;
      const idx = Math.round((Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) - DAY0) / DAY_MS);
      return ymd(DAY0 + dayIndexToken(idx, keys, true) * DAY_MS) + value.slice(10);
    }
    case 'uuid': {
      if (typeof value !== 'string') return value;
      const m = UUID.exec(value);
      if (!m) return value;
      const hex = (m[1]! + m[2] + m[3] + m[4] + m[5]).toLowerCase();
      return formatUuid(tokenizeHex(hex, keys, true), value !== value.toLowerCase());
    }
    default:
      return typeof value === 'string' ? detokenizeString(value, keys) : value;
  }
}
