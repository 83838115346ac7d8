/**
 * The upstream leg shared by the HTTP protocols: one keep-alive undici Pool per upstream origin, HTTP/1.1,
 * TLS verified (a CA file for private or self-signed servers; skipping verification only when asked).
 */
import { readFileSync } from 'node:fs';
import { Pool } from 'undici';
import type { UpstreamConfig } from '../../src/config/types.js';
import { DEFAULTS } from '../../src/config/defaults.js';

/** Headers that belong to one hop and are never forwarded (RFC 9110 7.6.1), plus ones the proxy recomputes. */
export const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'expect',
]);

export interface UpstreamTarget {
  /** scheme://host:port */
  origin: string;
  /** Path prefix of the upstream URL without a trailing slash ('' for host-style accounts). */
  basePath: string;
  pool: Pool;
}

/** Create the pool for `url`; `maxConnections` defaults to 10. */
export function createUpstreamPool(url: string, config: UpstreamConfig): UpstreamTarget {
  const parsed = new URL(url);
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new Error(`upstream ${url} is not an http(s) URL`);
  }
  const origin = `${parsed.protocol}//${parsed.host}`;
  const pool = new Pool(origin, {
    connections: config.maxConnections ?? 10,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    // A silent upstream (accepts, never answers; or half the headers) fails the request promptly.
    headersTimeout: config.replyTimeoutMs ?? DEFAULTS.upstreamReplyTimeoutMs,
    // Large downloads may pause while the client is slow (backpressure), so the body timeout is generous.
    bodyTimeout: 300_000,
    connect:
      parsed.protocol === 'https:'
        ? {
            timeout: config.connectTimeoutMs ?? DEFAULTS.upstreamConnectTimeoutMs,
            rejectUnauthorized: config.insecureSkipVerify !== true,
            ...(config.ca ? { ca: readFileSync(config.ca) } : {}),
          }
        : { timeout: config.connectTimeoutMs ?? DEFAULTS.upstreamConnectTimeoutMs },
  });
  return { origin, basePath: parsed.pathname.replace(/\/+$/, ''), pool };
}

/** Copy request headers for the upstream: drop hop-by-hop ones and the names in `drop` (lower-case). */
export function forwardHeaders(
  raw: readonly string[],
  drop: ReadonlySet<string>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(name) || drop.has(name)) continue;
    const value = raw[i + 1]!;
    out[name] = out[name] === undefined ? value : `${out[name]}, ${value}`;
  }
  return out;
}

/** Copy response headers for the client: drop hop-by-hop ones and the names in `drop`. */
export function responseHeaders(
  headers: Record<string, string | string[] | undefined>,
  drop: ReadonlySet<string>,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || HOP_BY_HOP.has(name) || drop.has(name)) continue;
    out[name] = value;
  }
  return out;
}

/** Single string value of a response header (first when repeated). */
export function headerValue(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Report pool occupancy to the metrics gauge. */
export function poolStats(pool: Pool): { active: number; idle: number } {
  const s = pool.stats;
  return { active: s.running, idle: Math.max(0, s.connected - s.running) };
}
