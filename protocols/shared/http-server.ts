/**
 * The HTTP(S) server side shared by the HTTP protocols (Cosmos DB, Blob Storage): Node's http server with
 * hard limits, so one client's garbage (a non-HTTP byte stream, a 100 MB header, a request that never ends)
 * costs that client its connection and nobody else anything.
 */
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import type { TlsConfig } from '../../src/config/types.js';
import { readFileSync } from 'node:fs';
import { listenOn } from './tcp-listener.js';

/** Certificate files read once at start (the server's own cert/key, and a CA for client certificates). */
function tlsServerOptions(config: TlsConfig): https.ServerOptions {
  return {
    cert: readFileSync(config.cert),
    key: readFileSync(config.key),
    ...(config.ca ? { ca: readFileSync(config.ca) } : {}),
  };
}

/** Limits of the HTTP server; every one has a default suitable for SDK traffic. */
export interface HttpServerLimits {
  /** Largest request head (request line + headers) in bytes; default 32 KiB. Larger: 431 and close. */
  maxHeaderBytes?: number;
  /** Time to receive the whole request head, in ms; default 20000. */
  headersTimeoutMs?: number;
  /** Time to receive the whole request (head and body), in ms; 0 = no limit; default 0 (uploads may be large: bodies use an idle timeout instead). */
  requestTimeoutMs?: number;
  /** Idle keep-alive connections are closed after this many ms; default 65000 (longer than SDK pool idle times). */
  keepAliveTimeoutMs?: number;
}

export type HttpHandler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

/** Canned answers for errors found before a request exists (no handler ever sees these). */
const CLIENT_ERROR_RESPONSES: Record<string, string> = {
  HPE_HEADER_OVERFLOW: '431 Request Header Fields Too Large',
  ERR_HTTP_REQUEST_TIMEOUT: '408 Request Timeout',
  ERR_HTTP_HEADERS_TIMEOUT: '408 Request Timeout',
};

function cannedResponse(code: string | undefined, message: string): string {
  const status = CLIENT_ERROR_RESPONSES[code ?? ''] ?? '400 Bad Request';
  const body = JSON.stringify({ code: status.slice(4).replace(/ /g, ''), message });
  return (
    `HTTP/1.1 ${status}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
    `Connection: close\r\n\r\n${body}`
  );
}

/** An HTTP or HTTPS server bound to one listen address, tracking its sockets for drain on close. */
export class HttpListener {
  private readonly server: http.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly busy = new WeakSet<net.Socket>();
  private bound: { host: string; port: number } | null = null;
  readonly scheme: 'http' | 'https';

  constructor(
    private readonly listen: string,
    handler: HttpHandler,
    options: { tls?: TlsConfig; limits?: HttpServerLimits; onConnection?: (socket: net.Socket) => void } = {},
  ) {
    const limits = options.limits ?? {};
    const serverOptions: http.ServerOptions = {
      maxHeaderSize: limits.maxHeaderBytes ?? 32 * 1024,
      headersTimeout: limits.headersTimeoutMs ?? 20_000,
      requestTimeout: limits.requestTimeoutMs ?? 0,
      keepAliveTimeout: limits.keepAliveTimeoutMs ?? 65_000,
      // Check timeouts often enough that a test's short timeouts are honoured promptly.
      connectionsCheckingInterval: Math.min(1000, Math.max(50, (limits.headersTimeoutMs ?? 20_000) / 4)),
      noDelay: true,
    };
    this.scheme = options.tls ? 'https' : 'http';
    const tracked: HttpHandler = (req, res) => {
      const socket = req.socket;
      this.busy.add(socket);
      res.once('finish', () => this.busy.delete(socket));
      res.once('close', () => this.busy.delete(socket));
      handler(req, res);
    };
    this.server = options.tls
      ? https.createServer({ ...serverOptions, ...tlsServerOptions(options.tls) }, tracked)
      : http.createServer(serverOptions, tracked);
    this.server.on('connection', (socket: net.Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
      options.onConnection?.(socket);
    });
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: net.Socket) => {
      // The parser gave up on this connection: answer once in plain HTTP (if the socket still takes bytes)
      // and close it; no other connection notices.
      if (socket.writable && !(err.code === 'ECONNRESET')) {
        const reason =
          err.code === 'HPE_HEADER_OVERFLOW'
            ? `request head larger than ${serverOptions.maxHeaderSize} bytes`
            : err.code?.startsWith('ERR_HTTP_') ? 'request not received in time' : 'malformed HTTP request';
        socket.end(cannedResponse(err.code, reason));
      }
      socket.destroySoon?.();
      setTimeout(() => socket.destroy(), 1000).unref();
    });
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

  /** Stop accepting; close idle keep-alive connections; wait up to `drainMs` for in-flight requests, then destroy. */
  async close(drainMs = 5000): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    const deadline = Date.now() + drainMs;
    while (this.sockets.size > 0 && Date.now() < deadline) {
      for (const s of this.sockets) if (!this.busy.has(s)) s.destroy();
      if (this.sockets.size === 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}
