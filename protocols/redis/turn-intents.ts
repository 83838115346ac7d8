/**
 * Write-ahead for the Redis proxy (failMode closed): the intent records of the commands going upstream in this
 * event-loop turn, appended at the turn's end before any upstream write (turn-end.ts), grouped by subject as the
 * outcome records are (turn-records.ts): one record per subject and turn, the lone command's own record when it
 * is alone. The upstream writes of the turn wait for the promise this returns; with durability write the audit log
 * keeps the records synchronously, so they leave in the same turn.
 */
import type { Batch } from './slot.js';
import { forEachGroup, type GroupMember } from './subject-groups.js';
import { intentsAtTurnEnd, type IntentWriter } from './turn-end.js';

/** The session side of the intent records. */
export interface BatchIntender extends GroupMember {
  /**
   * Append the intent of `batches` (owned by `owners`; this one is `owners[0]`) and set each batch's `intent`;
   * returns the promise to wait for before their commands go upstream, or null when none is needed.
   */
  intendBatches(owners: readonly BatchIntender[], batches: readonly Batch[]): Promise<void> | null;
  /** Every intent of the turn is appended (once per listener of the turn): keep them now. */
  intentsAppended(): void;
}

const owners: BatchIntender[] = [];
const batches: Batch[] = [];
const groupOwners: BatchIntender[] = [];
const groupBatches: Batch[] = [];
const scopes: BatchIntender[] = [];
/** The distinct promises of this turn's intents (one per audit log batch: mostly one). */
let waits: Array<Promise<void>> = [];

const writer: IntentWriter = {
  queuedForTurnEnd: false,
  appendIntents,
};

/** Queue a batch whose commands were sent to an upstream connection this turn. */
export function intendBatchAtTurnEnd(owner: BatchIntender, batch: Batch): void {
  owners.push(owner);
  batches.push(batch);
  intentsAtTurnEnd(writer);
}

function subjectOf(b: Batch): { identity: NonNullable<Batch['intentIdentity']>; role: string } {
  return { identity: b.intentIdentity!, role: b.intentRole };
}

function always(): boolean {
  return true;
}

function intendGroup(lead: BatchIntender, groupOwnersOf: readonly BatchIntender[], groupBatchesOf: readonly Batch[]): void {
  const p = lead.intendBatches(groupOwnersOf, groupBatchesOf);
  if (p !== null && !waits.includes(p)) waits.push(p);
}

function appendIntents(): Promise<void> | null {
  const n = owners.length;
  try {
    forEachGroup(owners, batches, subjectOf, always, groupOwners, groupBatches, scopes, intendGroup);
    for (let i = 0; i < scopes.length; i++) scopes[i]!.intentsAppended();
  } finally {
    scopes.length = 0;
    owners.splice(0, n);
    batches.splice(0, n);
  }
  const w = waits;
  waits = [];
  return w.length === 0 ? null : w.length === 1 ? w[0]! : Promise.all(w).then(nothing);
}

function nothing(): void {}
