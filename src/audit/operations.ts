/**
 * Write-ahead records joined back into operations: with failMode closed an operation has an intent record (kept
 * before it ran) and an outcome record (rows, masked counts, duration, error) that names the intent by `seq`.
 * Reports count each operation once: by its outcome, which carries every field of the intent too, or, for an
 * intent whose outcome never came (dgf stopped, or crashed, while it ran), by the intent itself. A denial, and
 * any record written in failMode open, is a single record and counts as it is.
 *
 * An outcome may cover only some commands of a batch intent (a Redis pipeline whose replies completed in
 * different event-loop turns): an intent is settled once outcomes covered as many operations as it holds.
 */
import type { AuditRecord } from './types.js';

/** Operations a record stands for: its entries, or itself. */
function operationCount(r: AuditRecord): number {
  return Array.isArray(r.entries) && r.entries.length > 0 ? r.entries.length : 1;
}

/** Streams records in chain order; what each `add` returns, then `unsettled()`, are the operations. */
export class OperationJoiner {
  /** Intents still owed an outcome: seq -> [record, operations not yet covered]. */
  private readonly open = new Map<number, { record: AuditRecord; owed: number }>();

  /** The record to count for `r`, or null when it only opens (an intent) or is not an operation. */
  add(r: AuditRecord): AuditRecord | null {
    if (r.phase === 'intent') {
      this.open.set(r.seq, { record: r, owed: operationCount(r) });
      return null;
    }
    if (r.phase === 'outcome' && typeof r.intent === 'number') {
      const o = this.open.get(r.intent);
      if (o) {
        o.owed -= operationCount(r);
        if (o.owed <= 0) this.open.delete(r.intent);
      }
    }
    return r;
  }

  /** Intents no outcome settled, in chain order: operations that ran (or may have) with no outcome on record. */
  unsettled(): AuditRecord[] {
    return [...this.open.values()].map((o) => o.record).sort((a, b) => a.seq - b.seq);
  }
}

/** The operations of records in chain order (see OperationJoiner), unsettled intents last. */
export function operationsOf(records: Iterable<AuditRecord>): AuditRecord[] {
  const j = new OperationJoiner();
  const out: AuditRecord[] = [];
  for (const r of records) {
    const op = j.add(r);
    if (op) out.push(op);
  }
  return out.concat(j.unsettled());
}
