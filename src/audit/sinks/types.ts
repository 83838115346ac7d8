/** What the audit log needs of a sink. */

/** Where the chain stands: the last record a sink holds. */
export interface ChainHead {
  seq: number;
  hash: string;
}

/** A destination for audit lines. The log hands every sink the same batches, in order. */
export interface AuditSink {
  /** Label value for `dgf_audit_records_total{sink}`, e.g. `file:./audit/audit.jsonl` or `stdout`. */
  readonly name: string;
  /** Durable sinks count for "kept": with failMode closed a record is kept once every durable sink holds it. */
  readonly durable: boolean;
  /** Prepare (open files, repair a torn tail) and return the last record held, if any, so the chain can continue. */
  open(): Promise<ChainHead | null>;
  /**
   * Write one batch (`count` complete lines). Durable sinks resolve after the data is on disk and reject if it
   * is not; on failure they leave no partial line behind. The log reuses `data`'s memory once the promise
   * settles: a sink that hands the bytes on asynchronously must copy them.
   */
  write(data: Buffer, count: number, firstSeq: number): Promise<void>;
  /**
   * Hand one batch to the operating system now (durability write); throws if it could not, leaving no partial
   * line behind. The sink makes it durable on its own schedule (`sync`). Sinks without it are written with `write`.
   */
  writeNow?(data: Buffer, count: number, firstSeq: number): void;
  /** Make everything handed over so far durable (fdatasync). */
  sync?(): Promise<void>;
  /** Flush and release resources. */
  close(): Promise<void>;
}

/** Minimal logger the audit code warns through (pino-compatible). */
export interface AuditLogger {
  warn(o: object, msg?: string): void;
  error(o: object, msg?: string): void;
}
