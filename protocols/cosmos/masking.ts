/**
 * Masking of Cosmos response bodies by shape: one document, a feed page (query results including
 * `SELECT VALUE` scalars and aggregates, read feeds, change feed pages) and batch answers. Each document goes
 * through `maskDocument` (by JSON path and by value, type-preserving); system properties stay intact.
 */
import { UNTRACED_LABEL, type CompiledPolicy, type LogicalType, type MaskStats } from '../../src/policy/types.js';
import { CONST, sourcesOf, type DocPath, type Shape } from './lineage.js';
import type { CosmosBodyShape } from './request.js';

/** Feed pages name their item array after the resource type. */
const FEED_KEYS = ['Documents', 'Conflicts'];

export interface MaskOutcome {
  /** The masked body, === the input when nothing changed. */
  body: unknown;
  /** Items returned (documents or scalars), for the audit record. */
  rows: number;
}

function maskOne(policy: CompiledPolicy, role: string, doc: unknown, stats: MaskStats, object: string): unknown {
  return policy.maskDocument(role, doc, stats, object);
}

/** Mask a parsed response body of `shape` for `role`. */
export function maskCosmosBody(
  shape: CosmosBodyShape,
  body: unknown,
  policy: CompiledPolicy,
  role: string,
  stats: MaskStats,
  object: string,
): MaskOutcome {
  if (shape === 'document') {
    return { body: maskOne(policy, role, body, stats, object), rows: 1 };
  }
  if (shape === 'feed' && body !== null && typeof body === 'object' && !Array.isArray(body)) {
    const page = body as Record<string, unknown>;
    for (const key of FEED_KEYS) {
      const items = page[key];
      if (!Array.isArray(items)) continue;
      let changed: unknown[] | null = null;
      for (let i = 0; i < items.length; i++) {
        const masked = maskOne(policy, role, items[i], stats, object);
        if (masked !== items[i]) {
          changed ??= items.slice();
          changed[i] = masked;
        }
      }
      return { body: changed ? { ...page, [key]: changed } : body, rows: items.length };
    }
    return { body, rows: 0 };
  }
  if (shape === 'batch' && Array.isArray(body)) {
    let changed: unknown[] | null = null;
    for (let i = 0; i < body.length; i++) {
      const entry = body[i] as Record<string, unknown> | null;
      if (entry === null || typeof entry !== 'object' || entry.resourceBody === undefined) continue;
      const masked = maskOne(policy, role, entry.resourceBody, stats, object);
      if (masked !== entry.resourceBody) {
        changed ??= body.slice();
        changed[i] = { ...entry, resourceBody: masked };
      }
    }
    return { body: changed ?? body, rows: body.length };
  }
  return { body, rows: 0 };
}

/** The labels a document part carries: those of its path and of every path above it (a classified key hides its subtree). */
export function labelsOfPath(policy: CompiledPolicy, path: DocPath): string[] {
  const out = new Set<string>();
  for (let i = 1; i <= path.length; i++) for (const l of policy.labelsForName(path.slice(0, i).join('.'))) out.add(l);
  return [...out];
}

function logicalTypeOf(value: unknown): LogicalType {
  if (typeof value === 'string') return 'text';
  if (typeof value === 'number') return 'numeric';
  if (typeof value === 'boolean') return 'boolean';
  return 'json';
}

/** `value` placed at `path` of an otherwise empty document, masked as a document, and taken back out. */
function maskAtPath(policy: CompiledPolicy, role: string, value: unknown, path: DocPath, stats: MaskStats, object: string): unknown {
  if (path.length === 0) return policy.maskDocument(role, value, stats, object);
  let doc: unknown = value;
  for (let i = path.length - 1; i >= 0; i--) doc = { [path[i]!]: doc };
  const masked = policy.maskDocument(role, doc, stats, object);
  if (masked === doc) return value;
  let out: unknown = masked;
  for (const key of path) out = (out as Record<string, unknown>)[key];
  return out;
}

/** The derived mask of `value` computed from `sources` (and, when `untraced`, from fields dgf could not list). */
function maskDerived(policy: CompiledPolicy, role: string, value: unknown, sources: readonly DocPath[], untraced: boolean, stats: MaskStats): unknown {
  if (value === null || value === undefined) return value;
  const labels = new Set<string>();
  for (const p of sources) for (const l of labelsOfPath(policy, p)) labels.add(l);
  if (untraced) labels.add(UNTRACED_LABEL);
  return policy.derivedPlan(role, [...labels], logicalTypeOf(value)).apply(value, stats);
}

/**
 * Mask one answer document of a query by its traced shape: a document part with its label's own mask (by its
 * path), a derived value with the derived mask, built objects and arrays member by member, a value that may be one
 * of several (`??`, a ternary) with the derived mask unless every candidate would show it alike.
 */
export function maskByShape(policy: CompiledPolicy, role: string, value: unknown, shape: Shape, stats: MaskStats, object: string): unknown {
  switch (shape.k) {
    case 'const':
      return policy.maskDocument(role, value, stats, object); // value detectors and key names still apply
    case 'doc':
      return maskAtPath(policy, role, value, shape.path, stats, object);
    case 'derived':
      return maskDerived(policy, role, value, shape.sources, shape.untraced, stats);
    case 'unknown':
      return maskDerived(policy, role, value, [], true, stats);
    case 'object': {
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return maskWhole(policy, role, value, shape, stats);
      const rec = value as Record<string, unknown>;
      let out: Record<string, unknown> | null = null;
      for (const key of Object.keys(rec)) {
        // A key the trace did not name (it should not happen) may hold any projection: untraced.
        const s = shape.props.get(key) ?? unnamed(shape);
        const m = maskByShape(policy, role, rec[key], s, stats, object);
        if (m !== rec[key]) {
          out ??= { ...rec };
          out[key] = m;
        }
      }
      return out ?? value;
    }
    case 'array':
    case 'list': {
      if (!Array.isArray(value)) return maskWhole(policy, role, value, shape, stats);
      let out: unknown[] | null = null;
      for (let i = 0; i < value.length; i++) {
        const s = shape.k === 'list' ? shape.elem : (shape.elems[i] ?? anyOf(shape.elems));
        const m = maskByShape(policy, role, value[i], s, stats, object);
        if (m !== value[i]) {
          out ??= value.slice();
          out[i] = m;
        }
      }
      return out ?? value;
    }
    case 'alt': {
      const whole = (): unknown => maskWhole(policy, role, value, shape, stats);
      if (shape.cond.length > 0) {
        const labels = new Set<string>();
        for (const p of shape.cond) for (const l of labelsOfPath(policy, p)) labels.add(l);
        if (policy.derivedPlan(role, [...labels], 'text').mode === 'mask') return whole();
      }
      if (shape.options.length === 0) return value;
      // Which candidate produced the value is unknown: it is shown only if every candidate would show it alike.
      let firstText: string | undefined;
      for (let i = 0; i < shape.options.length; i++) {
        const text = JSON.stringify(maskByShape(policy, role, value, shape.options[i]!, NO_STATS, object) ?? null);
        if (i === 0) firstText = text;
        else if (text !== firstText) return whole();
      }
      return maskByShape(policy, role, value, shape.options[0]!, stats, object);
    }
  }
}

const NO_STATS: MaskStats = { seen() {}, masked() {} };

function unnamed(shape: Shape): Shape {
  const s = sourcesOf(shape);
  return { k: 'derived', sources: s.paths, untraced: true };
}

function anyOf(shapes: readonly Shape[]): Shape {
  if (shapes.length === 0) return CONST;
  if (shapes.length === 1) return shapes[0]!;
  return { k: 'alt', options: shapes, cond: [] };
}

/** The derived mask over a whole value, from every source of its shape. */
function maskWhole(policy: CompiledPolicy, role: string, value: unknown, shape: Shape, stats: MaskStats): unknown {
  const s = sourcesOf(shape);
  return maskDerived(policy, role, value, s.paths, s.untraced || s.unknown !== null, stats);
}

/** Mask a query's feed page by the traced shape of its documents. */
export function maskQueryPage(body: unknown, shape: Shape, policy: CompiledPolicy, role: string, stats: MaskStats, object: string): MaskOutcome {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return { body, rows: 0 };
  const page = body as Record<string, unknown>;
  const items = page.Documents;
  if (!Array.isArray(items)) return { body, rows: 0 };
  let changed: unknown[] | null = null;
  for (let i = 0; i < items.length; i++) {
    const masked = maskByShape(policy, role, items[i], shape, stats, object);
    if (masked !== items[i]) {
      changed ??= items.slice();
      changed[i] = masked;
    }
  }
  return { body: changed ? { ...page, Documents: changed } : body, rows: items.length };
}
