/**
 * The demo's database: PGlite (PostgreSQL compiled to WASM) in this process, seeded with sample data and served
 * on a loopback TCP port by pglite-socket, so dgf reaches it exactly as it reaches any PostgreSQL.
 *
 * What pglite-socket does with a connection's startup (checked with node-postgres): it answers every
 * StartupMessage with AuthenticationOk, whatever the user, password or database, and the session always runs as
 * `postgres` in database `postgres`. That is why it listens on 127.0.0.1 only and why the demo's upstream URL
 * carries no password. It is one backend session: queries of concurrent connections are serialized and an open
 * transaction blocks the others, hence `maxConnections: 1` in the demo's listener.
 */
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { demoSeedSql } from './seed.js';

export interface DemoUpstreamOptions {
  /** Loopback port for the socket server; default 0 (a free port). */
  port?: number;
  /** PGlite data directory; default in-memory (the demo starts fresh every time). */
  dataDir?: string;
}

export interface DemoUpstream {
  /** postgres:// URL of the seeded database. */
  url: string;
  stop(): Promise<void>;
}

/** Start PGlite, seed it (unless the data directory already holds the tables) and serve it on 127.0.0.1. */
export async function startDemoUpstream(opts: DemoUpstreamOptions = {}): Promise<DemoUpstream> {
  const db = await PGlite.create(opts.dataDir ? { dataDir: opts.dataDir } : {});
  try {
    const existing = await db.query<{ n: number }>("select count(*)::int as n from pg_tables where schemaname = 'public' and tablename = 'customers'");
    if ((existing.rows[0]?.n ?? 0) === 0) await db.exec(demoSeedSql());
    const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: opts.port ?? 0, maxConnections: 16 });
    await server.start();
    const conn = server.getServerConn();
    const port = Number(conn.slice(conn.lastIndexOf(':') + 1));
    let stopped: Promise<void> | null = null;
    return {
      url: `postgres://postgres@127.0.0.1:${port}/postgres?sslmode=disable`,
      stop() {
        stopped ??= (async () => {
          await server.stop();
          await db.close();
        })();
        return stopped;
      },
    };
  } catch (err) {
    await db.close().catch(() => undefined);
    throw err;
  }
}
