/**
 * What every HTTP-forwarding listener (Cosmos, Blob) sets up the same way: numeric options, the governed HTTP
 * server with its limits, client connection metrics, upstream pool gauges, and the matching shutdown.
 */
import { performance } from 'node:perf_hooks';
import type { ListenerContext, UpstreamHealth } from '../../src/listener.js';
import { HttpListener, type HttpHandler } from './http-server.js';
import { poolStats, type UpstreamTarget } from './http-upstream.js';

/** A non-negative number from a listener's `options`, or `fallback` when unset. */
export function numberOption(protocol: string, options: Record<string, unknown>, name: string, fallback: number): number {
  const v = options[name];
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new Error(`${protocol} listener option ${name} must be a non-negative number`);
  return v;
}

export interface GovernedHttpServer {
  address: { host: string; port: number };
  /** Stop accepting, drain for at most `drainMs`, then close the upstream pool. */
  close(drainMs: number): Promise<void>;
}

/** Start the HTTP(S) server of a forwarding listener and report its client and upstream connections. */
export async function startGovernedHttpServer(
  ctx: ListenerContext,
  handler: HttpHandler,
  upstream: UpstreamTarget,
  defaults: { requestTimeoutMs: number },
): Promise<GovernedHttpServer> {
  const { config, governance: gov } = ctx;
  const opts = config.options ?? {};
  const server = new HttpListener(config.listen, handler, {
    ...(config.tls ? { tls: config.tls } : {}),
    limits: {
      maxHeaderBytes: numberOption(config.protocol, opts, 'maxHeaderBytes', 32 * 1024),
      headersTimeoutMs: numberOption(config.protocol, opts, 'headersTimeoutMs', 20_000),
      requestTimeoutMs: numberOption(config.protocol, opts, 'requestTimeoutMs', defaults.requestTimeoutMs),
    },
    onConnection: (socket) => {
      gov.clientOpened();
      socket.once('close', () => gov.clientClosed());
    },
  });
  const address = await server.start();
  const statsTimer = setInterval(() => {
    const s = poolStats(upstream.pool);
    gov.setUpstreamConnections(s.active, s.idle);
  }, 1000);
  statsTimer.unref();
  return {
    address,
    async close(drainMs) {
      clearInterval(statsTimer);
      await server.close(drainMs);
      await upstream.pool.close().catch(() => upstream.pool.destroy());
    },
  };
}

/** Time one upstream request for /health and /ready: up when it answers below 400, down otherwise. */
export async function probeHttpUpstream(
  name: string,
  upstream: UpstreamTarget,
  request: () => Promise<{ statusCode: number; body: { dump(): Promise<unknown> } }>,
): Promise<UpstreamHealth> {
  const started = performance.now();
  try {
    const res = await request();
    await res.body.dump();
    const ms = (performance.now() - started).toFixed(1);
    if (res.statusCode < 400) return { name, status: 'up', detail: `${upstream.origin} answered in ${ms} ms` };
    return { name, status: 'down', detail: `${upstream.origin} answered ${res.statusCode}` };
  } catch (err) {
    return { name, status: 'down', detail: `${upstream.origin}: ${(err as Error).message}` };
  }
}
