/** MaskTally: the MaskStats of one operation, turned into the audit record's `labels` and `masked` fields. */
import type { MaskMethod, MaskStats } from './types.js';

/** Counts labels seen and values masked during one operation. */
export class MaskTally implements MaskStats {
  /** label -> values seen. */
  readonly seenCounts = new Map<string, number>();
  /** label -> values masked. */
  readonly maskedCounts = new Map<string, number>();
  /** `label\u0000method` -> values masked, for dgf_masked_values_total. */
  readonly byMethod = new Map<string, number>();

  seen(label: string): void {
    this.seenCounts.set(label, (this.seenCounts.get(label) ?? 0) + 1);
  }

  masked(label: string, method: MaskMethod): void {
    this.maskedCounts.set(label, (this.maskedCounts.get(label) ?? 0) + 1);
    const k = `${label}\u0000${method}`;
    this.byMethod.set(k, (this.byMethod.get(k) ?? 0) + 1);
  }

  /** Labels seen or masked, sorted (audit `labels`). */
  labels(): string[] {
    return [...new Set([...this.seenCounts.keys(), ...this.maskedCounts.keys()])].sort();
  }

  /** label -> masked count (audit `masked`). */
  maskedRecord(): Record<string, number> {
    return Object.fromEntries([...this.maskedCounts].sort(([a], [b]) => a.localeCompare(b)));
  }

  /** [label, method, count] triples for metrics. */
  methods(): [string, MaskMethod, number][] {
    return [...this.byMethod].map(([k, n]) => {
      const [label, method] = k.split('\u0000') as [string, MaskMethod];
      return [label, method, n];
    });
  }
}
