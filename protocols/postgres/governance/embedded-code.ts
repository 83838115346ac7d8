/**
 * SQL hidden inside other SQL: the statements of a DO block, of a function or procedure body (run later, by whoever
 * calls it), of a rule's actions, and of the SQL text handed to dblink. The firewall judges the wrapping statement as
 * what it runs (issue #18: "the firewall sees through indirection"). Text dgf cannot read (EXECUTE of computed text,
 * a language other than SQL and PL/pgSQL, COPY ... PROGRAM) is *dynamic code*: the statement is tagged
 * `dynamic-code` and `may:<verb>` for every verb it could run, and the policy engine lets every deny rule of the role
 * that names one of those verbs match it, whatever objects or labels the rule names (src/policy/engine.ts), unless a
 * rule allows `dynamic-code` for the role.
 */
import { parsePlPgSQLSync, parseSync } from 'libpg-query';
import { DYNAMIC_CODE_TAG } from '../../../src/policy/types.js';
import { stringList, unwrap, type Fields, type PgNode } from './parse-tree.js';

/** The tag of a statement that runs SQL dgf cannot read. */
export const DYNAMIC_CODE = DYNAMIC_CODE_TAG;

/**
 * Every verb (operation, tag or kind) statement analysis can give a PostgreSQL statement: what dynamic code may be.
 * Deny rules naming one of them match dynamic code; rules naming only other protocols' verbs (Redis, MongoDB) do not.
 */
export const POSTGRES_VERBS: readonly string[] = Object.freeze([
  'select', 'insert', 'update', 'delete', 'merge', 'drop', 'truncate', 'create', 'alter', 'comment', 'grant', 'revoke',
  'copy', 'set', 'reset', 'show', 'listen', 'unlisten', 'notify', 'declare', 'fetch', 'move', 'close', 'execute',
  'deallocate', 'discard', 'lock', 'call', 'refresh', 'do', 'load', 'vacuum', 'cluster', 'reindex', 'checkpoint',
  'alter_system', 'create_role', 'alter_role', 'reassign_owned', 'create_database', 'drop_database', 'alter_database',
  'create_tablespace', 'create_subscription', 'alter_subscription', 'prepare_transaction', 'commit_prepared',
  'rollback_prepared', 'explain',
  'create-view', 'create-materialized-view', 'create-table-as', 'select-into', 'create-function', 'create-procedure',
  'create-rule', 'create-trigger', 'create-extension', 'copy-to-program', 'copy-from-program', 'copy-to-file',
  'set-unresolved', DYNAMIC_CODE,
  'read', 'write', 'ddl', 'admin', 'session', 'other',
]);

/** The tags of dynamic code, shared by every statement that has them. */
export const DYNAMIC_TAGS: readonly string[] = Object.freeze([DYNAMIC_CODE, ...POSTGRES_VERBS.map((v) => `may:${v}`)]);

/** What a statement carries inside it. */
export interface EmbeddedCode {
  /** The SQL texts it runs (constant EXECUTE texts, static statements, `SELECT <expression>` of PL/pgSQL expressions). */
  readonly texts: string[];
  /** Statements given as parse nodes (rule actions, BEGIN ATOMIC bodies). */
  readonly nodes: PgNode[];
  /** Why part of it cannot be read (null: everything was read). */
  dynamic: string | null;
  /** Whether it runs now (DO) rather than later (function bodies, rules). */
  readonly runsNow: boolean;
}

/** Functions (any schema) whose argument is SQL they run: dblink's. The index of the SQL argument when there are two or more. */
const SQL_RUNNERS: Record<string, number> = { dblink_exec: 1, dblink: 1, dblink_send_query: 1, dblink_open: 2 };

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** DefElem options of DO / CREATE FUNCTION: name -> arg node. */
function options(list: unknown): Map<string, unknown> {
  const out = new Map<string, unknown>();
  if (!Array.isArray(list)) return out;
  for (const o of list) {
    const u = unwrap(o);
    if (u && u[0] === 'DefElem') out.set((str(u[1]['defname']) ?? '').toLowerCase(), u[1]['arg']);
  }
  return out;
}

function stringArg(arg: unknown): string | undefined {
  const u = unwrap(arg);
  return u && u[0] === 'String' ? str(u[1]['sval']) : undefined;
}

/**
 * The code inside a statement, or null when it carries none. `text` is the statement's own text (the PL/pgSQL parser
 * reads the whole DO / CREATE FUNCTION statement).
 */
export function embeddedCode(stmt: PgNode, text: string): EmbeddedCode | null {
  const u = unwrap(stmt);
  if (!u) return null;
  const [type, f] = u;
  switch (type) {
    case 'DoStmt': {
      const opts = options(f['args']);
      const language = (stringArg(opts.get('language')) ?? 'plpgsql').toLowerCase();
      const code: EmbeddedCode = { texts: [], nodes: [], dynamic: null, runsNow: true };
      if (language === 'plpgsql') plpgsql(text, code);
      else code.dynamic = `a DO block in language ${language}`;
      return code;
    }
    case 'CreateFunctionStmt': {
      const opts = options(f['options']);
      const code: EmbeddedCode = { texts: [], nodes: [], dynamic: null, runsNow: false };
      const body = f['sql_body'];
      const language = (stringArg(opts.get('language')) ?? (body ? 'sql' : '')).toLowerCase();
      if (body) {
        collectNodes(body, code.nodes);
        return code;
      }
      const as = opts.get('as');
      const asList = unwrap(as);
      const src = asList && asList[0] === 'List' ? stringList(asList[1]['items']) : [];
      if (language === 'sql') {
        if (src.length === 1) code.texts.push(src[0]!);
        else code.dynamic = 'a SQL function without a body dgf can read';
      } else if (language === 'plpgsql') {
        plpgsql(text, code);
      } else {
        code.dynamic = `a function in language ${language || 'unknown'}`;
      }
      return code;
    }
    case 'RuleStmt': {
      const code: EmbeddedCode = { texts: [], nodes: [], dynamic: null, runsNow: false };
      if (Array.isArray(f['actions'])) for (const a of f['actions'] as unknown[]) if (unwrap(a)) code.nodes.push(a as PgNode);
      return code.nodes.length > 0 ? code : null;
    }
    case 'CopyStmt':
      // A shell command run by the server may run anything, psql included.
      if (f['is_program']) return { texts: [], nodes: [], dynamic: 'COPY ... PROGRAM runs a shell command', runsNow: true };
      return null;
  }
  // SQL handed to dblink: looked for only in texts that name it (the walk costs more than the test).
  if (!/dblink/i.test(text)) return null;
  const code: EmbeddedCode = { texts: [], nodes: [], dynamic: null, runsNow: true };
  sqlRunnerCalls(stmt, code, 0);
  return code.texts.length > 0 || code.dynamic !== null ? code : null;
}

/** A BEGIN ATOMIC body: a List of Lists of statements, or one ReturnStmt. */
function collectNodes(body: unknown, out: PgNode[], depth = 0): void {
  if (depth > 4) return;
  const u = unwrap(body);
  if (!u) return;
  if (u[0] === 'List') {
    if (Array.isArray(u[1]['items'])) for (const item of u[1]['items'] as unknown[]) collectNodes(item, out, depth + 1);
    return;
  }
  if (u[0] === 'ReturnStmt') {
    // RETURN <expression>: calls made by the expression.
    out.push({ SelectStmt: { targetList: [{ ResTarget: { val: u[1]['returnval'] } }] } });
    return;
  }
  out.push(body as PgNode);
}

function sqlRunnerCalls(node: unknown, code: EmbeddedCode, depth: number): void {
  if (depth > 400 || node === null || typeof node !== 'object') return;
  if (Array.isArray(node)) {
    for (const n of node) sqlRunnerCalls(n, code, depth + 1);
    return;
  }
  for (const key in node as PgNode) {
    const value = (node as PgNode)[key];
    if (value === null || typeof value !== 'object') continue;
    if (key === 'FuncCall') {
      const call = value as Fields;
      const names = stringList(call['funcname']);
      const fn = names[names.length - 1]?.toLowerCase() ?? '';
      const at = SQL_RUNNERS[fn];
      if (at !== undefined) {
        const args = Array.isArray(call['args']) ? (call['args'] as unknown[]) : [];
        const i = args.length === 1 ? 0 : at;
        const sql = args.length > i ? constantOf(args[i]) : undefined;
        if (sql === undefined) code.dynamic ??= `${fn}() with SQL text dgf cannot read`;
        else code.texts.push(sql);
      }
    }
    sqlRunnerCalls(value, code, depth + 1);
  }
}

/** PL/pgSQL statement types whose `query` / `dynquery` expression is SQL text computed at run time. */
const DYNAMIC_QUERY: Record<string, string> = {
  PLpgSQL_stmt_dynexecute: 'query',
  PLpgSQL_stmt_dynfors: 'query',
  PLpgSQL_stmt_open: 'dynquery',
  PLpgSQL_stmt_return_query: 'dynquery',
};

/** PL/pgSQL's RAW_PARSE_PLPGSQL_ASSIGN1..3: `target := expression`. */
const ASSIGN_MODES = new Set([3, 4, 5]);

/** The `dynamic` reason of a PL/pgSQL body the parser rejects. */
export const PLPGSQL_UNPARSEABLE = 'a PL/pgSQL body dgf cannot parse';

/** Read a PL/pgSQL DO block or function: every SQL statement and expression in it, EXECUTE texts when constant. */
function plpgsql(text: string, code: EmbeddedCode): void {
  let parsed: unknown;
  try {
    parsed = parsePlPgSQLSync(text);
  } catch {
    code.dynamic = PLPGSQL_UNPARSEABLE;
    return;
  }
  visitPlpgsql(parsed, code, false, 0);
}

function visitPlpgsql(node: unknown, code: EmbeddedCode, dynamic: boolean, depth: number): void {
  if (depth > 400 || node === null || typeof node !== 'object') return;
  if (Array.isArray(node)) {
    for (const n of node) visitPlpgsql(n, code, false, depth + 1);
    return;
  }
  for (const key in node as PgNode) {
    const value = (node as PgNode)[key];
    if (value === null || typeof value !== 'object') continue;
    if (key === 'PLpgSQL_expr') {
      expression(value as Fields, code, dynamic);
      continue;
    }
    const dynField = DYNAMIC_QUERY[key];
    if (dynField !== undefined && !Array.isArray(value)) {
      for (const k in value as Fields) visitPlpgsql({ [k]: (value as Fields)[k] }, code, k === dynField, depth + 1);
      continue;
    }
    visitPlpgsql(value, code, dynamic && !Array.isArray(node), depth + 1);
  }
}

function expression(expr: Fields, code: EmbeddedCode, dynamic: boolean): void {
  const query = str(expr['query']);
  if (query === undefined) return;
  const mode = typeof expr['parseMode'] === 'number' ? expr['parseMode'] : 0;
  let source = query;
  if (ASSIGN_MODES.has(mode)) {
    const at = query.indexOf(':=');
    source = at >= 0 ? query.slice(at + 2) : query.slice(query.indexOf('=') + 1);
  }
  if (dynamic) {
    const text = constantText(source);
    if (text === undefined) code.dynamic ??= 'EXECUTE of SQL text computed at run time';
    else code.texts.push(text);
    // The expression's own calls (EXECUTE f()) run too.
    code.texts.push(`SELECT ${source}`);
    return;
  }
  code.texts.push(mode === 0 ? query : `SELECT ${source}`);
}

/** The value of an expression made of string constants, `||`, casts, concat() and format() of constants. */
export function constantText(expr: string): string | undefined {
  let tree: { stmts?: Array<{ stmt?: PgNode }> };
  try {
    tree = parseSync(`SELECT ${expr}`) as typeof tree;
  } catch {
    return undefined;
  }
  const sel = unwrap(tree.stmts?.[0]?.stmt);
  if (!sel || sel[0] !== 'SelectStmt' || tree.stmts!.length !== 1) return undefined;
  const list = sel[1]['targetList'];
  if (!Array.isArray(list) || list.length !== 1) return undefined;
  const target = unwrap(list[0]);
  return target && target[0] === 'ResTarget' ? constantOf(target[1]['val']) : undefined;
}

function constantOf(node: unknown, depth = 0): string | undefined {
  if (depth > 64) return undefined;
  const u = unwrap(node);
  if (!u) return undefined;
  const [type, f] = u;
  switch (type) {
    case 'A_Const': {
      if (f['isnull']) return undefined;
      const sval = f['sval'] as Fields | undefined;
      if (sval) return str(sval['sval']) ?? '';
      const ival = f['ival'] as Fields | undefined;
      if (ival) return String(ival['ival'] ?? 0);
      const fval = f['fval'] as Fields | undefined;
      if (fval) return str(fval['fval']);
      return undefined;
    }
    case 'TypeCast':
      return constantOf(f['arg'], depth + 1);
    case 'A_Expr': {
      if (f['kind'] !== 'AEXPR_OP' || stringList(f['name']).join('.') !== '||') return undefined;
      const l = constantOf(f['lexpr'], depth + 1);
      const r = constantOf(f['rexpr'], depth + 1);
      return l === undefined || r === undefined ? undefined : l + r;
    }
    case 'FuncCall': {
      const names = stringList(f['funcname']);
      const fn = names[names.length - 1]?.toLowerCase();
      const args = Array.isArray(f['args']) ? (f['args'] as unknown[]).map((a) => constantOf(a, depth + 1)) : [];
      if (args.some((a) => a === undefined)) return undefined;
      const values = args as string[];
      if (fn === 'concat') return values.join('');
      if (fn === 'format' && values.length >= 1) return formatConstant(values[0]!, values.slice(1));
      return undefined;
    }
  }
  return undefined;
}

/** PostgreSQL's format() for %s, %I, %L and %% (positional forms: not constant for dgf). */
function formatConstant(fmt: string, args: string[]): string | undefined {
  let out = '';
  let next = 0;
  for (let i = 0; i < fmt.length; i++) {
    const c = fmt[i]!;
    if (c !== '%') {
      out += c;
      continue;
    }
    const spec = fmt[++i];
    if (spec === '%') out += '%';
    else if (spec === 's' || spec === 'I' || spec === 'L') {
      if (next >= args.length) return undefined;
      const v = args[next++]!;
      out += spec === 's' ? v : spec === 'I' ? (/^[a-z_][a-z0-9_$]*$/.test(v) ? v : `"${v.replace(/"/g, '""')}"`) : `'${v.replace(/'/g, "''")}'`;
    } else return undefined;
  }
  return out;
}
