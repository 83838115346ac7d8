/**
 * The stdout sink: one JSON line per record on standard output (for log shippers). Not durable: it never
 * decides whether a record is kept, and failMode closed never waits for it beyond handing over the bytes.
 */
import type { AuditSink, ChainHead } from './types.js';

/** Anything with a Node-style `write`; defaults to process.stdout. */
export interface LineWriter {
  write(chunk: Uint8Array | string, cb?: (err?: Error | null) => void): boolean;
}

export class StdoutSink implements AuditSink {
  readonly name = 'stdout';
  readonly durable = false;
  private failed: Error | null = null;

  constructor(private readonly out: LineWriter = process.stdout) {}

  async open(): Promise<ChainHead | null> {
    return null;
  }

  writeNow(data: Buffer): void {
    if (this.failed) {
      const e = this.failed;
      this.failed = null;
      throw e;
    }
    // Copy: the log reuses the batch buffer at once.
    this.out.write(Buffer.from(data), (err) => {
      if (err) this.failed = err;
    });
  }

  write(data: Buffer): Promise<void> {
    try {
      this.writeNow(data);
    } catch (e) {
      return Promise.reject(e);
    }
    return Promise.resolve();
  }

  async close(): Promise<void> {}
}
