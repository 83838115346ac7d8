/**
 * The PathPlanner of one result shape (a find's collection, an aggregate cursor's pipeline): caches one
 * FieldPlan per (path, type), follows pipeline lineage so a renamed or computed field is masked like its
 * sources, and reports newly seen classified fields to the inventory once. A cursor keeps its planner so
 * every getMore batch is masked exactly like the first.
 */
import type { CompiledPolicy, FieldPlan, LogicalType, MaskStats } from '../../src/policy/types.js';
import type { PathPlanner } from './codec/bson-mask.js';
import { resolveSources, type PipelineAnalysis } from './pipeline.js';

const MAX_CACHED_PATHS = 4096;

export type FieldReporter = (object: string, fields: Array<{ name: string; labels: readonly string[] }>) => void;

export class ShapePlanner implements PathPlanner {
  private cache = new Map<string, FieldPlan>();
  private version: number;
  /** The current operation's tally (each getMore is its own audited operation). */
  stats: MaskStats | undefined;

  constructor(
    private policySource: () => CompiledPolicy,
    private policy: CompiledPolicy,
    readonly role: string,
    readonly object: string,
    readonly lineage: PipelineAnalysis | null,
    private readonly report?: FieldReporter,
  ) {
    this.version = policy.version;
  }

  /** Pick up a reloaded policy between batches (plans are valid for one policy version). */
  refresh(stats: MaskStats | undefined): void {
    this.stats = stats;
    const p = this.policySource();
    if (p.version !== this.version) {
      this.policy = p;
      this.version = p.version;
      this.cache = new Map();
    }
  }

  plan(path: string, type: LogicalType, inherit: string | null): FieldPlan {
    const key = inherit === null ? `${path}\u0000${type}` : `${path}\u0000${type}\u0000${inherit}`;
    let plan = this.cache.get(key);
    if (plan) return plan;
    plan = this.build(path, type, inherit);
    if (this.cache.size >= MAX_CACHED_PATHS) this.cache.clear();
    this.cache.set(key, plan);
    if (plan.labels.length > 0 && this.report && type !== 'json') this.report(this.object, [{ name: path, labels: plan.labels }]);
    return plan;
  }

  private build(path: string, type: LogicalType, inherit: string | null): FieldPlan {
    const sources = this.lineage ? resolveSources(this.lineage, path) : null;
    const candidates: string[] = [];
    if (inherit !== null) candidates.push(inherit);
    if (sources) for (const s of sources) if (s !== path) candidates.push(s);
    if (candidates.length === 0) return this.policy.fieldPlan(this.role, { name: path, object: this.object, type });
    // A value computed from several inputs carries all their labels: the strictest plan wins.
    let best: FieldPlan | null = null;
    for (const source of candidates) {
      const p = this.policy.fieldPlan(this.role, { name: path, sourceName: source, object: this.object, type });
      if (p.mode === 'mask') return p;
      if (best === null || (p.mode === 'scan' && best.mode === 'clear')) best = p;
    }
    return best!;
  }
}
