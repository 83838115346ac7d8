/**
 * The audit hash chain: `hash = HMAC-SHA256(key, prev + canonical JSON of the record without hash)`.
 *
 * Canonical JSON is the record's keys in SPEC order (v, seq, ts, listener, protocol, identity, role, operation,
 * object, statement, labels, masked, rows, decision, rules, duration_ms, error, [entries], [extra], [phase, [intent]],
 * prev); nested
 * objects keep their own key order, which `JSON.parse` preserves, so a verifier that parses a line and serializes
 * it again gets the same bytes the writer hashed.
 *
 * The audit log builds only a record's canonical body when the record is appended; its group commit adds seq and
 * prev and computes the hash over bytes (seal-batch.ts). `seal` below is the same computation on strings, which
 * verification and the tests use; a unit test pins that both produce the same lines.
 */
import { Buffer } from 'node:buffer';
import { createHmac } from 'node:crypto';
import { CanonicalEntry } from './entry.js';
import type { AuditEntry, AuditEvent, AuditRecord } from './types.js';

/** `prev` of the very first record of a chain. */
export const GENESIS = '0'.repeat(64);

/** A prepared HMAC key: the secret's bytes, encoded once. */
export type ChainKey = Buffer;

/**
 * Prepare a chain key from the configured secret. A Buffer, not a KeyObject: measured on Node 20, createHmac
 * with a KeyObject costs ~25% more per record than with raw key bytes.
 */
export function chainKey(secret: string): ChainKey {
  return Buffer.from(secret, 'utf8');
}

const str = JSON.stringify;

/** What JSON.stringify would escape in a string: quote, backslash, control characters, (lone) surrogates. */
// eslint-disable-next-line no-control-regex -- control characters are exactly what JSON escapes
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/**
 * JSON of a string, equal to JSON.stringify's: most strings here (key names, statements) need no escaping, and
 * a regex test plus concatenation is cheaper than the builtin's call for them.
 */
export function quote(s: string): string {
  return NEEDS_ESCAPE.test(s) ? str(s) : '"' + s + '"';
}

/** JSON of a number or null, equal to JSON.stringify's (non-finite numbers are null). */
export function numJson(x: number | null | undefined): string {
  return typeof x === 'number' ? (Number.isFinite(x) ? '' + x : 'null') : 'null';
}

/**
 * JSON of the few strings every record repeats (listener, protocol, role, operation, decision), memoized:
 * JSON.stringify is a builtin call per field, and ~15 of them per record were half the cost of sealing it.
 */
const stringJson = new Map<string, string>();
const MAX_MEMO_STRING = 512;
const MAX_MEMO_STRINGS = 8192;

export function strJson(s: string): string {
  let j = stringJson.get(s);
  if (j === undefined) {
    j = str(s);
    if (s.length <= MAX_MEMO_STRING) {
      if (stringJson.size >= MAX_MEMO_STRINGS) stringJson.clear();
      stringJson.set(s, j);
    }
  }
  return j;
}

/**
 * JSON of objects shared by many records and never mutated (a session's identity, a decision's rule list),
 * remembered by object for the last few hundred objects seen. Not a WeakMap: inserting every fresh object (an
 * identity built per request) into a WeakMap cost more than the stringify it saves; a bounded Map is emptied when
 * full instead. Not a scan of the last few objects either: with a proxy's 50 interleaved sessions the scan was 2%
 * of a record's cost.
 */
class RecentJson {
  private readonly json = new Map<object, string>();

  of(o: object): string {
    let j = this.json.get(o);
    if (j === undefined) {
      j = str(o);
      if (this.json.size >= MAX_RECENT_OBJECTS) this.json.clear();
      this.json.set(o, j);
    }
    return j;
  }
}

const MAX_RECENT_OBJECTS = 512;

const identityJson = new RecentJson();
const rulesJson = new RecentJson();
/** JSON of a frozen `extra` (one that callers share). */
export const sharedExtraJson = new RecentJson();

/**
 * JSON of a field that is often the same as in the previous record (a statement shape, an object) but can also be
 * new every time (Redis key names): a one-entry memo, so a new value costs one compare, not a map insert.
 */
class LastJson {
  private last: string | null = null;
  private json = '';

  of(x: unknown): string {
    if (typeof x !== 'string') return x === null || x === undefined ? 'null' : str(x);
    if (x !== this.last) {
      this.last = x;
      this.json = quote(x);
    }
    return this.json;
  }
}

const objectJsonMemo = new LastJson();
const statementJsonMemo = new LastJson();

/** JSON for a value that may be null/undefined (both serialize as null, as JSON.stringify would in an object). */
function opt(x: unknown): string {
  if (typeof x === 'number') return numJson(x);
  return x === null || x === undefined ? 'null' : str(x);
}

/** A fraction's decimal point and leading zeros, by how many zeros it needs. */
const POINT_AND_ZEROS = ['.', '.0', '.00'];

/**
 * JSON of a duration in ms rounded to microseconds (see `duration`), equal to JSON.stringify's: formatted from the
 * integer count of microseconds, because a double's shortest round-trip digits were 2% of a record's cost at
 * pipeline 1. Anything else (a parsed record's arbitrary number) goes the generic way.
 */
export function durationJson(ms: unknown): string {
  if (typeof ms !== 'number' || !(ms >= 0 && ms < 1e9)) return opt(ms);
  const us = Math.round(ms * 1000);
  if (us / 1000 !== ms) return numJson(ms);
  const whole = Math.floor(us / 1000);
  let fraction = us - whole * 1000;
  if (fraction === 0) return '' + whole;
  let digits = 3;
  while (fraction % 10 === 0) {
    fraction /= 10;
    digits--;
  }
  const f = '' + fraction;
  return '' + whole + POINT_AND_ZEROS[digits - f.length]! + f;
}

function isEmptyObject(x: Record<string, unknown>): boolean {
  for (const _ in x) return false;
  return true;
}

/**
 * The JSON of a CanonicalEntry from `labels` on, its empty fields left out (see `entryJson`). For the common entry
 * that classified, masked and failed nothing it depends only on rows, decision and rules, and is remembered for
 * the last such triple (a batch's commands mostly share it).
 */
class EntryTailMemo {
  private rows: number | null = -1;
  private decision = '';
  private rules: unknown = null;
  private json = '';

  of(e: AuditEntry): string {
    if (e.labels.length > 0 || e.error !== null || !isEmptyObject(e.masked)) {
      return (
        (e.labels.length > 0 ? ',"labels":' + str(e.labels) : '') +
        (isEmptyObject(e.masked) ? '' : ',"masked":' + str(e.masked)) +
        entryDecisionJson(e) +
        (e.error !== null ? ',"error":' + quote(e.error) : '') +
        '}'
      );
    }
    if (e.rows !== this.rows || e.decision !== this.decision || e.rules !== this.rules) {
      this.rows = e.rows;
      this.decision = e.decision;
      this.rules = e.rules;
      this.json = entryDecisionJson(e) + '}';
    }
    return this.json;
  }
}

function entryDecisionJson(e: AuditEntry): string {
  return (e.rows !== null ? ',"rows":' + numJson(e.rows) : '') + ',"decision":' + strJson(e.decision) + ',"rules":' + optRules(e.rules);
}

const entryTail = new EntryTailMemo();

/** `,"labels":` up to the rules of a record (every field present, as SPEC shows it). */
function outcomeJson(x: Pick<AuditEntry, 'labels' | 'masked' | 'rows' | 'decision' | 'rules'>): string {
  return (
    ',"labels":' + optEmpty(x.labels) +
    ',"masked":' + optEmpty(x.masked) +
    ',"rows":' + opt(x.rows) +
    ',"decision":' + strJson(x.decision) +
    ',"rules":' + optRules(x.rules)
  );
}

/** `{"operation":<op>` per operation. */
const entryHeads = new Map<string, string>();

/**
 * An entry's JSON. A CanonicalEntry is written compactly: the AuditEntry keys in order, leaving out `object`,
 * `statement`, `rows` and `error` when null and `labels`, `masked` when empty (a pipeline's entries mostly
 * classified, masked and failed nothing; a batch record of 16 GETs was half that boilerplate, and its bytes are
 * what the audit path costs). `operation`, `decision` and `rules` are always there. Equal byte for byte to
 * JSON.stringify of the entry without those fields (a unit test pins it). Any other entry object, e.g. one parsed
 * back by verification, is serialized as it is, so records written before or after verify alike.
 */
function entryJson(e: AuditEntry): string {
  if (!(e instanceof CanonicalEntry)) return str(e);
  let s = entryHeads.get(e.operation);
  if (s === undefined) {
    s = '{"operation":' + quote(e.operation);
    if (entryHeads.size < MAX_MEMO_STRINGS) entryHeads.set(e.operation, s);
  }
  if (e.object !== null) s += ',"object":' + quote(e.object);
  if (e.statement !== null) s += ',"statement":' + quote(e.statement);
  return s + entryTail.of(e);
}

function entriesJson(entries: AuditEntry[]): string {
  if (entries.length === 0) return '[]';
  let s = '[' + entryJson(entries[0]!);
  for (let i = 1; i < entries.length; i++) s += ',' + entryJson(entries[i]!);
  return s + ']';
}

export function optIdentity(x: object | null | undefined): string {
  return x === null || x === undefined ? 'null' : identityJson.of(x);
}

/** A parsed (possibly tampered) record may hold anything here; a sealed one holds a decision's shared list. */
export function optRules(x: unknown): string {
  if (!Array.isArray(x)) return opt(x);
  return x.length === 0 ? '[]' : rulesJson.of(x);
}

/** Arrays and maps that are usually empty. */
function optEmpty(x: unknown[] | Record<string, unknown> | null | undefined): string {
  if (x === null || x === undefined) return 'null';
  if (Array.isArray(x)) return x.length === 0 ? '[]' : str(x);
  for (const _ in x) return str(x);
  return '{}';
}

/** Record fields the chain covers, i.e. a record without its hash. */
export type UnsealedRecord = Omit<AuditRecord, 'hash'>;

/** The fields of a record's canonical body: all but v, seq and prev (which sealing adds) and hash. */
export type RecordFields = Omit<UnsealedRecord, 'v' | 'seq' | 'prev'>;

/**
 * Canonical JSON of a record's fields after `seq` and before `prev`: `,"ts":...` up to the last field. Hand-rolled
 * concatenation: about 3x faster than JSON.stringify on a freshly ordered copy, and it fixes the key order
 * whatever order the caller used.
 */
export function canonicalBody(r: RecordFields): string {
  let s =
    // ts needs no escaping when we wrote it; a tampered one that would simply hashes differently.
    ',"ts":"' + r.ts + '"' +
    ',"listener":' + strJson(r.listener) +
    ',"protocol":' + strJson(r.protocol) +
    ',"identity":' + optIdentity(r.identity) +
    ',"role":' + strJson(r.role) +
    ',"operation":' + strJson(r.operation) +
    ',"object":' + objectJsonMemo.of(r.object) +
    ',"statement":' + statementJsonMemo.of(r.statement) +
    outcomeJson(r) +
    ',"duration_ms":' + durationJson(r.duration_ms) +
    ',"error":' + opt(r.error);
  // A parsed record may hold anything in entries; only an array is built entry by entry.
  if (r.entries !== undefined) s += ',"entries":' + (Array.isArray(r.entries) ? entriesJson(r.entries) : str(r.entries));
  // A frozen extra is one the callers share (e.g. { tls: false } of every plain connection's records).
  if (r.extra !== undefined) s += ',"extra":' + (Object.isFrozen(r.extra) ? sharedExtraJson.of(r.extra) : str(r.extra));
  if (r.phase !== undefined) s += phaseJson(r.phase, r.intent);
  return s;
}

/** `,"phase":..[,"intent":seq]` of a write-ahead record (an outcome names its intent). */
export function phaseJson(phase: unknown, intent: unknown): string {
  return ',"phase":' + (phase === 'intent' ? '"intent"' : phase === 'outcome' ? '"outcome"' : opt(phase)) + (intent !== undefined ? ',"intent":' + opt(intent) : '');
}

/** Canonical JSON of a record without its hash (what the chain's HMAC covers, after prev). */
export function canonicalJson(r: UnsealedRecord): string {
  return '{"v":' + r.v + ',"seq":' + r.seq + canonicalBody(r) + ',"prev":' + str(r.prev) + '}';
}

/** HMAC over prev + canonical JSON, hex. */
export function computeHash(key: ChainKey, prev: string, canonical: string): string {
  // One update with the concatenation: one crossing into C++ instead of two.
  return createHmac('sha256', key).update(prev + canonical).digest('hex');
}

/** The JSON line written for a sealed record (with trailing newline). */
export function lineOf(canonical: string, hash: string): string {
  return canonical.slice(0, -1) + ',"hash":"' + hash + '"}\n';
}

/** Round to microseconds so a duration survives a JSON round trip unchanged and stays short. */
export function duration(ms: number): number {
  return Number.isFinite(ms) ? Math.round(ms * 1000) / 1000 : 0;
}

/**
 * The stored fields of an event: copies only the known fields (so nothing a caller tacked on leaks into the
 * trail) and normalizes undefined to null.
 */
export function fieldsOf(e: AuditEvent, ts: string): RecordFields {
  const r: RecordFields = {
    ts,
    listener: e.listener,
    protocol: e.protocol,
    identity: e.identity,
    role: e.role,
    operation: e.operation,
    object: e.object ?? null,
    statement: e.statement ?? null,
    labels: e.labels ?? [],
    masked: e.masked ?? {},
    rows: e.rows ?? null,
    decision: e.decision,
    rules: e.rules ?? [],
    duration_ms: duration(e.duration_ms),
    error: e.error ?? null,
  };
  if (e.entries !== undefined) r.entries = e.entries;
  if (e.extra !== undefined) r.extra = e.extra;
  if (e.phase !== undefined) {
    r.phase = e.phase;
    if (e.phase === 'outcome') r.intent = e.intent ?? 0;
  }
  return r;
}

/** The stored record of an event at `seq` after `prev` (v 1, as seal-batch.ts writes it). */
export function recordOf(e: AuditEvent, seq: number, ts: string, prev: string): UnsealedRecord {
  return { v: 1, seq, ...fieldsOf(e, ts), prev };
}

/** Seal a record: compute its hash; returns the hash and the line to write. */
export function seal(key: ChainKey, r: UnsealedRecord): { hash: string; line: string } {
  const canonical = canonicalJson(r);
  const hash = computeHash(key, r.prev, canonical);
  return { hash, line: lineOf(canonical, hash) };
}

/** Recompute a parsed record's hash (for verification and resume). */
export function expectedHash(key: ChainKey, r: AuditRecord): string {
  return computeHash(key, r.prev, canonicalJson(r));
}
