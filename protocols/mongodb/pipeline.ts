/**
 * Field lineage through an aggregation pipeline: for an output field path, which input field paths its
 * value comes from. Renames (`$project: {mail: '$email'}`), computed fields (`$concat: ['$email', ...]`),
 * `$replaceRoot`, `$group` accumulators, `$lookup`'s `as` and change stream events are followed, so a
 * renamed or computed field keeps the labels of its sources. What cannot be followed is reported as
 * opaque: the caller masks it by value or refuses it for masked roles, never passes it clear.
 */

/** Maps one output path of a stage to the input paths it is computed from ([] = a literal). */
type StageMap = (path: string) => string[];

export interface PipelineAnalysis {
  /** Per stage, how output paths map to input paths, in pipeline order. */
  readonly stages: StageMap[];
  /** Every input field referenced by an expression anywhere (for write-stage and refusal checks). */
  readonly refs: Set<string>;
  /** Stages that could not be followed exactly (e.g. `$lookup` with a pipeline, `$function`, unknown stages). */
  readonly opaque: string[];
  /** `$out` or `$merge`, when the pipeline writes. */
  readonly writeStage: '$out' | '$merge' | null;
  /** Target namespace of the write stage (`db.coll`), when it names one. */
  readonly writeTarget: string | null;
  /** `$$ROOT`/`$$CURRENT` (whole documents) flow into a computed field. */
  readonly wholeDocument: boolean;
  /** `$changeStream` is the first stage. */
  readonly changeStream: boolean;
}

const ROOT = '\u0000ROOT';
const IDENTITY: StageMap = (p) => [p];
const JS_OPERATORS = new Set(['$where', '$function', '$accumulator']);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v as { _bsontype?: unknown })._bsontype && !(v instanceof Date);
}

function isExpressionObject(v: Record<string, unknown>): boolean {
  const k = Object.keys(v)[0];
  return k !== undefined && k.startsWith('$');
}

/** Field paths an expression reads (`'$a.b'` -> `a.b`; `$$ROOT` -> ROOT marker; `$$var` ignored). */
export function expressionRefs(expr: unknown, out: Set<string> = new Set(), depth = 0): Set<string> {
  if (depth > 64) return out;
  if (typeof expr === 'string') {
    if (expr.startsWith('$$')) {
      const v = expr.slice(2);
      if (v === 'ROOT' || v === 'CURRENT') out.add(ROOT);
      else if (v.startsWith('ROOT.') || v.startsWith('CURRENT.')) out.add(v.slice(v.indexOf('.') + 1));
    } else if (expr.startsWith('$') && expr.length > 1) {
      out.add(expr.slice(1));
    }
    return out;
  }
  if (Array.isArray(expr)) {
    for (const e of expr) expressionRefs(e, out, depth + 1);
    return out;
  }
  if (isObject(expr)) {
    for (const [k, v] of Object.entries(expr)) {
      if (k === '$literal') continue;
      expressionRefs(v, out, depth + 1);
    }
  }
  return out;
}

/** `$where`, `$function`, `$accumulator` anywhere in a filter, update or pipeline. */
export function findJsOperators(value: unknown, out: Set<string> = new Set(), depth = 0): Set<string> {
  if (depth > 100) return out;
  if (Array.isArray(value)) {
    for (const v of value) findJsOperators(v, out, depth + 1);
  } else if (isObject(value)) {
    for (const [k, v] of Object.entries(value)) {
      if (JS_OPERATORS.has(k)) out.add(k);
      findJsOperators(v, out, depth + 1);
    }
  }
  return out;
}

type Entry = { keep: true } | { sources: string[] };

/** Flatten a `$project`/`$addFields`/`$group`-style spec into output path -> sources. */
function projectionEntries(spec: Record<string, unknown>, numbersAreInclusion: boolean, prefix = '', out = new Map<string, Entry>()): Map<string, Entry> {
  for (const [k, v] of Object.entries(spec)) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (typeof v === 'number' || typeof v === 'boolean') {
      if (numbersAreInclusion && v) out.set(path, { keep: true });
      else if (!numbersAreInclusion) out.set(path, { sources: [] });
      continue;
    }
    if (typeof v === 'string') {
      out.set(path, { sources: [...expressionRefs(v)] });
      continue;
    }
    if (isObject(v)) {
      if (isExpressionObject(v)) out.set(path, { sources: [...expressionRefs(v)] });
      else projectionEntries(v, numbersAreInclusion, path, out);
      continue;
    }
    if (Array.isArray(v)) {
      out.set(path, { sources: [...expressionRefs(v)] });
      continue;
    }
    // Numbers wrapped as BSON values (Int32, Double) when commands are decoded without promotion.
    const bsontype = (v as { _bsontype?: string } | null)?._bsontype;
    if (bsontype === 'Int32' || bsontype === 'Double' || bsontype === 'Long' || bsontype === 'Decimal128') {
      const n = Number((v as { valueOf(): unknown }).valueOf());
      if (numbersAreInclusion && n) out.set(path, { keep: true });
      else if (!numbersAreInclusion) out.set(path, { sources: [] });
      continue;
    }
    out.set(path, { sources: [] });
  }
  return out;
}

function mapSources(sources: string[], rest: string): string[] {
  const out: string[] = [];
  for (const s of sources) {
    if (s === ROOT) {
      if (rest) out.push(rest.slice(1));
    } else {
      out.push(s + rest);
    }
  }
  return out;
}

function entriesMap(entries: Map<string, Entry>): StageMap {
  return (p) => {
    let key = p;
    while (true) {
      const e = entries.get(key);
      if (e) {
        if ('keep' in e) return [p];
        return mapSources(e.sources, p.slice(key.length));
      }
      const dot = key.lastIndexOf('.');
      if (dot < 0) return [p];
      key = key.slice(0, dot);
    }
  };
}

function prefixMap(field: string, inner: StageMap = (p) => [p]): StageMap {
  return (p) => {
    if (p === field) return [];
    if (p.startsWith(`${field}.`)) return inner(p.slice(field.length + 1));
    return [p];
  };
}

function groupEntries(spec: Record<string, unknown>): Map<string, Entry> {
  const entries = new Map<string, Entry>();
  for (const [k, v] of Object.entries(spec)) {
    if (k === '_id') {
      if (isObject(v) && !isExpressionObject(v)) {
        for (const [ik, iv] of Object.entries(v)) entries.set(`_id.${ik}`, { sources: [...expressionRefs(iv)] });
      } else {
        entries.set('_id', { sources: [...expressionRefs(v)] });
      }
    } else {
      entries.set(k, { sources: [...expressionRefs(v)] });
    }
  }
  return entries;
}

const IDENTITY_STAGES = new Set([
  '$match', '$sort', '$limit', '$skip', '$sample', '$unionWith', '$redact', '$unset', '$indexStats', '$collStats',
  '$densify', '$fill', '$geoNear', '$planCacheStats', '$listSessions', '$listLocalSessions', '$documents', '$search',
  '$searchMeta', '$vectorSearch', '$currentOp',
]);

/** Analyse a pipeline (decoded command value). Never throws on odd input: unknown shapes become opaque. */
export function analyzePipeline(pipeline: unknown): PipelineAnalysis {
  const stages: StageMap[] = [];
  const refs = new Set<string>();
  const opaque: string[] = [];
  let writeStage: '$out' | '$merge' | null = null;
  let writeTarget: string | null = null;
  let wholeDocument = false;
  let changeStream = false;
  const list = Array.isArray(pipeline) ? pipeline : [];
  list.forEach((stage, index) => {
    if (!isObject(stage)) {
      opaque.push('?');
      stages.push(IDENTITY);
      return;
    }
    const name = Object.keys(stage)[0] ?? '?';
    const spec = stage[name];
    const specRefs = expressionRefs(spec);
    for (const r of specRefs) {
      if (r === ROOT) wholeDocument = true;
      else refs.add(r);
    }
    if (findJsOperators(stage).size > 0) opaque.push(name);
    switch (name) {
      case '$project':
        stages.push(isObject(spec) ? entriesMap(projectionEntries(spec, true)) : IDENTITY);
        break;
      case '$addFields':
      case '$set':
        stages.push(isObject(spec) ? entriesMap(projectionEntries(spec, false)) : IDENTITY);
        break;
      case '$replaceRoot':
      case '$replaceWith': {
        const root = name === '$replaceRoot' && isObject(spec) ? spec.newRoot : spec;
        if (typeof root === 'string' && root.startsWith('$') && !root.startsWith('$$')) {
          const base = root.slice(1);
          stages.push((p) => [`${base}.${p}`]);
        } else if (typeof root === 'string' && (root === '$$ROOT' || root === '$$CURRENT')) {
          stages.push(IDENTITY);
        } else if (isObject(root) && !isExpressionObject(root)) {
          stages.push(entriesMap(projectionEntries(root, false)));
        } else {
          // $mergeObjects and friends: every output field may carry any input's labels.
          const all = [...expressionRefs(root)];
          stages.push((p) => [...new Set([p, ...mapSources(all, '').filter(Boolean)])]);
          opaque.push(name);
        }
        break;
      }
      case '$group':
        stages.push(isObject(spec) ? entriesMap(groupEntries(spec)) : IDENTITY);
        break;
      case '$bucket':
      case '$bucketAuto': {
        if (!isObject(spec)) {
          stages.push(IDENTITY);
          break;
        }
        const entries = new Map<string, Entry>([['_id', { sources: [...expressionRefs(spec.groupBy)] }]]);
        if (isObject(spec.output)) for (const [k, v] of groupEntries(spec.output)) entries.set(k, v);
        stages.push(entriesMap(entries));
        break;
      }
      case '$sortByCount':
        stages.push(entriesMap(new Map<string, Entry>([['_id', { sources: [...expressionRefs(spec)] }], ['count', { sources: [] }]])));
        break;
      case '$count':
        stages.push(() => []);
        break;
      case '$unwind':
        stages.push(IDENTITY);
        break;
      case '$lookup':
      case '$graphLookup': {
        const as = isObject(spec) && typeof spec.as === 'string' ? spec.as : null;
        if (isObject(spec) && spec.pipeline !== undefined) opaque.push(`${name} with pipeline`);
        // Joined documents keep their own field names under `as`: classify them by those names.
        stages.push(as ? prefixMap(as) : IDENTITY);
        break;
      }
      case '$facet': {
        if (!isObject(spec)) {
          stages.push(IDENTITY);
          break;
        }
        const subs = new Map<string, PipelineAnalysis>();
        for (const [k, v] of Object.entries(spec)) {
          const a = analyzePipeline(v);
          subs.set(k, a);
          for (const r of a.refs) refs.add(r);
          opaque.push(...a.opaque);
          if (a.wholeDocument) wholeDocument = true;
        }
        stages.push((p) => {
          const dot = p.indexOf('.');
          const head = dot < 0 ? p : p.slice(0, dot);
          const sub = subs.get(head);
          if (!sub) return [p];
          return dot < 0 ? [] : resolveSources(sub, p.slice(dot + 1));
        });
        break;
      }
      case '$setWindowFields': {
        const entries = new Map<string, Entry>();
        if (isObject(spec) && isObject(spec.output)) {
          for (const [k, v] of Object.entries(spec.output)) entries.set(k, { sources: [...expressionRefs(v)] });
        }
        stages.push(entriesMap(entries));
        break;
      }
      case '$changeStream':
        if (index === 0) changeStream = true;
        stages.push((p) => {
          for (const pre of ['fullDocument', 'fullDocumentBeforeChange', 'updateDescription.updatedFields', 'documentKey']) {
            if (p === pre) return [];
            if (p.startsWith(`${pre}.`)) return [p.slice(pre.length + 1)];
          }
          return [p];
        });
        break;
      case '$out':
      case '$merge': {
        writeStage = name;
        if (typeof spec === 'string') writeTarget = spec;
        else if (isObject(spec)) {
          const into = name === '$merge' ? spec.into : spec;
          if (typeof into === 'string') writeTarget = into;
          else if (isObject(into)) writeTarget = `${String(into.db ?? '')}.${String(into.coll ?? '')}`;
          else if (isObject(spec) && typeof spec.coll === 'string') writeTarget = `${String(spec.db ?? '')}.${spec.coll}`;
        }
        stages.push(IDENTITY);
        break;
      }
      default:
        if (!IDENTITY_STAGES.has(name)) opaque.push(name);
        stages.push(IDENTITY);
    }
  });
  return { stages, refs, opaque, writeStage, writeTarget, wholeDocument, changeStream };
}

/** Input paths an output path of the pipeline is computed from (deduplicated; [] for literals). */
export function resolveSources(a: PipelineAnalysis, path: string): string[] {
  let paths = [path];
  for (let i = a.stages.length - 1; i >= 0; i--) {
    const map = a.stages[i]!;
    const next: string[] = [];
    for (const p of paths) for (const s of map(p)) if (!next.includes(s)) next.push(s);
    paths = next;
    if (paths.length === 0) break;
  }
  return paths;
}
