/**
 * A TCP listener that tracks its client sockets so it can drain them on shutdown. Shared by every
 * protocol; TLS upgrade (Postgres SSLRequest) is the protocol's business, TLS-from-the-first-byte listeners
 * (Redis rediss, HTTPS) pass `tls`.
 */
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import type { TlsConfig } from '../../src/config/types.js';

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

export class TcpListener {
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private bound: { host: string; port: number } | null = null;

  constructor(
    private readonly listen: string,
    onConnection: (socket: net.Socket) => void,
    options: { tls?: TlsConfig } = {},
  ) {
    const track = (socket: net.Socket): void => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      // Latency over throughput: proxies forward small request/response frames.
      socket.setNoDelay(true);
      onConnection(socket);
    };
    this.server = options.tls
      ? // tls.createServer ignores a `secureContext` option: the key material must be passed directly.
        tls.createServer(serverTlsOptions(options.tls), track)
      : net.createServer(track);
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
