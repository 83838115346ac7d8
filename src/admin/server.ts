/**
 * The admin HTTP server (SPEC "Admin HTTP API"): health, readiness, metrics, the governance API under /api/v1
 * and the dashboard. Bearer-token auth guards /api/* when a token is configured. Every error is a JSON
 * `{"error": {"code", "message"}}`; no request, however malformed, can take the process down.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import type { Logger } from '../logger.js';
import { bearerChecker } from './auth.js';
import { HEALTH_TIMEOUT_MS, HealthChecker } from './health.js';
import { HttpError, MAX_BODY_BYTES, sendError } from './http.js';
import { ROUTES, type Route } from './routes.js';
import type { AdminState } from './state.js';

export type { AdminState, PolicyReloadResult } from './state.js';

export interface AdminServerOptions {
  /** host:port, `[::1]:8080`, or `:8080` (loopback); port 0 picks a free port. */
  listen: string;
  /** Bearer token required on /api/*; none: open. */
  token?: string;
  /** Largest request body in bytes; default 1 MiB. */
  maxBodyBytes?: number;
  /** Per-upstream timeout of health checks in ms; default 2000. */
  healthTimeoutMs?: number;
  /**
   * Host names (besides IP literals, `localhost` and the listen host) the API answers to; a request naming any
   * other host is answered 421 (a web page cannot read the API through DNS rebinding). Default none.
   */
  hosts?: readonly string[];
}

export interface AdminServer {
  readonly address: { host: string; port: number };
  close(): Promise<void>;
}

/** Parse `host:port` for the admin listener. */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(listen.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error(`admin.listen must be host:port, got '${listen}'`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

const byPath = new Map<string, Route[]>();
for (const r of ROUTES) byPath.set(r.path, [...(byPath.get(r.path) ?? []), r]);

export async function startAdminServer(state: AdminState, opts: AdminServerOptions, logger: Logger): Promise<AdminServer> {
  const log = logger.child({ component: 'admin' });
  const { host, port } = parseListen(opts.listen);
  const authorized = opts.token ? bearerChecker(opts.token) : null;
  const health = new HealthChecker(() => state.listeners(), opts.healthTimeoutMs ?? HEALTH_TIMEOUT_MS);
  const maxBodyBytes = opts.maxBodyBytes ?? MAX_BODY_BYTES;
  const names = new Set(['localhost', host.toLowerCase(), ...(opts.hosts ?? []).map((h) => h.toLowerCase())]);
  /**
   * DNS rebinding points a name the attacker owns at 127.0.0.1: the browser then sends that name as Host. IP
   * literals (a kubelet probe, curl to an address) and the names the operator listed are the API's own.
   */
  const hostAllowed = (header: string | undefined): boolean => {
    if (header === undefined || header === '') return true; // HTTP/1.0 without Host: no browser sends that
    const name = header.startsWith('[') ? header.slice(1, header.indexOf(']')) : header.replace(/:\d+$/, '');
    const lower = name.toLowerCase();
    return isIP(lower) !== 0 || names.has(lower) || names.has(lower.replace(/\.$/, ''));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = performance.now();
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://admin');
    } catch {
      url = new URL('http://admin/');
    }
    const path = url.pathname.length > 1 && url.pathname.endsWith('/') ? url.pathname.slice(0, -1) : url.pathname;
    try {
      if (!hostAllowed(req.headers.host)) {
        throw new HttpError(421, 'MISDIRECTED_REQUEST', 'this host name is not one the dgf admin API answers to (admin.hosts)');
      }
      if (authorized && (path === '/api' || path.startsWith('/api/')) && !authorized(req)) {
        throw new HttpError(401, 'UNAUTHORIZED', 'a valid bearer token is required (Authorization: Bearer <token>)', undefined, {
          'www-authenticate': 'Bearer realm="dgf"',
        });
      }
      const candidates = byPath.get(path);
      if (!candidates) throw new HttpError(404, 'NOT_FOUND', `no route ${path.slice(0, 200)}`);
      const method = req.method === 'HEAD' ? 'GET' : req.method;
      const route = candidates.find((r) => r.method === method);
      if (!route) {
        const allow = candidates.map((r) => (r.method === 'GET' ? 'GET, HEAD' : r.method)).join(', ');
        throw new HttpError(405, 'METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${path}; use ${allow}`, undefined, { allow });
      }
      await route.handler({ req, res, url, state, health, logger: log, maxBodyBytes, tokenRequired: authorized !== null });
    } catch (err) {
      const httpErr = toHttpError(err);
      if (httpErr.status >= 500) log.error({ err, method: req.method, path }, 'admin request failed');
      sendError(res, httpErr);
      if (httpErr.status === 413) {
        // Unread body bytes: discard what comes, and drop the connection if the client keeps sending.
        req.resume();
        setTimeout(() => req.socket.destroy(), 1000).unref();
      }
    } finally {
      log.debug({ method: req.method, path, status: res.statusCode, ms: Math.round((performance.now() - started) * 10) / 10 }, 'admin request');
    }
  };

  const server = createServer({ requestTimeout: 30_000, headersTimeout: 10_000 }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      log.error({ err }, 'admin request handler crashed');
      if (!res.headersSent) res.destroy();
    });
  });
  server.on('clientError', (err, socket) => {
    log.debug({ err: (err as Error).message }, 'bad admin request');
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => reject(new Error(`admin API cannot listen on ${opts.listen}: ${err.message}`, { cause: err }));
    server.once('error', onError);
    server.listen({ host, port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (err) => log.error({ err }, 'admin server error'));
  const bound = server.address() as AddressInfo;

  let closing: Promise<void> | null = null;
  return {
    address: { host: bound.address, port: bound.port },
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive clients (browsers, scrapers) would otherwise hold close() open until they time out.
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 1000).unref();
      });
      return closing;
    },
  };
}

/** Map anything thrown to an HTTP error: HttpError as is, errors with a 4xx `status` (ValidationError) as that. */
function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  const e = err as { status?: unknown; code?: unknown; message?: unknown } | null;
  if (e && typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
    return new HttpError(e.status, typeof e.code === 'string' ? e.code : 'BAD_REQUEST', String(e.message ?? 'bad request'));
  }
  return new HttpError(500, 'INTERNAL', 'internal error; see the dgf log');
}
