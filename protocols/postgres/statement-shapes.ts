/**
 * A cache in front of the SQL analyzer keyed by a statement's *shape*: its text with numeric and plain string
 * constants replaced by `?`. Simple-protocol clients (pgbench -S, ORMs that inline values) send a new text for
 * every call, and parsing each with libpg-query costs hundreds of microseconds; texts of one shape have the same
 * analysis (operation, kind, objects, normalized text: literals never name objects or change structure).
 *
 * Soundness first: the scan only recognizes the unambiguous cases and gives up (returns null: analyze the text
 * itself) on anything whose tokenization depends on settings or context: backslashes (standard_conforming_strings,
 * E'' strings), dollar quotes, comments, U&/B/X/E-prefixed strings, numbers glued to letters, unterminated quotes.
 * Analyses that carry literal values (SET / set_config values, COPY options) or that failed to parse are never
 * shared. Everything outside the replaced constants is kept byte for byte, so two texts share a key only when
 * PostgreSQL would tokenize them into the same statement with different constants.
 */
import { analyzeSql, type StatementInfo } from './governance/analyze.js';

const MAX_SHAPES = 5000;
/** Longer texts are analyzed directly (bulk inserts rarely repeat a shape worth caching). */
const MAX_TEXT = 4096;

const shapes = new Map<string, StatementInfo[]>();

const isIdent = (c: number): boolean =>
  (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x24 || c >= 0x80;
const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;

/** The shape key of `sql`, or null when the text is not one the scan can vouch for. */
export function shapeOf(sql: string): string | null {
  const n = sql.length;
  if (n > MAX_TEXT) return null;
  let out = '';
  let last = 0;
  let replaced = false;
  let i = 0;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (c === 0x5c) return null; // backslash anywhere
    if (c === 0x27) {
      // 'string' with '' doubling; a prefix letter (E, U&, B, X, N) glued to it is not handled.
      if (i > 0 && isIdent(sql.charCodeAt(i - 1))) return null;
      if (i > 0 && sql.charCodeAt(i - 1) === 0x26) return null;
      let j = i + 1;
      for (;;) {
        if (j >= n) return null;
        const d = sql.charCodeAt(j);
        if (d === 0x27) {
          if (j + 1 < n && sql.charCodeAt(j + 1) === 0x27) {
            j += 2;
            continue;
          }
          break;
        }
        j++;
      }
      out += sql.slice(last, i) + '?';
      last = j + 1;
      i = j + 1;
      replaced = true;
      continue;
    }
    if (c === 0x22) {
      // "quoted identifier": kept verbatim.
      let j = i + 1;
      for (;;) {
        if (j >= n) return null;
        if (sql.charCodeAt(j) === 0x22) {
          if (j + 1 < n && sql.charCodeAt(j + 1) === 0x22) {
            j += 2;
            continue;
          }
          break;
        }
        j++;
      }
      i = j + 1;
      continue;
    }
    if (c === 0x24) {
      // $1 parameters are fine; $tag$ dollar quotes are not handled.
      if (i + 1 < n && isDigit(sql.charCodeAt(i + 1)) && !(i > 0 && isIdent(sql.charCodeAt(i - 1)))) {
        i += 2;
        while (i < n && isDigit(sql.charCodeAt(i))) i++;
        continue;
      }
      if (i > 0 && isIdent(sql.charCodeAt(i - 1))) {
        i++;
        continue;
      }
      return null;
    }
    if (c === 0x2d && i + 1 < n && sql.charCodeAt(i + 1) === 0x2d) return null; // -- comment
    if (c === 0x2f && i + 1 < n && sql.charCodeAt(i + 1) === 0x2a) return null; // /* comment */
    if (isDigit(c) || (c === 0x2e && i + 1 < n && isDigit(sql.charCodeAt(i + 1)))) {
      if (i > 0 && isIdent(sql.charCodeAt(i - 1))) {
        // A digit inside an identifier (t1, col_2).
        i++;
        continue;
      }
      let j = i;
      while (j < n && isDigit(sql.charCodeAt(j))) j++;
      if (j < n && sql.charCodeAt(j) === 0x2e) {
        j++;
        while (j < n && isDigit(sql.charCodeAt(j))) j++;
      }
      if (j < n && (sql.charCodeAt(j) === 0x65 || sql.charCodeAt(j) === 0x45)) {
        let k = j + 1;
        if (k < n && (sql.charCodeAt(k) === 0x2b || sql.charCodeAt(k) === 0x2d)) k++;
        if (k < n && isDigit(sql.charCodeAt(k))) {
          j = k;
          while (j < n && isDigit(sql.charCodeAt(j))) j++;
        } else {
          return null;
        }
      }
      // 1abc, 1.2.3, 0x1f: not a plain numeric constant.
      if (j < n && (isIdent(sql.charCodeAt(j)) || sql.charCodeAt(j) === 0x2e)) return null;
      out += sql.slice(last, i) + '?';
      last = j;
      i = j;
      replaced = true;
      continue;
    }
    i++;
  }
  if (!replaced) return null;
  return out + sql.slice(last);
}

function shareable(infos: readonly StatementInfo[]): boolean {
  if (infos.length === 0) return false;
  for (const info of infos) {
    if (info.operation === 'unknown' || info.copy !== null || info.setting !== undefined || info.session === 'set' || info.session === 'reset') return false;
    // A DO block or function body written as a string constant ('BEGIN ... END') is code: its text is its analysis.
    if (info.embedded) return false;
  }
  return true;
}

/** analyzeSql, sharing one analysis among texts of the same shape. */
export function analyzeStatement(sql: string): StatementInfo[] {
  const key = shapeOf(sql);
  if (key === null) return analyzeSql(sql);
  const hit = shapes.get(key);
  if (hit) return hit;
  const infos = analyzeSql(sql);
  if (shareable(infos)) {
    if (shapes.size >= MAX_SHAPES) shapes.clear();
    shapes.set(key, infos);
  }
  return infos;
}

/**
 * Settings that never change what a statement text resolves to (its relations, functions, types, result
 * columns): left out of a statement's context so that clients differing only in these still share statements.
 */
const NEUTRAL_SETTINGS = new Set([
  'application_name',
  'client_encoding',
  'DateStyle',
  'datestyle',
  'IntervalStyle',
  'intervalstyle',
  'TimeZone',
  'timezone',
  'extra_float_digits',
  'statement_timeout',
  'lock_timeout',
  'idle_in_transaction_session_timeout',
  'idle_session_timeout',
  'client_min_messages',
  'bytea_output',
]);

/**
 * The part of a client's settings a prepared statement depends on (search_path above all, and any setting dgf does
 * not know to be neutral), as a key: a statement parsed and described for one context is never reused, nor its
 * description answered, for a client in another. '' for the server's defaults.
 */
export function statementContext(settings: ReadonlyMap<string, string>): string {
  let parts: string[] | null = null;
  for (const [k, v] of settings) {
    if (NEUTRAL_SETTINGS.has(k)) continue;
    (parts ??= []).push(`${k}=${v}`);
  }
  // Sorted: the same settings set in another order are the same context.
  return parts === null ? '' : parts.sort().join('\u0000');
}

let retired = 0;

/**
 * A new server-side name for a shared statement whose upstream plan went stale (PostgreSQL answered `0A000 cached
 * plan must not change result type`): clients that parse the text from now on get a fresh plan under the new name,
 * while the clients holding the old description keep the old name, and PostgreSQL's answer, as they would directly.
 */
export function renewedName(serverName: string): string {
  // '~' never occurs in a first name (dgf_<prefix>_<counter>), and the counter is process-wide: no collision.
  const cut = serverName.indexOf('~');
  return `${cut < 0 ? serverName : serverName.slice(0, cut)}~${(retired++).toString(36)}`;
}

/** PostgreSQL's answer to a prepared statement whose result columns changed since the client described it. */
export const CACHED_PLAN_CHANGED = {
  severity: 'ERROR',
  code: '0A000',
  message: 'cached plan must not change result type',
  routine: 'RevalidateCachedQuery',
} as const;
