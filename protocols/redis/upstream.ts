/**
 * One connection from dgf to the upstream Redis. It authenticates with dgf's own credentials (`HELLO <2|3> AUTH`
 * from the upstream URL, TLS for rediss://), then carries commands whose replies come back in FIFO order; the
 * reply scanner hands each reply's bytes to the waiter at the head of the queue. RESP3 pushes (pub/sub messages,
 * invalidations) and, in "pipe" mode (RESP2 subscriptions, MONITOR), every frame go to the push handler instead.
 */
import { Buffer } from 'node:buffer';
import { performance } from 'node:perf_hooks';
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { ReplyScanner, type FrameSink } from './codec/reply-scanner.js';
import { command } from './codec/encode.js';
import { decodeFrame, toJs } from './codec/decode.js';
import { RespType } from './codec/resp-types.js';
import { Fifo } from './fifo.js';
import { upstreamWriteAtTurnEnd, type UpstreamTurnWriter } from './turn-end.js';
import { slabReader } from '../shared/slab-reader.js';
import { writeSpans } from '../shared/write-spans.js';
import { DEFAULTS } from '../../src/config/defaults.js';

/** Bytes of one turn waiting for their intent records (write-ahead), with how many replies they expect. */
class OutSegment {
  ready = false;
  constructor(
    readonly spans: Buffer[],
    readonly bytes: number,
    readonly targets: number,
  ) {}
}

/** Where a reply goes. */
export interface ReplyTarget {
  /**
   * Bytes of this target's reply; `complete` on its last span. `receivedAt`: performance.now() when the chunk
   * arrived, read once per chunk (a chunk completes many pipelined replies; a clock read each was ~1% of the CPU).
   */
  onReplyBytes(chunk: Buffer, start: number, end: number, complete: boolean, receivedAt: number): void;
  /** The connection was lost before the reply arrived. */
  onReplyLost(message: string): void;
}

/** Receives frames that are not replies to a queued command (pushes, pipe mode). */
export interface PushHandler {
  onPushBytes(chunk: Buffer, start: number, end: number, complete: boolean): void;
  onUpstreamClosed(conn: UpstreamConnection): void;
}

/** How to reach and log in to the upstream, parsed once from the listener's upstream URL. */
export interface UpstreamEndpoint {
  host: string;
  port: number;
  tls: boolean;
  user: string | null;
  password: string | null;
  db: number;
  ca?: Buffer;
  insecureSkipVerify: boolean;
  clientName: string;
  /** upstream.connectTimeoutMs: TCP, TLS and HELLO must be done within it, else the connection is closed. */
  connectTimeoutMs: number;
  /** upstream.replyTimeoutMs: longest silence of a shared connection with replies due (0: none). */
  replyTimeoutMs: number;
}

export function parseUpstreamUrl(
  url: string,
  opts: { ca?: string; insecureSkipVerify?: boolean; clientName: string; connectTimeoutMs?: number; replyTimeoutMs?: number },
): UpstreamEndpoint {
  const u = new URL(url);
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error(`upstream url must be redis:// or rediss://, got ${u.protocol}`);
  const db = u.pathname && u.pathname !== '/' ? Number(u.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0) throw new Error(`upstream url database "${u.pathname.slice(1)}" is not a number`);
  return {
    host: u.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
    port: Number(u.port || 6379),
    tls: u.protocol === 'rediss:',
    user: u.username ? decodeURIComponent(u.username) : null,
    password: u.password ? decodeURIComponent(u.password) : null,
    db,
    ...(opts.ca ? { ca: readFileSync(opts.ca) } : {}),
    insecureSkipVerify: opts.insecureSkipVerify === true,
    clientName: opts.clientName,
    connectTimeoutMs: opts.connectTimeoutMs ?? DEFAULTS.upstreamConnectTimeoutMs,
    replyTimeoutMs: opts.replyTimeoutMs ?? DEFAULTS.upstreamReplyTimeoutMs,
  };
}

/** What the upstream said about itself in its HELLO reply. */
export interface ServerInfo {
  version: string;
  mode: string;
  role: string;
}

/** Collects one internal reply (handshake, INFO polls). */
class InternalReply implements ReplyTarget {
  private parts: Buffer[] = [];
  readonly promise: Promise<Buffer>;
  private resolve!: (b: Buffer) => void;
  private reject!: (e: Error) => void;
  constructor() {
    this.promise = new Promise((res, rej) => {
      this.resolve = res;
      this.reject = rej;
    });
    // A lost handshake is reported through `ready`; never an unhandled rejection.
    this.promise.catch(() => undefined);
  }
  onReplyBytes(chunk: Buffer, start: number, end: number, complete: boolean): void {
    this.parts.push(chunk.subarray(start, end));
    if (complete) this.resolve(this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts));
  }
  onReplyLost(message: string): void {
    this.reject(new Error(message));
  }
}

let nextId = 0;

export class UpstreamConnection implements FrameSink, UpstreamTurnWriter {
  readonly id = ++nextId;
  readonly socket: net.Socket;
  readonly ready: Promise<ServerInfo>;
  private readonly queue = new Fifo<ReplyTarget>();
  private readonly scanner = new ReplyScanner();
  /** Current frame's destination: 0 = between frames, 1 = queue head, 2 = push handler, 3 = dropped. */
  private route = 0;
  pushHandler: PushHandler | null = null;
  /** Every frame goes to the push handler (RESP2 subscriptions, MONITOR). */
  pipeAll = false;
  /** Held by one client (MULTI/WATCH, blocking, pub/sub, SELECT, tracking) rather than shared. */
  dedicated = false;
  closed = false;
  /**
   * performance.now() of the last sign of life while replies are due: the last chunk read, or the send that made
   * the queue non-empty. The pool's sweep closes a shared connection silent for longer than replyTimeoutMs.
   */
  lastHeard = 0;
  private closeListeners: Array<(conn: UpstreamConnection) => void> = [];

  constructor(
    readonly endpoint: UpstreamEndpoint,
    readonly resp: 2 | 3,
  ) {
    this.socket = endpoint.tls
      ? tls.connect({
          host: endpoint.host,
          port: endpoint.port,
          servername: net.isIP(endpoint.host) ? undefined : endpoint.host,
          rejectUnauthorized: !endpoint.insecureSkipVerify,
          ...(endpoint.ca ? { ca: endpoint.ca } : {}),
        })
      : // Plain connections read through onread into shared slabs (no Readable machinery per read).
        net.connect({ host: endpoint.host, port: endpoint.port, onread: slabReader({ deliver: (chunk) => this.onData(chunk) }) });
    this.socket.setNoDelay(true);
    if (endpoint.tls) this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (err: Error) => this.destroy(`upstream connection error: ${err.message}`));
    this.socket.on('close', () => this.destroy('upstream connection closed'));
    const hello: string[] = ['HELLO', String(resp)];
    if (endpoint.password !== null) hello.push('AUTH', endpoint.user ?? 'default', endpoint.password);
    hello.push('SETNAME', endpoint.clientName);
    const helloReply = this.internal([hello]);
    const select = endpoint.db !== 0 ? this.internal([['SELECT', String(endpoint.db)]]) : null;
    this.ready = (async () => {
      const frame = await helloReply;
      if (frame[0] === RespType.SimpleError || frame[0] === RespType.BulkError) {
        const msg = frame.toString('utf8', 1).trim();
        this.destroy(`upstream refused HELLO: ${msg}`);
        throw new Error(`upstream refused HELLO: ${msg}`);
      }
      if (select) {
        const s = await select;
        if (s[0] === RespType.SimpleError) throw new Error(`upstream refused SELECT: ${s.toString('utf8', 1).trim()}`);
      }
      const fields = toJs(frame, decodeFrame(frame)) as unknown[];
      const info: Record<string, unknown> = {};
      if (Array.isArray(fields) && Array.isArray(fields[0])) for (const [k, v] of fields as Array<[string, unknown]>) info[k] = v;
      else for (let i = 0; i + 1 < fields.length; i += 2) info[String(fields[i])] = fields[i + 1];
      return { version: String(info['version'] ?? '7.0.0'), mode: String(info['mode'] ?? 'standalone'), role: String(info['role'] ?? 'master') };
    })();
    this.ready.catch(() => undefined);
    // A server that accepts and never finishes HELLO (hung, half an answer) must not hold clients forever.
    const connectTimer = setTimeout(
      () => this.destroy(`upstream ${endpoint.host}:${endpoint.port} did not complete the connection within ${endpoint.connectTimeoutMs} ms (upstream.connectTimeoutMs)`),
      endpoint.connectTimeoutMs,
    );
    connectTimer.unref();
    this.ready.then(
      () => clearTimeout(connectTimer),
      () => clearTimeout(connectTimer),
    );
  }

  /** Replies still expected. */
  get pending(): number {
    return this.queue.length;
  }

  onClose(listener: (conn: UpstreamConnection) => void): void {
    this.closeListeners.push(listener);
  }

  /** Send a command's bytes; `target` receives its reply (null: the command has no reply of its own). */
  send(data: Buffer | readonly Buffer[], target: ReplyTarget | null): boolean {
    if (this.closed) {
      target?.onReplyLost('upstream connection closed');
      return false;
    }
    if (target) {
      if (this.queue.length === 0) this.lastHeard = performance.now();
      this.queue.push(target);
      this.outTargets++;
    }
    // Coalesce: every command written during this turn of the event loop (from every client sharing the
    // connection) leaves in one write when the loop reaches its check phase, as twemproxy batches its writes.
    if (data instanceof Uint8Array) {
      this.out.push(data);
      this.outBytes += data.length;
    } else {
      for (const b of data) {
        this.out.push(b);
        this.outBytes += b.length;
      }
    }
    upstreamWriteAtTurnEnd(this);
    return !this.socket.writableNeedDrain;
  }

  private out: Buffer[] = [];
  private outBytes = 0;
  /** Reply targets queued with the bytes in `out`. */
  private outTargets = 0;
  queuedForTurnEnd = false;
  /** Write-ahead: earlier turns' bytes cut at their turn's end, in order, written once their intents are kept. */
  private segments: OutSegment[] = [];

  /** Every command sent during the turn, in one write (turn-end.ts). */
  writeAtTurnEnd(): void {
    // Behind bytes still waiting for their audit records: wait in line, so the replies keep their order.
    if (this.segments.length > 0) {
      this.cutAtTurnEnd().ready = true;
      return;
    }
    const out = this.out;
    const bytes = this.outBytes;
    this.out = [];
    this.outBytes = 0;
    this.outTargets = 0;
    if (!this.closed) writeSpans(this.socket, out, bytes, 256 * 1024);
  }

  cutAtTurnEnd(): OutSegment {
    const segment = new OutSegment(this.out, this.outBytes, this.outTargets);
    this.out = [];
    this.outBytes = 0;
    this.outTargets = 0;
    this.segments.push(segment);
    return segment;
  }

  writeSegment(segment: object): void {
    (segment as OutSegment).ready = true;
    while (this.segments.length > 0 && this.segments[0]!.ready) {
      const s = this.segments.shift()!;
      if (!this.closed) writeSpans(this.socket, s.spans, s.bytes, 256 * 1024);
    }
  }

  /**
   * The turn's intent records could not be kept: these commands must not reach Redis. Their replies are answered
   * as lost; when later bytes already queue behind them (the targets are not the queue's last), the connection is
   * closed instead, which fails every waiter.
   */
  dropSegment(segment: object, err: Error): void {
    const s = segment as OutSegment;
    const i = this.segments.indexOf(s);
    if (i < 0) return;
    if (i === this.segments.length - 1 && this.outTargets === 0) {
      this.segments.pop();
      const lost: ReplyTarget[] = [];
      for (let k = 0; k < s.targets; k++) lost.push(this.queue.pop()!);
      const why = `audit record could not be kept, the command was not run (${err.message})`;
      for (let k = lost.length - 1; k >= 0; k--) lost[k]!.onReplyLost(why);
      return;
    }
    this.segments.length = 0;
    this.destroy(`audit record could not be kept: ${err.message}`);
  }

  /** Send an internal command (not from a client) and get its reply frame. */
  internal(commands: string[][]): Promise<Buffer> {
    let last: InternalReply | null = null;
    for (const args of commands) {
      last = new InternalReply();
      this.send(command(args), last);
    }
    return last!.promise;
  }

  private receivedAt = 0;

  private onData(chunk: Buffer): void {
    this.receivedAt = this.lastHeard = performance.now();
    try {
      this.scanner.push(chunk, this);
    } catch (err) {
      this.destroy(`upstream sent a malformed reply: ${(err as Error).message}`);
    }
  }

  onFrameBytes(chunk: Buffer, start: number, end: number, complete: boolean): void {
    if (this.route === 0) {
      // In pipe mode only internal replies (the handshake, sent first) are still queued; they come first.
      if ((this.pipeAll && this.queue.length === 0) || (this.resp === 3 && chunk[start] === RespType.Push)) {
        this.route = this.pushHandler ? 2 : 3;
      }
      else if (this.queue.length > 0) this.route = 1;
      else {
        this.destroy('upstream sent a reply nobody asked for');
        return;
      }
    }
    if (this.route === 1) {
      const target = complete ? this.queue.shift()! : this.queue.peek()!;
      if (complete) this.route = 0;
      target.onReplyBytes(chunk, start, end, complete, this.receivedAt);
      return;
    }
    const route = this.route;
    if (complete) this.route = 0;
    if (route === 2) this.pushHandler?.onPushBytes(chunk, start, end, complete);
  }

  /** Close the connection; waiters are told their reply is lost. */
  destroy(reason = 'upstream connection closed'): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
    for (const t of this.queue.drain()) t.onReplyLost(reason);
    const handler = this.pushHandler;
    this.pushHandler = null;
    handler?.onUpstreamClosed(this);
    for (const l of this.closeListeners) l(this);
  }
}
