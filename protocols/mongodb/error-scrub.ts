/**
 * Scrubs what MongoDB says besides result documents, for roles that may not see classified values: error replies
 * (`errmsg`, `errInfo`, `keyValue`), write errors and write concern errors of write replies, and `explain` output.
 * MongoDB echoes values there: `Failed to parse number '123-45-6789' in $convert`, `'newRoot' ... resulting value
 * was: "...". Input document: {_id: 1, email: "...", ...}`, `E11000 ... dup key: { email: "..." }`, a document
 * validation failure's `consideredValue`. No reply may carry a value derived from a classified source the role may
 * not see, except through that label's mask.
 *
 * What is done, in order, to every string of such a reply (codes, code names, labels, counts and key patterns are
 * kept; numbers and other BSON values are kept unless they are an echoed value of a classified field):
 *  - `keyValue` (top level and in write errors): each value masked by its key's labels (the label's own mask);
 *  - `errInfo`: a `consideredValue`/`consideredValues` masked by the labels of its `propertyName`, the derived mask
 *    (redacted whole) when it names none;
 *  - a `dup key: { k: v, ... }` detail: each value masked by its key's labels;
 *  - every other quoted value (`'...'`, `"..."`) the client did not send itself gets the derived mask: MongoDB quotes
 *    values, and a value the server computed may be any expression of any field (`$toInt` of a `$substrCP` of the ssn);
 *    operator names, field names and literals the command carries stay, so messages stay useful;
 *  - every bare number of three digits or more that the command does not carry gets the derived mask too (MongoDB
 *    writes numbers unquoted: `... with no onError value: 41111111`);
 *  - then the value detectors of the role (`scrubText`): an e-mail or a card number anywhere is masked.
 * Replies are rare on this path, so it favours clarity: decode, rewrite, encode; a reply nothing changes in is
 * returned as null so the caller forwards the original bytes.
 */
import { deserialize, serialize, type Document } from 'bson';
import { maskDerivedValue, maskEchoedValue, scrubText } from '../../src/governance/scrub-text.js';
import { UNTRACED_LABEL, type CompiledPolicy, type MaskStats } from '../../src/policy/types.js';

export interface ScrubContext {
  readonly policy: CompiledPolicy;
  readonly role: string;
  /** The command as the client sent it: what it carries is no secret to the client. */
  readonly command?: unknown;
  /** The operation's tally (labels seen, values masked). */
  readonly stats?: MaskStats;
}

const DECODE = { promoteValues: false, promoteLongs: false, promoteBuffers: false, bsonRegExp: true } as const;

/** Reply fields that hold no value: kept as they are at the top level and in write errors. */
const KEPT = new Set(['ok', 'code', 'codeName', 'errorLabels', 'operationTime', '$clusterTime', 'n', 'nModified', 'index', 'keyPattern', 'electionId', 'opTime', 'topologyVersion', 'explainVersion']);
/** errInfo fields holding a value of the document. */
const VALUE_KEYS = new Set(['consideredValue', 'consideredValues']);
/** A server or feature version (`7.0.12`): not a value. */
const VERSION = /^\d{1,2}\.\d{1,2}(\.\d{1,3})?$/;

/** Words MongoDB quotes in its own messages (BSON type names, parameter names): never values. */
const SERVER_WORDS = new Set([
  'double', 'string', 'object', 'array', 'binData', 'undefined', 'objectId', 'bool', 'date', 'null', 'regex', 'dbPointer',
  'javascript', 'symbol', 'javascriptWithScope', 'int', 'timestamp', 'long', 'decimal', 'minKey', 'maxKey', 'missing',
  'replacement document', 'newRoot', 'input', 'find', 'replacement', 'to', 'onError', 'onNull', 'format', 'timezone',
  'field', 'value', 'as', 'in', 'cond', 'vars', 'initialValue', 'dateString', 'unit', 'amount', 'startDate', 'endDate',
]);

/**
 * A quoted span (`'...'` or `"..."` after a delimiter, closed before one: groups 1-3), or a bare number outside quotes
 * (digits, possibly joined by `. - / :`, not part of a name: group 4).
 */
const SPAN_OR_NUMBER = /(^|[\s(:=[{,])(["'])((?:(?!\2)[^\\]|\\.)*)\2(?=$|[\s).,:;}\]])|(?<![\w$.])(\d(?:[\d.\-/:]*\d)?)(?![\w$])/g;

/** Strings, keys and field paths a command carries (the client knows them). */
function clientTokens(command: unknown): Set<string> {
  const out = new Set<string>();
  const add = (s: string): void => {
    if (out.size >= 4000) return;
    out.add(s);
    if (s.startsWith('$')) {
      const bare = s.replace(/^\$+/, '');
      out.add(bare);
      for (const part of bare.split('.')) out.add(part);
    }
    if (s.includes('.')) for (const part of s.split('.')) out.add(part);
  };
  const walk = (v: unknown, depth: number): void => {
    if (depth > 100 || out.size >= 4000) return;
    if (typeof v === 'string') add(v);
    else if (typeof v === 'number' || typeof v === 'bigint') add(String(v));
    else if (Array.isArray(v)) for (const x of v) walk(x, depth + 1);
    else if (v && typeof v === 'object') {
      const t = (v as { _bsontype?: string })._bsontype;
      if (t !== undefined) {
        add(String((v as { toString(): string }).toString()));
        return;
      }
      if (v instanceof Date || v instanceof Uint8Array) return;
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
        add(k);
        walk(x, depth + 1);
      }
    }
  };
  walk(command, 0);
  return out;
}

class Scrubber {
  changed = false;
  private readonly tokens: Set<string>;

  constructor(private readonly ctx: ScrubContext) {
    this.tokens = clientTokens(ctx.command);
  }

  private derived(value: string): string {
    const out = maskDerivedValue(value, [UNTRACED_LABEL], this.ctx.policy, this.ctx.role, this.ctx.stats);
    if (out !== value) this.changed = true;
    return out;
  }

  private echoed(value: string, name: string): string {
    const labels = this.ctx.policy.labelsForName(name);
    const out = labels.length > 0 ? maskEchoedValue(value, labels, this.ctx.policy, this.ctx.role, this.ctx.stats) : value;
    if (out !== value) this.changed = true;
    return out;
  }

  private masksName(name: string): boolean {
    return this.ctx.policy.fieldPlan(this.ctx.role, { name, type: 'text' }).mode === 'mask';
  }

  /** A message: templates, quoted values, bare numbers, then the detectors. */
  text(s: string): string {
    let out = s.replace(/dup key: \{(.*)\}/s, (_whole, body: string) => `dup key: {${this.dupKey(body)}}`);
    // One pass: a quoted span (after a delimiter, closed before one), or a bare number outside quotes.
    out = out.replace(SPAN_OR_NUMBER, (whole, lead: string | undefined, q: string | undefined, inner: string | undefined, n: string | undefined) => {
      if (q !== undefined) {
        if (this.known(inner ?? '')) return whole;
        return `${lead ?? ''}${q}${this.derived(inner ?? '')}${q}`;
      }
      if (n === undefined || n.replace(/\D/g, '').length < 3 || this.tokens.has(n) || VERSION.test(n)) return whole;
      return this.derived(n);
    });
    const scanned = scrubText(out, this.ctx.policy, this.ctx.role, this.ctx.stats);
    if (scanned !== s) this.changed = true;
    return scanned;
  }

  /** A quoted text the client sent itself, or a word of MongoDB's own messages: no secret. */
  private known(inner: string): boolean {
    if (inner === '' || this.tokens.has(inner) || SERVER_WORDS.has(inner)) return true;
    return inner.startsWith('$') && this.tokens.has(inner.replace(/^\$+/, ''));
  }

  /** `k: v, k2: v2` of a duplicate key detail: each value masked by its key's labels. */
  private dupKey(body: string): string {
    const parts: string[] = [];
    let depth = 0;
    let quote: string | null = null;
    let start = 0;
    for (let i = 0; i < body.length; i++) {
      const c = body[i]!;
      if (quote) {
        if (c === '\\') i++;
        else if (c === quote) quote = null;
      } else if (c === '"' || c === "'") quote = c;
      else if (c === '{' || c === '[' || c === '(') depth++;
      else if (c === '}' || c === ']' || c === ')') depth--;
      else if (c === ',' && depth === 0) {
        parts.push(body.slice(start, i));
        start = i + 1;
      }
    }
    parts.push(body.slice(start));
    return parts
      .map((p) => {
        const colon = p.indexOf(':');
        if (colon < 0) return p;
        const key = p.slice(0, colon).trim().replace(/^["']|["']$/g, '');
        const raw = p.slice(colon + 1);
        const m = /^(\s*)"((?:[^"\\]|\\.)*)"(\s*)$/s.exec(raw);
        if (m) {
          const v = this.echoed(m[2]!, key);
          // Masked by its own label: a quoted text the generic rule must not redact again.
          if (v !== m[2]) this.tokens.add(v);
          return `${p.slice(0, colon + 1)}${m[1]}"${v}"${m[3]}`;
        }
        if (key !== '' && this.masksName(key) && raw.trim() !== 'null') {
          this.changed = true;
          return `${p.slice(0, colon + 1)} "${maskDerivedValue(raw.trim(), [UNTRACED_LABEL], this.ctx.policy, this.ctx.role, this.ctx.stats)}"`;
        }
        return p;
      })
      .join(',');
  }

  /** A value of the document echoed under field `name` (`keyValue`, `consideredValue`); null name: unknown field. */
  value(v: unknown, name: string | null, depth = 0): unknown {
    if (depth > 100) return v;
    if (typeof v === 'string') {
      if (name === null) return this.derived(v);
      const own = this.echoed(v, name);
      if (own !== v) return own;
      const scanned = scrubText(v, this.ctx.policy, this.ctx.role, this.ctx.stats);
      if (scanned !== v) this.changed = true;
      return scanned;
    }
    if (Array.isArray(v)) return v.map((x) => this.value(x, name, depth + 1));
    if (v && typeof v === 'object' && (v as { _bsontype?: unknown })._bsontype === undefined && !(v instanceof Date) && !(v instanceof Uint8Array)) {
      const out: Document = {};
      for (const [k, x] of Object.entries(v as Document)) out[k] = this.value(x, name === null ? null : name ? `${name}.${k}` : k, depth + 1);
      return out;
    }
    if (v === null || v === undefined) return v;
    // A number, a date, an ObjectId... of a field this role sees masked, or of a field dgf cannot name.
    if (name === null || this.masksName(name)) {
      this.changed = true;
      this.ctx.stats?.seen(UNTRACED_LABEL);
      return null;
    }
    return v;
  }

  /** errInfo: values under the name of the property they belong to; every other text as a message. */
  errInfo(v: unknown, property: string | null, depth = 0): unknown {
    if (depth > 100) return v;
    if (typeof v === 'string') return this.text(v);
    if (Array.isArray(v)) return v.map((x) => this.errInfo(x, property, depth + 1));
    if (!v || typeof v !== 'object' || (v as { _bsontype?: unknown })._bsontype !== undefined || v instanceof Date || v instanceof Uint8Array) return v;
    const d = v as Document;
    const here = typeof d.propertyName === 'string' ? (property ? `${property}.${d.propertyName}` : d.propertyName) : property;
    const out: Document = {};
    for (const [k, x] of Object.entries(d)) {
      if (VALUE_KEYS.has(k)) out[k] = this.value(x, here);
      else if (k === 'propertyName' || k === 'operatorName' || k === 'failingDocumentId') out[k] = x;
      else out[k] = this.errInfo(x, here, depth + 1);
    }
    return out;
  }

  /** Any part of a reply. */
  reply(v: unknown, key: string, depth = 0): unknown {
    if (depth > 100) return v;
    if (KEPT.has(key)) return v;
    if (key === 'keyValue') return this.value(v, '');
    if (key === 'errInfo') return this.errInfo(v, null);
    if (typeof v === 'string') return this.text(v);
    if (Array.isArray(v)) return v.map((x) => this.reply(x, '', depth + 1));
    if (v && typeof v === 'object' && (v as { _bsontype?: unknown })._bsontype === undefined && !(v instanceof Date) && !(v instanceof Uint8Array)) {
      const out: Document = {};
      for (const [k, x] of Object.entries(v as Document)) out[k] = this.reply(x, k, depth + 1);
      return out;
    }
    return v;
  }
}

/**
 * The reply with every echoed value scrubbed for `ctx.role` (call it for roles with masks only), or null when nothing
 * had to change.
 */
export function scrubReply(reply: Uint8Array, ctx: ScrubContext): Uint8Array | null {
  let doc: Document;
  try {
    doc = deserialize(reply, DECODE);
  } catch {
    return null; // not BSON dgf can read: the caller's masking walk decides
  }
  const s = new Scrubber(ctx);
  const out = s.reply(doc, '') as Document;
  return s.changed ? serialize(out) : null;
}

/** Whether a successful reply carries server text that may echo values: write errors, a write concern error. */
export function hasWriteErrors(doc: Document): boolean {
  return doc.writeErrors !== undefined || doc.writeConcernError !== undefined;
}

/** The `errmsg` of a reply, for the audit record (after scrubbing). */
export function errmsgOf(reply: Uint8Array): string | null {
  try {
    const d = deserialize(reply, DECODE);
    if (typeof d.errmsg === 'string') return `${typeof d.codeName === 'string' ? `${d.codeName}: ` : ''}${d.errmsg}`.slice(0, 300);
    const we = Array.isArray(d.writeErrors) ? (d.writeErrors[0] as Document | undefined) : undefined;
    if (we && typeof we.errmsg === 'string') return we.errmsg.slice(0, 300);
    return null;
  } catch {
    return null;
  }
}
