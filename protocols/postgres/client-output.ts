/**
 * Bytes going to one client, in order, with "gates": a CommandComplete may only leave once its audit record is
 * kept (failMode closed), but the upstream connection should not wait for that. So a gate holds back everything
 * written after it until its promise settles, while the session keeps reading the upstream (and can release
 * the connection at ReadyForQuery). Ungated writes go straight to the socket, corked per upstream chunk.
 */
import type net from 'node:net';

interface Gate {
  settled: Buffer | null;
}

export class ClientOutput {
  private readonly items: Array<Buffer | Gate> = [];
  private gates = 0;
  private corked = false;
  /** False after the socket reported a full buffer; the session pauses the upstream until 'drain'. */
  writable = true;

  constructor(private socket: net.Socket) {}

  /** Swap the socket after a TLS upgrade. */
  setSocket(socket: net.Socket): void {
    this.uncork();
    this.socket = socket;
  }

  write(buf: Buffer): void {
    if (this.gates > 0) {
      this.items.push(buf);
      return;
    }
    if (!this.socket.write(buf)) this.writable = false;
  }

  /** Batch the writes of one upstream chunk into one writev (the caller uncorks when done with the chunk). */
  cork(): void {
    if (this.corked) return;
    this.corked = true;
    this.socket.cork();
  }

  uncork(): void {
    if (!this.corked) return;
    this.corked = false;
    this.socket.uncork();
  }

  /** Hold later writes until `promise` settles; then send `ok` or `fail(err)` in the gate's place. */
  gate(promise: Promise<void>, ok: Buffer | null, fail: (err: unknown) => Buffer | null): void {
    const g: Gate = { settled: null };
    this.items.push(g);
    this.gates++;
    promise.then(
      () => this.settle(g, ok),
      (err: unknown) => this.settle(g, fail(err)),
    );
  }

  private settle(g: Gate, buf: Buffer | null): void {
    g.settled = buf ?? EMPTY;
    // Flush from the front up to the first unsettled gate.
    let i = 0;
    const items = this.items;
    while (i < items.length) {
      const it = items[i]!;
      if (Buffer.isBuffer(it)) {
        i++;
        continue;
      }
      if (it.settled === null) break;
      items[i] = it.settled;
      this.gates--;
      i++;
    }
    let n = 0;
    while (n < items.length && Buffer.isBuffer(items[n])) n++;
    if (n === 0) return;
    const out = items.splice(0, n) as Buffer[];
    const saved = this.gates;
    this.gates = 0;
    this.cork();
    for (const b of out) if (b.length > 0) this.write(b);
    this.uncork();
    this.gates = saved;
  }

  /** True while some output waits for a gate. */
  get held(): boolean {
    return this.gates > 0;
  }
}

const EMPTY = Buffer.alloc(0);
