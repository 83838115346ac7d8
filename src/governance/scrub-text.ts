/**
 * Protocol-neutral scrubbing of free text a server sends besides results (error and notice messages, notification
 * payloads, reported settings). Three tools:
 *  - `scrubText`: the value detectors mask every entity whose label the role may not see, with that label's mask.
 *    It runs the role's scan-mode FieldPlan of an unnamed text field (`fieldPlan(role, {name: '', type: 'text'})`):
 *    only the detectors of labels the role may not see, cached by the engine, the same string back when nothing
 *    was found (cheaper than `findEntities` + a mask per entity, and the very masks result values get).
 *  - `maskDerivedValue`: a value computed from classified sources (a statement's sources, not one known column)
 *    gets the engine's derived mask (`derivedPlan`): redacted whole when the role may not see one of the sources,
 *    since no format-preserving mask of a derived value is safe (a last-4 of `reverse(ssn)` shows its first 4).
 *  - `maskEchoedValue`: a value known to be one column's value gets that column's labels' mask, as the role would
 *    see it in a result.
 */
import { REDACTED } from '../policy/mask/index.js';
import { UNTRACED_LABEL, type CompiledPolicy, type FieldPlan, type FieldRef, type MaskStats } from '../policy/types.js';

export { REDACTED };

/** An unnamed text field: it carries no label, so its plan is 'scan' (detectors of masked labels) or 'clear'. */
const UNNAMED_TEXT: FieldRef = Object.freeze({ name: '', type: 'text' as const });

/**
 * The role's detector plan for free text, or null when no detector of the role can change a text (the role sees
 * every label that has a detector). Cached by the engine per policy version; cheap to ask again.
 */
export function textScanPlan(policy: CompiledPolicy, role: string): FieldPlan | null {
  const plan = policy.fieldPlan(role, UNNAMED_TEXT);
  return plan.mode === 'scan' ? plan : null;
}

/** `text` through a plan from `textScanPlan`: the same string (===) when nothing was found. */
export function scanTextWith(plan: FieldPlan, text: string, stats?: MaskStats): string {
  const out = plan.apply(text, stats);
  if (out === text) return text;
  return typeof out === 'string' ? out : REDACTED; // a 'null' mask matched the whole text: a message cannot be NULL
}

/**
 * `text` with every entity the value detectors find, whose label `role` may not see, replaced by that label's mask.
 * Returns the same string (===) when nothing changed.
 */
export function scrubText(text: string, policy: CompiledPolicy, role: string, stats?: MaskStats): string {
  const plan = textScanPlan(policy, role);
  return plan === null ? text : scanTextWith(plan, text, stats);
}

/**
 * The derived mask of a text computed from sources carrying `labels` (which may include `UNTRACED_LABEL`): redacted
 * whole when `role` may not see one of them, else unchanged (===; the detectors are not run here). Labels are
 * counted as seen on `stats`, a masked value as masked ('redact') for the strongest masked label.
 */
export function maskDerivedValue(value: string, labels: readonly string[], policy: CompiledPolicy, role: string, stats?: MaskStats): string {
  if (labels.length === 0) return value;
  return applyMaskPlan(policy.derivedPlan(role, labels, 'text'), value, stats);
}

/** `value` through a label-set plan: changed only by a 'mask' plan (as a string: a NULL mask redacts), labels seen. */
function applyMaskPlan(plan: FieldPlan, value: string, stats: MaskStats | undefined): string {
  if (plan.mode !== 'mask') {
    if (stats) for (const l of plan.labels) stats.seen(l);
    return value;
  }
  const out = plan.apply(value, stats);
  return typeof out === 'string' ? out : REDACTED;
}

/**
 * Mask a value known to be the value of a field (a column) carrying `labels`, e.g. a key PostgreSQL echoes in
 * `Key (email)=(...) already exists.`: the strongest mask among those labels that `role` may not see, or unchanged
 * when the role sees them all. A mask that cannot give a string (method `null`) redacts. Returns the same string
 * (===) when unchanged. `UNTRACED_LABEL` among `labels` gets the derived mask (`maskDerivedValue`).
 */
export function maskEchoedValue(value: string, labels: readonly string[], policy: CompiledPolicy, role: string, stats?: MaskStats): string {
  if (labels.length === 0) return value;
  if (labels.includes(UNTRACED_LABEL)) return maskDerivedValue(value, labels, policy, role, stats);
  return applyMaskPlan(policy.labelPlan(role, labels, 'text'), value, stats);
}

/** Whether `role` may not see at least one of `labels` (so the masks above would change a value). */
export function masksAnyOf(labels: readonly string[], policy: CompiledPolicy, role: string): boolean {
  return labels.length > 0 && policy.derivedPlan(role, labels, 'text').mode === 'mask';
}
