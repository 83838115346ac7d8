/**
 * One command's entry in a batch record (e.g. a Redis pipeline's record), as a class with the AuditEntry keys in
 * canonical order. A class rather than an object literal for two reasons: entries live until the audit log
 * serializes them, and V8's allocation-site tracking of such a literal (mementos, pretenuring) showed up in
 * profiles as a tenth of the batch path; and `canonicalBody` (chain.ts) recognizes the class and builds its JSON
 * from memoized pieces instead of JSON.stringify, whose output it equals byte for byte (a unit test pins it).
 */
import type { AuditEntry } from './types.js';

export class CanonicalEntry implements AuditEntry {
  constructor(
    readonly operation: string,
    readonly object: string | null,
    readonly statement: string | null,
    readonly labels: string[],
    readonly masked: Record<string, number>,
    readonly rows: number | null,
    readonly decision: 'allow' | 'deny',
    readonly rules: string[],
    readonly error: string | null,
  ) {}
}
