/**
 * From a command's trace to what one role may get: refused (code 13, with what could not be traced), or answered with
 * the result masked by the planner. Computed once per trace (a cached pipeline shape) and role, then cached.
 *
 * For a role with at least one masked label (`masksAnyFor`), the masking guarantee holds:
 *  - server-side JavaScript (`$where`, `$function`, `$accumulator`, mapReduce) is refused: dgf cannot see what it reads
 *    or returns;
 *  - `$out` and `$merge` are refused: they copy documents where later reads cannot be traced to their sources;
 *  - an output dgf cannot trace is refused (`onUnknownLineage: deny`, the default) or masked whole (`mask`);
 *  - a value derived from fields the role sees masked may only be written into a field that carries every one of
 *    those labels (`$rename`, update pipelines): anywhere else the role could read it back clear; a written value dgf
 *    cannot trace is refused whatever `onUnknownLineage` says (a write cannot be masked afterwards).
 * Roles without masks are not concerned (their policy rules still apply).
 */
import type { CompiledPolicy } from '../../../src/policy/types.js';
import type { CommandTrace } from './trace.js';

export interface Verdict {
  /** Refuse the command (code 13 Unauthorized) with this message; null: it may run. */
  readonly refusal: string | null;
  /** Labels of the fields the command reads that this role sees masked (for scrubbing its errors). */
  readonly maskedLabels: readonly string[];
  /** The command reads a field this role sees masked (policy rule match `readsMasked`). */
  readonly readsMasked: boolean;
}

const CLEAR: Verdict = Object.freeze({ refusal: null, maskedLabels: Object.freeze([]), readsMasked: false });

const NAMES: Record<string, string> = { aggregate: 'pipeline', find: 'find', findandmodify: 'findAndModify', distinct: 'distinct', update: 'update', bulkwrite: 'bulkWrite' };

/** Labels of `path` that `role` sees masked. */
function maskedLabelsOf(path: string, policy: CompiledPolicy, role: string): readonly string[] {
  const plan = policy.fieldPlan(role, { name: path, type: 'text' });
  return plan.mode === 'mask' ? plan.labels : [];
}

/** Decide for one role. */
export function decide(trace: CommandTrace, policy: CompiledPolicy, role: string): Verdict {
  if (!policy.masksAnyFor(role)) return CLEAR;
  const masked = new Set<string>();
  for (const r of trace.reads) for (const l of maskedLabelsOf(r, policy, role)) masked.add(l);
  const maskedLabels = [...masked];
  const what = NAMES[trace.command] ?? trace.command;
  const verdict = (refusal: string | null): Verdict => ({ refusal, maskedLabels, readsMasked: maskedLabels.length > 0 });
  if (trace.js.length > 0) {
    return verdict(`dgf: ${trace.js.join(', ')} runs server-side JavaScript, which dgf cannot trace; not allowed for role ${role}, which sees masked data`);
  }
  if (trace.writeStage) {
    return verdict(`dgf: ${trace.writeStage} is not allowed for role ${role}: it would copy data this role sees masked where dgf cannot follow it`);
  }
  for (const w of trace.writes) {
    if (w.lineage.unknown !== null) return verdict(`dgf cannot trace the value this ${what} writes into ${w.target}: ${w.lineage.unknown}`);
    if (w.lineage.plain === w.target) continue;
    const sourceLabels = new Set<string>();
    for (const s of w.lineage.sources) for (const l of maskedLabelsOf(s, policy, role)) sourceLabels.add(l);
    if (sourceLabels.size === 0) continue;
    const target = new Set(policy.labelsForName(w.target));
    const missing = [...sourceLabels].filter((l) => !target.has(l));
    if (missing.length > 0) {
      return verdict(`dgf: this ${what} writes values of fields role ${role} sees masked (${missing.sort().join(', ')}) into ${w.target}, where they could be read back unmasked`);
    }
  }
  if (trace.unknown !== null && policy.onUnknownLineage(role) === 'deny') {
    return verdict(`dgf cannot trace output field ${trace.unknown.path} of this ${what}: ${trace.unknown.why}`);
  }
  return verdict(null);
}

/**
 * Verdicts per trace and role, valid for one policy snapshot. Keyed on the trace object itself (shared by every
 * connection through the trace cache), so a repeated command shape costs one WeakMap and one Map lookup.
 */
export class VerdictCache {
  private byTrace = new WeakMap<CommandTrace, Map<string, Verdict>>();
  private policy: CompiledPolicy | null = null;

  get(trace: CommandTrace, policy: CompiledPolicy, role: string): Verdict {
    if (policy !== this.policy) {
      this.policy = policy;
      this.byTrace = new WeakMap();
    }
    let byRole = this.byTrace.get(trace);
    if (!byRole) this.byTrace.set(trace, (byRole = new Map()));
    let v = byRole.get(role);
    if (!v) byRole.set(role, (v = decide(trace, policy, role)));
    return v;
  }
}

/** The refusal for `role` of a described command (null: it may run). */
export function refusalFor(info: { readonly trace: CommandTrace | null }, policy: CompiledPolicy, role: string): string | null {
  return info.trace ? decide(info.trace, policy, role).refusal : null;
}
