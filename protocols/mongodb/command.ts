/**
 * What a client command means for governance: its operation verb, kind, objects, the field names it
 * filters on or writes, server-side JavaScript it carries, and its audit statement.
 */
import { DYNAMIC_CODE_TAG, type OperationKind } from '../../src/policy/types.js';
import { findJsOperators, findNamespaces } from './pipeline.js';
import { TRACES } from './lineage/cache.js';
import type { CommandTrace, TraceOptions } from './lineage/trace.js';
import { capStatement, shape } from './statement.js';

export interface CommandInfo {
  /** The command name as sent (first key). */
  name: string;
  /** Lower-cased name; the policy's operation verb unless refined (deletemany-all). */
  lower: string;
  operation: string;
  kind: OperationKind;
  db: string;
  /** The collection the command names, when it names one. */
  collection: string | null;
  /** `db.collection` or `db`. */
  objects: string[];
  /** Field names filtered on or written (top level), for label-based rules. */
  fields: string[];
  /** `$where`, `$function`, `$accumulator` found anywhere. */
  jsOperators: string[];
  statement: string;
  /** The command's lineage (lineage/trace.ts): its result documents, writes, what it cannot trace. */
  trace: CommandTrace;
  /** More specific verbs for policy rules (`create-view`). */
  tags: string[];
  /** Whether the storage quota applies (writes that can grow data). */
  grows: boolean;
}

const READ = new Set([
  'find', 'count', 'distinct', 'getmore', 'listcollections', 'listindexes', 'listdatabases', 'dbstats', 'collstats',
  'explain', 'aggregate', 'geonear', 'listsearchindexes',
]);

/** How the trace of a command is made and cached: the options, and a tag naming them in the cache key. */
export interface DescribeOptions {
  readonly trace?: TraceOptions;
  /** Everything the trace depends on besides the command (options, the view catalog's generation). */
  readonly traceTag?: string;
}
const WRITE = new Set(['insert', 'update', 'delete', 'findandmodify', 'bulkwrite']);
const DDL = new Set([
  'create', 'drop', 'dropdatabase', 'createindexes', 'dropindexes', 'renamecollection', 'collmod', 'convertToCapped',
  'converttocapped', 'clonecollectionascapped', 'createsearchindexes', 'dropsearchindex', 'updatesearchindex',
]);
const SESSION = new Set(['endsessions', 'committransaction', 'aborttransaction', 'killcursors', 'startsession', 'refreshsessions', 'killsessions']);
const OTHER = new Set(['hello', 'ismaster', 'ping', 'buildinfo', 'saslstart', 'saslcontinue', 'logout', 'getlasterror', 'whatsmyuri', 'getparameter', 'hostinfo', 'connectionstatus', 'getcmdlineopts', 'features']);

/** Commands whose first value names a collection. */
const COLLECTION_COMMANDS = new Set([
  'find', 'insert', 'update', 'delete', 'findandmodify', 'aggregate', 'count', 'distinct', 'create', 'drop', 'createindexes',
  'dropindexes', 'listindexes', 'collstats', 'collmod', 'mapreduce', 'validate', 'converttocapped', 'createsearchindexes',
  'dropsearchindex', 'updatesearchindex', 'listsearchindexes',
]);

type Doc = Record<string, unknown>;

/**
 * What code dgf does not read (applyOps) may do: every verb command analysis gives a MongoDB command, as `may:` tags
 * with `dynamic-code` (see DYNAMIC_CODE_TAG in src/policy/types.ts): deny rules naming one of them match it.
 */
const MONGO_VERBS = [
  'find', 'insert', 'update', 'delete', 'deletemany-all', 'findandmodify', 'bulkwrite', 'aggregate', 'drop', 'dropdatabase',
  'create', 'create-view', 'createindexes', 'dropindexes', 'renamecollection', 'collmod', 'converttocapped', 'applyops',
  '$where', '$function', '$accumulator', 'mapreduce', 'read', 'write', 'ddl', 'admin',
];
const DYNAMIC_TAGS: readonly string[] = Object.freeze([DYNAMIC_CODE_TAG, ...MONGO_VERBS.map((v) => `may:${v}`)]);

function isDoc(v: unknown): v is Doc {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && (v as { _bsontype?: unknown })._bsontype === undefined;
}

function topKeys(v: unknown, into: Set<string>): void {
  if (!isDoc(v)) return;
  for (const k of Object.keys(v)) {
    if (k === '$and' || k === '$or' || k === '$nor') {
      if (Array.isArray(v[k])) for (const sub of v[k] as unknown[]) topKeys(sub, into);
    } else if (k.startsWith('$')) {
      if (isDoc(v[k])) for (const f of Object.keys(v[k] as Doc)) if (!f.startsWith('$')) into.add(f);
    } else if (into.size < 64) {
      into.add(k);
    }
  }
}

/**
 * Whether dgf can prove a delete filter selective, i.e. that it does not match every document whatever the data
 * (the intent of `deletemany-all`: no mass deletion). Proof is positive and syntactic: the filter requires, through
 * its top level or an `$and` member (every branch of an `$or`), some field to equal a concrete value: `{f: v}`,
 * `{f: {$eq: v}}`, or `{f: {$in: [v, ...]}}` with every v concrete (not null, MinKey, MaxKey, a regex, or an
 * operator document). Everything else proves nothing: negations ($ne, $nin, $not, $nor), existence and type tests,
 * ranges (one- or two-sided: `{_id: {$gte: MinKey}}` and `{f: {$gt: -1e308}}` match everything), regexes, $expr,
 * $where, $jsonSchema, $comment and unknown operators. A filter that proves nothing counts as `deletemany-all`.
 * Range deletes (retention jobs) therefore need a role the rule exempts.
 */
export function provablySelective(filter: unknown, depth = 0): boolean {
  if (!isDoc(filter) || depth > 32) return false;
  for (const [k, v] of Object.entries(filter)) {
    if (k === '$and') {
      if (Array.isArray(v) && v.some((sub) => provablySelective(sub, depth + 1))) return true;
    } else if (k === '$or') {
      if (Array.isArray(v) && v.length > 0 && v.every((sub) => provablySelective(sub, depth + 1))) return true;
    } else if (!k.startsWith('$') && fieldSelective(v)) {
      return true;
    }
  }
  return false;
}

function fieldSelective(v: unknown): boolean {
  if (concrete(v)) return true;
  if (!isDoc(v)) return false;
  if (v.$eq !== undefined && concrete(v.$eq)) return true;
  return Array.isArray(v.$in) && v.$in.every(concrete);
}

/** A value an equality can only match documents holding it (an operator document, null or a bound is not one). */
function concrete(v: unknown, depth = 0): boolean {
  if (v === null || v === undefined || depth > 16) return false;
  if (v instanceof RegExp) return false;
  if (Array.isArray(v)) return v.every((x) => concrete(x, depth + 1));
  if (typeof v === 'object') {
    const bson = (v as { _bsontype?: unknown })._bsontype;
    if (bson === 'MinKey' || bson === 'MaxKey' || bson === 'BSONRegExp') return false;
    if (bson !== undefined || v instanceof Date || v instanceof Uint8Array) return true;
    // A document literal, unless it is an operator document (`{$gt: 1}`).
    return Object.keys(v).every((k) => !k.startsWith('$'));
  }
  return true;
}

/** A delete statement that may remove every document: no limit of 1, and a filter dgf cannot prove selective. */
function deletesAll(d: unknown, limitKey: 'limit' | 'multi'): boolean {
  if (!isDoc(d)) return true;
  const many = limitKey === 'limit' ? numberOf(d.limit ?? 0) !== 1 : d.multi === true;
  return many && !provablySelective(limitKey === 'limit' ? d.q : d.filter);
}

function numberOf(v: unknown): number {
  if (typeof v === 'number') return v;
  if (v && typeof (v as { valueOf?: () => unknown }).valueOf === 'function') return Number((v as { valueOf(): unknown }).valueOf());
  return Number.NaN;
}

/**
 * Describe a decoded command. `sequences` holds kind 1 document sequences by identifier (already decoded
 * where the analysis needs them: updates, deletes); insert documents are only counted.
 */
export function describeCommand(cmd: Doc, db: string, sequences: ReadonlyMap<string, unknown[]> = new Map(), insertCount = 0, options: DescribeOptions = {}): CommandInfo {
  const name = Object.keys(cmd)[0] ?? '';
  const lower = name.toLowerCase();
  if (lower === 'explain' && isDoc(cmd.explain)) {
    // An explain is decided as the command it explains (same objects, same lineage refusals), as a read.
    const inner = describeCommand(cmd.explain, db, sequences, insertCount, options);
    return { ...inner, name, lower, operation: 'explain', kind: 'read', grows: false, trace: TRACES.get(cmd, db, options.trace ?? {}, options.traceTag ?? ''), statement: capStatement(`explain ${inner.statement}`) };
  }
  const first = cmd[name];
  const collection = COLLECTION_COMMANDS.has(lower) && typeof first === 'string' ? first : lower === 'getmore' && typeof cmd.collection === 'string' ? cmd.collection : null;
  let operation = lower;
  let kind: OperationKind = READ.has(lower) ? 'read' : WRITE.has(lower) ? 'write' : DDL.has(lower) ? 'ddl' : SESSION.has(lower) ? 'session' : OTHER.has(lower) ? 'other' : 'admin';
  const fields = new Set<string>();
  const js = new Set<string>();
  const tags: string[] = [];
  let detail = '';
  const applyNamespaces: string[] = [];
  let grows = lower === 'insert' || lower === 'update' || lower === 'findandmodify' || lower === 'create' || lower === 'createindexes' || lower === 'bulkwrite';
  const seq = (key: string): unknown[] => (Array.isArray(cmd[key]) ? (cmd[key] as unknown[]) : ((sequences.get(key) as unknown[] | undefined) ?? []));

  switch (lower) {
    case 'find':
    case 'count':
      topKeys(cmd.filter ?? cmd.query, fields);
      findJsOperators(cmd.filter ?? cmd.query, js);
      detail = shape(cmd.filter ?? cmd.query ?? {});
      break;
    case 'distinct':
      topKeys(cmd.query, fields);
      if (typeof cmd.key === 'string') fields.add(cmd.key);
      findJsOperators(cmd.query, js);
      detail = `${String(cmd.key ?? '?')} ${shape(cmd.query ?? {})}`;
      break;
    case 'aggregate': {
      findJsOperators(cmd.pipeline, js);
      const stages = Array.isArray(cmd.pipeline) ? (cmd.pipeline as unknown[]) : [];
      for (const st of stages) if (isDoc(st) && isDoc(st.$match)) topKeys(st.$match, fields);
      if (stages.some((st) => isDoc(st) && (st.$out !== undefined || st.$merge !== undefined))) {
        kind = 'write';
        grows = true;
      }
      detail = shape(cmd.pipeline ?? [], true);
      break;
    }
    case 'create':
      if (typeof cmd.viewOn === 'string') {
        tags.push('create-view');
        findJsOperators(cmd.pipeline, js);
      }
      break;
    case 'insert': {
      const n = Array.isArray(cmd.documents) ? cmd.documents.length : insertCount;
      const firstDoc = Array.isArray(cmd.documents) ? cmd.documents[0] : undefined;
      topKeys(firstDoc, fields);
      detail = `[${n} document${n === 1 ? '' : 's'}]`;
      break;
    }
    case 'update': {
      const ups = seq('updates');
      for (const u of ups.slice(0, 100)) {
        if (!isDoc(u)) continue;
        topKeys(u.q, fields);
        topKeys(u.u, fields);
        findJsOperators(u.q, js);
        findJsOperators(u.u, js);
      }
      const u0 = ups[0];
      detail = isDoc(u0) ? `${shape({ q: u0.q, u: u0.u }, Array.isArray(u0.u))}${ups.length > 1 ? ` ×${ups.length}` : ''}` : '[]';
      break;
    }
    case 'delete': {
      const dels = seq('deletes');
      let all = false;
      // Every statement is judged (a long list is no place to hide one): a mass delete anywhere makes the command one.
      for (const d of dels) {
        if (deletesAll(d, 'limit')) all = true;
        if (!isDoc(d)) continue;
        topKeys(d.q, fields);
        findJsOperators(d.q, js);
      }
      if (all) operation = 'deletemany-all';
      const d0 = dels[0];
      detail = isDoc(d0) ? `${shape({ q: d0.q, limit: d0.limit })}${dels.length > 1 ? ` ×${dels.length}` : ''}` : '[]';
      break;
    }
    case 'findandmodify':
      topKeys(cmd.query, fields);
      topKeys(cmd.update, fields);
      findJsOperators(cmd.query, js);
      findJsOperators(cmd.update, js);
      detail = shape({ query: cmd.query ?? {}, ...(cmd.update !== undefined ? { update: cmd.update } : {}), ...(cmd.remove ? { remove: true } : {}) });
      break;
    case 'bulkwrite': {
      // The bulkWrite command (admin database): operations over the namespaces of nsInfo.
      const ops = seq('ops');
      let all = false;
      for (const o of ops) {
        if (!isDoc(o)) continue;
        if (o.delete !== undefined && deletesAll(o, 'multi')) all = true;
        topKeys(o.filter, fields);
        findJsOperators(o.filter, js);
        findJsOperators(o.updateMods, js);
      }
      if (all) operation = 'deletemany-all';
      detail = `[${ops.length} operation${ops.length === 1 ? '' : 's'}]`;
      break;
    }
    case 'renamecollection':
      // Renaming onto an existing collection with dropTarget drops the target first: a drop (of the target).
      if (cmd.dropTarget === true || numberOf(cmd.dropTarget) === 1) tags.push('drop');
      detail = `to ${typeof cmd.to === 'string' ? cmd.to : '?'}${tags.length > 0 ? ' dropTarget' : ''}`;
      break;
    case 'applyops':
      // Raw oplog entries: any write or command on any collection, which dgf does not judge one by one.
      for (const t of DYNAMIC_TAGS) tags.push(t);
      for (const o of seq('applyOps')) if (isDoc(o) && typeof o.ns === 'string') applyNamespaces.push(o.ns);
      detail = '[oplog entries]';
      break;
    case 'mapreduce':
      kind = isDoc(cmd.out) && cmd.out.inline ? 'read' : 'write';
      detail = '{map: ?, reduce: ?}';
      break;
    case 'getmore':
      detail = '?';
      break;
    default:
      break;
  }

  // The trace reads the update/delete statements sent as document sequences too.
  let traced: Doc = cmd;
  for (const key of ['updates', 'deletes', 'ops']) {
    if (cmd[key] === undefined && sequences.has(key)) traced = { ...traced, [key]: sequences.get(key) };
  }
  const trace = TRACES.get(traced, db, options.trace ?? {}, options.traceTag ?? '');
  if (lower === 'aggregate') for (const r of trace.reads) if (fields.size < 64) fields.add(r);
  const objects = collection ? [`${db}.${collection}`] : [db];
  if (trace.writeTarget) objects.push(trace.writeTarget.includes('.') && !trace.writeTarget.startsWith('.') ? trace.writeTarget : `${db}.${trace.writeTarget}`);
  // Issue #18: collections read or written through stages ($lookup, $unionWith, $graphLookup, $out, $merge, views)
  // and the namespaces of renameCollection and the bulkWrite command are objects of the command too.
  const more = new Set<string>(trace.namespaces);
  if (lower === 'aggregate' || lower === 'create' || lower === 'find' || lower === 'count' || lower === 'distinct') findNamespaces(cmd, db, more);
  if (lower === 'renamecollection') for (const ns of [cmd.renameCollection, cmd.to]) if (typeof ns === 'string') more.add(ns);
  if (lower === 'bulkwrite') for (const n of seq('nsInfo')) if (isDoc(n) && typeof n.ns === 'string') more.add(n.ns);
  for (const ns of applyNamespaces) more.add(ns);
  for (const ns of more) if (!objects.includes(ns)) objects.push(ns);
  const statement = capStatement(`${lower} ${objects[0]}${detail ? ` ${detail}` : ''}`);
  return {
    name,
    lower,
    operation,
    kind,
    db,
    collection,
    objects,
    fields: [...fields],
    jsOperators: [...js],
    statement,
    trace,
    tags,
    grows,
  };
}
