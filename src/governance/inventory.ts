/**
 * The live data map (GET /api/v1/inventory): per listener, object and field, which labels were seen and how
 * often. Bounded so a client that invents field names cannot grow it without limit.
 */

const MAX_FIELDS_PER_LISTENER = 20_000;

export interface InventoryField {
  object: string;
  field: string;
  labels: Record<string, number>;
  lastSeen: string;
}

export class Inventory {
  private readonly byListener = new Map<string, Map<string, InventoryField>>();

  /** Note that `labels` were seen on `object.field`. */
  record(listener: string, object: string | null | undefined, field: string, labels: readonly string[]): void {
    if (labels.length === 0) return;
    let fields = this.byListener.get(listener);
    if (!fields) {
      fields = new Map();
      this.byListener.set(listener, fields);
    }
    const obj = object ?? '';
    const key = `${obj}\u0000${field}`;
    let entry = fields.get(key);
    if (!entry) {
      if (fields.size >= MAX_FIELDS_PER_LISTENER) return;
      entry = { object: obj, field, labels: {}, lastSeen: '' };
      fields.set(key, entry);
    }
    for (const label of labels) entry.labels[label] = (entry.labels[label] ?? 0) + 1;
    entry.lastSeen = new Date().toISOString();
  }

  /** Snapshot for the admin API. */
  snapshot(): Record<string, InventoryField[]> {
    const out: Record<string, InventoryField[]> = {};
    for (const [listener, fields] of this.byListener) out[listener] = [...fields.values()].map((f) => ({ ...f, labels: { ...f.labels } }));
    return out;
  }
}
