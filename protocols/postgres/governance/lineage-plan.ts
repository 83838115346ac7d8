/**
 * From a statement's lineage to what one role may get: refused (an output dgf cannot trace, a masked value written
 * or sent where dgf cannot follow it), or per output column how it is classified (its plain source, or the labels
 * of the sources of a derived value). Computed once per statement shape and role, then cached with the shape.
 */
import { UNTRACED_LABEL, type CompiledPolicy } from '../../../src/policy/types.js';
import type { CatalogCache } from './catalog.js';
import { shapeOf } from '../statement-shapes.js';
import { parseSearchPath, traceSql, type Lineage, type OutputItem, type SourceColumn, type StatementLineage } from './lineage.js';

/** How one output column is classified, when lineage knows better than RowDescription. */
export type ColumnOverride =
  | { readonly kind: 'plain'; readonly object: string | undefined; readonly column: string }
  | { readonly kind: 'derived'; readonly labels: readonly string[] };

/** What a role may get of one statement. */
export interface LineageVerdict {
  /** Refuse the statement (SQLSTATE 42501) with this message; null: it may run. */
  readonly refusal: string | null;
  /** Output items, to align with the RowDescription (null: the statement returns no traced rows). */
  readonly outputs: readonly OutputItem[] | null;
  /** The statement reads a source this role sees masked (or something dgf cannot trace). */
  readonly readsMasked: boolean;
  /** Labels of the masked sources it reads, for scrubbing its errors and notices. */
  readonly maskedLabels: readonly string[];
  /** The statement names relations the catalog does not know: a catalog refresh may tell what they are. */
  readonly catalogMiss: boolean;
  /** Those relations ('schema.name' as the search path would place them). */
  readonly unknownRelations: readonly string[];
  /** Unique per verdict: result-shape caches key on it. */
  readonly id: number;
}

/** For roles without masks, and statements that read nothing masked and return nothing derived. */
export const NO_VERDICT: LineageVerdict = Object.freeze({ refusal: null, outputs: null, readsMasked: false, maskedLabels: Object.freeze([]), catalogMiss: false, unknownRelations: Object.freeze([]), id: 0 });

let nextVerdictId = 1;

/** The labels of a source column the role sees masked (by name, as every column is classified). */
function maskedLabelsOf(s: SourceColumn, policy: CompiledPolicy, role: string): readonly string[] {
  const plan = policy.fieldPlan(role, { name: s.column, ...(s.object !== '?' ? { object: s.object } : {}), sourceName: s.column, type: 'text' });
  return plan.mode === 'mask' ? plan.labels : [];
}

function maskedOf(sources: readonly SourceColumn[], policy: CompiledPolicy, role: string): string[] {
  const out = new Set<string>();
  for (const s of sources) for (const l of maskedLabelsOf(s, policy, role)) out.add(l);
  return [...out];
}

/**
 * Labels of a derived value's sources, by name. A JSON document dgf cannot see into here (computed from a whole
 * json column, or a path read with computed keys) may carry any field: it counts as untraced.
 */
function labelsOf(sources: readonly SourceColumn[], policy: CompiledPolicy): string[] {
  const out = new Set<string>();
  for (const s of sources) {
    for (const l of policy.labelsForName(s.column)) out.add(l);
    if (s.json) out.add(UNTRACED_LABEL);
  }
  return [...out];
}

/**
 * Decide for one role. `stored` resolves the outputs of a cursor or prepared statement that FETCH/EXECUTE use
 * (undefined when this session has none of that name).
 */
export function decideLineage(
  lineage: StatementLineage,
  policy: CompiledPolicy,
  role: string,
  stored: (kind: 'cursor' | 'prepared', name: string) => readonly OutputItem[] | null | undefined,
): LineageVerdict {
  let outputs = lineage.outputs;
  let refusal: string | null = null;
  if (lineage.uses) {
    const found = stored(lineage.uses.kind, lineage.uses.name);
    if (found === undefined) {
      const what = lineage.uses.kind === 'cursor' ? 'cursor' : 'prepared statement';
      refusal = `dgf cannot trace the output of ${what} "${lineage.uses.name}": it was not declared through dgf in this session`;
    }
    outputs = found ?? null;
  }
  const unknownMode = policy.onUnknownLineage(role);
  if (refusal === null && outputs && unknownMode === 'deny') {
    for (let i = 0; i < outputs.length; i++) {
      const l = outputs[i]!.lineage;
      if (l.unknown !== null) {
        refusal = `dgf cannot trace output column ${i + 1} of this statement: ${l.unknown}`;
        break;
      }
    }
  }
  if (refusal === null) {
    for (const sink of lineage.sinks) {
      const masked = maskedOf(sink.lineage.sources, policy, role);
      if (masked.length > 0 || sink.lineage.unknown !== null) {
        refusal = `dgf: ${sink.fn}() would carry values of masked columns (${masked.join(', ') || 'untraced'}) where dgf cannot follow them`;
        break;
      }
    }
  }
  if (refusal === null) refusal = launderedWrite(lineage, policy, role);
  const maskedLabels = maskedOf(lineage.reads, policy, role);
  return {
    refusal,
    outputs,
    readsMasked: maskedLabels.length > 0 || lineage.readsUnknown,
    maskedLabels,
    catalogMiss: lineage.unknownRelations.length > 0,
    unknownRelations: lineage.unknownRelations,
    id: nextVerdictId++,
  };
}

/**
 * A value derived from masked columns may only be written into a column that carries every one of those labels
 * (`update customers set email = lower(email)`): anywhere else the role could read it back clear.
 */
function launderedWrite(lineage: StatementLineage, policy: CompiledPolicy, role: string): string | null {
  for (const w of lineage.writes) {
    if (w.lineage.unknown !== null) return `dgf cannot trace the value written into ${w.target.object}.${w.target.column}: ${w.lineage.unknown}`;
    if (w.lineage.sources.length === 0) continue;
    const masked = maskedOf(w.lineage.sources, policy, role);
    if (masked.length === 0) continue;
    const target = new Set(policy.labelsForName(w.target.column));
    const missing = masked.filter((l) => !target.has(l));
    if (missing.length > 0) {
      return `dgf: this statement writes values of masked columns (${missing.join(', ')}) into ${w.target.object}.${w.target.column}, where this role could read them unmasked`;
    }
  }
  return null;
}

/**
 * Per RowDescription column, the override lineage gives (undefined: classify as RowDescription says). `names` are
 * the RowDescription's output names. A run of unknown length fills the columns between the items around it; when
 * the positions cannot be aligned, every column that may be derived gets the union of what could reach it.
 */
export function alignOutputs(items: readonly OutputItem[], names: readonly string[], policy: CompiledPolicy, unknownMasks: boolean): Array<ColumnOverride | undefined> {
  const n = names.length;
  const out = new Array<ColumnOverride | undefined>(n);
  const spreads = items.filter((i) => i.kind === 'spread').length;
  const at = (item: OutputItem, i: number): void => {
    out[i] = overrideOf(item, names[i]!, policy, unknownMasks);
  };
  if (spreads === 0 && items.length === n) {
    for (let i = 0; i < n; i++) at(items[i]!, i);
    return out;
  }
  const first = items.findIndex((i) => i.kind === 'spread');
  if (spreads === 1 && items.length - 1 <= n) {
    const after = items.length - first - 1;
    for (let i = 0; i < first; i++) at(items[i]!, i);
    for (let i = 0; i < after; i++) at(items[first + 1 + i]!, n - after + i);
    for (let i = first; i < n - after; i++) at(items[first]!, i);
    return out;
  }
  // Positions unknown: whatever could reach any column reaches each.
  const lead = spreads === 0 ? 0 : first;
  for (let i = 0; i < Math.min(lead, n); i++) at(items[i]!, i);
  const rest = items.slice(lead);
  const union: OutputItem = { kind: 'column', name: '', lineage: unionOf(rest.map((i) => i.lineage)) };
  const byName = rest.find((i) => i.kind === 'spread' && i.byName !== null) as { byName: string } | undefined;
  for (let i = lead; i < n; i++) {
    const o = overrideOf(union, names[i]!, policy, unknownMasks);
    out[i] = o ?? (byName ? { kind: 'plain', object: byName.byName, column: names[i]! } : undefined);
  }
  return out;
}

function unionOf(ls: readonly Lineage[]): Lineage {
  const seen = new Map<string, SourceColumn>();
  let unknown: string | null = null;
  for (const l of ls) {
    for (const s of l.sources) seen.set(`${s.object}\u0000${s.column}`, s);
    unknown ??= l.unknown;
  }
  return { sources: [...seen.values()], plain: null, unknown };
}

function overrideOf(item: OutputItem, name: string, policy: CompiledPolicy, unknownMasks: boolean): ColumnOverride | undefined {
  const l = item.lineage;
  if (l.unknown !== null) return unknownMasks ? { kind: 'derived', labels: [UNTRACED_LABEL, ...labelsOf(l.sources, policy)] } : undefined;
  if (item.kind === 'spread' && item.byName !== null && l.sources.length === 0) return { kind: 'plain', object: item.byName, column: name };
  if (l.plain !== null) return { kind: 'plain', object: l.plain.object === '?' ? undefined : l.plain.object, column: l.plain.column };
  if (l.sources.length === 0) return undefined;
  const labels = labelsOf(l.sources, policy);
  return labels.length === 0 ? undefined : { kind: 'derived', labels };
}

/**
 * Lineage of SQL texts, cached per search_path and catalog generation, by text and by shape (the text with its
 * constants replaced, statement-shapes.ts): simple-protocol clients (pgbench -S, ORMs that inline values) send a new
 * text per call, and texts of one shape have one lineage unless it read a constant (a JSON key, a setting's name).
 * Two generations of maps, as the statement analysis cache: a hit is one Map lookup, memory bounded however many
 * texts clients send.
 */
export class LineageCache {
  private young = new Map<string, readonly StatementLineage[]>();
  private old = new Map<string, readonly StatementLineage[]>();
  private generation = -1;
  private static readonly MAX = 2000;
  private static readonly MAX_TEXT = 16 * 1024;

  constructor(readonly catalog: CatalogCache) {}

  /** Lineage of each statement of `sql` under `searchPath` (the session's setting text; null: the default). */
  trace(sql: string, searchPath: string | null): readonly StatementLineage[] {
    if (this.catalog.generation !== this.generation) {
      this.generation = this.catalog.generation;
      this.young = new Map();
      this.old = new Map();
    }
    const prefix = searchPath === null ? '' : `${searchPath}\u0000`;
    const textKey = `${prefix}T${sql}`;
    const hit = this.lookup(textKey);
    if (hit !== undefined) return hit;
    const shape = shapeOf(sql);
    const shapeKey = shape === null ? null : `${prefix}S${shape}`;
    if (shapeKey !== null) {
      const byShape = this.lookup(shapeKey);
      if (byShape !== undefined) return byShape;
    }
    const traced = traceSql(sql, this.catalog, parseSearchPath(searchPath ?? this.catalog.defaultSearchPath));
    if (shapeKey !== null && traced.length > 0 && !traced.some((l) => l.constantSensitive)) this.remember(shapeKey, traced);
    else if (sql.length <= LineageCache.MAX_TEXT) this.remember(textKey, traced);
    return traced;
  }

  private lookup(key: string): readonly StatementLineage[] | undefined {
    const hit = this.young.get(key);
    if (hit !== undefined) return hit;
    const old = this.old.get(key);
    if (old !== undefined) this.remember(key, old);
    return old;
  }

  private remember(key: string, value: readonly StatementLineage[]): void {
    if (this.young.size >= LineageCache.MAX) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, value);
  }
}

/**
 * Verdicts per lineage and role, valid for one policy snapshot. Keyed on the lineage object itself (shared by every
 * session through the LineageCache), so a cached statement costs one WeakMap and one Map lookup.
 */
export class VerdictCache {
  private byLineage = new WeakMap<StatementLineage, Map<string, LineageVerdict>>();
  private policy: CompiledPolicy | null = null;

  get(lineage: StatementLineage, policy: CompiledPolicy, role: string, stored: Parameters<typeof decideLineage>[3]): LineageVerdict {
    if (policy !== this.policy) {
      this.policy = policy;
      this.byLineage = new WeakMap();
    }
    // Statements that use session state (FETCH, EXECUTE) depend on more than their text: never cached.
    if (lineage.uses) return decideLineage(lineage, policy, role, stored);
    let byRole = this.byLineage.get(lineage);
    if (!byRole) this.byLineage.set(lineage, (byRole = new Map()));
    let v = byRole.get(role);
    if (!v) byRole.set(role, (v = decideLineage(lineage, policy, role, stored)));
    return v;
  }
}
