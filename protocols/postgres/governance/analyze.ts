/**
 * Statement analysis for governance: what each statement of a query does (operation, kind), which objects it
 * touches, and its normalized text for the audit trail. Built on the real PostgreSQL parser (libpg-query, WASM),
 * never on regular expressions, so comments, quoting, CTEs and nested statements are read as PostgreSQL reads them.
 */
import { loadModule, normalizeSync, parseSync, scanSync } from 'libpg-query';
import { RENAME_OBJECT_TAG, RUNS_TAG_PREFIX as RUNS } from '../../../src/policy/types.js';
import { DYNAMIC_CODE, DYNAMIC_TAGS, PLPGSQL_UNPARSEABLE, embeddedCode } from './embedded-code.js';
import { stringList, unwrap, type Fields, type PgNode } from './parse-tree.js';

/** What one statement does, as the session and the policy engine need it. Instances are frozen and shared. */
export interface StatementInfo {
  /** Lower-case verb: 'select', 'insert', 'update', 'delete', 'merge', 'drop', 'truncate', 'create', 'alter', 'copy', 'set', 'begin', ... */
  operation: string;
  kind: 'read' | 'write' | 'ddl' | 'admin' | 'session' | 'other';
  /**
   * Relations touched, schema-qualified ('public.customers'; unqualified names are listed under public, temp ones
   * under pg_temp, and recorded in `bare`: the session resolves them through its search_path before rules see them).
   * For a DO block, a function, procedure or rule, the relations of the statements inside it too.
   */
  objects: string[];
  /** The statement with literals replaced by $n placeholders and comments removed: safe for the audit trail. */
  normalized: string;
  /** Session state the statement creates or changes; a transaction pooler must pin or refuse these. */
  /**
   * `unknown-state`: the statement may leave session state dgf cannot see or replay (a DO block, a CALL, a
   * set_config dgf cannot read): a transaction pooler resets the connection before another client gets it.
   */
  session: null | 'set' | 'reset' | 'listen' | 'unlisten' | 'advisory-lock' | 'temp-table' | 'hold-cursor' | 'prepare' | 'deallocate' | 'discard' | 'declare-cursor' | 'unknown-state';
  transaction: null | 'begin' | 'commit' | 'rollback' | 'savepoint';
  /**
   * COPY: direction, target table (for `COPY (query)`, the one table the query reads, else null), columns (for a
   * query, the source column of each output column where it is a plain column reference, else its output name),
   * format, and the text/CSV options that shape each line.
   */
  copy: null | {
    direction: 'from' | 'to';
    object: string | null;
    columns: string[] | null;
    format: 'text' | 'csv' | 'binary';
    options?: CopyOptions;
  };
  /** For SET / RESET / set_config(): the setting touched. `value` null means RESET / DEFAULT / not a literal. */
  setting?: { name: string; value: string | null; local: boolean };
  /**
   * More specific verbs than `operation`, for policy rules (`create-view`, `create-table-as`, `do`,
   * `copy-to-program`, `set-unresolved`, ...): what copies data or runs code where dgf cannot follow it.
   */
  tags?: readonly string[];
  /**
   * For each entry of `objects`, the relation name as written when it was unqualified (`objects` then holds it under
   * `public`, or `pg_temp` for CREATE TEMP), else null; absent when every name was qualified. The session resolves
   * these through its search_path (firewall-view.ts).
   */
  bare?: readonly (string | null)[];
  /** Names of the functions the statement calls (last name part, lower case), for the pool's state tracking. */
  calls?: readonly string[];
  /** The analysis read string constants as code (DO bodies, function bodies, dblink SQL): never shared by shape. */
  embedded?: true;
}

/** COPY text/CSV options as written in the statement (absent: PostgreSQL's default for the format). */
export interface CopyOptions {
  delimiter?: string;
  null?: string;
  header?: boolean;
  quote?: string;
  escape?: string;
}

let loaded: Promise<void> | null = null;
let ready = false;

/** Load the parser's WASM module once (at listener start); later calls share the first load. */
export function initSqlAnalyzer(): Promise<void> {
  loaded ??= loadModule().then(() => {
    ready = true;
  });
  return loaded;
}

/**
 * Drivers resend the same texts, so analysis is cached by SQL text. Two generations instead of a strict LRU: a hit
 * costs one Map lookup (no reordering), and when the young generation is full it becomes the old one, so memory
 * stays bounded at 2 x CACHE_MAX entries however many distinct texts clients send.
 */
const CACHE_MAX = 2000;
/** Texts longer than this (bulk inserts with inline literals) are rarely repeated: not worth keeping. */
const CACHE_MAX_TEXT = 16 * 1024;
let young = new Map<string, readonly StatementInfo[]>();
let old = new Map<string, readonly StatementInfo[]>();

function remember(sql: string, result: readonly StatementInfo[]): void {
  if (young.size >= CACHE_MAX) {
    old = young;
    young = new Map();
  }
  young.set(sql, result);
}

/** What dgf knows of a statement it could not analyze: an unknown operation on no object, shown as `normalized`. */
export function unanalyzed(normalized: string): StatementInfo {
  return Object.freeze({
    operation: 'unknown',
    kind: 'other' as const,
    objects: Object.freeze([]) as unknown as string[],
    normalized,
    session: null,
    transaction: null,
    copy: null,
  });
}

const UNPARSEABLE: readonly StatementInfo[] = Object.freeze([unanalyzed('<unparseable>')]);

const EMPTY: readonly StatementInfo[] = Object.freeze([]);

/**
 * Analyze a simple Query's text: one StatementInfo per statement (none for an empty query). Never throws once
 * `initSqlAnalyzer()` has completed (before that it throws: an unanalyzed statement must never reach the policy as
 * 'unknown'): text the parser rejects yields one 'unknown' statement whose normalized form echoes nothing of the
 * input. The returned objects are shared by every caller with the same text: treat them as read-only.
 */
export function analyzeSql(sql: string): StatementInfo[] {
  let hit = young.get(sql);
  if (hit !== undefined) return hit as StatementInfo[];
  hit = old.get(sql);
  if (hit !== undefined) {
    remember(sql, hit);
    return hit as StatementInfo[];
  }
  const result = analyzeUncached(sql);
  if (sql.length <= CACHE_MAX_TEXT) remember(sql, result);
  return result as StatementInfo[];
}

function analyzeUncached(sql: string): readonly StatementInfo[] {
  if (!ready) throw new Error('initSqlAnalyzer() must complete before analyzeSql()');
  if (sql.trim() === '') return EMPTY;
  let tree: { stmts?: RawStmt[] };
  try {
    tree = parseSync(sql) as unknown as { stmts?: RawStmt[] };
  } catch {
    return UNPARSEABLE;
  }
  const stmts = tree.stmts ?? [];
  if (stmts.length === 0) return EMPTY;
  // Parser locations are UTF-8 byte offsets; only non-ASCII text needs the byte view.
  const bytes = isAscii(sql) ? null : Buffer.from(sql, 'utf8');
  const out: StatementInfo[] = [];
  for (const raw of stmts) {
    const start = raw.stmt_location ?? 0;
    const text = sliceStatement(sql, bytes, start, raw.stmt_len);
    const described = describe(raw.stmt ?? {}, normalizeStatement(text));
    const tags = tagsOf(raw.stmt ?? {}, described);
    const withTags = tags.length > 0 ? { ...described, tags } : described;
    out.push(freezeInfo(withEmbeddedCode(raw.stmt ?? {}, text, withTags)));
  }
  return Object.freeze(out);
}

interface RawStmt {
  stmt?: PgNode;
  stmt_location?: number;
  stmt_len?: number;
}


function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

function sliceStatement(sql: string, bytes: Buffer | null, start: number, len: number | undefined): string {
  if (bytes === null) return (len ? sql.slice(start, start + len) : sql.slice(start)).trim();
  return bytes.toString('utf8', start, len ? start + len : bytes.length).trim();
}

/**
 * Literals become $n (libpg-query normalize) and comments are dropped, because both may carry clear values
 * ("-- card 4111...") that must never reach the audit trail.
 */
function normalizeStatement(text: string): string {
  let normalized: string;
  try {
    normalized = normalizeSync(text);
  } catch {
    return '<unparseable>';
  }
  if (!normalized.includes('--') && !normalized.includes('/*')) return normalized;
  try {
    const tokens = scanSync(normalized).tokens;
    const buf = Buffer.from(normalized, 'utf8');
    const parts: string[] = [];
    let at = 0;
    for (const t of tokens) {
      if (t.tokenName !== 'SQL_COMMENT' && t.tokenName !== 'C_COMMENT') continue;
      parts.push(buf.toString('utf8', at, t.start));
      at = t.end;
    }
    parts.push(buf.toString('utf8', at));
    return parts.join(' ').replace(/\s+/g, ' ').trim();
  } catch {
    return '<unparseable>';
  }
}

/** How deep statements nest in code dgf reads (EXECUTE of a DO block of an EXECUTE ...) before it stops reading. */
const MAX_NESTING = 8;
let nesting = 0;

/** Session states that keep a client on its connection (the session's PINNING set). */
const PINNED_STATES = new Set(['listen', 'advisory-lock', 'temp-table', 'hold-cursor', 'prepare']);

/**
 * `info` judged as what it runs (embedded-code.ts): the verbs, kinds and tags of the statements inside it become
 * its tags, their relations its objects; code dgf cannot read adds the dynamic-code tags. For code that runs now
 * (DO), the session state the inner statements leave becomes the DO's.
 */
function withEmbeddedCode(stmt: PgNode, text: string, info: StatementInfo): StatementInfo {
  const code = embeddedCode(stmt, text);
  if (code === null) return info;
  const inner: StatementInfo[] = [];
  if (nesting >= MAX_NESTING) code.dynamic ??= 'code nested too deep';
  else {
    nesting++;
    try {
      for (const t of code.texts) inner.push(...analyzeSql(t));
      for (const n of code.nodes) {
        const d = describe(n, '');
        inner.push(withEmbeddedCode(n, '', { ...d, ...(tagsOf(n, d).length > 0 ? { tags: tagsOf(n, d) } : {}) }));
      }
    } finally {
      nesting--;
    }
  }
  const tags = new Set(info.tags ?? []);
  const objects = [...info.objects];
  const bare: Array<string | null> = info.bare ? [...info.bare] : info.objects.map(() => null);
  const seen = new Set(objects.map((o, i) => (bare[i] === null ? o : `\u0000${bare[i]}`)));
  const calls = new Set(info.calls ?? []);
  let session = info.session;
  for (const i of inner) {
    if (i.operation === 'unknown') code.dynamic ??= 'a statement dgf cannot parse';
    // `runs:<verb>`: deny rules on the verb match the wrapping statement, allow rules do not (they would allow the rest).
    tags.add(`${RUNS}${i.operation}`);
    tags.add(`${RUNS}${i.kind}`);
    for (const t of i.tags ?? []) tags.add(t === DYNAMIC_CODE || t.startsWith('may:') || t.startsWith(RUNS) ? t : `${RUNS}${t}`);
    i.objects.forEach((o, k) => {
      const b = i.bare?.[k] ?? null;
      const key = b === null ? o : `\u0000${b}`;
      if (seen.has(key)) return;
      seen.add(key);
      objects.push(o);
      bare.push(b);
    });
    if (!code.runsNow) continue;
    for (const c of i.calls ?? []) calls.add(c);
    if (i.session !== null && PINNED_STATES.has(i.session)) {
      if (session === null || !PINNED_STATES.has(session)) {
        session = i.session;
        // The session records the temporary table it created as the statement's first object.
        if (i.session === 'temp-table' && i.objects[0] !== undefined) {
          const at = objects.indexOf(i.objects[0]);
          if (at > 0) {
            objects.unshift(...objects.splice(at, 1));
            bare.unshift(...bare.splice(at, 1));
          }
        }
      }
    } else if (i.session !== null && i.session !== 'declare-cursor' && (session === null || !PINNED_STATES.has(session))) {
      // SET, RESET, set_config, DISCARD, DEALLOCATE, CALL inside code: state dgf cannot replay.
      session = 'unknown-state';
    }
  }
  tags.delete(`${RUNS}unknown`);
  if (code.dynamic !== null) {
    for (const t of DYNAMIC_TAGS) tags.add(t);
    if (code.runsNow && (session === null || !PINNED_STATES.has(session))) session = 'unknown-state';
  }
  const out: StatementInfo = { ...info, objects, session, tags: [...tags], embedded: true };
  if (bare.some((b) => b !== null)) out.bare = bare;
  else delete out.bare;
  if (calls.size > 0) out.calls = [...calls];
  return out;
}

/**
 * What calling a function with this body may leave on the connection: `state` when it may change session state
 * (SET, set_config, temporary tables, locks, LISTEN, code dgf cannot read), and the functions it calls in turn.
 */
export function bodyEffects(language: string, body: string): { state: boolean; calls: readonly string[] } {
  const lang = language.toLowerCase();
  let infos: readonly StatementInfo[];
  if (lang === 'sql' && body !== '') {
    infos = analyzeSql(body);
  } else if (lang === 'plpgsql') {
    // The catalog keeps the body, not the signature: read it as a DO block would run it, else with a result type.
    let tag = '$dgf$';
    for (let i = 0; body.includes(tag); i++) tag = `$dgf${i}$`;
    let code: ReturnType<typeof embeddedCode> = null;
    for (const returns of [null, 'int', 'SETOF record', 'trigger']) {
      const text = returns === null ? `DO ${tag}${body}${tag}` : `CREATE FUNCTION dgf_probe() RETURNS ${returns} LANGUAGE plpgsql AS ${tag}${body}${tag}`;
      let stmt: PgNode | undefined;
      try {
        stmt = (parseSync(text) as { stmts?: RawStmt[] }).stmts?.[0]?.stmt;
      } catch {
        continue;
      }
      const c = stmt ? embeddedCode(stmt, text) : null;
      if (c === null || c.dynamic === PLPGSQL_UNPARSEABLE) continue;
      code = c;
      break;
    }
    if (code === null || code.dynamic !== null) return { state: true, calls: [] };
    const inner: StatementInfo[] = [];
    for (const t of code.texts) inner.push(...analyzeSql(t));
    infos = inner;
  } else {
    return { state: true, calls: [] };
  }
  const calls = new Set<string>();
  let state = false;
  for (const i of infos) {
    if (i.operation === 'unknown' || isDynamicCode(i) || (i.session !== null && i.session !== 'declare-cursor')) state = true;
    for (const c of i.calls ?? []) calls.add(c);
  }
  return { state, calls: [...calls] };
}

/** Whether a statement runs SQL dgf cannot read (see embedded-code.ts). */
export function isDynamicCode(info: StatementInfo): boolean {
  return info.tags?.includes(DYNAMIC_CODE) === true;
}

const RELATION_TYPES = new Set(['OBJECT_TABLE', 'OBJECT_VIEW', 'OBJECT_MATVIEW', 'OBJECT_FOREIGN_TABLE', 'OBJECT_SEQUENCE']);

/** The specific verbs of a statement (see StatementInfo.tags). */
function tagsOf(stmt: PgNode, described: StatementInfo): string[] {
  const u = unwrap(stmt);
  if (!u) return [];
  const [type, f] = u;
  const tags: string[] = [];
  switch (type) {
    case 'ViewStmt':
      tags.push('create-view');
      break;
    case 'CreateTableAsStmt':
      tags.push(f['objtype'] === 'OBJECT_MATVIEW' ? 'create-materialized-view' : 'create-table-as');
      break;
    case 'SelectStmt':
      if (f['intoClause']) tags.push('select-into');
      break;
    case 'CreateFunctionStmt':
      tags.push(f['is_procedure'] ? 'create-procedure' : 'create-function');
      break;
    case 'RuleStmt':
      tags.push('create-rule');
      break;
    case 'CreateTrigStmt':
    case 'CreateEventTrigStmt':
      tags.push('create-trigger');
      break;
    case 'DoStmt':
      tags.push('do');
      break;
    case 'RenameStmt':
      // A relation under another name escapes rules on its name: rules on the object apply to its renaming.
      if (RELATION_TYPES.has(str(f['renameType']) ?? '')) tags.push(RENAME_OBJECT_TAG);
      break;
    case 'AlterObjectSchemaStmt':
      if (RELATION_TYPES.has(str(f['objectType']) ?? '')) tags.push(RENAME_OBJECT_TAG);
      break;
    case 'LoadStmt':
      tags.push('load');
      break;
    case 'CreateExtensionStmt':
    case 'AlterExtensionStmt':
      tags.push('create-extension');
      break;
    case 'CopyStmt':
      if (f['is_program']) tags.push(f['is_from'] ? 'copy-from-program' : 'copy-to-program');
      else if (f['filename'] && !f['is_from']) tags.push('copy-to-file');
      break;
  }
  // A search_path or setting dgf cannot read (set_config with a computed name or path): lineage cannot resolve names.
  const setting = described.setting;
  if (setting && (setting.name === '' || (setting.name === 'search_path' && setting.value === null && described.operation !== 'reset'))) {
    tags.push('set-unresolved');
  }
  return tags;
}

function freezeInfo(info: StatementInfo): StatementInfo {
  Object.freeze(info.objects);
  if (info.copy) {
    if (info.copy.columns) Object.freeze(info.copy.columns);
    Object.freeze(info.copy);
  }
  if (info.setting) Object.freeze(info.setting);
  if (info.tags) Object.freeze(info.tags);
  if (info.bare) Object.freeze(info.bare);
  if (info.calls) Object.freeze(info.calls);
  return Object.freeze(info);
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function info(
  operation: string,
  kind: StatementInfo['kind'],
  objects: string[],
  normalized: string,
  extra: Partial<StatementInfo> = {},
): StatementInfo {
  return { operation, kind, objects, normalized, session: null, transaction: null, copy: null, ...extra };
}

/** `info` with the objects and extra fields of a walk. */
function walked(
  operation: string,
  kind: StatementInfo['kind'],
  o: { w: Walk; objects: string[] },
  normalized: string,
  extra: Partial<StatementInfo> = {},
): StatementInfo {
  return info(operation, kind, o.objects, normalized, { ...walkExtra(o.w), ...extra });
}

/** Relation name of a RangeVar's fields, schema-qualified. */
function rangeVarName(rv: Fields): string {
  const rel = str(rv['relname']) ?? '';
  const schema = str(rv['schemaname']);
  if (schema) return `${schema}.${rel}`;
  return rv['relpersistence'] === 't' ? `pg_temp.${rel}` : `public.${rel}`;
}

/** What a walk of a statement's tree found. */
interface Walk {
  objects: string[];
  /** Aligned with objects: the name as written when unqualified, else null. */
  bare: Array<string | null>;
  seen: Set<string>;
  ctes: Set<string>;
  /** Unqualified relation names, checked against CTE names once the whole tree is known. */
  pending: Array<{ name: string; qualified: string }>;
  advisoryLock: boolean;
  setConfig: { name: string; value: string | null; local: boolean } | null;
  /** set_config calls seen: more than one cannot be told by one `setting`. */
  setConfigs: number;
  modifying: string | null;
  /** Functions called (last name part, lower case). */
  calls: Set<string>;
}

function newWalk(): Walk {
  return { objects: [], bare: [], seen: new Set(), ctes: new Set(), pending: [], advisoryLock: false, setConfig: null, setConfigs: 0, modifying: null, calls: new Set() };
}

const SESSION_ADVISORY_LOCKS = new Set([
  'pg_advisory_lock',
  'pg_advisory_lock_shared',
  'pg_try_advisory_lock',
  'pg_try_advisory_lock_shared',
]);

const MODIFYING: Record<string, string> = {
  InsertStmt: 'insert',
  UpdateStmt: 'update',
  DeleteStmt: 'delete',
  MergeStmt: 'merge',
};

/** Visit every node: relations (RangeVar), CTE names, session-level function calls, data-modifying CTEs. */
function walk(node: unknown, w: Walk, depth = 0): void {
  // Parse trees are bounded by PostgreSQL's own stack-depth checks; this guard only protects against surprises.
  if (depth > 400 || node === null || typeof node !== 'object') return;
  if (Array.isArray(node)) {
    for (const item of node) walk(item, w, depth + 1);
    return;
  }
  for (const key in node as PgNode) {
    const value = (node as PgNode)[key];
    if (value === null || typeof value !== 'object') continue;
    // Relations appear wrapped ({RangeVar: {...}}) in lists and bare in typed fields (`relation`, `rel`).
    if (!Array.isArray(value) && (key === 'RangeVar' || isBareRangeVar(value as Fields))) {
      const rv = value as Fields;
      // Qualified names cannot be CTEs; unqualified ones are checked once every CTE name is known.
      w.pending.push({ name: str(rv['schemaname']) || rv['relpersistence'] === 't' ? '' : (str(rv['relname']) ?? ''), qualified: rangeVarName(rv) });
      continue;
    }
    if (key === 'CommonTableExpr') {
      const name = str((value as Fields)['ctename']);
      if (name) w.ctes.add(name);
      const q = unwrap((value as Fields)['ctequery']);
      if (q && MODIFYING[q[0]] && w.modifying === null) w.modifying = MODIFYING[q[0]]!;
    } else if (key === 'FuncCall') {
      inspectCall(value as Fields, w);
    }
    walk(value, w, depth + 1);
  }
}

function isBareRangeVar(f: Fields): boolean {
  return typeof f['relname'] === 'string' && typeof f['relpersistence'] === 'string';
}

function inspectCall(call: Fields, w: Walk): void {
  const names = stringList(call['funcname']);
  const fn = names[names.length - 1]?.toLowerCase();
  if (!fn) return;
  if (w.calls.size < 64) w.calls.add(fn);
  if (SESSION_ADVISORY_LOCKS.has(fn)) w.advisoryLock = true;
  else if (fn === 'set_config' && Array.isArray(call['args']) && call['args'].length === 3) {
    const [name, value, local] = call['args'] as unknown[];
    const n = constText(name);
    w.setConfigs++;
    w.setConfig = { name: n ?? '', value: constText(value) ?? null, local: constBool(local) ?? false };
  }
}

function addObject(w: Walk, name: string, bare: string | null = null): void {
  // Unqualified and qualified spellings stay apart: `orders` may resolve elsewhere than `public.orders`.
  const key = bare === null ? name : `\u0000${bare}`;
  if (w.seen.has(key)) return;
  w.seen.add(key);
  w.objects.push(name);
  w.bare.push(bare);
}

function finishWalk(w: Walk): string[] {
  for (const p of w.pending) if (p.name === '' || !w.ctes.has(p.name)) addObject(w, p.qualified, p.name === '' ? null : p.name);
  return w.objects;
}

/** The name of a RangeVar as written when it is unqualified (and not a temporary one), else null. */
function bareOf(rv: Fields): string | null {
  return str(rv['schemaname']) || rv['relpersistence'] === 't' ? null : (str(rv['relname']) ?? null);
}

/** Objects of a subtree, with `first` (the statement's target) listed first. */
function objectsOf(tree: unknown, first?: Fields): { w: Walk; objects: string[] } {
  const w = newWalk();
  if (first) addObject(w, rangeVarName(first), bareOf(first));
  walk(tree, w);
  return { w, objects: finishWalk(w) };
}

/** The `bare`, `calls` and state fields a walk adds to a statement's info. */
function walkExtra(w: Walk): Partial<StatementInfo> {
  const extra: { bare?: readonly (string | null)[]; calls?: readonly string[] } = {};
  if (w.bare.some((b) => b !== null)) extra.bare = w.bare;
  if (w.calls.size > 0) extra.calls = [...w.calls];
  return extra;
}

/** The text of an A_Const (or a TypeCast of one), as SET would read it. */
function constText(node: unknown): string | undefined {
  const u = unwrap(node);
  if (!u) return undefined;
  if (u[0] === 'TypeCast') return constText(u[1]['arg']);
  if (u[0] !== 'A_Const') return undefined;
  const c = u[1];
  if (c['isnull']) return undefined;
  const sval = c['sval'] as Fields | undefined;
  if (sval) return str(sval['sval']) ?? '';
  const ival = c['ival'] as Fields | undefined;
  // Protobuf JSON omits zero values: `ival: {}` is 0, `boolval: {}` is false.
  if (ival) return String(ival['ival'] ?? 0);
  const fval = c['fval'] as Fields | undefined;
  if (fval) return str(fval['fval']) ?? '0';
  const boolval = c['boolval'] as Fields | undefined;
  if (boolval) return boolval['boolval'] ? 'on' : 'off';
  const bsval = c['bsval'] as Fields | undefined;
  if (bsval) return str(bsval['bsval']) ?? '';
  return undefined;
}

function constBool(node: unknown): boolean | undefined {
  const u = unwrap(node);
  if (!u || u[0] !== 'A_Const') return undefined;
  const boolval = u[1]['boolval'] as Fields | undefined;
  if (boolval) return Boolean(boolval['boolval']);
  const text = constText(node);
  if (text === undefined) return undefined;
  return ['t', 'true', 'on', '1', 'yes'].includes(text.toLowerCase());
}

/** Options of COPY / EXPLAIN: DefElem name -> argument text ('' when the option has no argument). */
function defElems(options: unknown): Map<string, string> {
  const out = new Map<string, string>();
  if (!Array.isArray(options)) return out;
  for (const o of options) {
    const u = unwrap(o);
    if (!u || u[0] !== 'DefElem') continue;
    const name = str(u[1]['defname']) ?? '';
    const arg = unwrap(u[1]['arg']);
    let value = '';
    if (arg && arg[0] === 'String') value = str(arg[1]['sval']) ?? '';
    else if (arg && arg[0] === 'Boolean') value = arg[1]['boolval'] ? 'true' : 'false';
    else if (arg) value = constText(u[1]['arg']) ?? '';
    out.set(name.toLowerCase(), value);
  }
  return out;
}

const CURSOR_OPT_HOLD = 0x0020;

/**
 * Statement node types that are admin work (server maintenance, roles, privileges, system settings). Every DROP is
 * operation 'drop', so a rule on `drop` covers them all; DROP DATABASE is 'drop_database' (the packs match
 * `drop*database`, the name other protocols use).
 */
const ADMIN: Record<string, string> = {
  VacuumStmt: 'vacuum',
  ClusterStmt: 'cluster',
  ReindexStmt: 'reindex',
  CheckPointStmt: 'checkpoint',
  LoadStmt: 'load',
  AlterSystemStmt: 'alter_system',
  CreateRoleStmt: 'create_role',
  AlterRoleStmt: 'alter_role',
  AlterRoleSetStmt: 'alter_role',
  DropRoleStmt: 'drop',
  GrantRoleStmt: 'grant',
  ReassignOwnedStmt: 'reassign_owned',
  DropOwnedStmt: 'drop',
  CreatedbStmt: 'create_database',
  DropdbStmt: 'drop_database',
  AlterDatabaseStmt: 'alter_database',
  AlterDatabaseSetStmt: 'alter_database',
  CreateTableSpaceStmt: 'create_tablespace',
  DropTableSpaceStmt: 'drop',
  DoStmt: 'do',
  CreateSubscriptionStmt: 'create_subscription',
  AlterSubscriptionStmt: 'alter_subscription',
  DropSubscriptionStmt: 'drop',
};

function describe(stmt: PgNode, normalized: string): StatementInfo {
  const u = unwrap(stmt);
  if (!u) return info('unknown', 'other', [], normalized);
  const [type, f] = u;
  switch (type) {
    case 'SelectStmt':
      return describeSelect(f, stmt, normalized);
    case 'InsertStmt':
    case 'UpdateStmt':
    case 'DeleteStmt':
    case 'MergeStmt':
      return walked(MODIFYING[type]!, 'write', objectsOf(stmt, f['relation'] as Fields), normalized);
    case 'DropStmt': {
      const d = dropObjects(f);
      return info('drop', 'ddl', d.objects, normalized, d.bare.some((b) => b !== null) ? { bare: d.bare } : {});
    }
    case 'TruncateStmt':
      return walked('truncate', 'ddl', objectsOf(stmt), normalized);
    case 'CreateStmt': {
      const rel = f['relation'] as Fields;
      const temp = rel?.['relpersistence'] === 't';
      return walked('create', 'ddl', objectsOf(stmt, rel), normalized, temp ? { session: 'temp-table' } : {});
    }
    case 'CreateTableAsStmt': {
      const into = f['into'] as Fields | undefined;
      const rel = into?.['rel'] as Fields | undefined;
      const temp = rel?.['relpersistence'] === 't';
      return walked('create', 'ddl', objectsOf(stmt, rel), normalized, temp ? { session: 'temp-table' } : {});
    }
    case 'ViewStmt': {
      // A temporary view lives on one backend, like a temporary table: the client keeps that connection.
      const rel = f['view'] as Fields | undefined;
      const temp = rel?.['relpersistence'] === 't';
      return walked('create', 'ddl', objectsOf(stmt, rel), normalized, temp ? { session: 'temp-table' } : {});
    }
    case 'CopyStmt':
      return describeCopy(f, normalized);
    case 'VariableSetStmt':
      return describeSet(f, normalized);
    case 'VariableShowStmt':
      return info('show', 'session', [], normalized);
    case 'ListenStmt':
      return info('listen', 'session', [], normalized, { session: 'listen' });
    case 'UnlistenStmt':
      return info('unlisten', 'session', [], normalized, { session: 'unlisten' });
    case 'NotifyStmt':
      return info('notify', 'other', [], normalized);
    case 'DeclareCursorStmt': {
      const hold = (Number(f['options'] ?? 0) & CURSOR_OPT_HOLD) !== 0;
      const inner = describe((f['query'] as PgNode) ?? {}, normalized);
      return info('declare', inner.kind, inner.objects, normalized, { ...innerExtra(inner), session: hold ? 'hold-cursor' : 'declare-cursor' });
    }
    case 'FetchStmt':
      return info(f['ismove'] ? 'move' : 'fetch', 'read', [], normalized);
    case 'ClosePortalStmt':
      return info('close', 'session', [], normalized);
    case 'PrepareStmt': {
      // The prepared statement is judged now, as what it will do: EXECUTE cannot be judged without it.
      const inner = describe((f['query'] as PgNode) ?? {}, normalized);
      return info(inner.operation, inner.kind, inner.objects, normalized, { ...innerExtra(inner), session: 'prepare' });
    }
    case 'ExecuteStmt':
      return info('execute', 'other', [], normalized);
    case 'DeallocateStmt':
      return info('deallocate', 'session', [], normalized, { session: 'deallocate' });
    case 'DiscardStmt':
      return info('discard', 'session', [], normalized, { session: 'discard' });
    case 'TransactionStmt':
      return describeTransaction(f, normalized);
    case 'ExplainStmt': {
      const inner = describe((f['query'] as PgNode) ?? {}, normalized);
      // EXPLAIN ANALYZE runs the statement: judge it as the statement itself.
      if (defElems(f['options']).has('analyze')) return { ...inner, normalized };
      return info('explain', 'read', inner.objects, normalized, inner.bare ? { bare: inner.bare } : {});
    }
    case 'LockStmt':
      return walked('lock', 'other', objectsOf(stmt), normalized);
    case 'CallStmt': {
      // A procedure may leave session state dgf cannot see (SET, temp tables, locks): the pooler resets after it.
      const o = objectsOf(stmt);
      return walked('call', 'write', o, normalized, { session: 'unknown-state' });
    }
    case 'RefreshMatViewStmt':
      return walked('refresh', 'write', objectsOf(stmt), normalized);
    case 'GrantStmt':
      return walked(f['is_grant'] ? 'grant' : 'revoke', 'admin', objectsOf(stmt), normalized);
    case 'RenameStmt':
    case 'CommentStmt':
    case 'IndexStmt':
    case 'RuleStmt':
    case 'CompositeTypeStmt':
    case 'DefineStmt':
      return walked(ddlVerb(type), 'ddl', objectsOf(stmt), normalized);
  }
  if (ADMIN[type]) return walked(ADMIN[type]!, 'admin', objectsOf(stmt), normalized);
  if (type.startsWith('Create') || type.startsWith('Alter') || type.startsWith('Drop')) {
    return walked(ddlVerb(type), 'ddl', objectsOf(stmt), normalized);
  }
  return walked(type.replace(/Stmt$/, '').toLowerCase(), 'other', objectsOf(stmt), normalized);
}

function ddlVerb(type: string): string {
  if (type.startsWith('Create') || type === 'IndexStmt' || type === 'ViewStmt' || type === 'RuleStmt' || type === 'CompositeTypeStmt' || type === 'DefineStmt') return 'create';
  if (type.startsWith('Drop')) return 'drop';
  if (type === 'CommentStmt') return 'comment';
  return 'alter';
}

function describeSelect(f: Fields, stmt: PgNode, normalized: string): StatementInfo {
  const into = f['intoClause'] as Fields | undefined;
  const rel = into?.['rel'] as Fields | undefined;
  const o = objectsOf(stmt, rel);
  const w = o.w;
  if (rel) {
    const temp = rel['relpersistence'] === 't';
    return walked('create', 'ddl', o, normalized, temp ? { session: 'temp-table' } : {});
  }
  if (w.modifying) return walked(w.modifying, 'write', o, normalized, w.setConfig ? unreplayable(w) : {});
  if (w.advisoryLock) return walked('select', 'read', o, normalized, { session: 'advisory-lock' });
  if (w.setConfig) return walked('select', 'read', o, normalized, unreplayable(w));
  return walked('select', 'read', o, normalized);
}

function dropObjects(f: Fields): { objects: string[]; bare: Array<string | null> } {
  const out: string[] = [];
  const bare: Array<string | null> = [];
  const removeType = str(f['removeType']) ?? '';
  const relational = ['OBJECT_TABLE', 'OBJECT_VIEW', 'OBJECT_MATVIEW', 'OBJECT_INDEX', 'OBJECT_SEQUENCE', 'OBJECT_FOREIGN_TABLE'];
  if (!Array.isArray(f['objects'])) return { objects: out, bare };
  for (const o of f['objects'] as unknown[]) {
    const u = unwrap(o);
    if (!u) continue;
    if (u[0] === 'List') {
      const names = stringList(u[1]['items']);
      if (names.length === 0) continue;
      if (relational.includes(removeType)) {
        const rel = names[names.length - 1]!;
        const schema = names.length >= 2 ? names[names.length - 2]! : 'public';
        out.push(`${schema}.${rel}`);
        bare.push(names.length >= 2 ? null : rel);
      } else {
        out.push(names.join('.'));
        bare.push(null);
      }
    } else if (u[0] === 'String') {
      out.push(str(u[1]['sval']) ?? '');
      bare.push(null);
    }
  }
  return { objects: out, bare };
}

/** The bare/calls fields of an inner statement's info, kept by the statement that wraps it. */
function innerExtra(inner: StatementInfo): Partial<StatementInfo> {
  return { ...(inner.bare ? { bare: inner.bare } : {}), ...(inner.calls ? { calls: inner.calls } : {}) };
}

/**
 * A statement that calls set_config: a setting the session can replay when there is one with a constant name and
 * value; otherwise (several calls, a computed name or value) state dgf cannot replay: the pooler resets after it.
 */
function unreplayable(w: Walk): Partial<StatementInfo> {
  const s = w.setConfig!;
  const known = w.setConfigs === 1 && s.name !== '' && (s.value !== null || s.local);
  return { session: known ? 'set' : 'unknown-state', setting: s };
}

function describeCopy(f: Fields, normalized: string): StatementInfo {
  const options = defElems(f['options']);
  const fmt = options.get('format')?.toLowerCase();
  const format: 'text' | 'csv' | 'binary' = fmt === 'csv' ? 'csv' : fmt === 'binary' ? 'binary' : options.has('csv') ? 'csv' : options.has('binary') ? 'binary' : 'text';
  const direction: 'from' | 'to' = f['is_from'] ? 'from' : 'to';
  const rel = f['relation'] as Fields | undefined;
  let object: string | null = null;
  let columns: string[] | null = null;
  let objects: string[];
  let copyBare: Array<string | null> | null = null;
  if (rel) {
    object = rangeVarName(rel);
    const attlist = stringList(f['attlist']);
    columns = attlist.length > 0 ? attlist : null;
    objects = [object];
    if (bareOf(rel) !== null) copyBare = [bareOf(rel)];
  } else {
    const query = f['query'] as PgNode | undefined;
    const o = objectsOf(query ?? {});
    objects = o.objects;
    if (o.w.bare.some((b) => b !== null)) copyBare = o.w.bare;
    const sel = unwrap(query);
    if (sel && sel[0] === 'SelectStmt') {
      columns = targetNames(sel[1]);
      // Result columns resolve to a table only when the query reads exactly one.
      if (objects.length === 1) object = objects[0]!;
    }
  }
  // COPY to or from a server file or program runs with the server's privileges: that is admin work.
  const server = Boolean(f['filename']) || Boolean(f['is_program']);
  const kind = server ? 'admin' : direction === 'from' ? 'write' : 'read';
  const copyOptions: CopyOptions = {};
  if (options.has('delimiter')) copyOptions.delimiter = options.get('delimiter')!;
  if (options.has('null')) copyOptions.null = options.get('null')!;
  if (options.has('quote')) copyOptions.quote = options.get('quote')!;
  if (options.has('escape')) copyOptions.escape = options.get('escape')!;
  if (options.has('header')) {
    const h = options.get('header')!.toLowerCase();
    copyOptions.header = !['false', 'off', '0', 'no'].includes(h);
  }
  const copy = { direction, object, columns, format, ...(Object.keys(copyOptions).length > 0 ? { options: copyOptions } : {}) };
  return info('copy', kind, objects, normalized, { copy, ...(copyBare ? { bare: copyBare } : {}) });
}

/** Output column names of a SELECT's target list, as PostgreSQL names them; '*' stays '*'. */
function targetNames(select: Fields): string[] | null {
  const list = select['targetList'];
  if (!Array.isArray(list)) return null;
  const out: string[] = [];
  for (const t of list) {
    const u = unwrap(t);
    if (!u || u[0] !== 'ResTarget') return null;
    const alias = str(u[1]['name']);
    const val = unwrap(u[1]['val']);
    // A plain column keeps its source name even when aliased: classification follows the data.
    if (alias && !(val && val[0] === 'ColumnRef')) {
      out.push(alias);
      continue;
    }
    if (val && val[0] === 'ColumnRef' && Array.isArray(val[1]['fields'])) {
      const fields = val[1]['fields'] as unknown[];
      const last = unwrap(fields[fields.length - 1]);
      if (last && last[0] === 'A_Star') out.push('*');
      else if (last && last[0] === 'String') out.push(str(last[1]['sval']) ?? '?column?');
      else out.push('?column?');
    } else if (val && val[0] === 'FuncCall') {
      const names = stringList(val[1]['funcname']);
      out.push(names[names.length - 1] ?? '?column?');
    } else out.push('?column?');
  }
  return out;
}

function describeSet(f: Fields, normalized: string): StatementInfo {
  const kind = str(f['kind']) ?? '';
  const local = Boolean(f['is_local']);
  const name = (str(f['name']) ?? '').toLowerCase();
  if (kind === 'VAR_RESET' || kind === 'VAR_RESET_ALL') {
    return info('reset', 'session', [], normalized, {
      session: 'reset',
      setting: { name: kind === 'VAR_RESET_ALL' ? 'all' : name, value: null, local: false },
    });
  }
  // SET TRANSACTION ... only shapes the current transaction: nothing outlives it.
  if (kind === 'VAR_SET_MULTI' && name === 'transaction') {
    return info('set', 'session', [], normalized, { setting: { name, value: null, local: true } });
  }
  // SET ROLE / SET SESSION AUTHORIZATION change whose privileges the upstream session runs with: admin work.
  const setKind = name === 'role' || name === 'session_authorization' ? 'admin' : 'session';
  let value: string | null = null;
  if (kind === 'VAR_SET_VALUE' && Array.isArray(f['args'])) {
    const parts = (f['args'] as unknown[]).map((a) => constText(a));
    value = parts.every((p) => p !== undefined) ? parts.join(', ') : null;
  }
  return info('set', setKind, [], normalized, { session: 'set', setting: { name, value, local } });
}

function describeTransaction(f: Fields, normalized: string): StatementInfo {
  switch (str(f['kind'])) {
    case 'TRANS_STMT_BEGIN':
    case 'TRANS_STMT_START':
      return info('begin', 'other', [], normalized, { transaction: 'begin' });
    case 'TRANS_STMT_COMMIT':
      return info('commit', 'other', [], normalized, { transaction: 'commit' });
    case 'TRANS_STMT_ROLLBACK':
      return info('rollback', 'other', [], normalized, { transaction: 'rollback' });
    // ROLLBACK TO SAVEPOINT keeps the transaction open: it is savepoint work, not an end.
    case 'TRANS_STMT_ROLLBACK_TO':
    case 'TRANS_STMT_SAVEPOINT':
    case 'TRANS_STMT_RELEASE':
      return info('savepoint', 'other', [], normalized, { transaction: 'savepoint' });
    case 'TRANS_STMT_PREPARE':
      return info('prepare_transaction', 'admin', [], normalized);
    case 'TRANS_STMT_COMMIT_PREPARED':
      return info('commit_prepared', 'admin', [], normalized);
    case 'TRANS_STMT_ROLLBACK_PREPARED':
      return info('rollback_prepared', 'admin', [], normalized);
    default:
      return info('transaction', 'other', [], normalized);
  }
}
