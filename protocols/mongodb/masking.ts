/**
 * The PathPlanner of one result shape (a find's collection, an aggregate cursor's pipeline): a tree of field
 * paths, each caching one FieldPlan per logical type, following the command's lineage (lineage/trace.ts) so a
 * renamed field keeps its source's own mask, a value computed from classified fields gets the derived mask
 * (redacted whole), and an output dgf could not trace gets the derived mask of `UNTRACED_LABEL` (policy
 * `onUnknownLineage: mask`; with `deny` such commands never run). Newly seen classified fields are reported to the
 * inventory once. A cursor keeps its planner so every getMore batch is masked exactly like the first, and walking a
 * known shape builds no strings but the element names.
 */
import { UNTRACED_LABEL, type CompiledPolicy, type FieldPlan, type LogicalType, type MaskStats } from '../../src/policy/types.js';
import type { PathNode, PathPlanner } from './codec/bson-mask.js';
import type { BsonIterator } from './codec/bson-view.js';
import type { ResultLineage } from './lineage/trace.js';

/** Bound on cached paths per shape: a client inventing field names cannot grow memory. */
const MAX_NODES = 4096;

const TYPE_INDEX: Record<LogicalType, number> = { text: 0, integer: 1, numeric: 2, boolean: 3, date: 4, timestamp: 5, uuid: 6, json: 7, bytes: 8 };

export type FieldReporter = (object: string, fields: Array<{ name: string; labels: readonly string[] }>) => void;

/** BSON element type bytes 0x00..0x13 (double .. decimal128) are cached by leafPlan; minKey/maxKey carry no data. */
const BSON_TYPES = 0x14;

/** Positions remembered per node (documents rarely have more top-level fields than this). */
const MAX_ORDER = 64;

class Node implements PathNode {
  private children: Map<string, Node> | null = null;
  private order: Node[] | null = null;
  private readonly plans: Array<FieldPlan | undefined> = [];
  private inherited: Map<string, FieldPlan> | null = null;
  /** Plans by BSON type byte (leaves), for no inherited labels and for the last `inherit` seen here. */
  private byBsonType: Array<FieldPlan | undefined> | null = null;
  private lastInherit: string | null = null;
  private byBsonTypeInherited: Array<FieldPlan | undefined> | null = null;

  constructor(
    private readonly owner: ShapePlanner,
    readonly path: string,
    readonly name: string,
  ) {}

  child(name: string): Node {
    let c = this.children?.get(name);
    if (c) return c;
    c = new Node(this.owner, this.path === '' ? name : `${this.path}.${name}`, name);
    if (this.owner.admit()) (this.children ??= new Map()).set(name, c);
    return c;
  }

  childAt(index: number, it: BsonIterator): Node {
    const guess = this.order !== null ? this.order[index] : undefined;
    if (guess !== undefined && it.nameIs(guess.name)) return guess;
    const c = this.child(it.name());
    if (index < MAX_ORDER) (this.order ??= [])[index] = c;
    return c;
  }

  leafPlan(bsonType: number, type: LogicalType, inherit: string | null): FieldPlan {
    // Indexed by the type byte: no string-keyed lookup, and under a classified subdocument no
    // `type:inherit` key built per value (a node's leaves nearly always inherit from the same ancestor).
    if (bsonType >= BSON_TYPES) return this.plan(type, inherit);
    const i = bsonType;
    if (inherit === null) return ((this.byBsonType ??= new Array<FieldPlan | undefined>(BSON_TYPES).fill(undefined))[i] ??= this.plan(type, null));
    if (inherit !== this.lastInherit || this.byBsonTypeInherited === null) {
      this.lastInherit = inherit;
      this.byBsonTypeInherited = new Array<FieldPlan | undefined>(BSON_TYPES).fill(undefined);
    }
    return (this.byBsonTypeInherited[i] ??= this.plan(type, inherit));
  }

  plan(type: LogicalType, inherit: string | null): FieldPlan {
    if (inherit === null) {
      const i = TYPE_INDEX[type];
      let p = this.plans[i];
      if (!p) {
        p = this.owner.build(this.path, type, null);
        this.plans[i] = p;
      }
      return p;
    }
    const key = `${TYPE_INDEX[type]}:${inherit}`;
    let p = this.inherited?.get(key);
    if (!p) {
      p = this.owner.build(this.path, type, inherit);
      (this.inherited ??= new Map()).set(key, p);
    }
    return p;
  }
}

export class ShapePlanner implements PathPlanner {
  private tree: Node;
  private nodes = 0;
  private version: number;
  private readonly reported = new Set<string>();
  /** The current operation's tally (each getMore is its own audited operation). */
  stats: MaskStats | undefined;

  constructor(
    private readonly policySource: () => CompiledPolicy,
    private policy: CompiledPolicy,
    readonly role: string,
    readonly object: string,
    readonly lineage: ResultLineage | null,
    private readonly report?: FieldReporter,
  ) {
    this.version = policy.version;
    this.tree = new Node(this, '', '');
  }

  root(): PathNode {
    return this.tree;
  }

  /** Pick up a reloaded policy between batches (plans are valid for one policy version). */
  refresh(stats: MaskStats | undefined): void {
    this.stats = stats;
    const p = this.policySource();
    if (p.version !== this.version) {
      this.policy = p;
      this.version = p.version;
      this.tree = new Node(this, '', '');
      this.nodes = 0;
    }
  }

  /** Whether another path node may be cached. */
  admit(): boolean {
    if (this.nodes >= MAX_NODES) return false;
    this.nodes++;
    return true;
  }

  build(path: string, type: LogicalType, inherit: string | null): FieldPlan {
    const plan = this.compute(path, type, inherit);
    if (plan.labels.length > 0 && this.report && type !== 'json' && !this.reported.has(path) && this.reported.size < MAX_NODES) {
      const labels = plan.labels.filter((l) => l !== UNTRACED_LABEL);
      if (labels.length > 0) {
        this.reported.add(path);
        this.report(this.object, [{ name: path, labels }]);
      }
    }
    return plan;
  }

  private compute(path: string, type: LogicalType, inherit: string | null): FieldPlan {
    const own = this.planAt(path, type);
    if (inherit === null || (own.derived && own.plan.mode === 'mask')) return own.plan;
    // Under a classified ancestor: the strictest of its own plan and the ancestor's.
    const anc = this.planAt(inherit, type);
    if (anc.derived && anc.plan.mode === 'mask') return anc.plan;
    if (own.plan.mode === 'mask') return own.plan;
    if (anc.plan.mode === 'mask') return this.policy.fieldPlan(this.role, { name: path, sourceName: inherit, object: this.object, type });
    return own.plan.mode === 'scan' || anc.plan.mode !== 'scan' ? own.plan : anc.plan;
  }

  /** The plan of output `path` by its lineage; `derived`: the derived mask (stricter than any format-preserving one). */
  private planAt(path: string, type: LogicalType): { plan: FieldPlan; derived: boolean } {
    const byName = (): { plan: FieldPlan; derived: boolean } => ({ plan: this.policy.fieldPlan(this.role, { name: path, object: this.object, type }), derived: false });
    const l = this.lineage ? this.lineage.lineageOf(path) : null;
    // No lineage (a plain find), or a field the model says cannot come back: classified by its name.
    if (l === null) return byName();
    if (l.unknown === null && l.plain !== null) {
      if (l.plain === path) return byName();
      return { plan: this.policy.fieldPlan(this.role, { name: path, sourceName: l.plain, object: this.object, type }), derived: false };
    }
    if (l.unknown === null && l.sources.length === 0) return byName();
    const labels = new Set<string>(this.policy.labelsForName(path));
    for (const s of l.sources) for (const x of this.policy.labelsForName(s)) labels.add(x);
    if (l.unknown !== null) labels.add(UNTRACED_LABEL);
    if (labels.size === 0) return byName();
    return { plan: this.policy.derivedPlan(this.role, [...labels], type), derived: true };
  }
}
