/** The audit record of SPEC ("Audit records"), and the audit log's contract. */

import type { Identity } from '../policy/types.js';

/** One entry of a pipeline batch: when a batch is recorded as one record, each statement is listed here. */
export interface AuditEntry {
  operation: string;
  /** Main object touched, e.g. 'public.customers'. */
  object: string | null;
  /** Normalized statement: literals replaced by placeholders; never clear sensitive values. */
  statement: string | null;
  labels: string[];
  /** Label -> number of values masked. */
  masked: Record<string, number>;
  rows: number | null;
  decision: 'allow' | 'deny';
  rules: string[];
  error: string | null;
}

/** What a caller hands to `AuditLog.append`; the log adds v, seq, ts, prev and hash. */
export interface AuditEvent extends AuditEntry {
  listener: string;
  protocol: string;
  identity: Identity;
  role: string;
  duration_ms: number;
  /** Per-statement entries when this record covers a pipeline batch. */
  entries?: AuditEntry[];
  /** Free-form extra facts (e.g. Cosmos RU charge, TLS state), never values. */
  extra?: Record<string, unknown>;
  /**
   * Write-ahead (failMode closed): `intent` is kept before the operation goes upstream (no outcome fields yet);
   * `outcome` follows it and names it by seq in `intent`. Absent on a record that is both (a denial, open mode).
   */
  phase?: 'intent' | 'outcome';
  /** On an outcome record: the seq of its intent record. */
  intent?: number;
}

/** Where the audit log writes the seq of an intent record once it is sealed (0 until then). */
export interface IntentSlot {
  intentSeq: number;
}

/** A record as written: SPEC's JSON line. */
export interface AuditRecord extends AuditEvent {
  v: 1;
  seq: number;
  ts: string;
  prev: string;
  hash: string;
}

/** Whether a statement may run when its audit record cannot be kept. */
export type AuditFailMode = 'closed' | 'open';

/** When a record counts as kept: handed to the operating system (`write`) or on disk (`fsync`). */
export type AuditDurability = 'write' | 'fsync';

/** The audit log all protocols write to. */
export interface AuditLog {
  readonly failMode: AuditFailMode;
  readonly durability: AuditDurability;
  /**
   * Append a record the caller waits for (write-ahead: an intent). With failMode 'closed' the promise resolves
   * once the record is kept by every durable sink (per `durability`) and rejects if it cannot be kept, so the
   * caller does not run the operation; records appended in one event-loop turn share one promise (group commit).
   * With 'open' it resolves at once; a record that cannot be kept is counted as dropped. `slot.intentSeq` is set
   * to the record's seq when it is sealed.
   */
  append(event: AuditEvent, slot?: IntentSlot): Promise<void>;
  /** Append a record nobody waits for (an outcome, a denial answered locally): failures are counted, not thrown. */
  note(event: AuditEvent): void;
  /**
   * The caller appended its records for this event-loop turn from the check phase (after the turn's I/O): with
   * failMode closed, start the group commit now rather than in the next turn, where a setImmediate queued from the
   * check phase would run (after another poll phase).
   */
  appendedAtTurnEnd(): void;
  /** Most recent records (for GET /api/v1/audit), newest last. */
  recent(limit: number, since?: Date): AuditRecord[];
  /** Records waiting to be written. */
  queueDepth(): number;
  /** Write and fsync everything queued, then close the sinks. */
  close(): Promise<void>;
}
