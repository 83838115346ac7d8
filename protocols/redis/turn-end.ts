/**
 * The Redis proxy's writes, made at the end of each event-loop turn (check phase) in a fixed order: first the
 * commands read during the turn go upstream (one write per upstream connection, as twemproxy batches its server
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

const upstreams: TurnEndWriter[] = [];
const records: TurnEndWriter[] = [];
const clients: TurnEndWriter[] = [];
let scheduled = false;

/** Queue an upstream connection's write for the end of this turn. */
export function upstreamWriteAtTurnEnd(writer: TurnEndWriter): void {
  queue(upstreams, writer);
}

/** Queue audit records for the end of this turn (after the upstream writes, before the client writes). */
export function recordAtTurnEnd(writer: TurnEndWriter): void {
  queue(records, writer);
}

/** Queue a client's write for the end of this turn (after every upstream write). */
export function clientWriteAtTurnEnd(writer: TurnEndWriter): void {
  queue(clients, writer);
}

function queue(list: TurnEndWriter[], writer: TurnEndWriter): void {
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
  drain(upstreams);
  // Records first: a client whose reply waited for its record is queued by the records' writer, and written below.
  drain(records);
  drain(clients);
}

/** Call the writers queued so far; any queued while this runs stay for the next turn. */
function drain(list: TurnEndWriter[]): void {
  const n = list.length;
  if (n === 0) return;
  for (let i = 0; i < n; i++) {
    const w = list[i]!;
    w.queuedForTurnEnd = false;
    w.writeAtTurnEnd();
  }
  list.splice(0, n);
}
