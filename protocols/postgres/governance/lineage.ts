/**
 * Lineage of every output column of a statement: which source columns (schema.table.column) can flow into it, and
 * whether it is a plain reference to one of them. Computed from the real parser's tree (libpg-query), once per
 * statement text, search_path and catalog generation, then cached: the per-row cost of governance is unchanged.
 *
 * Soundness over precision: a value that may come from a source carries it (CASE conditions, every argument of a
 * function, both sides of a UNION, every candidate of an ambiguous name). What cannot be traced (functions in other
 * languages, functions that run SQL text, statistics views, a whole-row reference to a relation dgf does not know)
 * is `unknown`, and the caller fails closed. Predicates (WHERE, JOIN ON, GROUP BY, ORDER BY, LIMIT) do not flow into
 * outputs; they are an inference channel, documented, and their columns are still recorded as read.
 */
import { parseSync } from 'libpg-query';
import { stringList, unwrap, type Fields } from './parse-tree.js';

/** A source column: `object` is 'schema.table' ('?' when only the column name is known). */
export interface SourceColumn {
  readonly object: string;
  /** Column name; a JSON path read with constant keys is `column.key.key` (classified like a document path). */
  readonly column: string;
  /**
   * A json/jsonb value whose keys dgf does not know here: a value computed from it may carry any field of the
   * document, so it is masked for a role with masks unless it is the plain column (masked by document path).
   */
  readonly json?: boolean;
}

/** What can flow into one value. */
export interface Lineage {
  /** Every source column whose data can reach the value. */
  readonly sources: readonly SourceColumn[];
  /** The value is exactly one source column's value (so the column's own, format-preserving mask applies). */
  readonly plain: SourceColumn | null;
  /** Why the value cannot be traced; null when it can. */
  readonly unknown: string | null;
}

/**
 * One output position, or a run of positions of unknown length (`select *` over a relation whose columns dgf does
 * not know): `byName` asks the caller to classify each such column by its RowDescription name under that object.
 */
export type OutputItem =
  | { readonly kind: 'column'; readonly name: string; readonly lineage: Lineage }
  | { readonly kind: 'spread'; readonly lineage: Lineage; readonly byName: string | null };

/** A value a statement writes into a table column. */
export interface WrittenValue {
  readonly target: SourceColumn;
  readonly lineage: Lineage;
}

/** The lineage of one statement. */
export interface StatementLineage {
  /** Output positions of the rows the statement returns (SELECT, RETURNING, COPY (query), ...); null when none. */
  readonly outputs: readonly OutputItem[] | null;
  /** Every source column the statement reads anywhere (outputs and predicates): for error scrubbing and policy. */
  readonly reads: readonly SourceColumn[];
  /** Whether some part of the statement reads what dgf cannot trace (an unknown function or relation). */
  readonly readsUnknown: boolean;
  /** Relations the statement names that the catalog does not know (new since its last refresh, or temporary). */
  readonly unknownRelations: readonly string[];
  /**
   * The lineage depends on a constant's value (a JSON key, a setting's name): it holds for this text only, not for
   * every text of the same shape (the constants replaced).
   */
  readonly constantSensitive: boolean;
  /** Values written into table columns (INSERT, UPDATE, MERGE, ON CONFLICT): a masked value must not be laundered. */
  readonly writes: readonly WrittenValue[];
  /** Values handed to functions that store or send them where dgf cannot follow (set_config, pg_notify, ...). */
  readonly sinks: ReadonlyArray<{ readonly fn: string; readonly lineage: Lineage }>;
  /** `FETCH`/`EXECUTE` take their outputs from a cursor or prepared statement the session knows. */
  readonly uses: null | { readonly kind: 'cursor' | 'prepared'; readonly name: string };
  /** `DECLARE`/`PREPARE` define a cursor or prepared statement whose outputs are `outputs` (`hold`: WITH HOLD). */
  readonly defines: null | { readonly kind: 'cursor' | 'prepared'; readonly name: string; readonly hold: boolean };
  /** `CLOSE`/`DEALLOCATE`/`DISCARD` end cursors or prepared statements (name null: all of them). */
  readonly forgets: null | { readonly kind: 'cursor' | 'prepared' | 'all'; readonly name: string | null };
  /** `SET search_path`: the new path (null: back to the default), or 'unresolved' when dgf cannot know it. */
  readonly searchPath?: readonly string[] | null | 'unresolved';
}

/** A relation as the catalog knows it. */
export interface CatalogRelation {
  /** 'schema.table' */
  readonly object: string;
  readonly kind: 'table' | 'view' | 'matview';
  readonly columns: readonly string[];
  /** Columns of type json or jsonb. */
  readonly jsonColumns?: ReadonlySet<string>;
  /** A view's or materialized view's definition (`pg_get_viewdef`), for views. */
  readonly definition?: string;
}

/** A user-defined function or procedure (outside pg_catalog and information_schema). */
export interface CatalogFunction {
  readonly schema: string;
  readonly name: string;
  /** 'sql', 'plpgsql', 'c', 'internal', ... */
  readonly language: string;
  /** Installed by an extension (pgcrypto, uuid-ossp, ...): a function of its arguments, like a built-in. */
  readonly extension: boolean;
  /** The body text (`prosrc`); empty for SQL-standard bodies (BEGIN ATOMIC). */
  readonly body: string;
}

/** What lineage needs from the catalog. */
export interface LineageCatalog {
  relation(schema: string, name: string): CatalogRelation | undefined;
  /** Every user function of this name (any schema, any overload). */
  functions(name: string): readonly CatalogFunction[];
}


const NO_SOURCES: readonly SourceColumn[] = Object.freeze([]);
/** A constant, a parameter, a boolean comparison: nothing of any source. */
const CLEAN: Lineage = Object.freeze({ sources: NO_SOURCES, plain: null, unknown: null });

function unknownLineage(reason: string): Lineage {
  return { sources: NO_SOURCES, plain: null, unknown: reason };
}

function plainLineage(source: SourceColumn): Lineage {
  return { sources: [source], plain: source, unknown: null };
}

function key(s: SourceColumn): string {
  return `${s.object}\u0000${s.column}`;
}

/** The union of several lineages: never plain (a derived value), unknown when any part is. */
function union(parts: readonly Lineage[]): Lineage {
  if (parts.length === 0) return CLEAN;
  const seen = new Map<string, SourceColumn>();
  let unknown: string | null = null;
  for (const p of parts) {
    for (const s of p.sources) seen.set(key(s), s);
    unknown ??= p.unknown;
  }
  if (seen.size === 0 && unknown === null) return CLEAN;
  return { sources: [...seen.values()], plain: null, unknown };
}

/** Same sources, no longer plain: the value was transformed. */
function derived(l: Lineage): Lineage {
  return l.plain === null ? l : { sources: l.sources, plain: null, unknown: l.unknown };
}

/** The union, kept plain when every part is the same plain reference (UNION of one column with itself). */
function merge(parts: readonly Lineage[]): Lineage {
  const first = parts[0];
  if (first?.plain && parts.every((p) => p.plain !== null && key(p.plain) === key(first.plain!))) return first;
  return union(parts);
}

// ---- what built-in functions do -------------------------------------------------------------------------------

/** Functions whose result reveals nothing of their arguments' values (SPEC's non-revealing list). */
const NON_REVEALING = new Set(['count']);

/**
 * Built-ins that read data by name or from elsewhere (SQL text, files, large objects, the WAL, other sessions'
 * statements): their result cannot be traced to its sources.
 */
const UNTRACEABLE_FUNCTIONS = new Set([
  'query_to_xml', 'query_to_xml_and_xmlschema', 'query_to_xmlschema', 'cursor_to_xml', 'cursor_to_xmlschema',
  'table_to_xml', 'table_to_xml_and_xmlschema', 'table_to_xmlschema', 'schema_to_xml', 'schema_to_xml_and_xmlschema',
  'schema_to_xmlschema', 'database_to_xml', 'database_to_xml_and_xmlschema', 'database_to_xmlschema',
  'dblink', 'dblink_exec', 'dblink_fetch', 'dblink_get_result', 'dblink_send_query', 'dblink_get_notify',
  'pg_read_file', 'pg_read_binary_file', 'lo_get', 'loread', 'lo_export', 'lo_import',
  'pg_logical_slot_get_changes', 'pg_logical_slot_peek_changes', 'pg_logical_slot_get_binary_changes',
  'pg_logical_slot_peek_binary_changes', 'pg_stat_get_activity', 'pg_stat_statements', 'pg_get_wal_record_info',
  'pg_get_wal_records_info', 'pg_get_wal_block_info', 'ts_stat', 'pg_stat_get_backend_activity',
  'pg_stats_ext_mcvlist_items', 'pg_mcv_list_items', 'heap_page_items', 'get_raw_page', 'bt_page_items',
  'pg_stat_get_snapshot_timestamp', 'current_setting', 'pg_settings_get_flags', 'pg_show_all_settings',
]);

/** Settings a client cannot fill with data: `current_setting` of these is a plain server fact. */
const SERVER_SETTINGS_PREFIXES = ['server_', 'lc_', 'client_', 'search_path', 'timezone', 'datestyle', 'intervalstyle',
  'standard_conforming_strings', 'application_name', 'transaction_', 'default_', 'max_', 'work_mem', 'statement_timeout',
  'is_superuser', 'session_authorization', 'integer_datetimes', 'block_size', 'role', 'bytea_output'];

/** Built-ins that store or send an argument where dgf cannot follow it (a setting, a notification, a large object). */
const SINK_FUNCTIONS = new Set([
  'set_config', 'pg_notify', 'lo_from_bytea', 'lo_put', 'lowrite', 'pg_logical_emit_message', 'dblink_exec',
  'pg_advisory_lock', 'setval',
]);

/**
 * System relations that expose column values of user tables (statistics, other sessions' statement texts, large
 * objects, logical decoding): their columns cannot be traced.
 */
const UNTRACEABLE_RELATIONS = new Set([
  'pg_stats', 'pg_stats_ext', 'pg_stats_ext_exprs', 'pg_statistic', 'pg_statistic_ext_data',
  'pg_stat_activity', 'pg_stat_statements', 'pg_largeobject', 'pg_stat_statements_info', 'pg_prepared_statements',
  'pg_cursors', 'pg_settings', 'pg_file_settings', 'pg_db_role_setting', 'pg_replication_slots', 'pg_publication_tables',
]);

/** JSON field and path extraction: with constant keys, the value of one document path. */
const JSON_PATH_OPERATORS = new Set(['->', '->>', '#>', '#>>']);
const JSON_PATH_FUNCTIONS = new Set(['json_extract_path', 'jsonb_extract_path', 'json_extract_path_text', 'jsonb_extract_path_text']);

/** Comparison and pattern operators: a boolean (the inference channel of predicates, not a value of the source). */
const BOOLEAN_OPERATORS = new Set(['=', '<>', '!=', '<', '>', '<=', '>=', '~~', '~~*', '!~~', '!~~*', '~', '~*', '!~', '!~*']);

/** Casts that keep the value as it is (so the column's own mask still fits); a length limit is a window. */
const VALUE_KEEPING_CASTS = new Set(['text', 'varchar']);

// ---- scopes -----------------------------------------------------------------------------------------------------

interface Column {
  name: string;
  lineage: Lineage;
}

/**
 * A FROM item as a column reference sees it. Known columns, or an opaque item: a system relation (clean), a set
 * returning function (every column carries its arguments), a relation dgf does not know (classified by name).
 */
interface RangeEntry {
  alias: string;
  /** 'schema.table' of a relation, for three-part names. */
  object: string | null;
  columns: Column[] | null;
  opaque: null | { kind: 'clean' } | { kind: 'function'; lineage: Lineage } | { kind: 'unknown-relation'; object: string } | { kind: 'untraceable'; reason: string };
  /** Left out of `select *` (a join's arms when the join orders the columns itself, a join alias). */
  hiddenFromStar?: boolean;
  /** Only reachable qualified (`j.col`): an aliased join's own entry, whose columns repeat its arms'. */
  qualifiedOnly?: boolean;
}

interface CteDef {
  columns: Column[] | null;
  opaque: Lineage | null;
}

interface Scope {
  entries: RangeEntry[];
  ctes: Map<string, CteDef>;
  parent: Scope | null;
}

/** Per-statement accumulators. */
class Trace {
  readonly reads = new Map<string, SourceColumn>();
  readsUnknown = false;
  readonly unknownRelations = new Set<string>();
  constantSensitive = false;
  readonly writes: WrittenValue[] = [];
  readonly sinks: Array<{ fn: string; lineage: Lineage }> = [];
  /** Views being expanded (a view that refers to itself would recurse). */
  readonly expanding = new Set<string>();
  depth = 0;
  /**
   * Inside CASE conditions a comparison's operands flow into the result (`case when ssn like '1%' then 'a' end`
   * spells the value out), so booleans keep their sources there.
   */
  rawBooleans = 0;

  constructor(
    readonly catalog: LineageCatalog,
    readonly searchPath: readonly string[],
  ) {}

  read(l: Lineage): Lineage {
    for (const s of l.sources) this.reads.set(key(s), s);
    if (l.unknown !== null) this.readsUnknown = true;
    return l;
  }
}

const MAX_DEPTH = 64;

// ---- parse-tree helpers ---------------------------------------------------------------------------------------

function fieldsOf(node: unknown, type: string): Fields | null {
  const u = unwrap(node);
  return u && u[0] === type ? u[1] : null;
}

function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function sval(node: unknown): string | undefined {
  const f = fieldsOf(node, 'String');
  return typeof f?.sval === 'string' ? f.sval : undefined;
}

const names = stringList;

function aliasOf(f: Fields): { name: string | null; columns: string[] } {
  const a = f.alias as Fields | undefined;
  return { name: typeof a?.aliasname === 'string' ? a.aliasname : null, columns: names(a?.colnames) };
}

function renamed(columns: Column[], aliases: string[]): Column[] {
  if (aliases.length === 0) return columns;
  return columns.map((c, i) => (i < aliases.length ? { name: aliases[i]!, lineage: c.lineage } : c));
}

/** A SelectStmt body: set-operation arms are bare field objects, elsewhere the node is wrapped. */
function selectFields(node: unknown): Fields | null {
  const u = unwrap(node);
  if (u && u[0] === 'SelectStmt') return u[1];
  if (node && typeof node === 'object' && ('targetList' in node || 'op' in node || 'valuesLists' in node)) return node as Fields;
  return null;
}

// ---- queries ----------------------------------------------------------------------------------------------------

type Output = OutputItem[];

function lineageOfItem(item: OutputItem): Lineage {
  return item.lineage;
}

/** Lineage of a query's outputs. `outer` is the scope of an enclosing query (correlated and LATERAL references). */
function traceQuery(node: unknown, outer: Scope | null, t: Trace): Output {
  const u = unwrap(node);
  if (!u) return [{ kind: 'spread', lineage: unknownLineage('an empty query'), byName: null }];
  const [type, f] = u;
  switch (type) {
    case 'SelectStmt':
      return traceSelect(f, outer, t);
    case 'InsertStmt':
    case 'UpdateStmt':
    case 'DeleteStmt':
    case 'MergeStmt':
      return traceModify(type, f, outer, t) ?? [];
    default:
      return [{ kind: 'spread', lineage: unknownLineage(`a ${type} dgf does not trace`), byName: null }];
  }
}

function withCtes(f: Fields, outer: Scope | null, t: Trace): Scope {
  const scope: Scope = { entries: [], ctes: new Map(), parent: outer };
  const w = f.withClause as Fields | undefined;
  if (!w) return scope;
  const recursive = w.recursive === true;
  for (const c of list(w.ctes)) {
    const cte = fieldsOf(c, 'CommonTableExpr');
    if (!cte || typeof cte.ctename !== 'string') continue;
    const aliases = names(cte.aliascolnames);
    if (recursive) {
      // Iterate to a fixed point: each round the recursive arm sees the lineage found so far. Sources only grow
      // and are finite, so this ends; the bound is a guard against a pathological tree.
      let def: CteDef = { columns: null, opaque: CLEAN };
      scope.ctes.set(cte.ctename, def);
      for (let round = 0; round < 16; round++) {
        const out = traceQuery(cte.ctequery, scope, t);
        const next = cteDef(out, aliases);
        const before = signature(def);
        def = next;
        scope.ctes.set(cte.ctename, def);
        if (signature(next) === before) break;
      }
    } else {
      scope.ctes.set(cte.ctename, cteDef(traceQuery(cte.ctequery, scope, t), aliases));
    }
  }
  return scope;
}

function cteDef(out: Output, aliases: string[]): CteDef {
  if (out.some((o) => o.kind === 'spread')) return { columns: null, opaque: union(out.map(lineageOfItem)) };
  return { columns: renamed(out.map((o) => ({ name: (o as { name: string }).name, lineage: o.lineage })), aliases), opaque: null };
}

function signature(def: CteDef): string {
  const ls = def.columns ? def.columns.map((c) => c.lineage) : [def.opaque!];
  return ls.map((l) => `${l.plain ? key(l.plain) : ''}|${l.unknown ?? ''}|${l.sources.map(key).sort().join(',')}`).join(';');
}

function traceSelect(f: Fields, outer: Scope | null, t: Trace): Output {
  if (++t.depth > MAX_DEPTH) return [{ kind: 'spread', lineage: unknownLineage('a statement nested too deeply'), byName: null }];
  try {
    const scope = withCtes(f, outer, t);
    const op = f.op as string | undefined;
    if (op && op !== 'SETOP_NONE') {
      const left = traceQuery({ SelectStmt: selectFields(f.larg) ?? {} }, scope, t);
      const right = traceQuery({ SelectStmt: selectFields(f.rarg) ?? {} }, scope, t);
      return combinePositional(left, right);
    }
    if (Array.isArray(f.valuesLists)) {
      let rows: Output | null = null;
      for (const row of f.valuesLists) {
        const items = list(fieldsOf(row, 'List')?.items);
        const out: Output = items.map((e, i) => ({ kind: 'column' as const, name: `column${i + 1}`, lineage: expr(e, scope, t) }));
        rows = rows === null ? out : combinePositional(rows, out);
      }
      return rows ?? [];
    }
    for (const item of list(f.fromClause)) fromItem(item, scope, scope, t);
    // Predicates do not flow into outputs, but what they read is recorded (and their sinks and unknowns count).
    for (const k of ['whereClause', 'havingClause', 'groupClause', 'sortClause', 'limitCount', 'limitOffset', 'distinctClause', 'windowClause']) {
      if (f[k] !== undefined) predicate(f[k], scope, t);
    }
    const out = targets(list(f.targetList), scope, t);
    if (f.intoClause) {
      // SELECT ... INTO: a new table holds the outputs (the policy refuses it for masked reads: rule masked-no-copies).
      for (const o of out) t.read(o.lineage);
    }
    return out;
  } finally {
    t.depth--;
  }
}

function combinePositional(a: Output, b: Output): Output {
  const spreads = a.some((o) => o.kind === 'spread') || b.some((o) => o.kind === 'spread');
  if (spreads || a.length !== b.length) {
    return [{ kind: 'spread', lineage: union([...a, ...b].map(lineageOfItem)), byName: null }];
  }
  return a.map((o, i) => ({ kind: 'column' as const, name: (o as { name: string }).name, lineage: merge([o.lineage, b[i]!.lineage]) }));
}

function targets(items: unknown[], scope: Scope, t: Trace): Output {
  const out: Output = [];
  for (const item of items) {
    const rt = fieldsOf(item, 'ResTarget');
    if (!rt) continue;
    const ref = fieldsOf(rt.val, 'ColumnRef');
    const fields = ref ? list(ref.fields) : [];
    if (ref && fields.length > 0 && unwrap(fields[fields.length - 1])?.[0] === 'A_Star') {
      const qualifier = names(fields.slice(0, -1));
      for (const o of expandStar(qualifier, scope, t)) out.push(o);
      continue;
    }
    const lineage = t.read(expr(rt.val, scope, t));
    out.push({ kind: 'column', name: typeof rt.name === 'string' ? rt.name : outputName(rt.val), lineage });
  }
  return out;
}

/** The column name PostgreSQL gives an unaliased output (only used for display and COPY headers). */
function outputName(node: unknown): string {
  const u = unwrap(node);
  if (!u) return '?column?';
  if (u[0] === 'ColumnRef') {
    const n = names(u[1].fields);
    return n[n.length - 1] ?? '?column?';
  }
  if (u[0] === 'FuncCall') {
    const n = names(u[1].funcname);
    return n[n.length - 1] ?? '?column?';
  }
  if (u[0] === 'TypeCast') return outputName(u[1].arg);
  if (u[0] === 'A_Indirection') {
    const n = names(u[1].indirection);
    return n[n.length - 1] ?? outputName(u[1].arg);
  }
  if (u[0] === 'CaseExpr') return 'case';
  if (u[0] === 'CoalesceExpr') return 'coalesce';
  if (u[0] === 'SubLink') {
    const kind = u[1].subLinkType;
    if (kind === 'EXISTS_SUBLINK') return 'exists';
    if (kind === 'ARRAY_SUBLINK') return 'array';
    const first = list(selectFields(u[1].subselect)?.targetList)[0];
    const rt = fieldsOf(first, 'ResTarget');
    return typeof rt?.name === 'string' ? rt.name : outputName(rt?.val);
  }
  return '?column?';
}

function expandStar(qualifier: string[], scope: Scope, t: Trace): Output {
  const entries = qualifier.length === 0 ? scope.entries.filter((e) => !e.hiddenFromStar) : [findEntry(qualifier, scope)].filter((e): e is RangeEntry => e !== null);
  if (qualifier.length > 0 && entries.length === 0) return [{ kind: 'spread', lineage: unknownLineage(`${qualifier.join('.')}.* names no FROM item`), byName: null }];
  const out: Output = [];
  for (const e of entries) {
    if (e.columns) {
      for (const c of e.columns) out.push({ kind: 'column', name: c.name, lineage: t.read(c.lineage) });
      continue;
    }
    out.push(opaqueSpread(e, t));
  }
  return out;
}

function opaqueSpread(e: RangeEntry, t: Trace): OutputItem {
  const o = e.opaque!;
  switch (o.kind) {
    case 'clean':
      return { kind: 'spread', lineage: CLEAN, byName: null };
    case 'function':
      return { kind: 'spread', lineage: t.read(derived(o.lineage)), byName: null };
    case 'unknown-relation':
      t.readsUnknown = true;
      return { kind: 'spread', lineage: CLEAN, byName: o.object };
    case 'untraceable':
      return { kind: 'spread', lineage: t.read(unknownLineage(o.reason)), byName: null };
  }
}

// ---- FROM -------------------------------------------------------------------------------------------------------

/**
 * Add a FROM item's entries to `into`. `lateralScope` is what a LATERAL item may see (the items before it).
 * Returns the item's columns in `select *` order (for joins).
 */
function fromItem(node: unknown, into: Scope, lateralScope: Scope, t: Trace): RangeEntry[] {
  const u = unwrap(node);
  if (!u) return [];
  const [type, f] = u;
  let added: RangeEntry[];
  switch (type) {
    case 'RangeVar':
      added = [rangeVar(f, into, t)];
      break;
    case 'RangeSubselect': {
      const a = aliasOf(f);
      // Without LATERAL a subquery in FROM sees the CTEs and the enclosing queries, not its sibling FROM items.
      const sees: Scope = f.lateral === true ? lateralScope : { entries: [], ctes: into.ctes, parent: into.parent };
      const out = traceQuery(f.subquery, sees, t);
      added = [entryFromOutput(a.name ?? '\u0000subquery', null, out, a.columns)];
      break;
    }
    case 'RangeFunction': {
      const a = aliasOf(f);
      const parts: Lineage[] = [];
      for (const fn of list(f.functions)) {
        const items = list(fieldsOf(fn, 'List')?.items);
        if (items[0] !== undefined) parts.push(expr(items[0], lateralScope, t));
      }
      added = [{ alias: a.name ?? functionName(f) ?? '\u0000function', object: null, columns: null, opaque: { kind: 'function', lineage: union(parts) } }];
      break;
    }
    case 'JoinExpr': {
      const left = fromItem(f.larg, into, lateralScope, t);
      const right = fromItem(f.rarg, into, lateralScope, t);
      if (f.quals !== undefined) predicate(f.quals, into, t);
      const joined = [...left, ...right];
      let starOrder: Column[] | null = null;
      const common = f.isNatural === true ? commonColumns(left, right) : names(f.usingClause);
      if (common !== null && common.length > 0) {
        // USING/NATURAL columns come first in `select *`, merged from both arms; the arms' other columns follow.
        const merged: Column[] = common.map((name) => ({ name, lineage: union(joined.map((e) => columnOf(e, name)).filter((l): l is Lineage => l !== null)) }));
        const rest: Column[] = [];
        for (const e of joined) if (e.columns) for (const c of e.columns) if (!common.includes(c.name)) rest.push(c);
        if (joined.every((e) => e.columns !== null)) {
          starOrder = [...merged, ...rest];
          for (const e of joined) e.hiddenFromStar = true;
          into.entries.push({ alias: '\u0000join', object: null, columns: starOrder, opaque: null });
        }
      }
      const a = aliasOf(f);
      if (a.name !== null) {
        const opaque = joined.find((e) => e.columns === null);
        const cols = starOrder ?? joined.flatMap((e) => e.columns ?? []);
        // An aliased join hides its arms' names; it is only reachable as `j.col` / `j.*`.
        into.entries.push({ alias: a.name, object: null, columns: opaque ? null : renamed(cols, a.columns), opaque: opaque ? opaque.opaque : null, hiddenFromStar: true, qualifiedOnly: true });
      }
      return joined;
    }
    case 'RangeTableFunc':
    case 'RangeTableSample':
    case 'JsonTable': {
      // XMLTABLE / JSON_TABLE / TABLESAMPLE: every column carries everything the item reads.
      const inner = type === 'RangeTableSample' ? fromItem(f.relation, into, lateralScope, t) : [];
      const l = union([generic(f, lateralScope, t), ...inner.map((e) => wholeRow(e))]);
      const a = aliasOf(f);
      added = [{ alias: a.name ?? '\u0000table-function', object: null, columns: null, opaque: { kind: 'function', lineage: l } }];
      break;
    }
    default:
      added = [{ alias: '\u0000unknown', object: null, columns: null, opaque: { kind: 'untraceable', reason: `a ${type} in FROM` } }];
  }
  into.entries.push(...added);
  return added;
}

function functionName(f: Fields): string | null {
  const first = list(fieldsOf(list(f.functions)[0], 'List')?.items)[0];
  const call = fieldsOf(first, 'FuncCall');
  const n = names(call?.funcname);
  return n[n.length - 1] ?? null;
}

function commonColumns(left: RangeEntry[], right: RangeEntry[]): string[] | null {
  const l = left.flatMap((e) => e.columns?.map((c) => c.name) ?? []);
  const r = new Set(right.flatMap((e) => e.columns?.map((c) => c.name) ?? []));
  if (left.some((e) => !e.columns) || right.some((e) => !e.columns)) return null;
  return l.filter((n) => r.has(n));
}

function entryFromOutput(alias: string, object: string | null, out: Output, aliases: string[]): RangeEntry {
  if (out.some((o) => o.kind === 'spread')) {
    const l = union(out.map(lineageOfItem));
    return { alias, object, columns: null, opaque: l.unknown ? { kind: 'untraceable', reason: l.unknown } : { kind: 'function', lineage: l } };
  }
  return { alias, object, columns: renamed(out.map((o) => ({ name: (o as { name: string }).name, lineage: o.lineage })), aliases), opaque: null };
}

function lookupCte(name: string, scope: Scope | null): CteDef | undefined {
  for (let s = scope; s; s = s.parent) {
    const d = s.ctes.get(name);
    if (d) return d;
  }
  return undefined;
}

function rangeVar(f: Fields, scope: Scope, t: Trace): RangeEntry {
  const relname = typeof f.relname === 'string' ? f.relname : '';
  const schema = typeof f.schemaname === 'string' ? f.schemaname : null;
  const a = aliasOf(f);
  const alias = a.name ?? relname;
  if (schema === null) {
    const cte = lookupCte(relname, scope);
    if (cte) {
      return cte.columns
        ? { alias, object: null, columns: renamed(cte.columns, a.columns), opaque: null }
        : { alias, object: null, columns: null, opaque: cte.opaque!.unknown ? { kind: 'untraceable', reason: cte.opaque!.unknown } : { kind: 'function', lineage: cte.opaque! } };
    }
  }
  const rel = resolveRelation(schema, relname, t);
  if (rel === 'system') return { alias, object: `pg_catalog.${relname}`, columns: null, opaque: { kind: 'clean' } };
  if (rel === 'untraceable') {
    t.readsUnknown = true;
    return { alias, object: null, columns: null, opaque: { kind: 'untraceable', reason: `${relname} exposes column values dgf cannot trace` } };
  }
  if (rel === undefined) {
    const object = `${schema ?? t.searchPath[0] ?? 'public'}.${relname}`;
    t.unknownRelations.add(object);
    return { alias, object, columns: null, opaque: { kind: 'unknown-relation', object } };
  }
  if (rel.kind === 'table') {
    const json = rel.jsonColumns;
    const source = (c: string): SourceColumn => (json?.has(c) ? { object: rel.object, column: c, json: true } : { object: rel.object, column: c });
    return { alias, object: rel.object, columns: renamed(rel.columns.map((c) => ({ name: c, lineage: plainLineage(source(c)) })), a.columns), opaque: null };
  }
  return { alias, object: rel.object, columns: viewColumns(rel, t, a.columns), opaque: null };
}

/** A view's columns: its definition traced (cached per trace), named as the catalog names them. */
function viewColumns(rel: CatalogRelation, t: Trace, aliases: string[]): Column[] {
  const untraced = (reason: string): Column[] => rel.columns.map((name) => ({ name, lineage: unknownLineage(reason) }));
  if (!rel.definition) return untraced(`view ${rel.object} has no definition dgf can read`);
  if (t.expanding.has(rel.object)) return untraced(`view ${rel.object} refers to itself`);
  let tree: { stmts?: Array<{ stmt?: unknown }> };
  try {
    tree = parseSync(rel.definition) as typeof tree;
  } catch {
    return untraced(`view ${rel.object} has a definition dgf cannot parse`);
  }
  t.expanding.add(rel.object);
  try {
    const out = traceQuery(tree.stmts?.[0]?.stmt, null, t);
    if (out.some((o) => o.kind === 'spread') || out.length !== rel.columns.length) {
      const l = union(out.map(lineageOfItem));
      return renamed(rel.columns.map((name) => ({ name, lineage: l })), aliases);
    }
    return renamed(rel.columns.map((name, i) => ({ name, lineage: out[i]!.lineage })), aliases);
  } finally {
    t.expanding.delete(rel.object);
  }
}

/**
 * A relation name as PostgreSQL resolves it: pg_catalog first (unless the path names it), then the search path.
 * 'system' for a system relation that holds no user values, 'untraceable' for one that does.
 */
function resolveRelation(schema: string | null, name: string, t: Trace): CatalogRelation | 'system' | 'untraceable' | undefined {
  if (schema === 'pg_catalog' || schema === 'information_schema') return UNTRACEABLE_RELATIONS.has(name) ? 'untraceable' : 'system';
  if (schema !== null) return t.catalog.relation(schema, name);
  if (name.startsWith('pg_') && !t.searchPath.includes('pg_catalog')) {
    if (UNTRACEABLE_RELATIONS.has(name)) return 'untraceable';
    const user = firstOnPath(name, t);
    return user ?? 'system';
  }
  const found = firstOnPath(name, t);
  if (found) return found;
  if (t.searchPath.includes('information_schema') || t.searchPath.includes('pg_catalog')) return UNTRACEABLE_RELATIONS.has(name) ? 'untraceable' : name.startsWith('pg_') ? 'system' : undefined;
  return undefined;
}

function firstOnPath(name: string, t: Trace): CatalogRelation | undefined {
  for (const s of t.searchPath) {
    const r = t.catalog.relation(s, name);
    if (r) return r;
  }
  return undefined;
}

// ---- column references ------------------------------------------------------------------------------------------

function columnOf(e: RangeEntry, name: string): Lineage | null {
  if (e.columns) {
    let found: Lineage | null = null;
    for (const c of e.columns) if (c.name === name) found = found ? union([found, c.lineage]) : c.lineage;
    return found;
  }
  return null;
}

function opaqueColumn(e: RangeEntry, name: string): Lineage {
  const o = e.opaque!;
  switch (o.kind) {
    case 'clean':
      return CLEAN;
    case 'function':
      return derived(o.lineage);
    case 'unknown-relation':
      return plainLineage({ object: o.object, column: name });
    case 'untraceable':
      return unknownLineage(o.reason);
  }
}

function wholeRow(e: RangeEntry): Lineage {
  if (e.columns) return union(e.columns.map((c) => c.lineage));
  const o = e.opaque!;
  if (o.kind === 'unknown-relation') return unknownLineage(`a whole-row reference to ${o.object}, which dgf's catalog does not know`);
  return opaqueColumn(e, '');
}

function findEntry(qualifier: string[], scope: Scope): RangeEntry | null {
  const alias = qualifier[qualifier.length - 1]!;
  const object = qualifier.length >= 2 ? `${qualifier[qualifier.length - 2]}.${alias}` : null;
  for (let s: Scope | null = scope; s; s = s.parent) {
    for (let i = s.entries.length - 1; i >= 0; i--) {
      const e = s.entries[i]!;
      if (object !== null ? e.object === object : e.alias === alias) return e;
    }
  }
  return null;
}

/** What a ColumnRef reads: a column of a FROM item (innermost scope first), or a whole row. */
function columnRef(f: Fields, scope: Scope): Lineage {
  const parts = list(f.fields);
  const star = parts.length > 0 && unwrap(parts[parts.length - 1])?.[0] === 'A_Star';
  const n = names(star ? parts.slice(0, -1) : parts);
  if (star) {
    if (n.length === 0) return union(scopeEntries(scope).map(wholeRow));
    const e = findEntry(n, scope);
    return e ? derived(wholeRow(e)) : unknownLineage(`${n.join('.')}.* names no FROM item`);
  }
  if (n.length === 1) {
    const name = n[0]!;
    for (let s: Scope | null = scope; s; s = s.parent) {
      const hits: Lineage[] = [];
      let opaque = false;
      for (const e of s.entries) {
        if (e.qualifiedOnly) continue;
        const c = columnOf(e, name);
        if (c) hits.push(c);
        else if (e.columns === null) opaque = true;
      }
      if (hits.length === 1 && !opaque) return hits[0]!;
      if (hits.length > 0 && !opaque) return union(hits);
      if (opaque) {
        // The name may belong to an item whose columns dgf does not list: every candidate counts.
        for (const e of s.entries) if (e.columns === null && !e.qualifiedOnly) hits.push(opaqueColumn(e, name));
        return hits.length === 1 ? hits[0]! : union(hits);
      }
      const row = s.entries.find((e) => e.alias === name);
      if (row) return derived(wholeRow(row));
    }
    // Not a column of any FROM item: an output alias (ORDER BY) or a function parameter; classified by its name.
    return plainLineage({ object: '?', column: name });
  }
  const column = n[n.length - 1]!;
  const e = findEntry(n.slice(0, -1), scope);
  if (!e) {
    // `rel.col` of no FROM item, or `(composite).field` written without parentheses: by name, as PostgreSQL fails.
    return plainLineage({ object: '?', column });
  }
  if (e.columns) {
    const c = columnOf(e, column);
    // A column missing from a known item: PostgreSQL rejects it, or it is function-call notation (`c.fn`).
    return c ?? derived(wholeRow(e));
  }
  return opaqueColumn(e, column);
}

function scopeEntries(scope: Scope): RangeEntry[] {
  return scope.entries.filter((e) => !e.hiddenFromStar);
}

// ---- expressions ------------------------------------------------------------------------------------------------

/** Lineage of a value expression. */
function expr(node: unknown, scope: Scope, t: Trace): Lineage {
  if (node === null || node === undefined) return CLEAN;
  if (Array.isArray(node)) return union(node.map((n) => expr(n, scope, t)));
  const u = unwrap(node);
  if (!u) return CLEAN;
  const [type, f] = u;
  switch (type) {
    case 'A_Const':
    case 'ParamRef':
    case 'SQLValueFunction':
    case 'SetToDefault':
    case 'GroupingFunc':
    case 'CurrentOfExpr':
    case 'String':
    case 'Integer':
    case 'Float':
    case 'Boolean':
    case 'A_Star':
      return CLEAN;
    case 'ColumnRef':
      return columnRef(f, scope);
    case 'TypeCast': {
      const inner = expr(f.arg, scope, t);
      const tn = f.typeName as Fields | undefined;
      const typeNames = names(tn?.names);
      const target = typeNames[typeNames.length - 1] ?? '';
      // A document cast to text is no longer masked by its keys: derived.
      const keeps = VALUE_KEEPING_CASTS.has(target) && list(tn?.typmods).length === 0 && list(tn?.arrayBounds).length === 0 && inner.plain?.json !== true;
      return keeps ? inner : derived(inner);
    }
    case 'CollateClause':
      return expr(f.arg, scope, t);
    case 'A_Expr':
      return aExpr(f, scope, t);
    case 'BoolExpr':
    case 'NullTest':
    case 'BooleanTest':
    case 'JsonIsPredicate':
      return booleanOf(generic(f, scope, t), t);
    case 'SubLink':
      return subLink(f, scope, t);
    case 'FuncCall':
      return funcCall(f, scope, t);
    case 'A_Indirection':
      return indirection(f, scope, t);
    case 'NamedArgExpr':
      return expr(f.arg, scope, t);
    case 'CaseExpr': {
      // Conditions flow too: `case when ssn like '1%' then 'a' end` spells the value out one test at a time.
      const parts = [expr(f.defresult, scope, t)];
      t.rawBooleans++;
      try {
        parts.push(expr(f.arg, scope, t));
        for (const w of list(f.args)) {
          const cw = fieldsOf(w, 'CaseWhen');
          if (cw) parts.push(expr(cw.expr, scope, t));
        }
      } finally {
        t.rawBooleans--;
      }
      for (const w of list(f.args)) {
        const cw = fieldsOf(w, 'CaseWhen');
        if (cw) parts.push(expr(cw.result, scope, t));
      }
      return union(parts);
    }
    default:
      // Every other expression (COALESCE, GREATEST, arrays, rows, XML and JSON constructors, ...): what it is built
      // from flows into it. Nothing is forgotten: the walk visits every child node.
      return derived(generic(f, scope, t));
  }
}

/** The union of every expression under a node (the sound default for constructs without a rule of their own). */
function generic(f: Fields, scope: Scope, t: Trace): Lineage {
  const parts: Lineage[] = [];
  for (const k in f) {
    if (k === 'location' || k === 'typeName' || k === 'name' || k === 'funcname' || k === 'over') continue;
    const v = f[k];
    if (v === null || typeof v !== 'object') continue;
    if (Array.isArray(v)) {
      for (const item of v) parts.push(expr(item, scope, t));
    } else {
      const u = unwrap(v);
      if (u && /^[A-Z]/.test(u[0])) parts.push(expr(v, scope, t));
      else parts.push(generic(v as Fields, scope, t));
    }
  }
  return union(parts);
}

/** A boolean answer: nothing of the sources' values, but what cannot be traced stays unknown. */
function booleanOf(l: Lineage, t: Trace): Lineage {
  if (t.rawBooleans > 0) return derived(l);
  return l.unknown === null ? CLEAN : unknownLineage(l.unknown);
}

function predicate(node: unknown, scope: Scope, t: Trace): void {
  const l = expr(node, scope, t);
  for (const s of l.sources) t.reads.set(key(s), s);
}

function aExpr(f: Fields, scope: Scope, t: Trace): Lineage {
  const kind = f.kind as string;
  const op = names(f.name)[0] ?? '';
  const both = (): Lineage => union([expr(f.lexpr, scope, t), expr(f.rexpr, scope, t)]);
  switch (kind) {
    case 'AEXPR_OP':
      if (BOOLEAN_OPERATORS.has(op)) return recordRead(both(), t, true);
      if (JSON_PATH_OPERATORS.has(op)) {
        t.constantSensitive = true;
        return jsonPath(expr(f.lexpr, scope, t), constKeys(f.rexpr), op === '->' || op === '#>', () => expr(f.rexpr, scope, t));
      }
      return derived(both());
    case 'AEXPR_OP_ANY':
    case 'AEXPR_OP_ALL':
    case 'AEXPR_DISTINCT':
    case 'AEXPR_NOT_DISTINCT':
    case 'AEXPR_IN':
    case 'AEXPR_LIKE':
    case 'AEXPR_ILIKE':
    case 'AEXPR_SIMILAR':
    case 'AEXPR_BETWEEN':
    case 'AEXPR_NOT_BETWEEN':
    case 'AEXPR_BETWEEN_SYM':
    case 'AEXPR_NOT_BETWEEN_SYM':
      if (BOOLEAN_OPERATORS.has(op) || kind !== 'AEXPR_OP_ANY' && kind !== 'AEXPR_OP_ALL') return recordRead(both(), t, true);
      return derived(both());
    default:
      // NULLIF and anything newer: the value may be either side.
      return derived(both());
  }
}

/** Record what a boolean test read (a predicate in the select list), and answer its boolean lineage. */
function recordRead(l: Lineage, t: Trace, boolean: boolean): Lineage {
  for (const s of l.sources) t.reads.set(key(s), s);
  return boolean ? booleanOf(l, t) : l;
}

/** Constant keys of a JSON path operand (`'a'`, `0`, `'{a,b}'`, `array['a','b']`); null when not constant. */
function constKeys(node: unknown): string[] | null {
  const c = fieldsOf(node, 'A_Const');
  if (c) {
    const s = (c.sval as Fields | undefined)?.sval;
    if (typeof s === 'string') return s.startsWith('{') && s.endsWith('}') ? s.slice(1, -1).split(',').map((k) => k.trim().replace(/^"|"$/g, '')) : [s];
    const i = (c.ival as Fields | undefined)?.ival;
    if (typeof i === 'number' || c.ival !== undefined) return [];
    return null;
  }
  const cast = fieldsOf(node, 'TypeCast');
  if (cast) return constKeys(cast.arg);
  const arr = fieldsOf(node, 'A_ArrayExpr');
  if (arr) {
    const out: string[] = [];
    for (const e of list(arr.elements)) {
      const k = constKeys(e);
      if (k === null) return null;
      out.push(...k);
    }
    return out;
  }
  return null;
}

/**
 * A JSON value read at a path: with constant keys from a plain JSON column, the plain source `column.key.key` (array
 * indexes dropped: key parts classify), still a document when `asJson`. Otherwise derived from the whole document.
 */
function jsonPath(base: Lineage, keys: string[] | null, asJson: boolean, keyLineage: () => Lineage): Lineage {
  const p = base.plain;
  if (p && keys !== null) {
    const column = keys.length === 0 ? p.column : `${p.column}.${keys.join('.')}`;
    return plainLineage(asJson && p.json ? { object: p.object, column, json: true } : { object: p.object, column });
  }
  return derived(union([base, keyLineage()]));
}

function subLink(f: Fields, scope: Scope, t: Trace): Lineage {
  const kind = f.subLinkType as string;
  const out = traceQuery(f.subselect, scope, t);
  const test = f.testexpr !== undefined ? expr(f.testexpr, scope, t) : CLEAN;
  const all = union([test, ...out.map(lineageOfItem)]);
  switch (kind) {
    case 'EXISTS_SUBLINK':
    case 'ANY_SUBLINK':
    case 'ALL_SUBLINK':
    case 'ROWCOMPARE_SUBLINK':
      return recordRead(all, t, true);
    case 'EXPR_SUBLINK': {
      const first = out[0];
      return out.length === 1 && first?.kind === 'column' ? first.lineage : derived(union(out.map(lineageOfItem)));
    }
    default:
      // ARRAY(...), MULTIEXPR (UPDATE SET (a, b) = (select ...)): everything the subquery returns.
      return derived(all);
  }
}

function indirection(f: Fields, scope: Scope, t: Trace): Lineage {
  const steps = list(f.indirection);
  // `(c).email`: a field of a whole-row reference is that column.
  const ref = fieldsOf(f.arg, 'ColumnRef');
  const field = steps.length === 1 ? sval(steps[0]) : undefined;
  if (ref && field !== undefined) {
    const n = names(ref.fields);
    const e = n.length === 1 ? findEntry(n, scope) : null;
    if (e && !isColumnName(n[0]!, scope)) return e.columns ? columnOf(e, field) ?? derived(wholeRow(e)) : opaqueColumn(e, field);
  }
  const parts = [expr(f.arg, scope, t)];
  for (const s of steps) if (unwrap(s)?.[0] === 'A_Indices') parts.push(generic(unwrap(s)![1], scope, t));
  return derived(union(parts));
}

function isColumnName(name: string, scope: Scope): boolean {
  for (let s: Scope | null = scope; s; s = s.parent) for (const e of s.entries) if (e.columns?.some((c) => c.name === name)) return true;
  return false;
}

function funcCall(f: Fields, scope: Scope, t: Trace): Lineage {
  const n = names(f.funcname);
  const name = (n[n.length - 1] ?? '').toLowerCase();
  const schema = n.length > 1 ? n[n.length - 2]! : null;
  const args = list(f.args).map((a) => expr(a, scope, t));
  // FILTER and ORDER BY inside an aggregate, and the window's PARTITION/ORDER, decide which rows count: predicates.
  if (f.agg_filter !== undefined) predicate(f.agg_filter, scope, t);
  // An ordered-set aggregate (`mode() within group (order by x)`, `percentile_disc`) returns one of the ordered values.
  const within = f.agg_within_group === true && f.agg_order !== undefined ? expr(f.agg_order, scope, t) : null;
  if (f.agg_order !== undefined && within === null) predicate(f.agg_order, scope, t);
  const argLineage = within === null ? union(args) : union([...args, within]);
  const builtin = schema === null || schema === 'pg_catalog';
  if (builtin && JSON_PATH_FUNCTIONS.has(name) && args.length >= 1) {
    t.constantSensitive = true;
    const rest = list(f.args).slice(1);
    const keys = rest.map(constKeys);
    const constant = keys.every((k) => k !== null) ? (keys as string[][]).flat() : null;
    return jsonPath(args[0]!, constant, !name.endsWith('_text'), () => union(args.slice(1)));
  }
  const candidates = schema === 'pg_catalog' ? [] : t.catalog.functions(name).filter((fn) => schema === null || fn.schema === schema);
  const user = candidates.filter((fn) => !fn.extension);
  if (user.length > 0) return userFunction(name, user, argLineage, t);
  if (!builtin && candidates.length === 0) return unknownLineage(`function ${n.join('.')} is not in dgf's catalog`);
  if (NON_REVEALING.has(name)) return recordRead(argLineage, t, true);
  if (UNTRACEABLE_FUNCTIONS.has(name)) {
    t.constantSensitive = true;
    if (name === 'current_setting' && isServerSetting(list(f.args)[0])) return CLEAN;
    t.readsUnknown = true;
    return unknownLineage(`${name}() reads data dgf cannot trace`);
  }
  if (SINK_FUNCTIONS.has(name)) t.sinks.push({ fn: name, lineage: argLineage });
  return derived(argLineage);
}

function isServerSetting(arg: unknown): boolean {
  const c = fieldsOf(arg, 'A_Const');
  const s = (c?.sval as Fields | undefined)?.sval;
  if (typeof s !== 'string') return false;
  const lower = s.toLowerCase();
  return !lower.includes('.') && SERVER_SETTINGS_PREFIXES.some((p) => lower.startsWith(p));
}

/** A user function: a SQL body is traced (its outputs and its arguments flow out); other languages cannot be. */
function userFunction(name: string, fns: readonly CatalogFunction[], args: Lineage, t: Trace): Lineage {
  const parts: Lineage[] = [args];
  for (const fn of fns) {
    if (fn.language !== 'sql' || fn.body.trim() === '') {
      t.readsUnknown = true;
      return unknownLineage(`function ${fn.schema}.${fn.name} is written in ${fn.language === 'sql' ? 'a SQL-standard body' : fn.language}, which dgf cannot trace`);
    }
    const key = `fn:${fn.schema}.${fn.name}`;
    if (t.expanding.has(key)) return unknownLineage(`function ${fn.schema}.${fn.name} calls itself`);
    let tree: { stmts?: Array<{ stmt?: unknown }> };
    try {
      tree = parseSync(fn.body) as typeof tree;
    } catch {
      return unknownLineage(`function ${fn.schema}.${fn.name} has a body dgf cannot parse`);
    }
    t.expanding.add(key);
    try {
      for (const s of tree.stmts ?? []) {
        const out = traceStatementNode(s.stmt, t);
        if (out) parts.push(...out.map(lineageOfItem));
      }
    } finally {
      t.expanding.delete(key);
    }
  }
  void name;
  return derived(union(parts));
}

// ---- data-modifying statements ------------------------------------------------------------------------------------

function traceModify(type: string, f: Fields, outer: Scope | null, t: Trace): Output | null {
  const scope = withCtes(f, outer, t);
  const target = rangeVar((f.relation as Fields | undefined) ?? {}, scope, t);
  const targetColumns = target.columns?.map((c) => c.name) ?? null;
  const object = target.object ?? '?';
  // The rows a statement writes are its reads too: an error quotes them (`Failing row contains (...)`).
  t.read(wholeRow(target));
  const write = (column: string, lineage: Lineage): void => {
    t.writes.push({ target: { object, column }, lineage: t.read(lineage) });
  };
  switch (type) {
    case 'InsertStmt': {
      const cols = list(f.cols).map((c) => fieldsOf(c, 'ResTarget')?.name).filter((c): c is string => typeof c === 'string');
      const names = cols.length > 0 ? cols : targetColumns;
      const source = f.selectStmt !== undefined ? traceQuery(f.selectStmt, scope, t) : [];
      const positional = !source.some((o) => o.kind === 'spread');
      source.forEach((o, i) => {
        const column = positional ? names?.[i] ?? `?${i}` : '*';
        write(column, o.lineage);
      });
      if (!positional) write('*', union(source.map(lineageOfItem)));
      const conflict = f.onConflictClause as Fields | undefined;
      if (conflict) {
        const excluded: RangeEntry = {
          alias: 'excluded',
          object,
          columns: names && positional ? names.map((name, i) => ({ name, lineage: source[i]?.lineage ?? CLEAN })) : null,
          opaque: names && positional ? null : { kind: 'function', lineage: union(source.map(lineageOfItem)) },
        };
        const conflictScope: Scope = { entries: [target, excluded], ctes: scope.ctes, parent: scope.parent };
        setList(list(conflict.targetList), conflictScope, t, write);
        if (conflict.whereClause !== undefined) predicate(conflict.whereClause, conflictScope, t);
      }
      scope.entries.push(target);
      break;
    }
    case 'UpdateStmt': {
      scope.entries.push(target);
      for (const item of list(f.fromClause)) fromItem(item, scope, scope, t);
      if (f.whereClause !== undefined) predicate(f.whereClause, scope, t);
      setList(list(f.targetList), scope, t, write);
      break;
    }
    case 'DeleteStmt': {
      scope.entries.push(target);
      for (const item of list(f.usingClause)) fromItem(item, scope, scope, t);
      if (f.whereClause !== undefined) predicate(f.whereClause, scope, t);
      break;
    }
    case 'MergeStmt': {
      scope.entries.push(target);
      fromItem(f.sourceRelation, scope, scope, t);
      if (f.joinCondition !== undefined) predicate(f.joinCondition, scope, t);
      for (const w of list(f.mergeWhenClauses)) {
        const mw = fieldsOf(w, 'MergeWhenClause');
        if (!mw) continue;
        if (mw.condition !== undefined) predicate(mw.condition, scope, t);
        const tl = list(mw.targetList);
        const values = list(mw.values);
        if (values.length > 0) {
          const cols = tl.map((c) => fieldsOf(c, 'ResTarget')?.name).filter((c): c is string => typeof c === 'string');
          values.forEach((v, i) => write(cols[i] ?? targetColumns?.[i] ?? `?${i}`, expr(v, scope, t)));
        } else {
          setList(tl, scope, t, write);
        }
      }
      break;
    }
  }
  const returning = (f.returningClause as Fields | undefined)?.exprs ?? f.returningList;
  if (!Array.isArray(returning) || returning.length === 0) return null;
  return targets(returning, scope, t);
}

function setList(items: unknown[], scope: Scope, t: Trace, write: (column: string, l: Lineage) => void): void {
  for (const item of items) {
    const rt = fieldsOf(item, 'ResTarget');
    if (!rt || typeof rt.name !== 'string') continue;
    const multi = fieldsOf(rt.val, 'MultiAssignRef');
    const l = multi ? expr(multi.source, scope, t) : expr(rt.val, scope, t);
    // `set col[1] = ...` or `set comp.field = ...` writes into the column too.
    write(rt.name, list(rt.indirection).length > 0 ? derived(l) : l);
  }
}

// ---- statements -------------------------------------------------------------------------------------------------

/** Outputs of one statement node, recording reads/writes/sinks on `t`; null when it returns no traced rows. */
function traceStatementNode(node: unknown, t: Trace): Output | null {
  const u = unwrap(node);
  if (!u) return null;
  const [type, f] = u;
  switch (type) {
    case 'SelectStmt':
      return traceSelect(f, null, t);
    case 'InsertStmt':
    case 'UpdateStmt':
    case 'DeleteStmt':
    case 'MergeStmt':
      return traceModify(type, f, null, t);
    case 'CopyStmt': {
      if (f.query !== undefined) return traceQuery(f.query, null, t);
      if (f.relation === undefined || f.is_from === true) return null;
      const entry = rangeVar(f.relation as Fields, { entries: [], ctes: new Map(), parent: null }, t);
      const wanted = names(list(f.attlist));
      if (!entry.columns) return [opaqueSpread(entry, t)];
      const cols = wanted.length > 0 ? wanted.map((name) => ({ name, lineage: columnOf(entry, name) ?? CLEAN })) : entry.columns;
      return cols.map((c) => ({ kind: 'column' as const, name: c.name, lineage: t.read(c.lineage) }));
    }
    case 'DeclareCursorStmt':
    case 'PrepareStmt':
      return traceQuery(f.query, null, t);
    case 'ExplainStmt':
      // The plan is text about the statement, not its data; what the statement reads and writes still counts.
      traceStatementNode(f.query, t);
      return [{ kind: 'spread', lineage: CLEAN, byName: null }];
    case 'CreateTableAsStmt': {
      const out = traceQuery(f.query, null, t);
      for (const o of out) t.read(o.lineage);
      return null;
    }
    case 'ViewStmt': {
      const out = traceQuery(f.query, null, t);
      for (const o of out) t.read(o.lineage);
      return null;
    }
    case 'RuleStmt': {
      const rel = rangeVar((f.relation as Fields | undefined) ?? {}, { entries: [], ctes: new Map(), parent: null }, t);
      t.read(wholeRow(rel));
      for (const a of list(f.actions)) traceStatementNode(a, t);
      return null;
    }
    case 'CreateTrigStmt': {
      // A trigger's function sees every row of its table.
      const rel = rangeVar((f.relation as Fields | undefined) ?? {}, { entries: [], ctes: new Map(), parent: null }, t);
      t.read(wholeRow(rel));
      t.readsUnknown = true;
      return null;
    }
    case 'CreateFunctionStmt': {
      const language = defElem(f.options, 'language') ?? 'sql';
      const body = defElemList(f.options, 'as')[0];
      if (language.toLowerCase() !== 'sql' || body === undefined || f.sql_body !== undefined) {
        t.readsUnknown = true;
        return null;
      }
      try {
        const tree = parseSync(body) as { stmts?: Array<{ stmt?: unknown }> };
        for (const s of tree.stmts ?? []) {
          const out = traceStatementNode(s.stmt, t);
          if (out) for (const o of out) t.read(o.lineage);
        }
      } catch {
        t.readsUnknown = true;
      }
      return null;
    }
    case 'CallStmt': {
      const call = f.funccall as Fields | undefined;
      const l = call ? funcCall(call, { entries: [], ctes: new Map(), parent: null }, t) : CLEAN;
      return [{ kind: 'spread', lineage: t.read(l), byName: null }];
    }
    default:
      return null;
  }
}

function defElem(options: unknown, name: string): string | undefined {
  for (const o of list(options)) {
    const d = fieldsOf(o, 'DefElem');
    if (d?.defname === name) return sval(d.arg);
  }
  return undefined;
}

function defElemList(options: unknown, name: string): string[] {
  for (const o of list(options)) {
    const d = fieldsOf(o, 'DefElem');
    if (d?.defname !== name) continue;
    const items = fieldsOf(d.arg, 'List')?.items;
    return items ? names(items) : [sval(d.arg)].filter((s): s is string => s !== undefined);
  }
  return [];
}

/** `SET search_path`'s new value: a list, DEFAULT (null), or 'unresolved' when it is not plain constants. */
function searchPathOf(f: Fields): readonly string[] | null | 'unresolved' {
  const kind = f.kind as string;
  if (kind === 'VAR_SET_DEFAULT' || kind === 'VAR_RESET' || kind === 'VAR_RESET_ALL') return null;
  if (kind !== 'VAR_SET_VALUE') return 'unresolved';
  const out: string[] = [];
  for (const a of list(f.args)) {
    const c = fieldsOf(a, 'A_Const');
    const s = (c?.sval as Fields | undefined)?.sval;
    if (typeof s !== 'string') return 'unresolved';
    out.push(s);
  }
  return out;
}

/** Parse a search_path setting's text (`"$user", public`) into schema names. */
export function parseSearchPath(value: string | null | undefined): string[] {
  if (value === null || value === undefined || value.trim() === '') return ['public'];
  const out: string[] = [];
  for (const raw of value.split(',')) {
    const s = raw.trim();
    if (s === '') continue;
    const name = s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1).replace(/""/g, '"') : s.toLowerCase();
    if (name === '$user') continue;
    out.push(name);
  }
  return out;
}

/**
 * Lineage of every statement of a SQL text, in order (libpg-query parses it; an unparseable text has no
 * statements: PostgreSQL rejects it too). `searchPath` is the session's schema list.
 */
export function traceSql(sql: string, catalog: LineageCatalog, searchPath: readonly string[]): StatementLineage[] {
  let tree: { stmts?: Array<{ stmt?: unknown }> };
  try {
    tree = parseSync(sql) as typeof tree;
  } catch {
    return [];
  }
  return (tree.stmts ?? []).map((s) => traceStatement(s.stmt, catalog, searchPath));
}

/** Lineage of one parsed statement. */
export function traceStatement(node: unknown, catalog: LineageCatalog, searchPath: readonly string[]): StatementLineage {
  const t = new Trace(catalog, searchPath);
  const u = unwrap(node);
  let outputs: Output | null = null;
  let uses: StatementLineage['uses'] = null;
  let defines: StatementLineage['defines'] = null;
  let forgets: StatementLineage['forgets'] = null;
  let path: StatementLineage['searchPath'];
  try {
    if (u?.[0] === 'FetchStmt') {
      if (u[1].ismove !== true) uses = { kind: 'cursor', name: String(u[1].portalname ?? '') };
    } else if (u?.[0] === 'ExecuteStmt') {
      uses = { kind: 'prepared', name: String(u[1].name ?? '') };
    } else if (u?.[0] === 'VariableSetStmt' && String(u[1].name ?? '').toLowerCase() === 'search_path') {
      path = searchPathOf(u[1]);
    } else if (u?.[0] === 'ClosePortalStmt') {
      forgets = { kind: 'cursor', name: typeof u[1].portalname === 'string' ? u[1].portalname : null };
    } else if (u?.[0] === 'DeallocateStmt') {
      forgets = { kind: 'prepared', name: u[1].isall === true || typeof u[1].name !== 'string' ? null : u[1].name };
    } else if (u?.[0] === 'DiscardStmt') {
      forgets = { kind: 'all', name: null };
    } else {
      outputs = traceStatementNode(node, t);
      // CURSOR_OPT_HOLD (parsenodes.h): the cursor outlives its transaction.
      if (u?.[0] === 'DeclareCursorStmt') defines = { kind: 'cursor', name: String(u[1].portalname ?? ''), hold: ((Number(u[1].options) || 0) & 0x20) !== 0 };
      if (u?.[0] === 'PrepareStmt') defines = { kind: 'prepared', name: String(u[1].name ?? ''), hold: true };
    }
  } catch (err) {
    // A tree shape this tracer does not expect: fail closed rather than guess.
    outputs = [{ kind: 'spread', lineage: unknownLineage(`dgf could not trace this statement (${(err as Error).message})`), byName: null }];
    t.readsUnknown = true;
  }
  return {
    outputs,
    reads: [...t.reads.values()],
    readsUnknown: t.readsUnknown,
    unknownRelations: [...t.unknownRelations],
    constantSensitive: t.constantSensitive,
    writes: t.writes,
    sinks: t.sinks,
    uses,
    defines,
    forgets,
    ...(path !== undefined ? { searchPath: path } : {}),
  };
}
