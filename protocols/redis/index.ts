/**
 * The Redis listener: accepts RESP2/RESP3 clients, authenticates them against the listener's users, and proxies
 * their commands to the upstream Redis over a small multiplexed set of connections (see multiplexer.ts), with
 * the command firewall, masking, audit and the memory/connection quota applied on the way.
 *
 * Listener `options` (all optional):
 * - `sharedConnections` (default 4): shared upstream connections per RESP version.
 * - `memoryPollMs` (default 5000; 0 disables): how often `INFO memory` feeds the memory quota.
 * - `clientOutputLimitBytes` (default 64 MiB): reply bytes held or queued for one client (a dedicated upstream
 *   connection is paused instead of queueing); past it the client gets a -ERR naming the limit and is disconnected.
 * - `maxInflight` (default 10000): commands in flight per client before dgf stops reading its socket.
 */
import { createHash } from 'node:crypto';
import type { ListenerFactory, RunningListener, UpstreamHealth } from '../../src/listener.js';
import { TcpListener } from '../shared/tcp-listener.js';
import { UpstreamPool } from './multiplexer.js';
import { RedisSession, type SessionEnv } from './session.js';
import { DecisionCache } from './decision-cache.js';
import { parseUpstreamUrl, type ServerInfo } from './upstream.js';
import { RespType } from './codec/resp-types.js';

interface RedisOptions {
  sharedConnections: number;
  memoryPollMs: number;
  clientOutputLimitBytes: number;
  maxInflight: number;
}

function intOption(options: Record<string, unknown>, key: string, def: number, min: number): number {
  const v = options[key];
  if (v === undefined) return def;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    throw new Error(`redis listener option ${key} must be an integer >= ${min}`);
  }
  return v;
}

function parseOptions(options: Record<string, unknown>): RedisOptions {
  const known = new Set(['sharedConnections', 'memoryPollMs', 'clientOutputLimitBytes', 'maxInflight']);
  for (const k of Object.keys(options)) if (!known.has(k)) throw new Error(`unknown redis listener option "${k}"`);
  return {
    sharedConnections: intOption(options, 'sharedConnections', 4, 1),
    memoryPollMs: intOption(options, 'memoryPollMs', 5000, 0),
    clientOutputLimitBytes: intOption(options, 'clientOutputLimitBytes', 64 * 1024 * 1024, 1024),
    maxInflight: intOption(options, 'maxInflight', 10_000, 1),
  };
}

/** `used_memory:<n>` from an INFO reply (bulk string in RESP2, verbatim string in RESP3). */
export function usedMemory(reply: Buffer): number | null {
  const m = /(?:^|\n)used_memory:(\d+)/.exec(reply.toString('latin1'));
  return m ? Number(m[1]) : null;
}

export const start: ListenerFactory = async ({ config, governance: gov, logger }) => {
  const opts = parseOptions(config.options ?? {});
  if (!config.upstream.url) throw new Error(`listener ${config.name}: redis upstream.url is required`);
  const endpoint = parseUpstreamUrl(config.upstream.url, {
    ...(config.upstream.ca ? { ca: config.upstream.ca } : {}),
    insecureSkipVerify: config.upstream.insecureSkipVerify === true,
    clientName: `dgf-${config.name}`,
    ...(config.upstream.connectTimeoutMs !== undefined ? { connectTimeoutMs: config.upstream.connectTimeoutMs } : {}),
    ...(config.upstream.replyTimeoutMs !== undefined ? { replyTimeoutMs: config.upstream.replyTimeoutMs } : {}),
  });
  const quotaLimit = gov.quota.limits('connections');
  let limit = Math.min(quotaLimit ?? Number.POSITIVE_INFINITY, config.upstream.maxConnections ?? Number.POSITIVE_INFINITY);
  if (!Number.isFinite(limit)) limit = 10;
  const pool = new UpstreamPool({
    endpoint,
    limit,
    sharedPerVersion: Math.max(1, Math.min(opts.sharedConnections, Math.floor(limit / 2) || 1)),
    waitMs: config.poolTimeoutMs ?? 30_000,
    governance: gov,
  });

  let serverInfo: ServerInfo = { version: '7.0.0', mode: 'standalone', role: 'master' };
  const first = pool.anyShared();
  if (first) {
    try {
      serverInfo = await first.ready;
    } catch (err) {
      logger.warn({ listener: config.name, err: (err as Error).message }, 'redis upstream not reachable at start');
    }
  }

  const users = new Map<string, Buffer>();
  for (const u of config.users ?? []) {
    if (u.password !== undefined) users.set(u.name, createHash('sha256').update(u.password).digest());
  }
  const trust = config.auth === 'trust' || (config.users ?? []).length === 0;
  const env: SessionEnv = {
    gov,
    decisions: new DecisionCache(gov),
    pool,
    users,
    trust,
    maxMessageBytes: config.maxMessageBytes ?? 16 * 1024 * 1024,
    authTimeoutMs: config.authTimeoutMs ?? 10_000,
    clientOutputLimit: opts.clientOutputLimitBytes,
    maxInflight: opts.maxInflight,
    defaultDb: endpoint.db,
    serverInfo: () => serverInfo,
    clientTls: config.tls !== undefined,
    upstreamTls: endpoint.tls,
  };

  const sessions = new Set<RedisSession>();
  const tcp = new TcpListener(
    config.listen,
    (socket, reads) => {
      const s = new RedisSession(socket, env, reads);
      sessions.add(s);
      socket.once('close', () => sessions.delete(s));
    },
    config.tls ? { tls: config.tls } : { pooledReads: true },
  );
  const address = await tcp.start();

  const poll = async (): Promise<void> => {
    const conn = pool.anyShared();
    if (!conn) return;
    try {
      const reply = await conn.internal([['INFO', 'memory']]);
      const used = usedMemory(reply);
      if (used !== null) gov.quota.setUsage('memory', used);
    } catch (err) {
      logger.debug({ err: (err as Error).message }, 'redis INFO memory poll failed');
    }
  };
  await poll();
  const timer = opts.memoryPollMs > 0 ? setInterval(() => void poll(), opts.memoryPollMs) : null;
  timer?.unref();

  const listener: RunningListener = {
    name: config.name,
    protocol: 'redis',
    address,
    async checkUpstream(): Promise<UpstreamHealth> {
      const name = `${endpoint.host}:${endpoint.port}`;
      const conn = pool.anyShared();
      if (!conn) return { name, status: 'down', detail: 'no upstream connection available' };
      try {
        const reply = await Promise.race([
          conn.internal([['PING']]),
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error('PING timed out')), 2000).unref()),
        ]);
        return reply[0] === RespType.SimpleString ? { name, status: 'up' } : { name, status: 'down', detail: reply.toString('utf8', 1).trim() };
      } catch (err) {
        return { name, status: 'down', detail: (err as Error).message };
      }
    },
    async close(drainMs = 5000): Promise<void> {
      if (timer) clearInterval(timer);
      await tcp.close(drainMs, () => {
        for (const s of sessions) s.closeIfIdle();
      });
      await pool.close();
    },
  };
  return listener;
};
