/**
 * Where and how dgf connects upstream, from `upstream.url` (libpq URL syntax):
 * postgres://user:password@host:port/database?sslmode=verify-full&sslrootcert=/path/ca.pem
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '../../src/errors.js';
import type { UpstreamConfig } from '../../src/config/types.js';
import { DEFAULTS } from '../../src/config/defaults.js';

/** libpq's sslmode values. `prefer` (libpq's default) tries TLS and falls back to plain TCP. */
export type SslMode = 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';

export interface UpstreamTarget {
  host: string;
  port: number;
  user: string;
  password: string | undefined;
  /** Database used when the client names none. */
  database: string;
  sslmode: SslMode;
  /** CA certificates for verify-ca / verify-full (upstream.ca or sslrootcert). */
  ca: Buffer | undefined;
  /** Connect timeout in ms (connect_timeout in seconds in the URL, else upstream.connectTimeoutMs); default 5 s. */
  connectTimeoutMs: number;
  /** upstream.replyTimeoutMs: longest silence of the upstream while an answer is due; 0 (default): no limit. */
  replyTimeoutMs: number;
  /** Extra startup parameters from the URL (options, application_name ...). */
  startupParams: Record<string, string>;
}

const SSL_MODES: readonly SslMode[] = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];
const NOT_STARTUP = new Set(['sslmode', 'sslrootcert', 'connect_timeout', 'sslcert', 'sslkey', 'sslnegotiation', 'target_session_attrs']);

export function parseUpstreamTarget(upstream: UpstreamConfig, listener: string): UpstreamTarget {
  if (!upstream.url) throw new ConfigError('a postgres listener needs upstream.url', null, null, `listeners.${listener}.upstream.url`);
  let url: URL;
  try {
    url = new URL(upstream.url);
  } catch {
    throw new ConfigError('upstream.url is not a valid URL', null, null, `listeners.${listener}.upstream.url`);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new ConfigError('upstream.url must start with postgres:// or postgresql://', null, null, `listeners.${listener}.upstream.url`);
  }
  const q = url.searchParams;
  let sslmode = (q.get('sslmode') ?? 'prefer') as SslMode;
  if (!SSL_MODES.includes(sslmode)) {
    throw new ConfigError(`sslmode must be one of ${SSL_MODES.join(', ')}`, null, null, `listeners.${listener}.upstream.url`);
  }
  if (upstream.insecureSkipVerify && (sslmode === 'verify-ca' || sslmode === 'verify-full')) sslmode = 'require';
  const caFile = upstream.ca ?? q.get('sslrootcert') ?? undefined;
  const startupParams: Record<string, string> = {};
  for (const [k, v] of q) if (!NOT_STARTUP.has(k)) startupParams[k] = v;
  const user = decodeURIComponent(url.username) || 'postgres';
  return {
    host: url.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
    port: url.port ? Number(url.port) : 5432,
    user,
    password: url.password ? decodeURIComponent(url.password) : undefined,
    database: decodeURIComponent(url.pathname.replace(/^\//, '')) || user,
    sslmode,
    ca: caFile && caFile !== 'system' ? readFileSync(caFile) : undefined,
    connectTimeoutMs: q.get('connect_timeout') ? Number(q.get('connect_timeout')) * 1000 : (upstream.connectTimeoutMs ?? DEFAULTS.upstreamConnectTimeoutMs),
    replyTimeoutMs: upstream.replyTimeoutMs ?? 0,
    startupParams,
  };
}
