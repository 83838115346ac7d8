/**
 * A record's canonical body (chain.ts `canonicalBody`) written as UTF-8 straight into the audit queue's buffer,
 * for the shape nearly every record has: nothing classified or masked, no error, no extra or a shared (frozen) one,
 * and no entries or only batch entries (CanonicalEntry) that classified, masked and failed nothing. Any other
 * record is built by `canonicalBody` as a string; a unit test pins that both give the same bytes for the same
 * event.
 *
 * Why: at one record per command (Redis at pipeline 1) the body string was a rope of ~30 pieces, flattened and
 * transcoded to UTF-8 by the queue's `Buffer#write`: with the memo look-ups behind its pieces, ~9% of the proxy's
 * CPU. Here the pieces a record shares with the records before it (its listener, identity, role and operation; its
 * decision and rules; its timestamp, per millisecond) are kept as bytes and copied, and the few variable fields
 * (object, statement, rows, duration) are written in place.
 */
import { Buffer } from 'node:buffer';
import type { AuditEntry, AuditEvent } from './types.js';
import { CanonicalEntry } from './entry.js';
import { duration, durationJson, numJson, optIdentity, optRules, quote, sharedExtraJson, strJson } from './chain.js';

/** `,"ts":"<ts>` for the last timestamp (records of one millisecond share it). */
let lastTs = '';
let tsBytes = Buffer.alloc(0);

/** `","listener":..,"operation":..,"object":` for one listener, role and operation of an identity. */
class HeadBytes {
  constructor(
    readonly listener: string,
    readonly protocol: string,
    readonly role: string,
    readonly operation: string,
    readonly bytes: Buffer,
  ) {}
}

/**
 * By identity object (a session's records share it; it is replaced, never mutated, when the session's identity
 * changes), a few heads each (a session alternates a few operations), bounded like chain.ts's RecentJson: emptied
 * when full.
 */
const MAX_IDENTITIES = 512;
const HEADS_PER_IDENTITY = 8;
const heads = new Map<object, HeadBytes[]>();

function headOf(e: AuditEvent): Buffer {
  let list = heads.get(e.identity);
  if (list !== undefined) {
    for (let i = 0; i < list.length; i++) {
      const h = list[i]!;
      if (h.operation === e.operation && h.role === e.role && h.listener === e.listener && h.protocol === e.protocol) return h.bytes;
    }
  } else {
    if (heads.size >= MAX_IDENTITIES) heads.clear();
    heads.set(e.identity, (list = []));
  }
  const json =
    '","listener":' + strJson(e.listener) +
    ',"protocol":' + strJson(e.protocol) +
    ',"identity":' + optIdentity(e.identity) +
    ',"role":' + strJson(e.role) +
    ',"operation":' + strJson(e.operation) +
    ',"object":';
  const bytes = Buffer.from(json, 'utf8');
  if (list.length >= HEADS_PER_IDENTITY) list.shift();
  list.push(new HeadBytes(e.listener, e.protocol, e.role, e.operation, bytes));
  return bytes;
}

const MAX_RULE_LISTS = 512;

/**
 * `,"decision":..,"rules":..` and a fixed suffix, by rule list (a decision's list is shared by every record it
 * decided), then decision; bounded like the heads. `absentRules` is what chain.ts writes for a missing list there.
 */
class DecisionBytes {
  private readonly byRules = new Map<unknown, { allow?: Buffer; deny?: Buffer }>();

  constructor(
    private readonly suffix: string,
    private readonly absentRules: string,
  ) {}

  of(rules: unknown, decision: 'allow' | 'deny'): Buffer {
    let byDecision = this.byRules.get(rules);
    if (byDecision === undefined) {
      if (this.byRules.size >= MAX_RULE_LISTS) this.byRules.clear();
      this.byRules.set(rules, (byDecision = {}));
    }
    let bytes = byDecision[decision];
    if (bytes === undefined) {
      const json = rules === undefined ? this.absentRules : optRules(rules);
      bytes = byDecision[decision] = Buffer.from(',"decision":' + strJson(decision) + ',"rules":' + json + this.suffix, 'utf8');
    }
    return bytes;
  }
}

/** A record's decision and rules, up to its duration's value (fieldsOf turns absent rules into []). */
const recordDecisions = new DecisionBytes(',"duration_ms":', '[]');
/** A batch entry's decision and rules, closing the entry (chain.ts's optRules writes absent rules as null). */
const entryDecisions = new DecisionBytes('}', 'null');

function decisionOf(e: AuditEvent): Buffer {
  return recordDecisions.of(e.rules, e.decision);
}

/** The shared extra's JSON (`,"extra":...`, or nothing), by extra object (frozen, so its JSON never changes). */
const extras = new Map<object | undefined, Buffer>();

function extraOf(e: AuditEvent): Buffer {
  let bytes = extras.get(e.extra);
  if (bytes === undefined) {
    if (extras.size >= MAX_RULE_LISTS) extras.clear();
    bytes = Buffer.from(e.extra === undefined ? '' : ',"extra":' + sharedExtraJson.of(e.extra), 'utf8');
    extras.set(e.extra, bytes);
  }
  return bytes;
}

/** `{"operation":..` of a batch entry, by operation. */
const entryHeads = new Map<string, Buffer>();

// The last entry's pieces: a batch's entries mostly repeat one operation and decision.
let lastEntryOperation = '';
let lastEntryHead: Buffer = Buffer.alloc(0);
let lastEntryRules: unknown = null;
let lastEntryDecision = '';
let lastEntryEnd: Buffer = Buffer.alloc(0);

function entryHeadOf(operation: string): Buffer {
  if (operation === lastEntryOperation && lastEntryHead.length > 0) return lastEntryHead;
  lastEntryOperation = operation;
  return (lastEntryHead = entryHeadLookup(operation));
}

function entryHeadLookup(operation: string): Buffer {
  let bytes = entryHeads.get(operation);
  if (bytes === undefined) {
    if (entryHeads.size >= MAX_RULE_LISTS) entryHeads.clear();
    bytes = Buffer.from('{"operation":' + quote(operation), 'utf8');
    entryHeads.set(operation, bytes);
  }
  return bytes;
}

function entryEndOf(e: AuditEntry): Buffer {
  if (e.rules === lastEntryRules && e.decision === lastEntryDecision && lastEntryEnd.length > 0) return lastEntryEnd;
  lastEntryRules = e.rules;
  lastEntryDecision = e.decision;
  return (lastEntryEnd = entryDecisions.of(e.rules, e.decision));
}

const STATEMENT_KEY = Buffer.from(',"statement":');
const OUTCOME_KEYS = Buffer.from(',"labels":[],"masked":{},"rows":');
const ERROR_NULL = Buffer.from(',"error":null');
const ENTRIES_KEY = Buffer.from(',"entries":[');
const OBJECT_KEY = Buffer.from(',"object":');
const ROWS_KEY = Buffer.from(',"rows":');
const INTENT_PHASE = Buffer.from(',"phase":"intent"');
const OUTCOME_PHASE = Buffer.from(',"phase":"outcome","intent":');
/** Bytes of an entry besides its head, end, object and statement: keys, quotes, rows, separator. */
const ENTRY_FIXED_BYTES = 64;

function isEmpty(o: Record<string, unknown>): boolean {
  for (const _ in o) return false;
  return true;
}

/** A batch entry that classified, masked and failed nothing, in the class chain.ts writes compactly. */
function isPlainEntry(e: AuditEntry): boolean {
  return e instanceof CanonicalEntry && e.labels.length === 0 && e.error === null && isEmpty(e.masked);
}

function plainEntries(entries: AuditEntry[] | undefined): boolean {
  if (entries === undefined) return true;
  if (!Array.isArray(entries)) return false;
  for (let i = 0; i < entries.length; i++) if (!isPlainEntry(entries[i]!)) return false;
  return true;
}

/** Whether `writeBody` can write this event (else: `canonicalBody(fieldsOf(e, ts))`). */
export function hasCommonShape(e: AuditEvent): boolean {
  return (
    plainEntries(e.entries) &&
    (e.error === null || e.error === undefined) &&
    (e.labels === undefined || e.labels.length === 0) &&
    (e.masked === undefined || isEmpty(e.masked)) &&
    (e.extra === undefined || Object.isFrozen(e.extra)) &&
    (e.phase === undefined || e.phase === 'intent' || (e.phase === 'outcome' && typeof e.intent === 'number')) &&
    typeof e.identity === 'object' &&
    e.identity !== null
  );
}

/** Write `s` as a JSON string at `pos`; returns the end. ASCII that needs no escape is copied char by char. */
function writeQuoted(out: Buffer, pos: number, s: string): number {
  const n = s.length;
  let p = pos + 1;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    // Control characters, quote, backslash and anything beyond ASCII: the general path.
    if (c < 0x20 || c === 0x22 || c === 0x5c || c > 0x7e) return pos + out.write(quote(s), pos, 'utf8');
    out[p++] = c;
  }
  out[pos] = 0x22;
  out[p] = 0x22;
  return p + 1;
}

/** Write ASCII `s` (digits, 'null') at `pos`. */
function writeAscii(out: Buffer, pos: number, s: string): number {
  for (let i = 0; i < s.length; i++) out[pos + i] = s.charCodeAt(i);
  return pos + s.length;
}

function writeBytes(out: Buffer, pos: number, b: Buffer): number {
  out.set(b, pos);
  return pos + b.length;
}

/**
 * Write the canonical body of `e` (which `hasCommonShape`) with timestamp `ts` at `pos` of `out`; returns the end,
 * or, when `out` has too little room after `pos`, minus the number of bytes needed (nothing useful was written).
 */
export function writeBody(out: Buffer, pos: number, e: AuditEvent, ts: string): number {
  if (ts !== lastTs) {
    lastTs = ts;
    tsBytes = Buffer.from(',"ts":"' + ts, 'utf8');
  }
  const head = headOf(e);
  const decision = decisionOf(e);
  const extra = extraOf(e);
  const object = typeof e.object === 'string' ? e.object : null;
  const statement = typeof e.statement === 'string' ? e.statement : null;
  const entries = e.entries;
  // A JSON string takes at most 6 bytes per UTF-16 unit (an escape, or up to 3 bytes of UTF-8), plus quotes;
  // rows and duration take at most 24 each.
  let most =
    tsBytes.length + head.length + decision.length + ERROR_NULL.length + extra.length + STATEMENT_KEY.length + OUTCOME_KEYS.length + 52 + 56 +
    6 * ((object?.length ?? 0) + (statement?.length ?? 0)) + 4;
  if (entries !== undefined) {
    most += ENTRIES_KEY.length + 1;
    for (let i = 0; i < entries.length; i++) {
      const en = entries[i]!;
      most += entryHeadOf(en.operation).length + entryEndOf(en).length + ENTRY_FIXED_BYTES + 6 * ((en.object?.length ?? 0) + (en.statement?.length ?? 0));
    }
  }
  if (pos + most > out.length) return -most;
  let p = writeBytes(out, pos, tsBytes);
  p = writeBytes(out, p, head);
  p = object !== null ? writeQuoted(out, p, object) : writeAscii(out, p, 'null');
  p = writeBytes(out, p, STATEMENT_KEY);
  p = statement !== null ? writeQuoted(out, p, statement) : writeAscii(out, p, 'null');
  p = writeBytes(out, p, OUTCOME_KEYS);
  p = writeAscii(out, p, typeof e.rows === 'number' ? numJson(e.rows) : 'null');
  p = writeBytes(out, p, decision);
  p = writeAscii(out, p, durationJson(duration(e.duration_ms)));
  p = writeBytes(out, p, ERROR_NULL);
  if (entries !== undefined) p = writeEntries(out, p, entries);
  p = writeBytes(out, p, extra);
  if (e.phase === 'intent') return writeBytes(out, p, INTENT_PHASE);
  if (e.phase === 'outcome') return writeAscii(out, writeBytes(out, p, OUTCOME_PHASE), numJson(e.intent ?? 0));
  return p;
}

/** `,"entries":[...]` of plain entries, as chain.ts's entryJson writes each (null fields left out). */
function writeEntries(out: Buffer, pos: number, entries: AuditEntry[]): number {
  let p = writeBytes(out, pos, ENTRIES_KEY);
  for (let i = 0; i < entries.length; i++) {
    const en = entries[i]!;
    if (i > 0) out[p++] = 0x2c;
    p = writeBytes(out, p, entryHeadOf(en.operation));
    if (en.object !== null) p = writeQuoted(out, writeBytes(out, p, OBJECT_KEY), en.object);
    if (en.statement !== null) p = writeQuoted(out, writeBytes(out, p, STATEMENT_KEY), en.statement);
    if (en.rows !== null) p = writeAscii(out, writeBytes(out, p, ROWS_KEY), numJson(en.rows));
    p = writeBytes(out, p, entryEndOf(en));
  }
  out[p++] = 0x5d;
  return p;
}
