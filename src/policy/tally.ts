/**
 * MaskTally: what masking saw during one operation (labels classified, values masked per label and method),
 * turned into the audit record's `labels` and `masked` fields and into dgf_masked_values_total. Shared by
 * `Operation` and the Redis batch entries (`CommandTally`).
 */
import type { MaskMethod, MaskStats } from './types.js';

/**
 * The audit `labels` and `masked` of a tally that saw nothing (most operations), shared by every such record and
 * entry, never mutated (frozen).
 */
export const NO_LABELS_SEEN: string[] = Object.freeze([]) as unknown as string[];
export const NO_VALUES_MASKED: Record<string, number> = Object.freeze({}) as Record<string, number>;

interface MaskedCount {
  total: number;
  byMethod: Map<MaskMethod, number>;
}

export class MaskTally implements MaskStats {
  // Created on first use: most operations classify nothing. Nested per label, so no key string is built per
  // masked value.
  private labelSet: Set<string> | null = null;
  private byLabel: Map<string, MaskedCount> | null = null;

  /** `labels`: known before any value is seen (e.g. from names), listed first. */
  constructor(labels?: readonly string[]) {
    if (labels && labels.length > 0) this.labelSet = new Set(labels);
  }

  seen(label: string): void {
    (this.labelSet ??= new Set()).add(label);
  }

  masked(label: string, method: MaskMethod, count = 1): void {
    const byLabel = (this.byLabel ??= new Map());
    let m = byLabel.get(label);
    if (!m) {
      this.seen(label);
      byLabel.set(label, (m = { total: 0, byMethod: new Map() }));
    }
    m.total += count;
    m.byMethod.set(method, (m.byMethod.get(method) ?? 0) + count);
  }

  /** Labels seen or masked, in the order first seen (the audit record's `labels`). */
  seenLabels(): string[] {
    return this.labelSet ? [...this.labelSet] : [];
  }

  /** Whether any label was seen. */
  hasLabels(): boolean {
    return this.labelSet !== null && this.labelSet.size > 0;
  }

  /** label -> values masked, in the order first masked (the audit record's `masked`). */
  maskedCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    if (this.byLabel) for (const [label, m] of this.byLabel) out[label] = m.total;
    return out;
  }

  /** Whether any value was masked. */
  hasMasked(): boolean {
    return this.byLabel !== null;
  }

  /** Calls `fn` once per (label, method) masked, with its count (metrics). */
  forEachMasked(fn: (label: string, method: MaskMethod, count: number) => void): void {
    if (this.byLabel) for (const [label, m] of this.byLabel) for (const [method, count] of m.byMethod) fn(label, method, count);
  }

  /** Add everything `other` saw (a batch record summing its commands). */
  add(other: MaskTally): void {
    if (other.labelSet) for (const l of other.labelSet) this.seen(l);
    other.forEachMasked((label, method, count) => this.masked(label, method, count));
  }
}
