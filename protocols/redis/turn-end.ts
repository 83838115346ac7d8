/**
 * The Redis proxy's writes, made at the end of each event-loop turn (check phase) in a fixed order: first, with
 * failMode closed, the intent records of the commands read during the turn are appended and kept (write-ahead,
 * turn-intents.ts); then those commands go upstream (one write per upstream connection, as twemproxy batches its server
 * writes), then the audit records of the commands completed during the turn are appended (turn-records.ts), then
 * the replies go to their clients (one pass, as twemproxy writes its writable clients).
 *
 * Why this order: at pipeline 1 the proxy's one thread is nearly always busy, and every microsecond Redis waits for
 * its next batch is lost. Sending upstream first lets Redis work on the next batch while the proxy writes the
 * replies; with one setImmediate per writer, the order was whichever was scheduled first in the turn.
 */

/** Something with bytes to write at the end of the turn. */
export interface TurnEndWriter {
  /** Set while queued here (so a writer is queued once a turn); cleared before `writeAtTurnEnd` is called. */
  queuedForTurnEnd: boolean;
  writeAtTurnEnd(): void;
}

/**
 * An upstream connection's side of write-ahead: the bytes queued in this turn are cut into a segment that waits
 * for the turn's intent records, then written (in order with earlier segments) or dropped.
 */
export interface UpstreamTurnWriter extends TurnEndWriter {
  cutAtTurnEnd(): object;
  writeSegment(segment: object): void;
  dropSegment(segment: object, err: Error): void;
}

/** Appends the turn's intent records; returns the promise the upstream writes wait for (null: none). */
export interface IntentWriter {
  queuedForTurnEnd: boolean;
  appendIntents(): Promise<void> | null;
}

const intents: IntentWriter[] = [];
const upstreams: UpstreamTurnWriter[] = [];
const records: TurnEndWriter[] = [];
const clients: TurnEndWriter[] = [];
let scheduled = false;

/** Queue an upstream connection's write for the end of this turn. */
export function upstreamWriteAtTurnEnd(writer: UpstreamTurnWriter): void {
  queue(upstreams, writer);
}

/** Queue the turn's intent records (write-ahead), appended before any upstream write. */
export function intentsAtTurnEnd(writer: IntentWriter): void {
  queue(intents, writer);
}

/** Queue audit records for the end of this turn (after the upstream writes, before the client writes). */
export function recordAtTurnEnd(writer: TurnEndWriter): void {
  queue(records, writer);
}

/** Queue a client's write for the end of this turn (after every upstream write). */
export function clientWriteAtTurnEnd(writer: TurnEndWriter): void {
  queue(clients, writer);
}

function queue<W extends { queuedForTurnEnd: boolean }>(list: W[], writer: W): void {
  if (writer.queuedForTurnEnd) return;
  writer.queuedForTurnEnd = true;
  list.push(writer);
  if (!scheduled) {
    scheduled = true;
    setImmediate(runTurnEnd);
  }
}

function runTurnEnd(): void {
  // Cleared first: a writer queued while the lists are drained schedules the next turn's run through `queue`.
  scheduled = false;
  const kept = intents.length > 0 ? appendIntents() : null;
  if (kept === null) {
    drain(upstreams);
    afterUpstreams();
    return;
  }
  // Write-ahead: the commands of this turn leave once their intent records are kept (in this turn with durability
  // write: the audit log writes synchronously, and this promise settles in the microtasks right after).
  const n = upstreams.length;
  const writers = upstreams.splice(0, n);
  const segments: object[] = new Array<object>(n);
  for (let i = 0; i < n; i++) {
    const w = writers[i]!;
    w.queuedForTurnEnd = false;
    segments[i] = w.cutAtTurnEnd();
  }
  kept.then(
    () => {
      for (let i = 0; i < n; i++) writers[i]!.writeSegment(segments[i]!);
      afterUpstreams();
    },
    (err: Error) => {
      for (let i = 0; i < n; i++) writers[i]!.dropSegment(segments[i]!, err);
      afterUpstreams();
    },
  );
}

function afterUpstreams(): void {
  // Records first: a client whose reply waited for its record is queued by the records' writer, and written below.
  drain(records);
  drain(clients);
}

function appendIntents(): Promise<void> | null {
  const n = intents.length;
  let kept: Promise<void> | null = null;
  for (let i = 0; i < n; i++) {
    const w = intents[i]!;
    w.queuedForTurnEnd = false;
    const p = w.appendIntents();
    if (p !== null) kept = kept === null ? p : Promise.all([kept, p]).then(nothing);
  }
  intents.splice(0, n);
  return kept;
}

function nothing(): void {}

/** Call the writers queued so far; any queued while this runs stay for the next turn. */
function drain(list: Array<TurnEndWriter>): void {
  const n = list.length;
  if (n === 0) return;
  for (let i = 0; i < n; i++) {
    const w = list[i]!;
    w.queuedForTurnEnd = false;
    w.writeAtTurnEnd();
  }
  list.splice(0, n);
}
