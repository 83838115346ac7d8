/**
 * Batches of one event-loop turn grouped by audit subject: the listener (recordScope), role and identity (user,
 * application, address, database), so that one record can name them all. Used for the turn's intent records
 * (turn-intents.ts) and its outcome records (turn-records.ts).
 */
import type { Identity } from '../../src/policy/types.js';
import type { Batch } from './slot.js';

/** Whose batches may share a record: sessions of one listener. */
export interface GroupMember {
  readonly recordScope: object;
}

/** Whether two identities are the same audit subject (the record names one identity). */
export function sameIdentity(a: Identity, b: Identity): boolean {
  return a === b || (a.user === b.user && a.application === b.application && a.address === b.address && a.database === b.database);
}

const taken: boolean[] = [];

/**
 * Call `each` once per group of `batches` (owned by `owners`, index by index) with one subject and `sameGroup`
 * true against the group's first; the lists handed to `each` are reused after the call. Returns one member per
 * listener seen (appended to `scopes`).
 */
export function forEachGroup<O extends GroupMember>(
  owners: readonly O[],
  batches: readonly Batch[],
  subjectOf: (b: Batch) => { identity: Identity; role: string },
  sameGroup: (first: Batch, other: Batch) => boolean,
  groupOwners: O[],
  groupBatches: Batch[],
  scopes: O[],
  each: (lead: O, owners: readonly O[], batches: readonly Batch[]) => void,
): void {
  const n = owners.length;
  for (let i = 0; i < n; i++) taken[i] = false;
  for (let i = 0; i < n; i++) {
    if (taken[i]) continue;
    const lead = owners[i]!;
    const first = batches[i]!;
    const subject = subjectOf(first);
    groupOwners.push(lead);
    groupBatches.push(first);
    // Usually every batch of the turn has one subject (a benchmark's clients, an application's pool).
    for (let j = i + 1; j < n; j++) {
      if (taken[j]) continue;
      const b = batches[j]!;
      const o = owners[j]!;
      if (o.recordScope !== lead.recordScope || !sameGroup(first, b)) continue;
      const other = subjectOf(b);
      if (other.role === subject.role && sameIdentity(other.identity, subject.identity)) {
        taken[j] = true;
        groupOwners.push(o);
        groupBatches.push(b);
      }
    }
    try {
      each(lead, groupOwners, groupBatches);
    } finally {
      groupOwners.length = 0;
      groupBatches.length = 0;
    }
    if (!scopes.some((r) => r.recordScope === lead.recordScope)) scopes.push(lead);
  }
}
