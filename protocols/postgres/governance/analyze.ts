/**
 * Statement analysis for governance: what each statement of a query does (operation, kind), which objects it
 * touches, and its normalized text for the audit trail. Built on the real PostgreSQL parser (libpg-query, WASM),
 * never on regular expressions, so comments, quoting, CTEs and nested statements are read as PostgreSQL reads them.
 */
import { loadModule, normalizeSync, parseSync, scanSync } from 'libpg-query';
import { stringList, unwrap, type Fields, type PgNode } from './parse-tree.js';

/** What one statement does, as the session and the policy engine need it. Instances are frozen and shared. */
export interface StatementInfo {
  /** Lower-case verb: 'select', 'insert', 'update', 'delete', 'merge', 'drop', 'truncate', 'create', 'alter', 'copy', 'set', 'begin', ... */
  operation: string;
  kind: 'read' | 'write' | 'ddl' | 'admin' | 'session' | 'other';
  /** Relations touched, schema-qualified ('public.customers'; unqualified names resolve to public, temp ones to pg_temp). */
  objects: string[];
  /** The statement with literals replaced by $n placeholders and comments removed: safe for the audit trail. */
  normalized: string;
  /** Session state the statement creates or changes; a transaction pooler must pin or refuse these. */
  session: null | 'set' | 'reset' | 'listen' | 'unlisten' | 'advisory-lock' | 'temp-table' | 'hold-cursor' | 'prepare' | 'deallocate' | 'discard' | 'declare-cursor';
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

const UNPARSEABLE: readonly StatementInfo[] = Object.freeze([
  Object.freeze({
    operation: 'unknown',
    kind: 'other' as const,
    objects: Object.freeze([]) as unknown as string[],
    normalized: '<unparseable>',
    session: null,
    transaction: null,
    copy: null,
  }),
]);

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
    out.push(freezeInfo(tags.length > 0 ? { ...described, tags } : described));
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
  seen: Set<string>;
  ctes: Set<string>;
  /** Unqualified relation names, checked against CTE names once the whole tree is known. */
  pending: Array<{ name: string; qualified: string }>;
  advisoryLock: boolean;
  setConfig: { name: string; value: string | null; local: boolean } | null;
  modifying: string | null;
}

function newWalk(): Walk {
  return { objects: [], seen: new Set(), ctes: new Set(), pending: [], advisoryLock: false, setConfig: null, modifying: null };
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
      w.pending.push({ name: str(rv['schemaname']) ? '' : (str(rv['relname']) ?? ''), qualified: rangeVarName(rv) });
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
  if (SESSION_ADVISORY_LOCKS.has(fn)) w.advisoryLock = true;
  else if (fn === 'set_config' && Array.isArray(call['args']) && call['args'].length === 3) {
    const [name, value, local] = call['args'] as unknown[];
    const n = constText(name);
    w.setConfig = { name: n ?? '', value: constText(value) ?? null, local: constBool(local) ?? false };
  }
}

function addObject(w: Walk, name: string): void {
  if (w.seen.has(name)) return;
  w.seen.add(name);
  w.objects.push(name);
}

function finishWalk(w: Walk): string[] {
  for (const p of w.pending) if (p.name === '' || !w.ctes.has(p.name)) addObject(w, p.qualified);
  return w.objects;
}

/** Objects of a subtree, with `first` (the statement's target) listed first. */
function objectsOf(tree: unknown, first?: Fields): { w: Walk; objects: string[] } {
  const w = newWalk();
  if (first) addObject(w, rangeVarName(first));
  walk(tree, w);
  return { w, objects: finishWalk(w) };
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
      return info(MODIFYING[type]!, 'write', objectsOf(stmt, f['relation'] as Fields).objects, normalized);
    case 'DropStmt':
      return info('drop', 'ddl', dropObjects(f), normalized);
    case 'TruncateStmt':
      return info('truncate', 'ddl', objectsOf(stmt).objects, normalized);
    case 'CreateStmt': {
      const rel = f['relation'] as Fields;
      const temp = rel?.['relpersistence'] === 't';
      return info('create', 'ddl', objectsOf(stmt, rel).objects, normalized, temp ? { session: 'temp-table' } : {});
    }
    case 'CreateTableAsStmt': {
      const into = f['into'] as Fields | undefined;
      const rel = into?.['rel'] as Fields | undefined;
      const temp = rel?.['relpersistence'] === 't';
      return info('create', 'ddl', objectsOf(stmt, rel).objects, normalized, temp ? { session: 'temp-table' } : {});
    }
    case 'ViewStmt': {
      // A temporary view lives on one backend, like a temporary table: the client keeps that connection.
      const rel = f['view'] as Fields | undefined;
      const temp = rel?.['relpersistence'] === 't';
      return info('create', 'ddl', objectsOf(stmt, rel).objects, normalized, temp ? { session: 'temp-table' } : {});
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
      return info('declare', inner.kind, inner.objects, normalized, { session: hold ? 'hold-cursor' : 'declare-cursor' });
    }
    case 'FetchStmt':
      return info(f['ismove'] ? 'move' : 'fetch', 'read', [], normalized);
    case 'ClosePortalStmt':
      return info('close', 'session', [], normalized);
    case 'PrepareStmt': {
      // The prepared statement is judged now, as what it will do: EXECUTE cannot be judged without it.
      const inner = describe((f['query'] as PgNode) ?? {}, normalized);
      return info(inner.operation, inner.kind, inner.objects, normalized, { session: 'prepare' });
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
      return info('explain', 'read', inner.objects, normalized);
    }
    case 'LockStmt':
      return info('lock', 'other', objectsOf(stmt).objects, normalized);
    case 'CallStmt':
      return info('call', 'write', [], normalized);
    case 'RefreshMatViewStmt':
      return info('refresh', 'write', objectsOf(stmt).objects, normalized);
    case 'GrantStmt':
      return info(f['is_grant'] ? 'grant' : 'revoke', 'admin', objectsOf(stmt).objects, normalized);
    case 'RenameStmt':
    case 'CommentStmt':
    case 'IndexStmt':
    case 'RuleStmt':
    case 'CompositeTypeStmt':
    case 'DefineStmt':
      return info(ddlVerb(type), 'ddl', objectsOf(stmt).objects, normalized);
  }
  if (ADMIN[type]) return info(ADMIN[type]!, 'admin', objectsOf(stmt).objects, normalized);
  if (type.startsWith('Create') || type.startsWith('Alter') || type.startsWith('Drop')) {
    return info(ddlVerb(type), 'ddl', objectsOf(stmt).objects, normalized);
  }
  return info(type.replace(/Stmt$/, '').toLowerCase(), 'other', objectsOf(stmt).objects, normalized);
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
  const { w, objects } = objectsOf(stmt, rel);
  if (rel) {
    const temp = rel['relpersistence'] === 't';
    return info('create', 'ddl', objects, normalized, temp ? { session: 'temp-table' } : {});
  }
  if (w.modifying) return info(w.modifying, 'write', objects, normalized);
  if (w.advisoryLock) return info('select', 'read', objects, normalized, { session: 'advisory-lock' });
  if (w.setConfig) {
    return info('select', 'read', objects, normalized, { session: 'set', setting: w.setConfig });
  }
  return info('select', 'read', objects, normalized);
}

function dropObjects(f: Fields): string[] {
  const out: string[] = [];
  const removeType = str(f['removeType']) ?? '';
  const relational = ['OBJECT_TABLE', 'OBJECT_VIEW', 'OBJECT_MATVIEW', 'OBJECT_INDEX', 'OBJECT_SEQUENCE', 'OBJECT_FOREIGN_TABLE'];
  if (!Array.isArray(f['objects'])) return out;
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
      } else out.push(names.join('.'));
    } else if (u[0] === 'String') out.push(str(u[1]['sval']) ?? '');
  }
  return out;
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
  if (rel) {
    object = rangeVarName(rel);
    const attlist = stringList(f['attlist']);
    columns = attlist.length > 0 ? attlist : null;
    objects = [object];
  } else {
    const query = f['query'] as PgNode | undefined;
    objects = objectsOf(query ?? {}).objects;
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
  return info('copy', kind, objects, normalized, { copy });
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
