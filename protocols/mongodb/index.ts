/**
 * The MongoDB listener: dgf speaks the wire protocol to applications (as a mongos of the upstream's wire
 * version) and the official driver to the upstream (Atlas: SRV, TLS, SCRAM, failover). See docs/mongodb.md.
 */
import type net from 'node:net';
import type { ListenerFactory, RunningListener, UpstreamHealth } from '../../src/listener.js';
import { TcpListener } from '../shared/tcp-listener.js';
import { guardPreAuth } from './auth/pre-auth-guard.js';
import { ScramCredentials } from './auth/scram.js';
import { scramSha1 } from './auth/scram-sha-1.js';
import { scramSha256 } from './auth/scram-sha-256.js';
import type { MongoListenerContext } from './context.js';
import { MongoClientConnection } from './session.js';
import { Upstream } from './upstream/client.js';
import { CursorRegistry } from './upstream/cursors.js';
import { SessionRegistry } from './upstream/sessions.js';
import { VerdictCache } from './lineage/verdict.js';
import { ViewCatalog } from './views.js';

/** `options` of a mongodb listener. */
export interface MongoListenerOptions {
  /** How often storage is read from dbStats, in ms; default 30000. */
  storagePollMs?: number;
  /** SCRAM mechanisms offered to clients; default ['SCRAM-SHA-256']; add 'SCRAM-SHA-1' for old drivers. */
  authMechanisms?: string[];
  /** How often the view catalog of a database is reloaded for masked reads, in ms; default 60000. */
  catalogRefreshMs?: number;
}

const MECHANISMS = { 'SCRAM-SHA-256': scramSha256, 'SCRAM-SHA-1': scramSha1 } as const;

export const start: ListenerFactory = async ({ config, governance, logger }) => {
  const options = config.options as MongoListenerOptions;
  const log = logger.child({ listener: config.name, protocol: 'mongodb' });
  const upstream = new Upstream(config.upstream, `dgf/${config.name}`);
  upstream.monitorPool(
    (active, idle) => governance.setUpstreamConnections(active, idle),
    (seconds) => governance.observePoolWait(seconds),
  );
  try {
    await upstream.connect();
  } catch (err) {
    // Keep serving: the driver reconnects on its own and /ready reports the upstream as down meanwhile.
    log.warn({ err: (err as Error).message }, 'mongodb upstream not reachable at start');
  }
  const credentials = new Map<string, ScramCredentials>();
  for (const name of options.authMechanisms ?? ['SCRAM-SHA-256']) {
    const m = MECHANISMS[name as keyof typeof MECHANISMS];
    if (!m) throw new Error(`listener ${config.name}: unknown authMechanisms entry ${name} (SCRAM-SHA-256, SCRAM-SHA-1)`);
    credentials.set(name, new ScramCredentials(m, config.users));
  }
  let connectionIds = 0;
  const ctx: MongoListenerContext = {
    config,
    gov: governance,
    logger: log,
    upstream,
    sessions: new SessionRegistry(upstream.client, upstream.hello.logicalSessionTimeoutMinutes * 60_000),
    cursors: new CursorRegistry(),
    credentials,
    trust: config.auth === 'trust' || (config.users.length === 0 && config.auth === undefined),
    maxMessageBytes: config.maxMessageBytes,
    storageBytes: 0,
    nextConnectionId: () => ++connectionIds,
    planners: new Map(),
    resultPlanners: new WeakMap(),
    verdicts: new VerdictCache(),
    views: new ViewCatalog(upstream, typeof options.catalogRefreshMs === 'number' && options.catalogRefreshMs > 0 ? options.catalogRefreshMs : 60_000, (db, err) =>
      log.warn({ db, err: err instanceof Error ? err.message : String(err) }, 'mongodb: views could not be listed; unknown names are read as collections until the next load'),
    ),
  };

  const connections = new Set<MongoClientConnection>();
  const tcp = new TcpListener(
    config.listen,
    (socket: net.Socket) => {
      const c = new MongoClientConnection(socket, ctx);
      // Bounded in time and in message size until the client has authenticated (no-op with trust).
      guardPreAuth(socket, c, {
        authTimeoutMs: config.authTimeoutMs ?? 10_000,
        onClose: (reason) => log.debug({ reason, address: socket.remoteAddress }, 'mongodb client closed before authenticating'),
      });
      connections.add(c);
      socket.once('close', () => connections.delete(c));
    },
    config.tls ? { tls: config.tls } : {},
  );
  const address = await tcp.start();

  const pollMs = typeof options.storagePollMs === 'number' && options.storagePollMs > 0 ? options.storagePollMs : 30_000;
  let polling = false;
  const poll = async (): Promise<void> => {
    if (polling || governance.quota.limits('storage') === undefined) return;
    polling = true;
    try {
      ctx.storageBytes = await upstream.storageBytes();
      governance.quota.setUsage('storage', ctx.storageBytes);
    } catch (err) {
      log.debug({ err: (err as Error).message }, 'mongodb storage poll failed');
    } finally {
      polling = false;
    }
  };
  void poll();
  const pollTimer = setInterval(() => void poll(), pollMs);
  pollTimer.unref();

  const running: RunningListener = {
    name: config.name,
    protocol: 'mongodb',
    address,
    async checkUpstream(): Promise<UpstreamHealth> {
      try {
        await upstream.ping();
        return { name: config.name, status: 'up' };
      } catch (err) {
        return { name: config.name, status: 'down', detail: (err as Error).message };
      }
    },
    async close(drainMs = 5000): Promise<void> {
      clearInterval(pollTimer);
      await tcp.close(drainMs, () => {
        for (const c of connections) c.closeIdle();
      });
      ctx.cursors.close();
      await ctx.sessions.closeAll();
      await upstream.close();
    },
  };
  return running;
};
