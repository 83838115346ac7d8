/**
 * Collects what `dgf scan` finds: per object and field, labels from the name and from sampled values.
 * Protocol scanners only read schemas and samples; classification lives here once.
 */
import type { InventoryRow } from '../listener.js';
import type { CompiledPolicy } from '../policy/types.js';

interface Entry {
  object: string;
  field: string;
  nameLabels: Set<string>;
  valueLabels: Set<string>;
  sampled: number;
}

export class ScanAccumulator {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly policy: CompiledPolicy) {}

  /** Declare a field (from a schema) even before any value is sampled. */
  field(object: string, field: string): void {
    this.entry(object, field);
  }

  /** Classify one sampled value of `object.field`; nested objects and arrays are walked by path. */
  value(object: string, field: string, value: unknown): void {
    if (value === null || value === undefined) {
      this.entry(object, field);
      return;
    }
    if (Array.isArray(value)) {
      for (const v of value.slice(0, 20)) this.value(object, field, v);
      return;
    }
    if (typeof value === 'object' && !(value instanceof Date) && !Buffer.isBuffer(value) && !('_bsontype' in value)) {
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) this.value(object, `${field}.${k}`, v);
      return;
    }
    const e = this.entry(object, field);
    e.sampled++;
    const text = value instanceof Date ? value.toISOString() : String(value);
    for (const f of this.policy.findEntities(text)) e.valueLabels.add(f.label);
  }

  rows(): InventoryRow[] {
    return [...this.entries.values()]
      .map((e) => {
        const labels = [...new Set([...e.nameLabels, ...e.valueLabels])].sort();
        const source: InventoryRow['source'] =
          e.nameLabels.size && e.valueLabels.size ? 'both' : e.valueLabels.size ? 'value' : 'name';
        return { object: e.object, field: e.field, labels, source, sampled: e.sampled };
      })
      .sort((a, b) => a.object.localeCompare(b.object) || a.field.localeCompare(b.field));
  }

  private entry(object: string, field: string): Entry {
    const key = `${object}\u0000${field}`;
    let e = this.entries.get(key);
    if (!e) {
      e = { object, field, nameLabels: new Set(this.policy.labelsForName(field)), valueLabels: new Set(), sampled: 0 };
      this.entries.set(key, e);
    }
    return e;
  }
}
