/**
 * Traces cached by command shape: the parts of a command that decide its lineage (pipeline, projection, update,
 * distinct key, `let`), with the values of its predicates (`filter`, `query`, `q`, `$match`, `$limit`, ...) and the
 * values a classic update writes replaced, since they never change what an output is made of. A repeated shape
 * costs one key walk and one Map lookup, and its trace object is shared, so the verdicts and planners keyed on it
 * are shared too. Two generations of maps: memory stays bounded however many shapes clients send.
 */
import { traceCommand, type CommandTrace, type TraceOptions } from './trace.js';

/** Command fields a trace reads; everything else (cursor, lsid, comment, hint, ...) does not change lineage. */
const TRACED_FIELDS = ['projection', 'pipeline', 'update', 'fields', 'new', 'remove', 'key', 'let', 'updates', 'deletes', 'ops', 'sort', 'explain', 'filter', 'query', 'returnKey'];
/** Command fields that are predicates or orders: only their shape matters. */
const PREDICATE_FIELDS = new Set(['filter', 'query', 'sort']);
/** Stages whose body is a predicate, an order or a count: only its shape matters. */
const PREDICATE_STAGES = new Set(['$match', '$limit', '$skip', '$sample', '$sort']);

const MAX_KEY = 16 * 1024;
/** The key being written, and how many more values it may take (a huge command is traced, never cached). */
interface Out {
  s: string;
  n: number;
}

const SIMPLE = /^[\w$. :-]*$/;

function str(v: string): string {
  return SIMPLE.test(v) ? `"${v}"` : JSON.stringify(v);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && (v as { _bsontype?: unknown })._bsontype === undefined && !(v instanceof Date) && !(v instanceof Uint8Array) && !(v instanceof RegExp);
}

/**
 * Append a canonical text of `v`. `shape`: a predicate: scalars replaced by `?`, keys and field references (`$x`)
 * kept, `$expr` written in full (its expressions decide what it reads).
 */
function write(v: unknown, shape: boolean, o: Out): void {
  if (--o.n < 0) return;
  if (typeof v === 'string') {
    o.s += shape && v.charCodeAt(0) !== 36 ? '?' : str(v);
    return;
  }
  if (v === null || v === undefined) {
    o.s += shape ? '?' : String(v);
    return;
  }
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') {
    o.s += shape ? '?' : `${typeof v}:${String(v)}`;
    return;
  }
  if (Array.isArray(v)) {
    o.s += '[';
    for (const x of v) {
      write(x, shape, o);
      o.s += ',';
    }
    o.s += ']';
    return;
  }
  if (typeof v === 'object') {
    const t = (v as { _bsontype?: string })._bsontype;
    if (t !== undefined) {
      o.s += shape ? '?' : `${t}(${(v as { toString(): string }).toString()})`;
      return;
    }
    if (!isPlainObject(v)) {
      o.s += shape ? '?' : `${Object.prototype.toString.call(v)}(${String(v)})`;
      return;
    }
    o.s += '{';
    for (const k in v) {
      o.s += `${str(k)}:`;
      write(v[k], shape && k !== '$expr', o);
      o.s += ',';
    }
    o.s += '}';
    return;
  }
  o.s += '?';
}

/** A pipeline: predicate stages by shape, sub-pipelines ($lookup, $unionWith, $facet) the same way, the rest in full. */
function writePipeline(stages: unknown, o: Out): void {
  if (!Array.isArray(stages)) {
    write(stages, false, o);
    return;
  }
  o.s += '[';
  for (const stage of stages) {
    writeStage(stage, o);
    o.s += ',';
  }
  o.s += ']';
}

function writeStage(stage: unknown, o: Out): void {
  if (!isPlainObject(stage)) {
    write(stage, false, o);
    return;
  }
  let name: string | null = null;
  for (const k in stage) {
    if (name !== null) {
      write(stage, false, o);
      return;
    }
    name = k;
  }
  if (name === null) {
    o.s += '{}';
    return;
  }
  const body = stage[name];
  o.s += `{${str(name)}:`;
  if (PREDICATE_STAGES.has(name)) {
    write(body, true, o);
  } else if ((name === '$lookup' || name === '$unionWith' || name === '$graphLookup' || name === '$geoNear') && isPlainObject(body)) {
    o.s += '{';
    for (const k in body) {
      o.s += `${str(k)}:`;
      if (k === 'pipeline') writePipeline(body[k], o);
      else write(body[k], k === 'restrictSearchWithMatch' || k === 'query', o);
      o.s += ',';
    }
    o.s += '}';
  } else if (name === '$facet' && isPlainObject(body)) {
    o.s += '{';
    for (const k in body) {
      o.s += `${str(k)}:`;
      writePipeline(body[k], o);
      o.s += ',';
    }
    o.s += '}';
  } else {
    write(body, false, o);
  }
  o.s += '}';
}

/**
 * A classic update document (`{$set: {...}, $inc: {...}}`, or a replacement). Its trace (trace.ts, traceUpdate)
 * reads the operators, the fields each names and the targets of `$rename`, never the values written: only those
 * are kept, so updates that differ in their values share a trace (and one cache entry instead of one per value).
 */
function writeUpdateDoc(u: Record<string, unknown>, o: Out): void {
  o.s += '{';
  for (const op in u) {
    if (--o.n < 0) return;
    const spec = u[op];
    o.s += `${str(op)}:`;
    if (op.charCodeAt(0) !== 36 || !isPlainObject(spec)) {
      // A replacement's field, or an operator whose argument is not a document: the trace skips both.
      o.s += '?,';
      continue;
    }
    if (op === '$rename') {
      write(spec, false, o);
    } else {
      o.s += '{';
      for (const k in spec) o.s += `${str(k)}:?,`;
      o.s += '}';
    }
    o.s += ',';
  }
  o.s += '}';
}

/** An update (findAndModify's `update`, a statement's `u` or `updateMods`): a pipeline, a document, or anything else. */
function writeUpdate(v: unknown, o: Out): void {
  if (Array.isArray(v)) writePipeline(v, o);
  else if (isPlainObject(v)) writeUpdateDoc(v, o);
  else write(v, false, o);
}

/** Update and delete statements: their predicates by shape, their updates by what their trace reads. */
function writeStatements(list: unknown, o: Out): void {
  if (!Array.isArray(list)) {
    write(list, false, o);
    return;
  }
  o.s += '[';
  for (const st of list) {
    if (isPlainObject(st)) {
      o.s += '{';
      for (const k in st) {
        const x = st[k];
        o.s += `${str(k)}:`;
        if (k === 'q' || k === 'filter') write(x, true, o);
        else if (k === 'u' || k === 'updateMods') writeUpdate(x, o);
        else write(x, false, o);
        o.s += ',';
      }
      o.s += '}';
    } else {
      write(st, false, o);
    }
    o.s += ',';
  }
  o.s += ']';
}

/** The cache key of a command's lineage, or null when it is too large to be worth keeping. */
export function shapeKey(cmd: Record<string, unknown>, db: string, tag: string): string | null {
  let name = '';
  for (const k in cmd) {
    name = k;
    break;
  }
  const target = cmd[name];
  const o: Out = { s: `${tag}\u0000${db}\u0000${name}=${typeof target === 'string' ? str(target) : '?'}`, n: 20_000 };
  for (const f of TRACED_FIELDS) {
    const v = cmd[f];
    if (v === undefined) continue;
    o.s += `|${f}:`;
    if (f === 'explain' && isPlainObject(v)) {
      o.s += shapeKey(v, db, tag) ?? '\u0001';
      continue;
    }
    if (f === 'pipeline') writePipeline(v, o);
    else if (f === 'update' && typeof v !== 'string') writeUpdate(v, o); // findAndModify's; the update command's is its collection
    else if (f === 'updates' || f === 'deletes' || f === 'ops') writeStatements(v, o);
    else write(v, PREDICATE_FIELDS.has(f), o);
    if (o.n < 0 || o.s.length > MAX_KEY) return null;
  }
  return o.s;
}

export class TraceCache {
  private young = new Map<string, CommandTrace>();
  private old = new Map<string, CommandTrace>();
  private static readonly MAX = 2000;

  /** The trace of `cmd`; `tag` names everything else the trace depends on (options, the view catalog's generation). */
  get(cmd: Record<string, unknown>, db: string, options: TraceOptions, tag: string): CommandTrace {
    const key = shapeKey(cmd, db, tag);
    if (key === null) return traceCommand(cmd, db, options);
    let hit = this.young.get(key);
    if (hit === undefined) {
      hit = this.old.get(key);
      if (hit !== undefined) this.remember(key, hit);
    }
    if (hit !== undefined) return hit;
    const traced = traceCommand(cmd, db, options);
    // A trace that met names the view catalog did not know is redone once the catalog knows them.
    if (traced.unresolved.length === 0) this.remember(key, traced);
    return traced;
  }

  private remember(key: string, value: CommandTrace): void {
    if (this.young.size >= TraceCache.MAX) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, value);
  }
}

/** The process-wide trace cache (traces depend on the command and the tag only). */
export const TRACES = new TraceCache();
