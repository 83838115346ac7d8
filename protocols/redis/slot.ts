/**
 * A client command's place in its reply order (Slot) and the group of commands read from one socket chunk that
 * are audited as one record (Batch). Replies are held as zero-copy spans of upstream chunks until the batch's
 * audit record is kept (failMode closed), then written in request order.
 */
import { Buffer } from 'node:buffer';
import type { IntentSlot } from '../../src/audit/types.js';
import type { Operation } from '../../src/governance/operation.js';
import { MaskTally } from '../../src/policy/tally.js';
import type { CompiledPolicy, Decision, Identity, OperationKind } from '../../src/policy/types.js';
import type { CommandInfo } from './command-table.js';
import type { MaskTarget } from './reply-masking.js';
import type { ReplyTarget } from './upstream.js';

/** Callbacks a slot reports to (implemented by the session). */
export interface SlotOwner {
  slotReplyBytes(slot: Slot, chunk: Buffer, start: number, end: number): void;
  slotDone(slot: Slot): void;
}

/** What to do with the session's state once this command's reply arrives. */
export const enum After {
  None = 0,
  BlockingDone = 1,
  SelectDone = 2,
}

/**
 * What one command of a pipeline batch contributes to the batch's audit record (its entry): the policy's decision
 * and what masking saw. Lighter than an Operation (no clock, no metrics): the batch record is the Operation.
 */
export class CommandTally extends MaskTally {
  constructor(
    readonly operation: string,
    readonly kind: OperationKind,
    /** The policy's decision; a refusal by the protocol (masked-commands.ts) replaces it with a denial. */
    public decision: Decision,
    labels: readonly string[] | undefined,
  ) {
    super(labels);
  }
}

export class Slot implements ReplyTarget {
  parts: Buffer[] = [];
  size = 0;
  done = false;
  /** Reply must be decoded and passed through the policy before it is written. */
  inspect = false;
  /** The connection was lost or the client went away: bytes are dropped. */
  discard = false;
  rows: number | null = null;
  error: string | null = null;
  sentAt = 0;
  upstreamMs = 0;
  after: After = After.None;
  /** Replace the upstream reply with this (e.g. EXECABORT after a DISCARD sent in EXEC's place). */
  replaceWith: Buffer | null = null;
  target: MaskTarget | null = null;
  /** Whether the reply went to a dedicated connection (release check). */
  dedicated = false;
  /** For a command of a pipeline batch (audited as an entry of the batch record) instead of `op`. */
  tally: CommandTally | null = null;
  /** The statement is just the command and its one key (`GET key:1`): the batch entry leaves it out. */
  plainStatement = false;

  constructor(
    readonly owner: SlotOwner,
    readonly batch: Batch,
    readonly info: CommandInfo | null,
    readonly op: Operation | null,
    readonly statement: string | null,
    readonly objects: readonly string[],
  ) {}

  /** Fill the slot with a reply dgf answers itself. */
  local(reply: Buffer, error: string | null = null): this {
    if (this.parts.length === 0) this.parts = [reply];
    else this.parts.push(reply);
    this.size = reply.length;
    this.error = error;
    this.done = true;
    return this;
  }

  onReplyBytes(chunk: Buffer, start: number, end: number, complete: boolean, receivedAt: number): void {
    if (!this.discard) this.owner.slotReplyBytes(this, chunk, start, end);
    if (complete) {
      this.done = true;
      if (this.sentAt > 0) this.upstreamMs = receivedAt - this.sentAt;
      this.owner.slotDone(this);
    }
  }

  onReplyLost(message: string): void {
    this.parts = [Buffer.from(`-ERR dgf: ${message}\r\n`)];
    this.size = this.parts[0]!.length;
    this.error = message;
    this.inspect = false;
    this.done = true;
    this.owner.slotDone(this);
  }
}

export class Batch {
  readonly slots: Slot[] = [];
  /** Slots whose reply has not arrived. */
  waiting = 0;
  /** All commands of the batch have been dispatched. */
  sealed = false;
  /** Audit done (or not needed): may be written. */
  ready = false;
  written = false;
  /** Close the client after this batch is written (QUIT, protocol error). */
  closeAfter = false;
  /** Read as a lone command: audited by its own Operation (else each command is an entry of one batch record). */
  single = false;
  /** Who the batch's record names, set when its commands are done (a later AUTH or SETNAME does not change it). */
  identity: Identity | null = null;
  role = '';
  /** Who the batch's intent record names, set when it is dispatched (write-ahead, failMode closed). */
  intentIdentity: Identity | null = null;
  intentRole = '';
  /** The intent record the batch's commands went upstream under (null: none, nothing waited for). */
  intent: IntentSlot | null = null;

  constructor(
    readonly policy: CompiledPolicy,
    /** performance.now() when the batch was read: the start of its record's duration. */
    readonly startedAt: number,
  ) {}
}
