/**
 * Pipeline helpers kept for callers of the earlier API: `findJsOperators` (server-side JavaScript anywhere in a
 * filter, update or pipeline, for policy decisions) and `analyzePipeline`, now the tracer of lineage/trace.ts applied
 * to an aggregate over one collection.
 */
import { traceCommand, type CommandTrace, type ResultLineage, type TraceOptions } from './lineage/trace.js';

const JS_OPERATORS = new Set(['$where', '$function', '$accumulator']);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v as { _bsontype?: unknown })._bsontype && !(v instanceof Date);
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

/**
 * Every collection a command names as a source or target of its stages, at any depth (sub-pipelines of $lookup,
 * $unionWith, $facet): `$lookup.from`, `$graphLookup.from`, `$unionWith`, `$out`, `$merge.into`, and a view's
 * `viewOn`. Found syntactically, so a stage the lineage trace stops at does not hide the ones after it. Adds
 * `db.coll` names to `out`.
 */
export function findNamespaces(value: unknown, db: string, out: Set<string>, depth = 0): Set<string> {
  if (depth > 100 || out.size >= 256) return out;
  if (Array.isArray(value)) {
    for (const v of value) findNamespaces(v, db, out, depth + 1);
    return out;
  }
  if (!isObject(value)) return out;
  for (const [k, v] of Object.entries(value)) {
    switch (k) {
      case '$lookup':
      case '$graphLookup':
        if (isObject(v)) addNamespace(v.from, db, out);
        break;
      case '$unionWith':
        addNamespace(v, db, out);
        break;
      case '$out':
        addNamespace(v, isObject(v) && typeof v.db === 'string' ? v.db : db, out);
        break;
      case '$merge':
        addNamespace(isObject(v) ? v.into : v, db, out);
        break;
      case 'viewOn':
        addNamespace(v, db, out);
        break;
    }
    findNamespaces(v, db, out, depth + 1);
  }
  return out;
}

function addNamespace(spec: unknown, db: string, out: Set<string>): void {
  if (typeof spec === 'string') out.add(`${db}.${spec}`);
  else if (isObject(spec) && typeof spec.coll === 'string') out.add(`${typeof spec.db === 'string' ? spec.db : db}.${spec.coll}`);
}

/** An aggregate's lineage: its result documents, and the command's trace. */
export interface PipelineAnalysis extends ResultLineage {
  readonly trace: CommandTrace;
  readonly writeStage: '$out' | '$merge' | null;
  readonly writeTarget: string | null;
}

/** Trace `pipeline` as an aggregate over a collection. */
export function analyzePipeline(pipeline: unknown, options: TraceOptions = {}): PipelineAnalysis {
  const trace = traceCommand({ aggregate: '\u0000', pipeline }, '\u0000', options);
  const result = trace.result;
  return {
    trace,
    writeStage: trace.writeStage,
    writeTarget: trace.writeTarget,
    output: result?.output ?? { k: 'der', sources: new Set<string>(), unknown: null },
    lineageOf: (path: string) => (result ? result.lineageOf(path) : null),
  };
}

/** Input paths an output path of the pipeline is computed from ([] for constants; the path itself when the model has no such field). */
export function resolveSources(a: ResultLineage, path: string): string[] {
  const l = a.lineageOf(path);
  return l === null ? [path] : [...l.sources];
}
