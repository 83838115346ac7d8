/** Shared setup of the Redis integration tests: a dgf with one Redis listener in front of the Redis 7 on 56379. */
import net from 'node:net';
import { Redis, type RedisOptions } from 'ioredis';
import { startDgf, type TestDgf } from '../../helpers/dgf.js';
import { ReplyScanner } from '../../../protocols/redis/codec/reply-scanner.js';
import { decodeFrame, toJs } from '../../../protocols/redis/codec/decode.js';

export const UPSTREAM_PORT = 56379;
export const PASSWORD = 'pw-redis-test';
export const USERS = ['analyst', 'dpo', 'admin', 'service', 'app'];

export const ROLES = [
  { match: { user: 'analyst' }, role: 'analyst' },
  { match: { user: 'dpo' }, role: 'dpo' },
  { match: { user: 'admin' }, role: 'admin' },
  { match: { user: 'service' }, role: 'service' },
];

/**
 * The free tier's quota with room for memory: the Redis on 56379 is shared by the test files running at once (one
 * holds a 20 MB list) and by other suites and benchmarks, so its used_memory can pass 30 MB and turn another file's
 * writes into -OOM. The memory quota itself is tested on a listener of its own (commands.test.ts).
 */
export const TEST_QUOTA = { preset: 'redis-cloud-free', limits: { memoryBytes: 1024 * 1024 * 1024 } };

/** Start dgf with one redis listener `cache`; `listener` overrides listener fields, `options` its options. */
export async function startRedisDgf(
  listener: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
): Promise<{ dgf: TestDgf; port: number }> {
  const dgf = await startDgf({
    roles: ROLES,
    listeners: [
      {
        name: 'cache',
        protocol: 'redis',
        listen: '127.0.0.1:0',
        upstream: { url: `redis://127.0.0.1:${UPSTREAM_PORT}` },
        users: USERS.map((name) => ({ name, password: PASSWORD })),
        quota: TEST_QUOTA,
        ...listener,
      },
    ],
    ...extra,
  });
  return { dgf, port: dgf.listener((listener['name'] as string | undefined) ?? 'cache').address.port };
}

/** An ioredis client logged in to dgf as `user`. */
export function client(port: number, user: string, options: Partial<RedisOptions> = {}): Redis {
  const r = new Redis({ port, host: '127.0.0.1', username: user, password: PASSWORD, maxRetriesPerRequest: 0, ...options });
  r.on('error', () => undefined);
  return r;
}

/** A client straight to the upstream Redis (to seed data and check what really happened). */
export function direct(): Redis {
  const r = new Redis({ port: UPSTREAM_PORT, host: '127.0.0.1', maxRetriesPerRequest: 0 });
  r.on('error', () => undefined);
  return r;
}

/** A raw TCP connection speaking bytes, returning decoded reply frames. */
export class RawClient {
  readonly socket: net.Socket;
  private readonly scanner = new ReplyScanner();
  private parts: Buffer[] = [];
  readonly frames: Buffer[] = [];
  private waiters: Array<() => void> = [];
  closed = false;
  bytesIn = 0;

  private constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.on('data', (chunk: Buffer) => {
      this.bytesIn += chunk.length;
      this.scanner.push(chunk, {
        onFrameBytes: (c, s, e, complete) => {
          this.parts.push(c.subarray(s, e));
          if (complete) {
            this.frames.push(Buffer.concat(this.parts));
            this.parts = [];
          }
        },
      });
      this.wake();
    });
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  static async connect(port: number): Promise<RawClient> {
    const c = new RawClient(port);
    await new Promise((r) => c.socket.once('connect', r));
    return c;
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Wait for `n` frames in total (or the close), with a timeout. */
  async waitFrames(n: number, ms = 5000): Promise<unknown[]> {
    const deadline = Date.now() + ms;
    while (this.frames.length < n && !this.closed && Date.now() < deadline) {
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
    return this.frames.map((f) => toJs(f, decodeFrame(f)));
  }

  async waitClose(ms = 5000): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    return this.closed;
  }

  close(): void {
    this.socket.destroy();
  }
}

export function resp(...args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}

/** Upstream connections dgf holds (named dgf-<listener> by its HELLO SETNAME). */
export async function upstreamConnections(d: Redis, listener = 'cache'): Promise<number> {
  const list = (await d.call('CLIENT', 'LIST')) as string;
  return list.split('\n').filter((l) => l.includes(` name=dgf-${listener} `)).length;
}
