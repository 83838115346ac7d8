/**
 * Leak checking for the MongoDB masking tests (issue #16): the clear sensitive values of the seeded collection, read
 * directly from the server, and a check that what a client received (documents, distinct values, error messages,
 * errInfo, write errors, explain output) contains none of them.
 *
 * Everything received is flattened to its leaves (strings and numbers, and field names: a value can be turned into
 * a name; ObjectIds, dates and binaries are not secrets here). Each leaf is normalized (lower case, only [a-z0-9] kept). A reply leaks when:
 *   - a leaf, or the concatenation of the scalar leaves of one array or document (a value split into characters or
 *     words and sent back in pieces), or either of them reversed, contains a normalized clear value: an e-mail or its
 *     local part, an SSN, a card or phone number, a diagnosis, a medication, a full name, a date of birth (YYYYMMDD);
 *   - or a leaf is itself a piece of a clear value: at least 6 letters of a name, a local part, a diagnosis or a
 *     medication (`$split` of a diagnosis into words), or at least 8 digits of an SSN, card or phone number.
 * Masked forms cannot trip it: `a***@example.com` keeps one letter of the local part, last4 keeps 4 digits, partial
 * keeps one letter, a date of birth generalized to its year is `YYYY-01-01` (no seeded date is on 1 January).
 */
import type { Document } from 'mongodb';

export interface Secret {
  /** what it is, for the failure message: `email of k=3` */
  what: string;
  form: string;
}

export interface Secrets {
  whole: Secret[];
  alpha: Secret[];
  digits: Secret[];
}

export function normalize(s: string): string {
  return s.toLowerCase().replace(/[^a-z0-9]/g, '');
}

const reverse = (s: string): string => [...s].reverse().join('');

function get(doc: Document, path: string): unknown[] {
  const out: unknown[] = [];
  const walk = (v: unknown, parts: string[]): void => {
    if (v === undefined || v === null) return;
    if (parts.length === 0) {
      if (Array.isArray(v)) for (const x of v) out.push(x);
      else out.push(v);
      return;
    }
    if (Array.isArray(v)) {
      for (const x of v) walk(x, parts);
      return;
    }
    if (typeof v === 'object') walk((v as Document)[parts[0]!], parts.slice(1));
  };
  walk(doc, path.split('.'));
  return out;
}

/** The clear values of the classified fields of `docs` (read directly from the server). */
export function secretsOf(docs: Document[]): Secrets {
  const whole: Secret[] = [];
  const alpha: Secret[] = [];
  const digits: Secret[] = [];
  const add = (list: Secret[], what: string, raw: string, min: number): void => {
    const form = normalize(raw);
    if (form.length >= min && !list.some((s) => s.form === form)) list.push({ what, form });
  };
  for (const d of docs) {
    const tag = (f: string): string => `${f} of k=${String(d.k)}`;
    for (const path of ['email', 'contact.email']) {
      for (const v of get(d, path)) {
        if (typeof v !== 'string') continue;
        add(whole, tag(path), v, 6);
        const local = v.split('@')[0]!;
        add(whole, tag(`${path} (local part)`), local, 6);
        add(alpha, tag(`${path} (local part)`), local, 6);
      }
    }
    for (const path of ['full_name', 'diagnosis', 'visits.diagnosis', 'medication']) {
      for (const v of get(d, path)) {
        if (typeof v !== 'string') continue;
        add(whole, tag(path), v, 6);
        add(alpha, tag(path), v, 6);
      }
    }
    for (const path of ['ssn', 'card_number', 'phone', 'dob']) {
      for (const v of get(d, path)) {
        if (typeof v !== 'string') continue;
        add(whole, tag(path), v, 8);
        add(digits, tag(path), v, 8);
      }
    }
  }
  whole.sort((a, b) => b.form.length - a.form.length);
  return { whole, alpha, digits };
}

/** Scalars worth checking: strings and finite numbers. */
function scalar(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v === 'bigint') return String(v);
  const t = (v as { _bsontype?: string } | null)?._bsontype;
  if (t === 'Int32' || t === 'Double' || t === 'Long' || t === 'Decimal128') return String((v as { toString(): string }).toString());
  return null;
}

function isContainer(v: unknown): v is Document | unknown[] {
  if (Array.isArray(v)) return true;
  if (typeof v !== 'object' || v === null) return false;
  if ((v as { _bsontype?: unknown })._bsontype !== undefined) return false;
  return !(v instanceof Date) && !(v instanceof Uint8Array);
}

/** Groups of scalars: every container's direct scalar children, in order (one leaf is a group of its own too). */
export function groupsOf(value: unknown): string[][] {
  const groups: string[][] = [];
  const walk = (v: unknown, depth: number): void => {
    if (depth > 120) return;
    const s = scalar(v);
    if (s !== null) {
      groups.push([s]);
      return;
    }
    if (!isContainer(v)) return;
    const children = Array.isArray(v) ? v : Object.values(v);
    const direct: string[] = [];
    // Field names are sent clear: a value turned into a name ($arrayToObject) must be caught there too.
    if (!Array.isArray(v)) for (const k of Object.keys(v)) groups.push([k]);
    for (const c of children) {
      const cs = scalar(c);
      if (cs !== null) direct.push(cs);
      walk(c, depth + 1);
    }
    if (direct.length > 1) groups.push(direct);
  };
  walk(value, 0);
  return groups;
}

/** The leaks in what was received, as short descriptions; empty when nothing clear came back. */
export function findLeaks(received: unknown, secrets: Secrets, limit = 4): string[] {
  const leaks: string[] = [];
  const seen = new Set<string>();
  const report = (what: string, shown: string): void => {
    const line = `${what} in "${shown.length > 100 ? `${shown.slice(0, 100)}...` : shown}"`;
    if (!seen.has(line) && leaks.length < limit) leaks.push(line);
    seen.add(line);
  };
  for (const group of groupsOf(received)) {
    const joined = normalize(group.join(''));
    const shown = group.join(group.length > 1 ? ' | ' : '');
    for (const hay of [joined, reverse(joined)]) {
      for (const s of secrets.whole) if (hay.includes(s.form)) report(s.what, shown);
    }
    if (group.length !== 1) continue;
    const f = normalize(group[0]!);
    const isDigits = /^\d+$/.test(f);
    if (f.length < (isDigits ? 8 : 6)) continue;
    for (const cand of [f, reverse(f)]) {
      const hit = (isDigits ? secrets.digits : secrets.alpha).find((s) => s.form.includes(cand));
      if (hit) report(`a piece of ${hit.what}`, shown);
    }
  }
  return leaks;
}

/** What a thrown driver error carries that a client can read: message, codes, errInfo, write errors, the raw reply. */
export function errorParts(err: unknown): Document {
  if (!(err instanceof Error)) return { thrown: String(err) };
  const e = err as Error & Document;
  const out: Document = { message: e.message };
  for (const k of ['code', 'codeName', 'errmsg', 'errInfo', 'keyValue', 'keyPattern', 'errorResponse', 'writeErrors', 'writeConcernError', 'result']) {
    const v = e[k];
    if (v === undefined || typeof v === 'function') continue;
    try {
      out[k] = JSON.parse(JSON.stringify(v)) as unknown;
    } catch {
      out[k] = String(v);
    }
  }
  return out;
}

export interface Received {
  value: unknown;
  error: Document | null;
}

export async function receive(fn: () => Promise<unknown>): Promise<Received> {
  try {
    return { value: await fn(), error: null };
  } catch (err) {
    return { value: null, error: errorParts(err) };
  }
}

/** A refusal in MongoDB's own format: code 13 Unauthorized. */
export function isRefusal(r: Received): boolean {
  return r.error !== null && r.error.code === 13;
}
