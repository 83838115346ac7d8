/**
 * Backpressure test tools: a raw client socket that stops reading (then takes one byte a second), the rate of
 * other clients' requests, and the process's peak RSS (dgf runs in the test process).
 */
import net from 'node:net';

/** A raw TCP client with a small read buffer; `readOnly(pattern)` waits for bytes while it still reads normally. */
export class SlowSocket {
  readonly socket: net.Socket;
  private buf = Buffer.alloc(0);
  private waiters: Array<() => void> = [];
  closed = false;
  /** Bytes taken by the one-byte-a-second trickle. */
  trickled = 0;
  private trickleTimer: NodeJS.Timeout | null = null;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w();
    });
    socket.on('data', this.onData);
  }

  static async connect(port: number): Promise<SlowSocket> {
    const socket = net.connect({ port, host: '127.0.0.1', readableHighWaterMark: 1024 } as net.NetConnectOpts);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new SlowSocket(socket);
  }

  private readonly onData = (d: Buffer): void => {
    this.buf = Buffer.concat([this.buf, d]);
    for (const w of this.waiters.splice(0)) w();
  };

  /** Reads (normally) until `until(buffer)` holds; returns and clears the buffer. */
  async readUntil(until: (b: Buffer) => boolean, timeoutMs = 10_000): Promise<Buffer> {
    const t0 = Date.now();
    while (!until(this.buf)) {
      if (this.closed) throw new Error(`closed while waiting; got ${JSON.stringify(this.buf.toString('latin1').slice(0, 200))}`);
      if (Date.now() - t0 > timeoutMs) throw new Error(`timed out; got ${JSON.stringify(this.buf.toString('latin1').slice(0, 200))}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 100).unref();
      });
    }
    const out = this.buf;
    this.buf = Buffer.alloc(0);
    return out;
  }

  write(b: Buffer | string): void {
    this.socket.write(b);
  }

  /** Stop reading; from now on take one byte a second. */
  becomeSlow(): void {
    this.socket.off('data', this.onData);
    this.socket.pause();
    this.trickleTimer = setInterval(() => {
      const b = this.socket.read(1) as Buffer | null;
      if (b) this.trickled += b.length;
    }, 1000);
  }

  /** Read everything from now on as fast as it comes; returns what arrives until the socket closes or `ms` pass. */
  async drain(ms: number): Promise<Buffer> {
    if (this.trickleTimer) clearInterval(this.trickleTimer);
    const parts: Buffer[] = [];
    let total = 0;
    const keepTail = 1 << 20;
    this.socket.on('data', (d: Buffer) => {
      // Keep only the last MiB: the interesting part (an error) comes last.
      parts.push(d);
      total += d.length;
      while (parts.length > 1 && total - parts[0]!.length > keepTail) total -= parts.shift()!.length;
    });
    this.socket.resume();
    await new Promise<void>((r) => {
      if (this.closed) r();
      this.socket.once('close', () => r());
      setTimeout(r, ms).unref();
    });
    return Buffer.concat(parts);
  }

  destroy(): void {
    if (this.trickleTimer) clearInterval(this.trickleTimer);
    this.socket.destroy();
  }
}

/** Peak RSS of this process (dgf runs in it) while sampling. */
export class RssSampler {
  readonly baseline = process.memoryUsage().rss;
  peak = this.baseline;
  private readonly timer = setInterval(() => {
    this.peak = Math.max(this.peak, process.memoryUsage().rss);
  }, 50);

  /** Growth over the baseline, in MB. */
  get growthMb(): number {
    return (this.peak - this.baseline) / 1024 / 1024;
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

/** Requests per second that `workers` loops of `op` complete in `ms`. */
export async function rate(op: () => Promise<unknown>, ms: number, workers = 2): Promise<number> {
  let done = 0;
  const until = Date.now() + ms;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (Date.now() < until) {
        await op();
        done++;
      }
    }),
  );
  return done / (ms / 1000);
}

export const mb = (n: number): string => `${n.toFixed(1)} MB`;
