/**
 * The PostgreSQL listener: accepts clients (each a Session), owns the upstream pool, the shared statement
 * names, the catalog cache and the storage poll. Options (`options:` of the listener):
 * - `storagePollMs` (default 30000): how often `pg_database_size` is polled for the storage quota; 0 disables.
 * - `idleTimeoutMs` (default 600000): upstream connections idle longer than this are closed.
 * - `maxWaiting` (default 10000): clients allowed to wait for an upstream connection.
 * - `catalogRefreshMs` (default 60000): how often the catalog (tables, views' definitions, functions) is reloaded,
 *   so objects created behind dgf's back are traced by lineage; DDL through dgf refreshes it at once. 0 disables.
 * - `maxStatementBytes` (default 262144): the longest statement text dgf analyzes; a longer Query or Parse is refused
 *   with 54000 and recorded as a denial (the SQL parser runs on the event loop; see Session.tooLarge). 0: no limit.
 */
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import tls from 'node:tls';
import type { ListenerFactory, RunningListener, UpstreamHealth } from '../../src/listener.js';
import { ConfigError } from '../../src/errors.js';
import { TcpListener, createServerTlsContext, parseHostPort } from '../shared/tcp-listener.js';
import { scramSecret } from './auth/scram-sha-256.js';
import * as fe from './codec/frontend-encoder.js';
import { analyzeSql, initSqlAnalyzer } from './governance/analyze.js';
import { CatalogCache } from './governance/catalog.js';
import { LineageCache, VerdictCache } from './governance/lineage-plan.js';
import type { AuthMethod, ListenerState, SharedStatement } from './listener-state.js';
import { Pool } from './pool.js';
import { Session } from './session.js';
import type { UpstreamConnection } from './upstream-connection.js';
import { parseUpstreamTarget } from './upstream-target.js';

/** Statement texts remembered for shared server-side names; beyond it the map restarts (names stay unique). */
const MAX_SHARED_STATEMENTS = 10_000;

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

function numberOption(options: Record<string, unknown>, key: string, fallback: number): number {
  const v = options[key];
  if (v === undefined) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new ConfigError(`options.${key} must be a non-negative number`);
  return v;
}

export const start: ListenerFactory = async (ctx) => {
  const { config, governance: gov } = ctx;
  const target = parseUpstreamTarget(config.upstream, config.name);
  const listenHost = parseHostPort(config.listen).host;
  const authMethod: AuthMethod = config.auth ?? (config.users.length === 0 && isLoopback(listenHost) ? 'trust' : 'scram');
  if (authMethod === 'trust' && !isLoopback(listenHost)) {
    throw new ConfigError(`auth: trust is only allowed on a loopback listen address, not ${config.listen}`, null, null, `listeners.${config.name}.auth`);
  }
  const options = config.options ?? {};
  const storagePollMs = numberOption(options, 'storagePollMs', 30_000);
  const catalogRefreshMs = numberOption(options, 'catalogRefreshMs', 60_000);
  const max = config.upstream.maxConnections ?? gov.quota.limits('connections') ?? 10;

  await initSqlAnalyzer();
  const catalog = new CatalogCache();
  const users = new Map(config.users.map((u) => [u.name, { password: u.password, scram: u.password !== undefined ? scramSecret(u.password) : undefined }]));

  const pollStorage = async (conn: UpstreamConnection): Promise<void> => {
    const rows = await conn.run('select pg_database_size(current_database())');
    const bytes = Number(rows[0]?.[0]);
    if (Number.isFinite(bytes)) gov.quota.setUsage('storage', bytes);
  };

  const pool = new Pool(target, gov, {
    max,
    timeoutMs: config.poolTimeoutMs,
    maxWaiting: numberOption(options, 'maxWaiting', 10_000),
    idleTimeoutMs: numberOption(options, 'idleTimeoutMs', 600_000),
    onFirstConnect: async (conn) => {
      state.upstreamEncrypted = conn.encrypted;
      await catalog.refresh((sql) => conn.run(sql)).catch((err: unknown) => gov.logger.warn({ err }, 'catalog refresh failed'));
      if (storagePollMs > 0) await pollStorage(conn).catch((err: unknown) => gov.logger.warn({ err }, 'storage poll failed'));
    },
    onCatalogRefresh: (conn) => catalog.refresh((sql) => conn.run(sql)),
  });

  const shared = new Map<string, SharedStatement>();
  let nextStatement = 1;
  const statementPrefix = randomBytes(6).toString('hex');

  const state: ListenerState = {
    config,
    gov,
    pool,
    target,
    tlsContext: config.tls ? createServerTlsContext(config.tls) : null,
    authMethod,
    users,
    catalog,
    maxStatementBytes: numberOption(options, 'maxStatementBytes', 256 * 1024),
    lineage: new LineageCache(catalog),
    verdicts: new VerdictCache(),
    serverParams: new Map(),
    upstreamEncrypted: target.sslmode === 'require' || target.sslmode === 'verify-ca' || target.sslmode === 'verify-full',
    sessions: new Map(),
    closing: false,
    describeEpoch: 0,
    plainShapes: new Set(),
    statementFor(sql, paramTypes, role) {
      // Per role: a server-side statement is never shared by clients of different roles.
      const key = paramTypes.length === 0 ? `${role}\u0000${sql}` : `${role}\u0000${paramTypes.join(',')}\u0000${sql}`;
      let s = shared.get(key);
      if (!s) {
        if (shared.size >= MAX_SHARED_STATEMENTS) shared.clear();
        // Unguessable: a random prefix per listener, so no client can name another's statement in SQL (EXECUTE).
        s = { serverName: `dgf_${statementPrefix}_${(nextStatement++).toString(36)}`, infos: analyzeSql(sql), validated: false, paramDesc: null, rowDesc: null, epoch: 0 };
        shared.set(key, s);
      }
      return s;
    },
    cancelUpstream(processId, secretKey) {
      void sendCancel(target.host, target.port, target.sslmode !== 'disable' && target.sslmode !== 'allow' && target.sslmode !== 'prefer', processId, secretKey).catch(
        (err: unknown) => gov.logger.warn({ err }, 'upstream cancel failed'),
      );
    },
  };

  const sessions = new Set<Session>();
  // Pooled reads (no Readable machinery, no ArrayBuffer per read); a client that asks for TLS (SSLRequest) is
  // wrapped by a TLS socket that reads through 'data' events from then on.
  const listener = new TcpListener(
    config.listen,
    (socket, reads) => {
      const s = new Session(socket, state, reads);
      sessions.add(s);
      socket.once('close', () => sessions.delete(s));
    },
    { pooledReads: true },
  );
  const address = await listener.start();
  if (process.env.DGF_PG_DEBUG) {
    setInterval(() => {
      gov.logger.warn({ pool: { size: pool.size, idle: pool.idleCount, waiting: pool.waiting }, sessions: [...sessions].map((s) => s.debugState()) }, 'pg debug');
    }, 3000).unref();
  }

  /**
   * dgf's own periodic work on the upstream, only on a connection nobody waits for (never ahead of a client):
   * the storage poll, and the catalog refresh (tables, view definitions, functions for lineage).
   */
  const onIdleConnection = (everyMs: number, what: string, task: (conn: UpstreamConnection) => Promise<void>): NodeJS.Timeout | null => {
    if (everyMs <= 0) return null;
    const timer = setInterval(() => {
      const conn = pool.tryAcquireIdle();
      if (!conn) return;
      task(conn).then(
        () => pool.release(conn, 'clean'),
        (err: unknown) => {
          gov.logger.warn({ err }, `${what} failed`);
          pool.release(conn, 'clean');
        },
      );
    }, everyMs);
    timer.unref();
    return timer;
  };
  const poller = onIdleConnection(storagePollMs, 'storage poll', pollStorage);
  const refresher = onIdleConnection(catalogRefreshMs, 'catalog refresh', (conn) => catalog.refresh((sql) => conn.run(sql)));

  const running: RunningListener = {
    name: config.name,
    protocol: 'postgres',
    address,
    async checkUpstream(): Promise<UpstreamHealth> {
      const name = `${target.host}:${target.port}`;
      try {
        const idle = pool.tryAcquireIdle();
        if (idle) {
          try {
            await idle.run('select 1');
          } finally {
            pool.release(idle, 'clean');
          }
        } else if (pool.size === 0) {
          const conn = await pool.acquire(target.database);
          pool.release(conn, 'clean');
        }
        return { name, status: 'up' };
      } catch (err) {
        return { name, status: 'down', detail: (err as Error).message };
      }
    },
    async close(drainMs = 5000): Promise<void> {
      state.closing = true;
      if (poller) clearInterval(poller);
      if (refresher) clearInterval(refresher);
      const closeIdle = (): void => {
        for (const s of sessions) s.closeIfIdle();
      };
      const ticker = setInterval(closeIdle, 50);
      try {
        await listener.close(drainMs, closeIdle);
      } finally {
        clearInterval(ticker);
        pool.close();
        pool.destroyAll();
      }
    },
  };
  return running;
};

/** CancelRequest on a new connection to the upstream (over TLS when the upstream requires it). */
async function sendCancel(host: string, port: number, useTls: boolean, processId: number, secretKey: number): Promise<void> {
  const raw = net.connect({ host, port });
  raw.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    raw.once('connect', resolve);
    raw.once('error', reject);
  });
  let socket: net.Socket = raw;
  if (useTls) {
    raw.write(fe.sslRequest());
    const answer = await new Promise<Buffer>((resolve, reject) => {
      raw.once('data', resolve);
      raw.once('error', reject);
    });
    if (answer[0] === 0x53) {
      socket = tls.connect({ socket: raw, rejectUnauthorized: false, ...(net.isIP(host) ? {} : { servername: host }) });
      socket.on('error', () => undefined);
      await new Promise<void>((resolve) => socket.once('secureConnect', resolve));
    }
  }
  socket.end(fe.cancelRequest(processId, secretKey));
  setTimeout(() => socket.destroy(), 5000).unref();
}
