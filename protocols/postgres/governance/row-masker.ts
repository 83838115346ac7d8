/**
 * Masks DataRow messages of one result shape (one RowDescription) for one role. Columns are resolved to their
 * source table and column through the catalog, so `select email as x from customers` is still customers.email;
 * only columns whose plan can change a value are decoded, and a row is rebuilt only when a value changed.
 */
import type { CompiledPolicy } from '../../../src/policy/types.js';
import type { ListenerGovernance } from '../../../src/governance/listener-governance.js';
import type { Operation } from '../../../src/governance/operation.js';
import type { CatalogCache } from './catalog.js';
import { FieldRewriter, planShape, recordShape, type DescribedColumn, type ShapePlan } from './column-plan.js';
import { alignOutputs, type LineageVerdict } from './lineage-plan.js';

export { CopyOutMasker, CopyMaskRefusedError } from './copy-out-masker.js';

/** A RowDescription field, as the session decodes it. */
export interface ColumnInfo {
  name: string;
  /** OID of the source table, 0 when the column is not a plain table column. */
  tableOid: number;
  /** Attribute number in the source table, 0 when none. */
  columnAttr: number;
  typeOid: number;
  /** 0 text, 1 binary. */
  format: number;
}

const DATA_ROW_HEADER = 7; // 'D' + int32 length + int16 field count

export class RowMasker {
  /** True when no column can need masking for this role: forward DataRows untouched (and count rows yourself). */
  readonly passthrough: boolean;
  /**
   * True when a column comes from a table the catalog does not know (created since its last refresh): such columns
   * are classified by output name and values only. The session should refresh the catalog soon.
   */
  readonly catalogMiss: boolean;

  private constructor(
    private readonly rewriter: FieldRewriter | null,
    private readonly op: Operation,
    catalogMiss: boolean,
  ) {
    this.passthrough = rewriter === null;
    this.catalogMiss = catalogMiss;
  }

  /**
   * Plan a result shape. Records the labels seen on `op` (also for columns the role sees clear, so the audit
   * record says classified data was read) and the shape's classified fields in the inventory.
   */
  static build(
    columns: ColumnInfo[],
    catalog: CatalogCache,
    policy: CompiledPolicy,
    role: string,
    op: Operation,
    gov: ListenerGovernance,
    verdict?: LineageVerdict,
  ): RowMasker {
    const shape = cachedShape(columns, catalog, policy, role, verdict);
    for (const label of shape.labels) op.seen(label);
    recordShape(shape, gov);
    return new RowMasker(shape.actions.length > 0 ? new FieldRewriter(shape.actions, op) : null, op, shape.catalogMiss);
  }

  /**
   * Mask one full DataRow message ('D', int32 length, int16 count, fields). Returns the same Buffer when no
   * value changed. Counts the row on `op.rows`. A malformed row (fields overrunning the message) is replaced by
   * nothing of its content: it throws, because forwarding it could leak what could not be inspected.
   */
  maskDataRow(message: Buffer): Buffer {
    this.op.rows++;
    const rewriter = this.rewriter;
    if (rewriter === null) return message;
    const count = message.readInt16BE(5);
    rewriter.reset();
    const end = rewriter.scan(message, DATA_ROW_HEADER, count, message.length);
    if (end < 0) throw new Error('malformed DataRow from upstream: field lengths overrun the message');
    return rewriter.changed ? rewriter.rebuild(message) : message;
  }
}

/**
 * Result shapes repeat (drivers run the same statements), so a shape's plan is cached per catalog: keyed by role and
 * the RowDescription fields, valid for one policy snapshot and one catalog generation. Bounded: cleared when full.
 */
interface ShapeCache {
  policy: CompiledPolicy;
  generation: number;
  shapes: Map<string, ShapePlan>;
}

const SHAPE_CACHE_MAX = 2000;
const shapeCaches = new WeakMap<CatalogCache, ShapeCache>();

function cachedShape(columns: readonly ColumnInfo[], catalog: CatalogCache, policy: CompiledPolicy, role: string, verdict: LineageVerdict | undefined): ShapePlan {
  let cache = shapeCaches.get(catalog);
  if (!cache || cache.policy !== policy || cache.generation !== catalog.generation) {
    cache = { policy, generation: catalog.generation, shapes: new Map() };
    shapeCaches.set(catalog, cache);
  }
  const outputs = verdict?.outputs ?? null;
  let key = outputs ? `${role}\u0002${verdict!.id}` : role;
  for (const c of columns) key += `\u0000${c.name}\u0001${c.tableOid},${c.columnAttr},${c.typeOid},${c.format}`;
  let shape = cache.shapes.get(key);
  if (shape === undefined) {
    const described: DescribedColumn[] = columns.map((c) => {
      const source = catalog.lookup(c.tableOid, c.columnAttr);
      return { name: c.name, object: source?.object, sourceName: source?.column, typeOid: c.typeOid, format: c.format };
    });
    const overrides = outputs ? alignOutputs(outputs, columns.map((c) => c.name), policy, policy.onUnknownLineage(role) === 'mask') : undefined;
    shape = planShape(described, policy, role, overrides);
    shape.catalogMiss = columns.some((c) => c.tableOid !== 0 && !catalog.knows(c.tableOid));
    if (cache.shapes.size >= SHAPE_CACHE_MAX) cache.shapes.clear();
    cache.shapes.set(key, shape);
  }
  return shape;
}
