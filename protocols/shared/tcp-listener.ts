/**
 * A TCP listener that tracks its client sockets so it can drain them on shutdown. Shared by every
 * protocol; TLS upgrade (Postgres SSLRequest) is the protocol's business, TLS-from-the-first-byte listeners
 * (Redis rediss, HTTPS) pass `tls`.
 */
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import type { TlsConfig } from '../../src/config/types.js';
import { pooledReader, type ChunkInbox } from './slab-reader.js';

/** Split 'host:port' ('[::1]:6432' too). */
export function parseHostPort(listen: string): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(listen);
  if (!m) throw new Error(`listen address "${listen}" is not host:port`);
  return { host: m[1] || '127.0.0.1', port: Number(m[2]) };
}

/** The listener's cert/key/ca files, read once, as TLS options. */
export function serverTlsOptions(config: TlsConfig): tls.SecureContextOptions {
  return {
    cert: readFileSync(config.cert),
    key: readFileSync(config.key),
    ...(config.ca ? { ca: readFileSync(config.ca) } : {}),
  };
}

/** Build a TLS context from the listener's cert/key files (for upgrades such as Postgres SSLRequest). */
export function createServerTlsContext(config: TlsConfig): tls.SecureContext {
  return tls.createSecureContext(serverTlsOptions(config));
}

/** Options of a TcpListener. */
export interface TcpListenerOptions {
  /** TLS from the first byte (rediss, HTTPS). Default: plain TCP. */
  tls?: TlsConfig;
  /**
   * Plain sockets read through `pooledReader` (slab-reader.ts) instead of 'data' events: the connection
   * callback then gets a ChunkInbox whose `deliver` it must set before it returns. Ignored with `tls`.
   * Default false.
   */
  pooledReads?: boolean;
}

/** Called for each accepted client; `reads` is the inbox to read from when the listener has pooled reads. */
export type ConnectionHandler = (socket: net.Socket, reads: ChunkInbox | null) => void;

/** Node's private socket fields that `withPooledReads` moves from one socket object to another. */
interface SocketInternals {
  _handle?: object | null;
  _server?: net.Server | null;
  server?: net.Server | null;
}

/** The inbox's placeholder until the handler sets `deliver`; a socket whose handler did not is closed. */
function noDelivery(): void {}

/**
 * The accepted connection as a socket that reads through `pooledReader`, or null where this Node does not
 * expose what that needs (the caller then keeps the accepted socket and its 'data' events).
 *
 * Why this way: net.Server creates the sockets it accepts itself and cannot pass `onread` to them. The server is
 * created with `pauseOnConnect`, so the accepted socket has not started reading; its libuv handle is taken over
 * by a socket created with `onread`, which also takes over the server's bookkeeping (its connection count is
 * decremented by whichever socket object is destroyed with `_server` set: only the new one is).
 */
function withPooledReads(accepted: net.Socket, inbox: ChunkInbox): net.Socket | null {
  const old = accepted as unknown as SocketInternals;
  const handle = old._handle;
  if (!handle || typeof handle !== 'object' || !('readStart' in handle)) return null;
  const server = old._server ?? null;
  old._handle = null;
  old._server = null;
  old.server = null;
  const options = { handle, onread: pooledReader(inbox), readable: true, writable: true };
  const socket = new net.Socket(options as net.SocketConstructorOpts);
  const taken = socket as unknown as SocketInternals;
  taken._server = server;
  taken.server = server;
  return socket;
}

export class TcpListener {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private bound: { host: string; port: number } | null = null;

  constructor(
    private readonly listen: string,
    onConnection: ConnectionHandler,
    options: TcpListenerOptions = {},
  ) {
    const track = (socket: net.Socket, reads: ChunkInbox | null): void => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      // Latency over throughput: proxies forward small request/response frames.
      socket.setNoDelay(true);
      onConnection(socket, reads);
    };
    if (options.tls) {
      // tls.createServer ignores a `secureContext` option: the key material must be passed directly.
      this.server = tls.createServer(serverTlsOptions(options.tls), (socket) => track(socket, null));
    } else if (options.pooledReads) {
      this.server = net.createServer({ pauseOnConnect: true }, (accepted) => {
        const inbox: ChunkInbox = { deliver: noDelivery };
        const socket = withPooledReads(accepted, inbox);
        if (socket) {
          track(socket, inbox);
          if (inbox.deliver === noDelivery) socket.destroy();
        } else {
          accepted.resume();
          track(accepted, null);
        }
      });
    } else {
      this.server = net.createServer((socket) => track(socket, null));
    }
    this.server.maxConnections = 100_000;
  }

  async start(): Promise<{ host: string; port: number }> {
    this.bound = await listenOn(this.server, this.listen);
    return this.bound;
  }

  get address(): { host: string; port: number } {
    if (!this.bound) throw new Error('listener not started');
    return this.bound;
  }

  get connectionCount(): number {
    return this.sockets.size;
  }

  /**
   * Stop accepting; wait up to `drainMs` for clients to leave on their own (the protocol closes idle ones),
   * then destroy what is left.
   */
  async close(drainMs = 5000, closeIdle?: () => void): Promise<void> {
    await drainAndClose(this.server, this.sockets, drainMs, closeIdle);
  }
}

/** Bind `server` to a host:port listen address; resolves with the bound address (port 0 becomes the real port). */
export async function listenOn(server: net.Server, listen: string): Promise<{ host: string; port: number }> {
  const { host, port } = parseHostPort(listen);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port, backlog: 4096 }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as net.AddressInfo;
  return { host: addr.address, port: addr.port };
}

/**
 * Stop accepting; let `closeIdle` end idle clients; wait up to `drainMs` for the rest to leave on their own,
 * then destroy what is left and wait until every socket is really closed.
 */
export async function drainAndClose(server: net.Server, sockets: Set<net.Socket>, drainMs: number, closeIdle?: () => void): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  closeIdle?.();
  const deadline = Date.now() + drainMs;
  while (sockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const gone = [...sockets].map(
    (s) =>
      new Promise<void>((resolve) => {
        s.once('close', () => resolve());
        s.destroy();
      }),
  );
  await Promise.all(gone);
  await closed;
}
