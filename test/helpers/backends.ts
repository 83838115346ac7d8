/**
 * Private backend instances for fault and backpressure tests: each test starts its own PostgreSQL, Redis,
 * CongoDB, Azurite or cosmosdb-server on a free port, and stops and restarts it at will, never touching the
 * shared backends on the standard ports (scripts/backends.sh).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PGBIN = '/usr/lib/postgresql/15/bin';

/** A port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export async function waitPort(port: number, open = true, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if ((await portOpen(port)) === open) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`port ${port} did not ${open ? 'open' : 'close'} within ${timeoutMs} ms`);
}

/** A backend that can be stopped and started again on the same port. */
export interface PrivateBackend {
  port: number;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Stop for good and remove its files. */
  dispose(): Promise<void>;
}

/** A backend run as one child process, started by `argv(port)`. */
function processBackend(port: number, cmd: string, args: string[], opts: { cwd?: string; cleanup?: () => void } = {}): PrivateBackend {
  let child: ChildProcess | null = null;
  const stop = async (): Promise<void> => {
    const c = child;
    child = null;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGTERM');
    const killer = setTimeout(() => c.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(killer);
    await waitPort(port, false);
  };
  return {
    port,
    async start() {
      child = spawn(cmd, args, { cwd: opts.cwd ?? ROOT, stdio: 'ignore' });
      await waitPort(port, true);
    },
    stop,
    async dispose() {
      await stop();
      opts.cleanup?.();
    },
  };
}

export async function privateRedis(): Promise<PrivateBackend> {
  const port = await freePort();
  return processBackend(port, 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--logfile', '']);
}

export async function privateAzurite(): Promise<PrivateBackend> {
  const port = await freePort();
  return processBackend(port, path.join(ROOT, 'node_modules/.bin/azurite-blob'), [
    '--blobHost', '127.0.0.1', '--blobPort', String(port), '--inMemoryPersistence', '--skipApiVersionCheck', '--disableProductStyleUrl', '--silent',
  ]);
}

/** cosmosdb-server without TLS (`http://127.0.0.1:<port>`). */
export async function privateCosmos(): Promise<PrivateBackend> {
  const port = await freePort();
  return processBackend(port, path.join(ROOT, 'node_modules/.bin/cosmosdb-server'), ['--host', '127.0.0.1', '-p', String(port), '--no-ssl']);
}

/** CongoDB from the install scripts/backends.sh made under .run/congodb. */
export async function privateCongo(): Promise<PrivateBackend> {
  const port = await freePort();
  const dir = path.join(ROOT, '.run/congodb');
  if (!existsSync(path.join(dir, 'start.mjs'))) throw new Error('CongoDB is not installed: run scripts/backends.sh start first');
  return processBackend(port, process.execPath, [path.join(dir, 'start.mjs'), String(port)], { cwd: dir });
}

/** A PostgreSQL 15 cluster of its own (trust auth, no TLS) in a temp dir, run as user postgres when root. */
export async function privatePostgres(): Promise<PrivateBackend> {
  const port = await freePort();
  const dir = mkdtempSync(path.join(tmpdir(), 'dgf-pg-'));
  chmodSync(dir, 0o755);
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dir, uid, gid);
  }
  const run = (cmd: string): void => {
    if (asRoot) execFileSync('su', ['postgres', '-s', '/bin/sh', '-c', cmd], { stdio: 'ignore' });
    else execFileSync('/bin/sh', ['-c', cmd], { stdio: 'ignore' });
  };
  run(`${PGBIN}/initdb -D '${dir}/data' -U postgres --auth=trust -E UTF8 --no-sync -N`);
  const opts = `-p ${port} -k '${dir}' -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50 -c shared_buffers=16MB`;
  const backend: PrivateBackend = {
    port,
    async start() {
      run(`${PGBIN}/pg_ctl -D '${dir}/data' -l '${dir}/pg.log' -w -o "${opts}" start`);
      await waitPort(port, true);
    },
    async stop() {
      if (!existsSync(path.join(dir, 'data/postmaster.pid'))) return;
      run(`${PGBIN}/pg_ctl -D '${dir}/data' -m fast -w stop`);
      await waitPort(port, false);
    },
    async dispose() {
      await backend.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return backend;
}

/**
 * An upstream that accepts connections and never answers (`silent`), or answers the first bytes it receives
 * with `half` (half a message) and then nothing, or (with `later`) logs in and then answers the first request
 * with `later` (empty: nothing). Closing it destroys every accepted socket.
 */
export async function mutePeer(half: Buffer | null = null, later: Buffer | null = null): Promise<{ port: number; accepted: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const state = { accepted: 0 };
  const server = net.createServer((s) => {
    state.accepted++;
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
    // `half` answers the first bytes received; with `later`, bytes received after that get `later` once (a login
    // that succeeds, then half an answer or none to the first request).
    let n = 0;
    s.on('data', () => {
      n++;
      if (n === 1 && half) s.write(half);
      else if (n === 2 && later && later.length > 0) s.write(later);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    get accepted() {
      return state.accepted;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Resolves to how long `p` took to settle (ms) and whether it failed; throws when it took over `limitMs`. */
export async function settlesWithin<T>(p: Promise<T>, limitMs: number): Promise<{ ms: number; error: Error | null; value: T | null }> {
  const t0 = Date.now();
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still pending after ${limitMs} ms: the client hangs`)), limitMs);
  });
  try {
    const value = await Promise.race([p, hang]);
    return { ms: Date.now() - t0, error: null, value };
  } catch (err) {
    if ((err as Error).message.includes('the client hangs')) throw err;
    return { ms: Date.now() - t0, error: err as Error, value: null };
  } finally {
    clearTimeout(timer);
  }
}

/** `status` of GET /health. */
export async function healthStatus(adminUrl: string): Promise<string> {
  const r = await fetch(`${adminUrl}/health`);
  return ((await r.json()) as { status: string }).status;
}

/** Polls /health until it reports `want`; returns how long that took. */
export async function waitHealth(adminUrl: string, want: 'healthy' | 'degraded', timeoutMs = 15_000): Promise<number> {
  const t0 = Date.now();
  let last = '';
  while (Date.now() - t0 < timeoutMs) {
    last = await healthStatus(adminUrl);
    if (last === want) return Date.now() - t0;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`/health stayed ${last}, wanted ${want}`);
}
