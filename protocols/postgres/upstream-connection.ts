/**
 * One connection from dgf to the upstream PostgreSQL: TLS negotiation by sslmode, startup, authentication with
 * the proxy-held credentials, then raw frames. While a client session owns it, its frames go to the session
 * (which reads them from `decoder` itself); while idle or doing dgf's own work (catalog refresh, storage poll,
 * reset), it runs internal simple queries.
 */
import net from 'node:net';
import tls from 'node:tls';
import { EventEmitter } from 'node:events';
import { serialize } from 'pg-protocol';
import { UpstreamError } from '../../src/errors.js';
import { UpstreamAuth } from './auth/upstream-auth.js';
import { decodeBackend, errorFields, type BackendMessage } from './codec/backend-decode.js';
import { FrameDecoder } from './codec/frame-decoder.js';
import * as fe from './codec/frontend-encoder.js';
import { BackendCode } from './codec/message-codes.js';
import type { TxStatus } from './codec/backend-encoder.js';
import type { UpstreamTarget } from './upstream-target.js';
import { slabReader, type ChunkInbox } from '../shared/slab-reader.js';

const ignoreChunk = (): void => {};

/** Largest backend message accepted from the upstream (PostgreSQL's own limit on a field is 1 GB). */
const MAX_UPSTREAM_MESSAGE = 1024 * 1024 * 1024;

/** Whoever currently owns the connection's output (a client session). */
export interface UpstreamOwner {
  /** New bytes are in `conn.decoder`. */
  onUpstreamReadable(conn: UpstreamConnection): void;
  /** The connection is gone. */
  onUpstreamClosed(conn: UpstreamConnection, error: Error): void;
  /** The connection's write buffer drained (backpressure). */
  onUpstreamDrain(conn: UpstreamConnection): void;
}

/** A session queued behind the owner's work (cross-client pipelining): told when the connection is its turn. */
export interface PipelineFollower extends UpstreamOwner {
  onTurn(conn: UpstreamConnection): void;
}

/** Result of an internal query. */
export interface InternalResult {
  rows: string[][];
  error: { code: string; message: string } | null;
}

let nextId = 1;

export class UpstreamConnection extends EventEmitter {
  readonly id = nextId++;
  readonly decoder = new FrameDecoder(MAX_UPSTREAM_MESSAGE);
  /** ParameterStatus values reported by the server at startup (and kept current). */
  readonly params = new Map<string, string>();
  processId = 0;
  secretKey = 0;
  txStatus: TxStatus = 'I';
  encrypted = false;
  closed = false;
  owner: UpstreamOwner | null = null;
  /**
   * Cross-client pipelining (transaction pooling): sessions whose single read-only autocommit Query was written
   * behind the owner's. Each becomes the owner, in order, when the one before it has read its ReadyForQuery.
   */
  readonly followers: PipelineFollower[] = [];
  /**
   * True while everything in flight on this connection is single read-only autocommit Queries (each leaves the
   * connection as it found it), so another client's such Query may be queued behind them.
   */
  pipelinable = false;
  /** CancelRequests forwarded for this connection so far. */
  cancels = 0;
  /** Server-side prepared statement name -> true once ParseComplete, false while the Parse is in flight. */
  readonly prepared = new Map<string, boolean>();
  /**
   * Server-side statement name -> its RowDescription (or NoData) frame on this connection, once described. A
   * protocol-level statement's result type is fixed for its life (PostgreSQL refuses a changed one with 0A000), so
   * this is what its rows look like for as long as it stays prepared here; dropped whenever the name is re-Parsed.
   */
  readonly described = new Map<string, Buffer>();
  /** The client statement the unnamed statement currently holds (to re-Parse when another one replaced it). */
  unnamed: object | null = null;
  /** Settings dgf applied on this connection (name -> value), relative to a fresh connection. */
  readonly applied = new Map<string, string>();
  /** Set when a DDL statement ran: refresh the catalog before the connection is reused. */
  needsCatalogRefresh = false;
  /** Set when the connection must not be reused (session-only state, broken protocol state). */
  poisoned = false;
  lastUsed = Date.now();
  /**
   * For upstream.replyTimeoutMs: Date.now() of the first write that asks for an answer (Query, Sync, Flush,
   * FunctionCall, CopyDone, CopyFail) since the upstream last sent anything; 0 when none is due.
   */
  private dueSince = 0;
  private lastRead = 0;
  /** Reading paused for the client's backpressure: the silence is the client's, not the upstream's. */
  private paused = false;

  private internal: { resolve(r: InternalResult): void; reject(e: Error): void; rows: string[][]; error: InternalResult['error'] } | null = null;

  /** Where the socket's chunks go: the startup handshake, then `onData`. */
  private reader: (chunk: Buffer) => void = ignoreChunk;

  private constructor(
    private socket: net.Socket,
    readonly database: string,
    inbox: ChunkInbox | null,
  ) {
    super();
    if (inbox) inbox.deliver = (chunk) => this.reader(chunk);
    else socket.on('data', (chunk: Buffer) => this.reader(chunk));
  }

  /** Open, negotiate TLS, authenticate; resolves when the server is ReadyForQuery. */
  static async connect(target: UpstreamTarget, database: string): Promise<UpstreamConnection> {
    // Plain connections read through onread (see slab-reader); a TLS upgrade needs the socket's normal reads.
    const plain = target.sslmode === 'disable' || target.sslmode === 'allow';
    const inbox: ChunkInbox = { deliver: ignoreChunk };
    const raw = net.connect(plain ? { host: target.host, port: target.port, onread: slabReader(inbox) } : { host: target.host, port: target.port });
    raw.setNoDelay(true);
    raw.setKeepAlive(true, 60_000);
    const timer = setTimeout(() => raw.destroy(new UpstreamError(`upstream ${target.host}:${target.port}: connect timeout`, 'UPSTREAM_TIMEOUT')), target.connectTimeoutMs);
    try {
      await new Promise<void>((resolve, reject) => {
        raw.once('connect', resolve);
        raw.once('error', reject);
      });
      let socket: net.Socket = raw;
      let encrypted = false;
      if (target.sslmode !== 'disable' && target.sslmode !== 'allow') {
        const answer = await negotiateSsl(raw);
        if (answer === 'S') {
          socket = await upgradeTls(raw, target);
          encrypted = true;
        } else if (target.sslmode !== 'prefer') {
          throw new UpstreamError(`upstream ${target.host}:${target.port} does not support TLS (sslmode=${target.sslmode})`, 'UPSTREAM_TLS');
        }
      }
      const conn = new UpstreamConnection(socket, database, plain ? inbox : null);
      conn.encrypted = encrypted;
      await conn.startup(target, database);
      return conn;
    } catch (err) {
      raw.destroy();
      throw err instanceof UpstreamError ? err : new UpstreamError(`upstream ${target.host}:${target.port}: ${(err as Error).message}`, 'UPSTREAM_CONNECT', { cause: err });
    } finally {
      clearTimeout(timer);
    }
  }

  private startup(target: UpstreamTarget, database: string): Promise<void> {
    const auth = new UpstreamAuth(target.user, target.password);
    const socket = this.socket;
    return new Promise<void>((resolve, reject) => {
      let done = false;
      const fail = (err: Error): void => {
        if (done) return;
        done = true;
        this.reader = ignoreChunk;
        reject(err);
      };
      const onData = (chunk: Buffer): void => {
        try {
          this.decoder.push(chunk);
          while (!done && this.decoder.next()) {
            const msg = decodeBackend(this.decoder.frame());
            const reply = this.handshake(msg, auth);
            if (reply) socket.write(reply);
            if (msg.name === 'readyForQuery') {
              done = true;
              socket.off('error', fail);
              socket.off('close', onClose);
              this.attach();
              // Anything after ReadyForQuery (unlikely) is handled by the idle path.
              if (this.decoder.buffered > 0) this.drainIdle();
              resolve();
            }
          }
        } catch (err) {
          fail(err as Error);
        }
      };
      const onClose = (): void => fail(new UpstreamError('upstream closed the connection during startup', 'UPSTREAM_CONNECT'));
      this.reader = onData;
      socket.once('error', fail);
      socket.once('close', onClose);
      // negotiateSsl paused the plain socket; a 'data' listener alone does not resume an explicitly paused stream.
      socket.resume();
      socket.write(serialize.startup({ user: target.user, database, ...target.startupParams }));
    });
  }

  private handshake(msg: BackendMessage, auth: UpstreamAuth): Buffer | null {
    const m = msg as BackendMessage & Record<string, unknown>;
    switch (msg.name) {
      case 'authenticationCleartextPassword':
        return auth.cleartext();
      case 'authenticationMD5Password':
        return auth.md5(m.salt as Buffer);
      case 'authenticationSASL':
        return auth.saslStart(m.mechanisms as string[]);
      case 'authenticationSASLContinue':
        return auth.saslContinue(m.data as string);
      case 'authenticationSASLFinal':
        auth.saslFinal(m.data as string);
        return null;
      case 'parameterStatus':
        this.params.set(m.parameterName as string, m.parameterValue as string);
        return null;
      case 'backendKeyData':
        this.processId = m.processID as number;
        this.secretKey = m.secretKey as number;
        return null;
      case 'error': {
        const err = new UpstreamError(`upstream refused the connection: ${String(m.message)}`, 'UPSTREAM_AUTH');
        (err as UpstreamError & { sqlState?: string }).sqlState = m.code as string;
        throw err;
      }
      default:
        return null;
    }
  }

  private attach(): void {
    this.reader = this.onData;
    this.socket.on('drain', this.onDrain);
    this.socket.on('error', this.onError);
    this.socket.on('close', this.onClose);
  }

  private readonly onData = (chunk: Buffer): void => {
    this.dueSince = 0;
    this.lastRead = Date.now();
    this.decoder.push(chunk);
    if (this.owner) this.owner.onUpstreamReadable(this);
    else this.drainIdle();
  };

  private readonly onDrain = (): void => {
    this.owner?.onUpstreamDrain(this);
  };

  private closeError: Error | null = null;

  private readonly onError = (err: Error): void => {
    this.closeError = err;
  };

  private readonly onClose = (): void => {
    if (this.closed) return;
    this.closed = true;
    const err = new UpstreamError(`upstream connection lost${this.closeError ? `: ${this.closeError.message}` : ''}`, 'UPSTREAM_LOST');
    if (this.internal) {
      this.internal.reject(err);
      this.internal = null;
    }
    this.owner?.onUpstreamClosed(this, err);
    for (const f of this.followers.splice(0)) f.onUpstreamClosed(this, err);
    this.emit('close', err);
  };

  write(buf: Buffer): boolean {
    if (this.dueSince === 0 && asksForAnswer(buf)) this.dueSince = Date.now();
    return this.socket.write(buf);
  }

  /**
   * Write frames that waited for their audit records (write-ahead). The sessions whose records one audit batch
   * kept write in the same microtask checkpoint: the socket stays corked until it ends, so the frames of every
   * client queued on this connection (pipelined Queries) leave in one writev. On this 2-vCPU VM each loopback
   * write costs a wakeup and a context switch of the server, most of the proxy's time at 8 clients (perf).
   */
  writeMany(bufs: readonly Buffer[]): boolean {
    if (!this.corkedForTurn) {
      this.corkedForTurn = true;
      this.socket.cork();
      queueMicrotask(this.uncorkTurn);
    }
    let ok = true;
    for (let i = 0; i < bufs.length; i++) ok = this.write(bufs[i]!) && ok;
    return ok;
  }

  private corkedForTurn = false;

  private readonly uncorkTurn = (): void => {
    this.corkedForTurn = false;
    this.socket.uncork();
  };

  pause(): void {
    this.paused = true;
    this.socket.pause();
  }

  resume(): void {
    this.paused = false;
    this.socket.resume();
  }

  /**
   * How long the upstream has kept silent while an answer is due: since a request that asks for one, or since
   * the last bytes when they ended inside a message. 0 when nothing is due or reading is paused. (A hang
   * exactly between two messages of a long result is not seen: the session, not the connection, counts
   * ReadyForQuery.)
   */
  silentForMs(now: number): number {
    if (this.closed || this.paused) return 0;
    if (this.dueSince > 0) return now - this.dueSince;
    if (this.decoder.buffered > 0 && this.lastRead > 0) return now - this.lastRead;
    return 0;
  }

  /** Close a connection whose upstream stopped answering; its owner gets the protocol's error. */
  timedOut(timeoutMs: number): void {
    if (this.closed) return;
    this.poisoned = true;
    this.closeError = new UpstreamError(`no answer within ${timeoutMs} ms (upstream.replyTimeoutMs)`, 'UPSTREAM_TIMEOUT');
    this.socket.destroy();
  }

  /** Frames received while no session owns the connection (dgf's own queries, async notices). */
  private drainIdle(): void {
    try {
      while (this.decoder.next()) {
        const code = this.decoder.code;
        if (this.internal) {
          this.internalFrame(code);
        } else if (code === BackendCode.ErrorResponse) {
          // Unsolicited error while idle: the server is terminating this backend (admin shutdown, idle timeout).
          this.poisoned = true;
          this.destroy();
          return;
        } else if (code === BackendCode.ParameterStatus) {
          this.trackParameterStatus();
        }
      }
    } catch {
      this.poisoned = true;
      this.destroy();
    }
  }

  /** Keep `params` current from a ParameterStatus frame (the current frame of `decoder`). */
  trackParameterStatus(): void {
    const m = decodeBackend(this.decoder.frame()) as BackendMessage & { parameterName: string; parameterValue: string };
    this.params.set(m.parameterName, m.parameterValue);
  }

  private internalFrame(code: number): void {
    const q = this.internal!;
    const d = this.decoder;
    switch (code) {
      case BackendCode.DataRow: {
        const b = d.buffer;
        let p = d.body;
        const n = b.readInt16BE(p);
        p += 2;
        const row: string[] = new Array(n);
        for (let i = 0; i < n; i++) {
          const len = b.readInt32BE(p);
          p += 4;
          if (len < 0) row[i] = '';
          else {
            row[i] = b.toString('utf8', p, p + len);
            p += len;
          }
        }
        q.rows.push(row);
        break;
      }
      case BackendCode.ErrorResponse:
        q.error ??= errorFields(d.frame());
        break;
      case BackendCode.ParameterStatus:
        this.trackParameterStatus();
        break;
      case BackendCode.CopyInResponse:
        // dgf never runs COPY itself; refuse so the server returns to ReadyForQuery.
        this.socket.write(serialize.copyFail('dgf internal query cannot COPY'));
        break;
      case BackendCode.ReadyForQuery:
        this.txStatus = String.fromCharCode(d.buffer[d.body]!) as TxStatus;
        this.internal = null;
        q.resolve({ rows: q.rows, error: q.error });
        break;
      default:
        break;
    }
  }

  /** Run a simple query for dgf itself (the connection must not be owned or busy). Rows come back as text. */
  query(sql: string): Promise<InternalResult> {
    if (this.closed) return Promise.reject(new UpstreamError('upstream connection is closed', 'UPSTREAM_LOST'));
    if (this.internal || this.owner) return Promise.reject(new Error('upstream connection is busy'));
    return new Promise<InternalResult>((resolve, reject) => {
      this.internal = { resolve, reject, rows: [], error: null };
      this.write(fe.query(sql));
    });
  }

  /** Like query() but rejects on an SQL error. */
  async run(sql: string): Promise<string[][]> {
    const r = await this.query(sql);
    if (r.error) throw new UpstreamError(`${r.error.code}: ${r.error.message}`, 'UPSTREAM_QUERY');
    return r.rows;
  }

  /** Close politely (Terminate) or at once. */
  destroy(): void {
    if (!this.socket.destroyed) {
      if (!this.closed && this.socket.writable) this.socket.end(fe.terminate);
      const s = this.socket;
      setTimeout(() => s.destroy(), 1000).unref();
    }
  }

  /** Hand over frames already buffered to a new owner. */
  get hasBuffered(): boolean {
    return this.decoder.buffered > 0;
  }
}

/** Frontend messages after which the server answers (the others wait for a Sync or Flush). */
const ANSWERED = new Set([0x51 /* Q */, 0x53 /* S */, 0x48 /* H */, 0x46 /* F */, 0x63 /* c */, 0x66 /* f */]);

/** Whether `buf` (whole frontend messages, as sessions write them) holds one the server must answer. */
function asksForAnswer(buf: Buffer): boolean {
  let p = 0;
  // A few messages per write: walking their headers is cheaper than a timer per request.
  while (p + 5 <= buf.length) {
    if (ANSWERED.has(buf[p]!)) return true;
    const len = buf.readInt32BE(p + 1);
    if (len < 4) return false;
    p += 1 + len;
  }
  return false;
}

function negotiateSsl(socket: net.Socket): Promise<'S' | 'N'> {
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      socket.off('data', onData);
      socket.off('error', reject);
      socket.pause();
      if (chunk.length !== 1) {
        // Bytes after the answer would be injected into the TLS stream (CVE-2021-23222).
        reject(new UpstreamError('upstream sent unexpected data after the SSL answer', 'UPSTREAM_TLS'));
        return;
      }
      const c = String.fromCharCode(chunk[0]!);
      if (c === 'S' || c === 'N') resolve(c);
      else reject(new UpstreamError(`upstream answered SSLRequest with ${JSON.stringify(c)}`, 'UPSTREAM_TLS'));
    };
    socket.on('data', onData);
    socket.once('error', reject);
    socket.write(fe.sslRequest());
  });
}

function upgradeTls(raw: net.Socket, target: UpstreamTarget): Promise<tls.TLSSocket> {
  const verify = target.sslmode === 'verify-ca' || target.sslmode === 'verify-full';
  return new Promise((resolve, reject) => {
    const s = tls.connect({
      socket: raw,
      ...(target.ca ? { ca: target.ca } : {}),
      rejectUnauthorized: verify,
      ...(net.isIP(target.host) ? {} : { servername: target.host }),
      // verify-ca checks the chain only; verify-full also the host name.
      ...(target.sslmode === 'verify-ca' ? { checkServerIdentity: () => undefined } : {}),
    });
    s.once('secureConnect', () => {
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}
