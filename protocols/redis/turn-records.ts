/**
 * The audit records of the Redis commands completed during one event-loop turn, appended at the turn's end
 * (turn-end.ts: after the upstream writes, before the client writes), one record per upstream pipeline batch and
 * audit subject.
 *
 * dgf multiplexes the commands of many clients over one shared upstream connection: the commands read in one turn
 * go to Redis as one pipeline. Their records are grouped by subject (listener, role and identity: user,
 * application, address, database). A subject with one command completed in the turn gets that command's own
 * record, as before; a subject with several (its clients' commands, or one client's pipeline) gets one record with
 * one entry per command, as a client's own pipeline always did. Nothing is lost: every command is an entry with
 * its operation, key, decision, rules, labels, masked counts and rows, and the record carries the identity they
 * share.
 *
 * Why: at pipeline 1 (each client waits for its reply) the per-command record was about half of what governance
 * costs the proxy's one thread (the record's event, body, HMAC seal and metrics, ~13% of its CPU); grouping makes
 * that cost per turn instead of per command, as twemproxy's server writes are per turn.
 */
import type { Batch } from './slot.js';
import { forEachGroup, type GroupMember } from './subject-groups.js';
import { recordAtTurnEnd, type TurnEndWriter } from './turn-end.js';

/** The session side: whose records may be one, and how a group is recorded. */
export interface BatchRecorder extends GroupMember {
  /**
   * Record `batches` (owned by `owners`, index by index; this recorder is `owners[0]`) as one record, or as the
   * lone command's own record, then let each owner write its batch. Both lists are reused after the call.
   */
  recordBatches(owners: readonly BatchRecorder[], batches: readonly Batch[]): void;
  /** `batch`'s record is kept (or, `err`, could not be kept): the owner writes the batch's replies. */
  recordKept(batch: Batch, err: Error | null): void;
  /** Every record of the turn is appended (called once per turn on one recorder of each listener). */
  recordsAppended(): void;
}

const owners: BatchRecorder[] = [];
const batches: Batch[] = [];
/** Reused for every group (see BatchRecorder.recordBatches). */
const groupOwners: BatchRecorder[] = [];
const groupBatches: Batch[] = [];
/** One recorder per listener of the turn, told when the turn's records are appended. */
const scopes: BatchRecorder[] = [];

const writer: TurnEndWriter = {
  queuedForTurnEnd: false,
  writeAtTurnEnd: recordTurn,
};

/** Queue a completed batch (its identity and role set) for this turn's records. */
export function recordBatchAtTurnEnd(owner: BatchRecorder, batch: Batch): void {
  owners.push(owner);
  batches.push(batch);
  recordAtTurnEnd(writer);
}

function subjectOf(b: Batch): { identity: NonNullable<Batch['identity']>; role: string } {
  return { identity: b.identity!, role: b.role };
}

/** Outcomes share a record only when they follow the same intent record (write-ahead). */
function sameIntent(first: Batch, other: Batch): boolean {
  return first.intent === other.intent;
}

function recordGroup(lead: BatchRecorder, groupOwnersOf: readonly BatchRecorder[], groupBatchesOf: readonly Batch[]): void {
  lead.recordBatches(groupOwnersOf, groupBatchesOf);
}

function recordTurn(): void {
  const n = owners.length;
  try {
    forEachGroup(owners, batches, subjectOf, sameIntent, groupOwners, groupBatches, scopes, recordGroup);
    for (let i = 0; i < scopes.length; i++) scopes[i]!.recordsAppended();
  } finally {
    scopes.length = 0;
    // Batches queued while recording (none today) wait for the next turn's run.
    owners.splice(0, n);
    batches.splice(0, n);
  }
}
