/**
 * The aggregation tracer: for a command (find with its projection, aggregate with its pipeline, distinct,
 * findAndModify, update, bulkWrite, explain of any of them), what its result documents are made of in terms of the
 * input documents' field paths (values.ts), which values it writes into which fields, and what it cannot trace.
 *
 * Every stage and operator is looked up in the tables of operators.ts; one that is not there is unknown lineage.
 * Soundness over precision: a value that may come from a source carries it (conditions, selectors, every argument of a
 * computation, both sides of a `$unionWith`); what cannot be traced is `unknown`, and the caller fails closed.
 * Predicates (`$match`, find filters, `$lookup` keys, sort orders) do not flow into outputs: they are the documented
 * inference channel, and their fields are still recorded as read.
 */
import {
  ACCUMULATORS,
  CONSTANT_VARIABLES,
  EXPRESSION_OPERATORS,
  META_KEYWORDS,
  QUERY_EXPRESSION_OPERATORS,
  QUERY_JAVASCRIPT_OPERATORS,
  STAGES,
  UNTRACEABLE_VARIABLES,
  WINDOW_OPERATORS,
  type AccumulatorRule,
  type ArgSelector,
  type ExpressionRule,
} from './operators.js';
import {
  LIT,
  ROOT,
  any,
  at,
  derive,
  field,
  firstUnknown,
  isLit,
  join,
  keyOf,
  lineageAt,
  lineageOf,
  obj,
  setPath,
  spend,
  taint,
  TraceTooComplex,
  unknown,
  valuesOf,
  wild,
  WORK,
  MAX_WORK,
  type Der,
  type Lineage,
  type Val,
} from './values.js';

/** A view: its source collection and pipeline (`listCollections` options). */
export interface ViewDefinition {
  readonly viewOn: string;
  readonly pipeline: readonly unknown[];
}

/** What dgf knows of a namespace: a view, a collection (null), or nothing yet (undefined). */
export type ViewResolver = (db: string, collection: string) => ViewDefinition | null | undefined;

export interface TraceOptions {
  /** Resolves collection names to views, so a view's renames are followed. */
  readonly views?: ViewResolver;
  /** The upstream may convert documents and arrays to strings (`$toString`, `$convert`; MongoDB 8.3+). */
  readonly objectToString?: boolean;
}

/** The documents a command returns, as the planner asks about them. */
export interface ResultLineage {
  /** What a result document is made of. */
  readonly output: Val;
  /** The lineage of the value at output path `path`; null when the model says no such field can come back. */
  lineageOf(path: string): Lineage | null;
}

/** A value a command writes into a field. */
export interface WrittenValue {
  /** The field written (`*` stands for fields whose names dgf cannot know). */
  readonly target: string;
  readonly lineage: Lineage;
}

export interface CommandTrace {
  /** The command, lower-cased (`explain` traces the command it explains). */
  readonly command: string;
  /** The documents the command returns (cursor batches, findAndModify's value, distinct's values); null: none. */
  readonly result: ResultLineage | null;
  /** The first output that cannot be traced (`path` in the result), or a written value that cannot. */
  readonly unknown: { readonly path: string; readonly why: string } | null;
  /** Server-side JavaScript anywhere (`$where`, `$function`, `$accumulator`, mapReduce). */
  readonly js: readonly string[];
  /** `$out` or `$merge`, when the pipeline writes. */
  readonly writeStage: '$out' | '$merge' | null;
  /** The write stage's target (`coll` or `db.coll`). */
  readonly writeTarget: string | null;
  /** Values written into fields from other fields (update pipelines, `$rename`): laundering candidates. */
  readonly writes: readonly WrittenValue[];
  /** Every field path the command reads anywhere (outputs and predicates). */
  readonly reads: readonly string[];
  /** Namespaces (`db.coll`) whose documents the command reads, views resolved or not. */
  readonly namespaces: readonly string[];
  /** Namespaces the view resolver did not know (a catalog refresh may tell whether they are views). */
  readonly unresolved: readonly string[];
  /** The command is an explain (its reply is a plan, scrubbed, never masked as documents). */
  readonly explain: boolean;
}

type Doc = Record<string, unknown>;

function isDoc(v: unknown): v is Doc {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  if ((v as { _bsontype?: unknown })._bsontype !== undefined) return false;
  return !(v instanceof Date) && !(v instanceof Uint8Array) && !(v instanceof RegExp);
}

function isOperatorDoc(v: unknown): boolean {
  if (!isDoc(v)) return false;
  const k = Object.keys(v)[0];
  return k !== undefined && k.startsWith('$');
}

/** A plain number or a BSON number wrapper; NaN for anything else. */
function num(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  const t = (v as { _bsontype?: string } | null)?._bsontype;
  if (t === 'Int32' || t === 'Double' || t === 'Long' || t === 'Decimal128') return Number((v as { toString(): string }).toString());
  return Number.NaN;
}

function isNumberLike(v: unknown): boolean {
  return typeof v === 'boolean' || !Number.isNaN(num(v));
}

const MAX_DEPTH = 120;
const MAX_VIEW_DEPTH = 20;

/** What one trace collects while it walks. */
class State {
  readonly reads = new Set<string>();
  readonly js = new Set<string>();
  readonly namespaces = new Set<string>();
  readonly unresolved = new Set<string>();
  writeStage: '$out' | '$merge' | null = null;
  writeTarget: string | null = null;
  constructor(
    readonly db: string,
    readonly options: TraceOptions,
  ) {}

  read(path: string): void {
    if (path !== '' && this.reads.size < 256) this.reads.add(path);
  }
}

interface Ctx {
  readonly s: State;
  /** Variables: ROOT, CURRENT and user variables. */
  readonly vars: ReadonlyMap<string, Val>;
  /** Inside a condition: comparisons flow. */
  readonly raw: boolean;
  readonly depth: number;
}

function withVars(ctx: Ctx, more: ReadonlyArray<readonly [string, Val]>): Ctx {
  const vars = new Map(ctx.vars);
  for (const [k, v] of more) vars.set(k, v);
  return { ...ctx, vars, depth: ctx.depth + 1 };
}

function documentCtx(s: State, doc: Val, vars: ReadonlyMap<string, Val>, depth: number): Ctx {
  const all = new Map(vars);
  all.set('ROOT', doc);
  all.set('CURRENT', doc);
  return { s, vars: all, raw: false, depth };
}

// ---- expressions --------------------------------------------------------------------------------------------------

/** A constant string an expression is, when it is one (`'x'`, `{$literal: 'x'}`, `$concat`/`$toLower`/... of those). */
function constString(e: unknown, depth = 0): string | null {
  if (depth > 20) return null;
  if (typeof e === 'string') return e.startsWith('$') ? null : e;
  if (!isOperatorDoc(e)) return null;
  const d = e as Doc;
  const [op] = Object.keys(d);
  const arg = d[op!];
  if (op === '$literal') return typeof arg === 'string' ? arg : null;
  if (op === '$concat' && Array.isArray(arg)) {
    let out = '';
    for (const a of arg) {
      const s = constString(a, depth + 1);
      if (s === null) return null;
      out += s;
    }
    return out;
  }
  if (op === '$toLower' || op === '$toUpper' || op === '$trim' || op === '$toString') {
    const inner = constString(Array.isArray(arg) ? arg[0] : isDoc(arg) && !isOperatorDoc(arg) ? arg.input : arg, depth + 1);
    if (inner === null) return null;
    return op === '$toLower' ? inner.toLowerCase() : op === '$toUpper' ? inner.toUpperCase() : op === '$trim' ? inner.trim() : inner;
  }
  return null;
}

/** The value of an expression. */
export function evalExpr(e: unknown, ctx: Ctx): Val {
  spend(1);
  if (ctx.depth > MAX_DEPTH) return unknown('an expression nested too deeply to trace');
  if (typeof e === 'string') return evalString(e, ctx);
  if (Array.isArray(e)) return e.length === 0 ? LIT : any(e.map((x) => evalExpr(x, { ...ctx, depth: ctx.depth + 1 })));
  if (!isDoc(e)) return LIT;
  const keys = Object.keys(e);
  if (keys.length === 0) return obj(new Map(), null);
  if (keys[0]!.startsWith('$')) {
    if (keys.length !== 1) return unknown(`an expression object with ${keys.length} operators (${keys.slice(0, 3).join(', ')})`);
    return evalOperator(keys[0]!, e[keys[0]!], ctx);
  }
  // A literal document of expressions.
  const fields = new Map<string, Val>();
  for (const k of keys) {
    const v = e[k];
    if (v === '$$REMOVE') continue;
    setPath(fields, k, evalExpr(v, { ...ctx, depth: ctx.depth + 1 }), null);
  }
  return obj(fields, null);
}

function evalString(e: string, ctx: Ctx): Val {
  if (!e.startsWith('$')) return LIT;
  if (e.startsWith('$$')) {
    const body = e.slice(2);
    const dot = body.indexOf('.');
    const name = dot < 0 ? body : body.slice(0, dot);
    const path = dot < 0 ? '' : body.slice(dot + 1);
    const bound = ctx.vars.get(name);
    if (bound !== undefined) {
      if (name === 'ROOT' || name === 'CURRENT') ctx.s.read(path);
      return at(bound, path) ?? LIT;
    }
    if (CONSTANT_VARIABLES.has(name)) return LIT;
    const why = UNTRACEABLE_VARIABLES.get(name);
    return unknown(why ?? `the variable $$${name}, which is not defined here`);
  }
  const path = e.slice(1);
  ctx.s.read(path);
  return at(ctx.vars.get('CURRENT') ?? ROOT, path) ?? LIT;
}

interface Args {
  positional: unknown[];
  named: Doc | null;
}

function argsOf(arg: unknown): Args {
  if (Array.isArray(arg)) return { positional: arg, named: null };
  if (isDoc(arg) && !isOperatorDoc(arg) && Object.keys(arg).length > 0) return { positional: [], named: arg };
  return { positional: [arg], named: null };
}

function select(args: Args, sel: ArgSelector): unknown[] {
  if (sel === 'all') return args.named ? Object.values(args.named) : args.positional;
  const out: unknown[] = [];
  for (const s of sel) {
    if (typeof s === 'number') {
      if (s < args.positional.length) out.push(args.positional[s]);
    } else if (args.named && s in args.named) {
      out.push(args.named[s]);
    }
  }
  return out;
}

/** Conditions and selectors: their comparisons flow into what they choose. */
function evalCondition(e: unknown, ctx: Ctx): Der {
  return derive([evalExpr(e, { ...ctx, raw: true, depth: ctx.depth + 1 })]);
}

function evalAll(list: readonly unknown[], ctx: Ctx): Val[] {
  const inner = { ...ctx, depth: ctx.depth + 1 };
  return list.map((x) => evalExpr(x, inner));
}

function evalOperator(name: string, arg: unknown, ctx: Ctx): Val {
  const rule: ExpressionRule | undefined = EXPRESSION_OPERATORS.get(name);
  if (rule === undefined) {
    // Walk the arguments anyway: fields read and JavaScript are still recorded.
    evalAll(argsOf(arg).positional.concat(Object.values(argsOf(arg).named ?? {})), ctx);
    return unknown(`the expression operator ${name}, which dgf does not model`);
  }
  const args = argsOf(arg);
  switch (rule.rule) {
    case 'boolean': {
      const vals = evalAll(select(args, 'all'), ctx);
      if (ctx.raw) return derive(vals);
      // A comparison shows nothing of what it compares (even whole documents), unless a part cannot be traced at all.
      for (const v of vals) {
        const u = firstUnknown(v);
        if (u) return unknown(u.why);
      }
      return LIT;
    }
    case 'constant':
      return LIT;
    case 'derived': {
      const returned = rule.returns && args.named ? rule.returns.filter((r) => args.named![r] !== undefined).map((r) => args.named![r]) : [];
      const rest = args.named ? Object.entries(args.named).filter(([k]) => !(rule.returns ?? []).includes(k)).map(([, v]) => v) : args.positional;
      const d = derive(evalAll(rest, ctx), rule.content === true);
      return returned.length === 0 ? d : any([d, ...evalAll(returned, ctx)]);
    }
    case 'passes': {
      const values = any(evalAll(select(args, rule.values), ctx));
      if (!rule.selectors) return values;
      return taint(values, derive(select(args, rule.selectors).map((s) => evalCondition(s, ctx))));
    }
    case 'untraceable':
      return unknown(rule.why);
    case 'javascript':
      ctx.s.js.add(name);
      return unknown(`${name} runs server-side JavaScript dgf cannot trace`);
    case 'own':
      return ownRule(name, arg, args, ctx);
  }
}

function ownRule(name: string, arg: unknown, args: Args, ctx: Ctx): Val {
  const named = args.named ?? {};
  const inner = { ...ctx, depth: ctx.depth + 1 };
  switch (name) {
    case '$literal':
      return LIT;
    case '$cond': {
      const [c, t, f] = args.named ? [named.if, named.then, named.else] : args.positional;
      return taint(any([evalExpr(t, inner), evalExpr(f, inner)]), evalCondition(c, ctx));
    }
    case '$switch': {
      const branches = Array.isArray(named.branches) ? named.branches : [];
      const values: Val[] = [];
      const conds: Der[] = [];
      for (const b of branches) {
        if (!isDoc(b)) continue;
        conds.push(evalCondition(b.case, ctx));
        values.push(evalExpr(b.then, inner));
      }
      if (named.default !== undefined) values.push(evalExpr(named.default, inner));
      return taint(any(values), derive(conds));
    }
    case '$let': {
      const defs = isDoc(named.vars) ? Object.entries(named.vars).map(([k, v]) => [k, evalExpr(v, inner)] as const) : [];
      return evalExpr(named.in, withVars(ctx, defs));
    }
    case '$map': {
      const input = evalExpr(named.input, inner);
      const as = typeof named.as === 'string' ? named.as : 'this';
      return evalExpr(named.in, withVars(ctx, [[as, input]]));
    }
    case '$filter': {
      const input = evalExpr(named.input, inner);
      const as = typeof named.as === 'string' ? named.as : 'this';
      const cond = evalCondition(named.cond, withVars(ctx, [[as, input]]));
      const limit = named.limit !== undefined ? evalCondition(named.limit, ctx) : LIT;
      return taint(input, derive([cond, limit]));
    }
    case '$reduce': {
      const input = evalExpr(named.input, inner);
      const init = evalExpr(named.initialValue, inner);
      let value = init;
      for (let i = 0; i < 8; i++) {
        const next = any([init, evalExpr(named.in, withVars(ctx, [['value', value], ['this', input]]))]);
        if (keyOf(next) === keyOf(value)) return next;
        value = next;
      }
      return unknown('a $reduce whose accumulated value dgf cannot follow');
    }
    case '$getField': {
      const spec = args.named && ('field' in named || 'input' in named) ? named : { field: arg };
      const input = spec.input === undefined ? (ctx.vars.get('CURRENT') ?? ROOT) : evalExpr(spec.input, inner);
      const fieldName = constString(spec.field);
      if (fieldName !== null) {
        if (spec.input === undefined) ctx.s.read(fieldName);
        return at(input, fieldName) ?? LIT;
      }
      return taint(valuesOf(input, '$getField with a computed name'), evalCondition(spec.field, ctx));
    }
    case '$setField': {
      const input = evalExpr(named.input, inner);
      const fieldName = constString(named.field);
      if (fieldName === null) {
        const nameVal = evalCondition(named.field, ctx);
        if (!isLit(nameVal)) return unknown('$setField with a field name computed from data (dgf masks values, never field names)');
        return obj(new Map(), any([input, wild(evalExpr(named.value, inner))]));
      }
      if (named.value === '$$REMOVE') return input;
      const fields = new Map<string, Val>();
      setPath(fields, fieldName, evalExpr(named.value, inner), input);
      return obj(fields, input);
    }
    case '$unsetField':
      return evalExpr(named.input, inner);
    case '$objectToArray': {
      const input = evalExpr(args.positional[0] ?? arg, inner);
      return obj(new Map<string, Val>([['k', LIT], ['v', valuesOf(input, '$objectToArray')]]), null);
    }
    case '$arrayToObject':
      return arrayToObject(args.positional[0] ?? arg, ctx);
    case '$meta': {
      const kw = typeof arg === 'string' ? arg : null;
      const r = kw === null ? undefined : META_KEYWORDS.get(kw);
      if (r === undefined) return unknown(`$meta '${String(kw)}', which dgf does not model`);
      return r.rule === 'untraceable' ? unknown(r.why) : LIT;
    }
    case '$toString':
      return derive([evalExpr(args.positional[0], inner)], ctx.s.options.objectToString === true);
    case '$convert': {
      const to = typeof named.to === 'string' ? named.to : num(named.to) === 2 ? 'string' : isDoc(named.to) ? null : String(named.to);
      const content = ctx.s.options.objectToString === true && (to === 'string' || to === null);
      const computed = derive(evalAll(Object.entries(named).filter(([k]) => k !== 'onError' && k !== 'onNull').map(([, v]) => v), ctx), content);
      return any([computed, named.onError !== undefined ? evalExpr(named.onError, inner) : null, named.onNull !== undefined ? evalExpr(named.onNull, inner) : null]);
    }
    default:
      return unknown(`the expression operator ${name}, which dgf does not model`);
  }
}

/** `$arrayToObject`: literal pairs with constant names are a document; names computed from data are refused. */
function arrayToObject(e: unknown, ctx: Ctx): Val {
  const inner = { ...ctx, depth: ctx.depth + 1 };
  // The round trip of a document: its own fields again.
  if (isOperatorDoc(e) && Object.keys(e as Doc)[0] === '$objectToArray') {
    const a = argsOf((e as Doc).$objectToArray);
    return evalExpr(a.positional[0], inner);
  }
  if (Array.isArray(e)) {
    const fields = new Map<string, Val>();
    let constant = true;
    for (const pair of e) {
      let k: unknown;
      let v: unknown;
      if (Array.isArray(pair) && pair.length === 2) [k, v] = pair;
      else if (isDoc(pair) && !isOperatorDoc(pair)) [k, v] = [pair.k, pair.v];
      else {
        constant = false;
        break;
      }
      const name = constString(k);
      if (name === null) {
        constant = false;
        break;
      }
      setPath(fields, name, evalExpr(v, inner), null);
    }
    if (constant) return obj(fields, null);
  }
  const pairs = evalExpr(e, inner);
  // Names: the `k` of each pair (or the first item of a [k, v] pair). Field names of documents are names, not data;
  // names computed from values would carry the values where dgf does not mask (field names).
  const names = derive([at(pairs, 'k') ?? LIT]);
  const values = any([at(pairs, 'v'), pairs.k === 'der' ? pairs : null]);
  if (names.unknown !== null || names.sources.size > 0) {
    return unknown('$arrayToObject with field names computed from data (dgf masks values, never field names)');
  }
  return wild(values);
}

// ---- predicates -----------------------------------------------------------------------------------------------------

/** A query filter: fields read, `$expr` traced (for JavaScript and reads), `$where` recorded. */
function predicate(q: unknown, ctx: Ctx, prefix = ''): void {
  if (ctx.depth > MAX_DEPTH) return;
  if (Array.isArray(q)) {
    for (const x of q) predicate(x, { ...ctx, depth: ctx.depth + 1 }, prefix);
    return;
  }
  if (!isDoc(q)) return;
  for (const [k, v] of Object.entries(q)) {
    if (QUERY_JAVASCRIPT_OPERATORS.has(k)) {
      ctx.s.js.add(k);
      continue;
    }
    if (QUERY_EXPRESSION_OPERATORS.has(k)) {
      evalExpr(v, { ...ctx, raw: true, depth: ctx.depth + 1 });
      continue;
    }
    if (k.startsWith('$')) {
      predicate(v, { ...ctx, depth: ctx.depth + 1 }, prefix);
      continue;
    }
    ctx.s.read(join(prefix, k));
    if (isDoc(v) && !Object.keys(v).some((x) => x.startsWith('$'))) continue; // an equality on a document
    predicate(v, { ...ctx, depth: ctx.depth + 1 }, join(prefix, k));
  }
}

// ---- stages --------------------------------------------------------------------------------------------------------

/** The documents of namespace `db.coll` as a pipeline starts from them: a view's output, or the documents as stored. */
function source(s: State, db: string, coll: string, depth = 0): Val {
  const ns = `${db}.${coll}`;
  s.namespaces.add(ns);
  if (coll === 'system.profile') return unknown('system.profile (other operations, with their values)');
  const resolver = s.options.views;
  if (!resolver) return ROOT;
  const view = resolver(db, coll);
  if (view === undefined) {
    s.unresolved.add(ns);
    return ROOT;
  }
  if (view === null) return ROOT;
  if (depth >= MAX_VIEW_DEPTH) return unknown(`view ${ns}, defined on views ${MAX_VIEW_DEPTH} levels deep`);
  const base = source(s, db, view.viewOn, depth + 1);
  return pipeline(view.pipeline, base, { s, vars: new Map(), raw: false, depth: 0 }, db);
}

function namespaceOf(spec: unknown, db: string): { db: string; coll: string } | null {
  if (typeof spec === 'string') return { db, coll: spec };
  if (isDoc(spec) && typeof spec.coll === 'string') return { db: typeof spec.db === 'string' ? spec.db : db, coll: spec.coll };
  return null;
}

/** Trace `stages` over documents `input`; `outer` holds the variables in scope (`$lookup`'s `let`, command `let`). */
export function pipeline(stages: unknown, input: Val, outer: Ctx, db: string): Val {
  if (!Array.isArray(stages)) return unknown('a pipeline that is not an array');
  let cur = input;
  for (const stage of stages) {
    if (outer.depth > MAX_DEPTH) return unknown('a pipeline nested too deeply to trace');
    cur = applyStage(stage, cur, outer, db);
  }
  return cur;
}

function applyStage(stage: unknown, cur: Val, outer: Ctx, db: string): Val {
  spend(1);
  if (!isDoc(stage) || Object.keys(stage).length !== 1) return unknown('a pipeline stage that is not a document of one stage');
  const name = Object.keys(stage)[0]!;
  const spec = stage[name];
  const rule = STAGES.get(name);
  const ctx = documentCtx(outer.s, cur, outer.vars, outer.depth + 1);
  const inner = { ...ctx, depth: ctx.depth + 1 };
  if (rule === undefined) return unknown(`the stage ${name}, which dgf does not model`);
  if (typeof rule === 'object') return unknown(rule.untraceable);
  switch (rule) {
    case 'identity':
      if (name === '$match') predicate(spec, ctx);
      else if (name === '$redact') evalExpr(spec, { ...ctx, raw: true });
      else if (name === '$sort' && isDoc(spec)) for (const k of Object.keys(spec)) outer.s.read(k);
      return cur;
    case 'project':
      return project(spec, cur, ctx, false);
    case 'addFields': {
      if (!isDoc(spec)) return unknown(`${name} with a specification that is not a document`);
      return addFields(spec, cur, ctx);
    }
    case 'replaceRoot':
      return isDoc(spec) ? evalExpr(spec.newRoot, inner) : unknown('$replaceRoot without newRoot');
    case 'replaceWith':
      return evalExpr(spec, inner);
    case 'group': {
      if (!isDoc(spec)) return unknown('$group with a specification that is not a document');
      const fields = new Map<string, Val>();
      fields.set('_id', evalExpr(spec._id, inner));
      for (const [k, v] of Object.entries(spec)) if (k !== '_id') fields.set(k, accumulator(v, ctx, false));
      return obj(fields, null);
    }
    case 'bucket':
    case 'bucketAuto': {
      if (!isDoc(spec)) return unknown(`${name} with a specification that is not a document`);
      const groupBy = evalExpr(spec.groupBy, inner);
      const fields = new Map<string, Val>();
      // $bucket's _id is a boundary or the default: constants of the request. $bucketAuto's are values of groupBy.
      fields.set('_id', rule === 'bucket' ? LIT : obj(new Map([['min', groupBy], ['max', groupBy]]), null));
      if (isDoc(spec.output)) for (const [k, v] of Object.entries(spec.output)) fields.set(k, accumulator(v, ctx, false));
      else fields.set('count', LIT);
      return obj(fields, null);
    }
    case 'sortByCount':
      return obj(new Map([['_id', evalExpr(spec, inner)], ['count', LIT]]), null);
    case 'count':
      return typeof spec === 'string' ? obj(new Map([[spec, LIT]]), null) : unknown('$count without a field name');
    case 'unwind': {
      const path = typeof spec === 'string' ? spec : isDoc(spec) ? spec.path : null;
      if (typeof path === 'string' && path.startsWith('$')) outer.s.read(path.slice(1));
      if (isDoc(spec) && typeof spec.includeArrayIndex === 'string') {
        const fields = new Map<string, Val>();
        setPath(fields, spec.includeArrayIndex, LIT, cur);
        return obj(fields, cur);
      }
      return cur;
    }
    case 'lookup':
      return lookup(spec, cur, ctx, db);
    case 'graphLookup': {
      if (!isDoc(spec) || typeof spec.as !== 'string') return unknown('$graphLookup without as');
      const ns = namespaceOf(spec.from, db);
      if (!ns) return unknown('$graphLookup without from');
      evalExpr(spec.startWith, inner);
      for (const k of ['connectFromField', 'connectToField']) if (typeof spec[k] === 'string') outer.s.read(spec[k] as string);
      if (spec.restrictSearchWithMatch !== undefined) predicate(spec.restrictSearchWithMatch, ctx);
      let joined = source(outer.s, ns.db, ns.coll);
      if (typeof spec.depthField === 'string') {
        const f = new Map<string, Val>();
        setPath(f, spec.depthField, LIT, joined);
        joined = obj(f, joined);
      }
      const fields = new Map<string, Val>();
      setPath(fields, spec.as, joined, cur);
      return obj(fields, cur);
    }
    case 'unionWith': {
      const ns = namespaceOf(spec, db);
      if (!ns) return unknown('$unionWith without coll');
      const base = source(outer.s, ns.db, ns.coll);
      const other = isDoc(spec) && spec.pipeline !== undefined ? pipeline(spec.pipeline, base, { ...outer, depth: outer.depth + 1 }, ns.db) : base;
      return any([cur, other]);
    }
    case 'facet': {
      if (!isDoc(spec)) return unknown('$facet with a specification that is not a document');
      const fields = new Map<string, Val>();
      for (const [k, sub] of Object.entries(spec)) fields.set(k, pipeline(sub, cur, { ...outer, depth: outer.depth + 1 }, db));
      return obj(fields, null);
    }
    case 'setWindowFields': {
      if (!isDoc(spec)) return unknown('$setWindowFields with a specification that is not a document');
      if (spec.partitionBy !== undefined) evalExpr(spec.partitionBy, inner);
      if (isDoc(spec.sortBy)) for (const k of Object.keys(spec.sortBy)) outer.s.read(k);
      const fields = new Map<string, Val>();
      if (isDoc(spec.output)) for (const [k, v] of Object.entries(spec.output)) setPath(fields, k, accumulator(v, ctx, true), cur);
      return obj(fields, cur);
    }
    case 'densify': {
      if (!isDoc(spec) || typeof spec.field !== 'string') return unknown('$densify without field');
      outer.s.read(spec.field);
      // New documents hold generated values of the field (and copies of the partition fields).
      const existing = at(cur, spec.field) ?? LIT;
      const fields = new Map<string, Val>();
      setPath(fields, spec.field, any([existing, derive([existing])]), cur);
      return obj(fields, cur);
    }
    case 'fill': {
      if (!isDoc(spec) || !isDoc(spec.output)) return unknown('$fill without output');
      if (spec.partitionBy !== undefined) evalExpr(spec.partitionBy, inner);
      const fields = new Map<string, Val>();
      for (const [k, how] of Object.entries(spec.output)) {
        const existing = at(cur, k) ?? LIT;
        let filled: Val;
        if (isDoc(how) && how.value !== undefined) filled = any([existing, evalExpr(how.value, inner)]);
        else if (isDoc(how) && how.method === 'locf') filled = existing;
        else if (isDoc(how) && how.method === 'linear') filled = any([existing, derive([existing])]);
        else filled = unknown(`$fill of ${k} by a method dgf does not model`);
        setPath(fields, k, filled, cur);
      }
      return obj(fields, cur);
    }
    case 'geoNear': {
      if (!isDoc(spec)) return unknown('$geoNear with a specification that is not a document');
      if (spec.query !== undefined) predicate(spec.query, ctx);
      const key = typeof spec.key === 'string' ? spec.key : null;
      const fields = new Map<string, Val>();
      const noKey = (what: string): Val => unknown(`$geoNear's ${what} without key (a location field dgf cannot name)`);
      if (typeof spec.distanceField === 'string') setPath(fields, spec.distanceField, key ? derive([at(cur, key)]) : noKey('distanceField'), cur);
      if (typeof spec.includeLocs === 'string') setPath(fields, spec.includeLocs, key ? (at(cur, key) ?? LIT) : noKey('includeLocs'), cur);
      return fields.size === 0 ? cur : obj(fields, cur);
    }
    case 'documents':
      return evalExpr(spec, { ...documentCtx(outer.s, LIT, outer.vars, outer.depth + 1), depth: outer.depth + 2 });
    case 'changeStream': {
      // Change events: the documents as fields of the event; everything else is the server's (ids, times, names).
      const fields = new Map<string, Val>([
        ['fullDocument', cur],
        ['fullDocumentBeforeChange', cur],
        ['documentKey', cur],
        ['updateDescription', obj(new Map<string, Val>([['updatedFields', cur]]), LIT)],
      ]);
      return obj(fields, LIT);
    }
    case 'write': {
      outer.s.writeStage = name as '$out' | '$merge';
      if (typeof spec === 'string') outer.s.writeTarget = spec;
      else if (isDoc(spec)) {
        const into = name === '$merge' ? spec.into : spec;
        if (typeof into === 'string') outer.s.writeTarget = into;
        else if (isDoc(into) && typeof into.coll === 'string') outer.s.writeTarget = `${typeof into.db === 'string' ? into.db : db}.${into.coll}`;
      }
      return LIT; // the cursor of a writing pipeline is empty
    }
    case 'metadata':
      return LIT;
  }
}

/** An accumulator (`$group`, `$bucket` output) or window operator (`$setWindowFields` output, `window` ignored). */
function accumulator(spec: unknown, ctx: Ctx, window: boolean): Val {
  if (!isDoc(spec)) return unknown('an accumulator that is not a document');
  const ops = Object.keys(spec).filter((k) => k !== 'window');
  if (ops.length !== 1) return unknown('an accumulator that is not one operator');
  const name = ops[0]!;
  const rule: AccumulatorRule | undefined = ACCUMULATORS.get(name) ?? (window ? WINDOW_OPERATORS.get(name) : undefined);
  const args = argsOf(spec[name]);
  if (rule === undefined) return unknown(`the ${window ? 'window operator' : 'accumulator'} ${name}, which dgf does not model`);
  switch (rule.rule) {
    case 'constant':
      return LIT;
    case 'derived':
      return derive(evalAll(select(args, args.named ? (args.named.input !== undefined ? ['input'] : 'all') : 'all'), ctx));
    case 'javascript':
      ctx.s.js.add(name);
      return unknown(`${name} runs server-side JavaScript dgf cannot trace`);
    case 'passes': {
      if (args.named && Array.isArray(rule.values) && isDoc(args.named.sortBy)) for (const k of Object.keys(args.named.sortBy)) ctx.s.read(k);
      const values = any(evalAll(select(args, rule.values), ctx));
      if (!rule.selectors) return values;
      return taint(values, derive(select(args, rule.selectors).map((s) => evalCondition(s, ctx))));
    }
  }
}

/** A find projection operator on a field: `{f: {$elemMatch: ...}}`, `{f: {$slice: n | [skip, n]}}`. */
function isFindProjectionOperator(v: unknown): boolean {
  if (!isOperatorDoc(v)) return false;
  const op = Object.keys(v as Doc)[0];
  if (op === '$elemMatch') return true;
  if (op === '$slice') {
    const a = (v as Doc).$slice;
    return isNumberLike(a) || (Array.isArray(a) && a.every(isNumberLike));
  }
  return false;
}

/** `$project` (and find projections, `find: true`): inclusion builds a new document, exclusion keeps the rest. */
function project(spec: unknown, cur: Val, ctx: Ctx, find: boolean): Val {
  if (!isDoc(spec)) return unknown('$project with a specification that is not a document');
  const entries = Object.entries(spec);
  const exclusionOnly = entries.every(([k, v]) => (isNumberLike(v) && !num(v)) || (find && isFindProjectionOperator(v)) || (k === '_id' && isNumberLike(v)));
  if (exclusionOnly) {
    // Exclusions (and find's $slice / $elemMatch on their own) keep every other field: the documents as they are.
    for (const [k, v] of entries) if (find && isFindProjectionOperator(v)) ctx.s.read(k);
    return cur;
  }
  const fields = new Map<string, Val>();
  if (spec._id === undefined) fields.set('_id', field(cur, '_id') ?? LIT);
  projectInto(fields, spec, '', cur, ctx, find);
  return obj(fields, null);
}

function projectInto(fields: Map<string, Val>, spec: Doc, prefix: string, cur: Val, ctx: Ctx, find: boolean): void {
  const inner = { ...ctx, depth: ctx.depth + 1 };
  for (const [rawKey, v] of Object.entries(spec)) {
    // The positional projection `arr.$` returns elements of `arr`.
    const k = find && rawKey.endsWith('.$') ? rawKey.slice(0, -2) : rawKey;
    const path = join(prefix, k);
    if (isNumberLike(v) || (find && isFindProjectionOperator(v))) {
      if (isNumberLike(v) && !num(v)) continue;
      ctx.s.read(path);
      setPath(fields, k, at(cur, path) ?? LIT, null);
    } else if (isDoc(v) && !isOperatorDoc(v)) {
      const sub = new Map<string, Val>();
      projectInto(sub, v, path, cur, ctx, find);
      setPath(fields, k, obj(sub, null), null);
    } else if (v === '$$REMOVE') {
      continue;
    } else {
      setPath(fields, k, evalExpr(v, inner), null);
    }
  }
}

function addFields(spec: Doc, cur: Val, ctx: Ctx): Val {
  const fields = new Map<string, Val>();
  addInto(fields, spec, '', cur, ctx);
  return obj(fields, cur);
}

function addInto(fields: Map<string, Val>, spec: Doc, prefix: string, cur: Val, ctx: Ctx): void {
  const inner = { ...ctx, depth: ctx.depth + 1 };
  for (const [k, v] of Object.entries(spec)) {
    const path = join(prefix, k);
    const here = at(cur, prefix);
    if (v === '$$REMOVE') {
      setPath(fields, k, LIT, here);
      continue;
    }
    if (isDoc(v) && !isOperatorDoc(v) && Object.keys(v).length > 0) {
      // A document merges into what is there (`{a: {b: 1}}` adds a.b beside a's other fields).
      const sub = new Map<string, Val>();
      addInto(sub, v, path, cur, ctx);
      setPath(fields, k, obj(sub, at(cur, path)), here);
      continue;
    }
    setPath(fields, k, evalExpr(v, inner), here);
  }
}

function lookup(spec: unknown, cur: Val, ctx: Ctx, db: string): Val {
  if (!isDoc(spec) || typeof spec.as !== 'string') return unknown('$lookup without as');
  const inner = { ...ctx, depth: ctx.depth + 1 };
  if (typeof spec.localField === 'string') ctx.s.read(spec.localField);
  if (typeof spec.foreignField === 'string') ctx.s.read(spec.foreignField);
  let joined: Val;
  const ns = spec.from === undefined ? null : namespaceOf(spec.from, db);
  // Without `from` (a pipeline starting with $documents) the sub-pipeline starts from nothing.
  const base = ns ? source(ctx.s, ns.db, ns.coll) : spec.pipeline !== undefined ? LIT : unknown('$lookup without from');
  if (spec.pipeline !== undefined) {
    const lets: Array<readonly [string, Val]> = isDoc(spec.let) ? Object.entries(spec.let).map(([k, v]) => [k, evalExpr(v, inner)] as const) : [];
    const vars = new Map(ctx.vars);
    vars.delete('ROOT');
    vars.delete('CURRENT');
    for (const [k, v] of lets) vars.set(k, v);
    joined = pipeline(spec.pipeline, base, { s: ctx.s, vars, raw: false, depth: ctx.depth + 1 }, ns?.db ?? db);
  } else {
    joined = base;
  }
  const fields = new Map<string, Val>();
  setPath(fields, spec.as, joined, cur);
  return obj(fields, cur);
}

// ---- commands --------------------------------------------------------------------------------------------------------

/** The written values of an update's new document `next` over the old one (the identity is no write). */
function writtenValues(next: Val, prefix: string, out: WrittenValue[], depth = 0): void {
  if (out.length > 256) return;
  if (depth > 60) {
    out.push({ target: prefix || '*', lineage: { sources: [], plain: null, unknown: 'an update nested too deeply to trace' } });
    return;
  }
  if (next.k === 'ref' && next.path === prefix) return;
  if (next.k === 'obj') {
    for (const [name, f] of next.fields) writtenValues(f, join(prefix, name), out, depth + 1);
    if (next.rest === null || (next.rest.k === 'ref' && next.rest.path === prefix)) return;
    writtenAnywhere(next.rest, prefix, out);
    return;
  }
  writtenAnywhere(next, prefix, out);
}

/** `v` written at `prefix`: its own lineage, and what a field of it, of any name, would hold. */
function writtenAnywhere(v: Val, prefix: string, out: WrittenValue[]): void {
  const u = firstUnknown(v);
  if (u) {
    out.push({ target: join(prefix, u.path === '(document)' ? '' : u.path) || '*', lineage: { sources: [], plain: null, unknown: u.why } });
    return;
  }
  out.push({ target: prefix || '*', lineage: lineageOf(v) });
  // A copy keeps its fields' names under it; a choice, a taint or fields of computed names may hold anything.
  if (v.k === 'ref' || v.k === 'der' || v.k === 'obj') return;
  const child = lineageAt(v, '\u0000');
  if (child !== null && (child.sources.length > 0 || child.unknown !== null)) out.push({ target: join(prefix, '*'), lineage: child });
}

const EMPTY_VARS: ReadonlyMap<string, Val> = new Map();

/** Command-level `let`: constants (they cannot read documents). */
function commandVars(s: State, cmd: Doc): ReadonlyMap<string, Val> {
  if (!isDoc(cmd.let)) return EMPTY_VARS;
  const ctx = documentCtx(s, LIT, EMPTY_VARS, 0);
  const vars = new Map<string, Val>();
  for (const [k, v] of Object.entries(cmd.let)) vars.set(k, evalExpr(v, ctx));
  return vars;
}

function resultOf(output: Val): ResultLineage {
  return { output, lineageOf: (path: string) => lineageAt(output, path) };
}

/** Apply a find projection (expressions, `$slice`, `$elemMatch`, positional `$`) to documents `input`. */
function findProjection(projection: unknown, input: Val, ctx: Ctx): Val {
  if (projection === undefined || projection === null || (isDoc(projection) && Object.keys(projection).length === 0)) return input;
  return project(projection, input, documentCtx(ctx.s, input, ctx.vars, ctx.depth + 1), true);
}

/** Trace one update statement (`u` of an update, `update` of findAndModify, `updateMods` of bulkWrite). */
function traceUpdate(u: unknown, ctx: Ctx, db: string, writes: WrittenValue[]): Val {
  if (Array.isArray(u)) {
    const next = pipeline(u, ROOT, ctx, db);
    writtenValues(next, '', writes);
    return next;
  }
  if (!isDoc(u)) return ROOT;
  for (const [op, spec] of Object.entries(u)) {
    if (!isDoc(spec)) continue;
    if (op === '$rename') {
      for (const [from, to] of Object.entries(spec)) {
        ctx.s.read(from);
        if (typeof to === 'string') writes.push({ target: to, lineage: { sources: [from], plain: from, unknown: null } });
      }
    } else if (op.startsWith('$')) {
      for (const k of Object.keys(spec)) ctx.s.read(k.replace(/\.\$(\[[^\]]*\])?/g, ''));
    }
  }
  return ROOT;
}

/** Trace a decoded command. `db` is the command's `$db`. Never throws: what it cannot trace is `unknown`. */
export function traceCommand(cmd: Doc, db: string, options: TraceOptions = {}): CommandTrace {
  WORK.left = MAX_WORK;
  WORK.active = true;
  try {
    return traceUnbounded(cmd, db, options);
  } catch (err) {
    if (!(err instanceof TraceTooComplex) && !(err instanceof RangeError)) throw err;
    const why = err instanceof TraceTooComplex ? err.message : 'a command nested too deeply to trace';
    const name = (Object.keys(cmd)[0] ?? '').toLowerCase();
    return {
      command: name,
      result: resultOf(unknown(why)),
      unknown: { path: '(document)', why },
      js: [...findJs(cmd)],
      writeStage: null,
      writeTarget: null,
      writes: [{ target: '*', lineage: { sources: [], plain: null, unknown: why } }],
      reads: [],
      namespaces: [],
      unresolved: [],
      explain: name === 'explain',
    };
  } finally {
    WORK.active = false;
  }
}

/** `$where`, `$function`, `$accumulator` anywhere (bounded walk), for a command too complex to trace. */
function findJs(v: unknown, out = new Set<string>(), depth = 0): Set<string> {
  if (depth > 100 || out.size > 3) return out;
  if (Array.isArray(v)) for (const x of v) findJs(x, out, depth + 1);
  else if (isDoc(v)) {
    for (const [k, x] of Object.entries(v)) {
      if (k === '$where' || k === '$function' || k === '$accumulator') out.add(k);
      findJs(x, out, depth + 1);
    }
  }
  return out;
}

function traceUnbounded(cmd: Doc, db: string, options: TraceOptions): CommandTrace {
  const name = Object.keys(cmd)[0] ?? '';
  const lower = name.toLowerCase();
  if (lower === 'explain' && isDoc(cmd.explain)) {
    const inner = traceUnbounded(cmd.explain, db, options);
    return { ...inner, result: null, explain: true };
  }
  const s = new State(db, options);
  const vars = commandVars(s, cmd);
  const top: Ctx = { s, vars, raw: false, depth: 0 };
  const coll = typeof cmd[name] === 'string' ? (cmd[name] as string) : null;
  const input = (): Val => (coll === null ? LIT : source(s, db, coll));
  const filterCtx = (doc: Val): Ctx => documentCtx(s, doc, vars, 1);
  let result: ResultLineage | null = null;
  const writes: WrittenValue[] = [];
  let explain = false;
  switch (lower) {
    case 'find': {
      const docs = input();
      predicate(cmd.filter, filterCtx(docs));
      if (isDoc(cmd.sort)) for (const k of Object.keys(cmd.sort)) s.read(k);
      // returnKey: the index keys of the documents instead (text, wildcard and hashed keys under names that are not fields).
      result = resultOf(cmd.returnKey === true ? unknown('returnKey (the index keys of the documents, under names that are not field names)') : findProjection(cmd.projection, docs, top));
      break;
    }
    case 'aggregate': {
      const docs = input();
      const out = pipeline(cmd.pipeline, docs, top, db);
      explain = cmd.explain === true;
      result = explain || s.writeStage ? null : resultOf(out);
      break;
    }
    case 'count':
      input();
      predicate(cmd.query, filterCtx(ROOT));
      break;
    case 'distinct': {
      const docs = input();
      predicate(cmd.query, filterCtx(docs));
      if (typeof cmd.key === 'string') s.read(cmd.key);
      result = resultOf(docs);
      break;
    }
    case 'findandmodify': {
      const docs = input();
      predicate(cmd.query, filterCtx(docs));
      const next = cmd.remove === true ? ROOT : traceUpdate(cmd.update, filterCtx(ROOT), db, writes);
      const returned = cmd.new === true ? next : ROOT;
      // A view cannot be written; the returned document is the stored one, under the projection `fields`.
      result = resultOf(findProjection(cmd.fields, returned, top));
      break;
    }
    case 'update': {
      input();
      const list = Array.isArray(cmd.updates) ? cmd.updates : [];
      for (const u of list.slice(0, 1000)) {
        if (!isDoc(u)) continue;
        predicate(u.q, filterCtx(ROOT));
        traceUpdate(u.u, filterCtx(ROOT), db, writes);
      }
      break;
    }
    case 'delete': {
      input();
      const list = Array.isArray(cmd.deletes) ? cmd.deletes : [];
      for (const d of list.slice(0, 1000)) if (isDoc(d)) predicate(d.q, filterCtx(ROOT));
      break;
    }
    case 'bulkwrite': {
      const ops = Array.isArray(cmd.ops) ? cmd.ops : [];
      for (const op of ops.slice(0, 1000)) {
        if (!isDoc(op)) continue;
        if (op.filter !== undefined) predicate(op.filter, filterCtx(ROOT));
        if (op.updateMods !== undefined) traceUpdate(op.updateMods, filterCtx(ROOT), db, writes);
      }
      break;
    }
    case 'mapreduce':
      s.js.add('mapReduce');
      predicate(cmd.query, filterCtx(ROOT));
      break;
    default:
      break;
  }
  let unknownAt: { path: string; why: string } | null = result ? firstUnknown(result.output) : null;
  if (unknownAt === null) {
    const w = writes.find((x) => x.lineage.unknown !== null);
    if (w) unknownAt = { path: w.target, why: w.lineage.unknown! };
  }
  return {
    command: lower,
    result,
    unknown: unknownAt,
    js: [...s.js],
    writeStage: s.writeStage,
    writeTarget: s.writeTarget,
    writes,
    reads: [...s.reads],
    namespaces: [...s.namespaces],
    unresolved: [...s.unresolved],
    explain,
  };
}
