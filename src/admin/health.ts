/** Upstream checks for /health and /ready: every listener's ping in parallel, each bounded by a timeout. */
import type { RunningListener, UpstreamHealth } from '../listener.js';

/** How long one upstream may take to answer a health check; default 2000 ms. */
export const HEALTH_TIMEOUT_MS = 2000;

export interface HealthSnapshot {
  status: 'healthy' | 'degraded';
  listeners: { name: string; protocol: string; address: string }[];
  upstreams: { name: string; status: 'up' | 'down'; detail?: string }[];
  timestamp: string;
}

/** `127.0.0.1:6432`, `[::1]:6432`. */
export function formatAddress(a: { host: string; port: number }): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

async function checkOne(l: RunningListener, timeoutMs: number): Promise<UpstreamHealth> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<UpstreamHealth>((resolve) => {
    timer = setTimeout(() => resolve({ name: l.name, status: 'down', detail: `no answer within ${timeoutMs} ms` }), timeoutMs);
  });
  try {
    const h = await Promise.race([
      Promise.resolve()
        .then(() => l.checkUpstream())
        .catch((e: unknown): UpstreamHealth => ({ name: l.name, status: 'down', detail: e instanceof Error ? e.message : String(e) })),
      timeout,
    ]);
    return { name: h.name || l.name, status: h.status === 'up' ? 'up' : 'down', ...(h.detail ? { detail: h.detail } : {}) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs the checks; concurrent callers (a burst of probes) share one round of pings instead of each
 * sending their own to the upstreams.
 */
export class HealthChecker {
  private inflight: Promise<HealthSnapshot> | null = null;

  constructor(
    private readonly listeners: () => RunningListener[],
    private readonly timeoutMs = HEALTH_TIMEOUT_MS,
  ) {}

  check(): Promise<HealthSnapshot> {
    this.inflight ??= this.run().finally(() => {
      this.inflight = null;
    });
    return this.inflight;
  }

  private async run(): Promise<HealthSnapshot> {
    const listeners = this.listeners();
    const upstreams = await Promise.all(listeners.map((l) => checkOne(l, this.timeoutMs)));
    return {
      status: upstreams.every((u) => u.status === 'up') ? 'healthy' : 'degraded',
      listeners: listeners.map((l) => ({ name: l.name, protocol: l.protocol, address: formatAddress(l.address) })),
      upstreams,
      timestamp: new Date().toISOString(),
    };
  }
}
