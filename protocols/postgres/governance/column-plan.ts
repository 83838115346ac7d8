/**
 * Per-column masking plans for one result shape, and the rewrite of length-prefixed field lists (DataRow bodies
 * and binary COPY tuples share the layout: int32 length, -1 for NULL, then the bytes).
 */
import type { CompiledPolicy, FieldPlan, LogicalType, MaskStats } from '../../../src/policy/types.js';
import type { ListenerGovernance } from '../../../src/governance/listener-governance.js';
import { codecFor, logicalTypeOf, type ValueCodec } from './pg-values.js';
import type { ColumnOverride } from './lineage-plan.js';

/** One column to look at: what it is and how this role sees it. Columns whose plan is 'clear' get none. */
export interface ColumnAction {
  index: number;
  plan: FieldPlan;
  codec: ValueCodec;
}

/** A result column as governance needs to describe it. */
export interface DescribedColumn {
  /** Output name (RowDescription field name, or the COPY column name). */
  name: string;
  /** Source table ('public.customers') when known. */
  object: string | undefined;
  /** Source column name when known. */
  sourceName: string | undefined;
  typeOid: number;
  /** 0 text, 1 binary. */
  format: number;
}

/** Whether a plan can change values of this type: scans only look into text and JSON. */
function needsAction(plan: FieldPlan, type: LogicalType): boolean {
  if (plan.mode === 'mask') return true;
  return plan.mode === 'scan' && (type === 'text' || type === 'json');
}

/**
 * Plans for every column: labels are recorded as seen on `stats` (so a clear read of classified data is still
 * in the audit record), the inventory learns each classified field, and only columns that may change get an action.
 */
export function planColumns(
  columns: readonly DescribedColumn[],
  policy: CompiledPolicy,
  role: string,
  stats: MaskStats,
  gov: ListenerGovernance,
  overrides?: ReadonlyArray<ColumnOverride | undefined>,
): ColumnAction[] {
  const shape = planShape(columns, policy, role, overrides);
  for (const label of shape.labels) stats.seen(label);
  recordShape(shape, gov);
  return shape.actions;
}

/** What one result shape means for one role: computed once, reused for every result with the same shape. */
export interface ShapePlan {
  actions: ColumnAction[];
  /** Every label the shape's columns carry (seen, whether masked or clear). */
  labels: string[];
  /** Classified fields per source object, for the inventory. */
  fields: Array<[string | null, Array<{ name: string; labels: readonly string[] }>]>;
  /** When the inventory last heard of this shape (ms since epoch). */
  recordedAt: number;
  /** A column names a source table the catalog does not know (created since the last refresh). */
  catalogMiss: boolean;
}

/** Inventory entries are refreshed at most this often per cached shape: per-result recording costs more than the rows. */
const RECORD_EVERY_MS = 10_000;

export function recordShape(shape: ShapePlan, gov: ListenerGovernance): void {
  const now = Date.now();
  if (now - shape.recordedAt < RECORD_EVERY_MS) return;
  shape.recordedAt = now;
  for (const [object, fields] of shape.fields) gov.recordFields(object, fields);
}

/**
 * `overrides` come from lineage (lineage-plan.ts): a plain source replaces RowDescription's (a view's column is its
 * table's column), and a value derived from classified sources gets the derived mask when the role may not see them.
 */
export function planShape(
  columns: readonly DescribedColumn[],
  policy: CompiledPolicy,
  role: string,
  overrides?: ReadonlyArray<ColumnOverride | undefined>,
): ShapePlan {
  const actions: ColumnAction[] = [];
  const labels = new Set<string>();
  const byObject = new Map<string | null, Array<{ name: string; labels: readonly string[] }>>();
  for (let i = 0; i < columns.length; i++) {
    let c = columns[i]!;
    const type = logicalTypeOf(c.typeOid);
    const o = overrides?.[i];
    let plan: FieldPlan;
    if (o?.kind === 'derived') {
      plan = policy.derivedPlan(role, [...new Set([...o.labels, ...policy.labelsForName(c.name)])], type);
      if (plan.mode !== 'mask') plan = policy.fieldPlan(role, { name: c.name, type });
      c = { ...c, object: undefined, sourceName: undefined };
    } else if (o?.kind === 'plain' && c.sourceName !== undefined && hasLabelBeyond(policy, c.sourceName, [o.column, c.name])) {
      // RowDescription's source carries a label lineage's does not (the catalog changed behind dgf's back between
      // the statement's trace and its result): both may be right, so the value is masked as derived from both.
      const both = [...new Set([...policy.labelsForName(c.sourceName), ...policy.labelsForName(o.column), ...policy.labelsForName(c.name)])];
      plan = policy.derivedPlan(role, both, type);
      if (plan.mode !== 'mask') plan = policy.fieldPlan(role, { name: c.name, type });
    } else {
      if (o?.kind === 'plain') c = { ...c, object: o.object, sourceName: o.column };
      plan = policy.fieldPlan(role, {
        name: c.name,
        ...(c.object !== undefined ? { object: c.object } : {}),
        ...(c.sourceName !== undefined ? { sourceName: c.sourceName } : {}),
        type,
      });
    }
    if (plan.labels.length > 0) {
      for (const label of plan.labels) labels.add(label);
      const key = c.object ?? null;
      let list = byObject.get(key);
      if (!list) byObject.set(key, (list = []));
      list.push({ name: c.sourceName ?? c.name, labels: plan.labels });
    }
    if (needsAction(plan, type)) actions.push({ index: i, plan, codec: codecFor(c.typeOid, c.format) });
  }
  return { actions, labels: [...labels], fields: [...byObject], recordedAt: 0, catalogMiss: false };
}

/** Whether `name` carries a label that none of `others` carries. */
function hasLabelBeyond(policy: CompiledPolicy, name: string, others: readonly string[]): boolean {
  const labels = policy.labelsForName(name);
  if (labels.length === 0) return false;
  const known = new Set(others.flatMap((o) => policy.labelsForName(o)));
  return labels.some((l) => !known.has(l));
}

/**
 * Rewrites the masked fields of one message whose body is a list of int32-length-prefixed values. Holds its
 * scratch arrays across calls so a result set of a million rows allocates only the rows that change.
 */
export class FieldRewriter {
  /** Columns with an action, by column index (sparse), so the row walk does one array read per column. */
  private readonly byIndex: Array<ColumnAction | undefined>;
  private readonly lastIndex: number;
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  private readonly values: Array<Buffer | null> = [];

  constructor(
    actions: readonly ColumnAction[],
    private readonly stats: MaskStats,
  ) {
    this.byIndex = [];
    let last = -1;
    for (const a of actions) {
      this.byIndex[a.index] = a;
      if (a.index > last) last = a.index;
    }
    this.lastIndex = last;
  }

  /** Forget the replacements collected so far (call before the first scan of a message). */
  reset(): void {
    this.starts.length = 0;
    this.ends.length = 0;
    this.values.length = 0;
  }

  /**
   * Walk `count` fields (all of them with `walkAll`) starting at `pos` in `msg`; collect the changed ones. Returns the offset after the last
   * field walked (without `walkAll`, the walk stops after the last column that has an action), or -1 if the fields
   * overrun the message. Replacements accumulate until `reset`.
   */
  scan(msg: Buffer, pos: number, count: number, end: number, walkAll = false): number {
    const limit = walkAll ? count - 1 : Math.min(count - 1, this.lastIndex);
    for (let i = 0; i <= limit; i++) {
      if (pos + 4 > end) return -1;
      const len = msg.readInt32BE(pos);
      const dataStart = pos + 4;
      const dataEnd = len < 0 ? dataStart : dataStart + len;
      if (dataEnd > end) return -1;
      const action = this.byIndex[i];
      if (action !== undefined && len >= 0) {
        const replacement = this.maskField(action, msg, dataStart, dataEnd);
        if (replacement !== undefined) {
          this.starts.push(pos);
          this.ends.push(dataEnd);
          this.values.push(replacement);
        }
      }
      pos = dataEnd;
    }
    return pos;
  }

  /** The new bytes of a field (null: SQL NULL), or undefined when the mask left the value as it was. */
  private maskField(action: ColumnAction, msg: Buffer, start: number, end: number): Buffer | null | undefined {
    const { codec, plan } = action;
    if (codec.maskElements !== undefined) return codec.maskElements(msg, start, end, plan, this.stats);
    if (!codec.decodable) {
      // A binary type dgf cannot decode: a masked column can only be hidden as NULL.
      if (plan.mode !== 'mask') return undefined;
      const label = plan.labels[0];
      if (label !== undefined) this.stats.masked(label, 'null');
      return null;
    }
    const value = codec.decode(msg, start, end);
    const masked = plan.apply(value, this.stats);
    if (masked === value) return undefined;
    if (masked instanceof Uint8Array && value instanceof Uint8Array && Buffer.compare(masked, value) === 0) return undefined;
    if (masked instanceof Date && value instanceof Date && masked.getTime() === value.getTime()) return undefined;
    return codec.encode(masked);
  }

  /** Whether the last scan changed anything. */
  get changed(): boolean {
    return this.starts.length > 0;
  }

  /** The message with the collected replacements, its int32 length at offset 1 fixed. One allocation. */
  rebuild(msg: Buffer): Buffer {
    let size = msg.length;
    for (let i = 0; i < this.starts.length; i++) {
      const v = this.values[i]!;
      size += 4 + (v === null ? 0 : v.length) - (this.ends[i]! - this.starts[i]!);
    }
    const out = Buffer.allocUnsafe(size);
    let from = 0;
    let at = 0;
    for (let i = 0; i < this.starts.length; i++) {
      at += msg.copy(out, at, from, this.starts[i]!);
      const v = this.values[i]!;
      if (v === null) at = out.writeInt32BE(-1, at);
      else {
        at = out.writeInt32BE(v.length, at);
        at += v.copy(out, at);
      }
      from = this.ends[i]!;
    }
    msg.copy(out, at, from);
    out.writeInt32BE(size - 1, 1);
    return out;
  }
}
