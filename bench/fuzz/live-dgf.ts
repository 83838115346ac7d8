/**
 * A LIVE dgf for the fuzz and soak benchmarks: the real CLI (`dgf start --config`, through tsx, as test/e2e does)
 * in its own process, with one listener per protocol in front of the test backends (scripts/backends.sh), so a
 * crash is a process exit and memory is the process's own RSS (/proc/<pid>/status).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
/** The key cosmosdb-server accepts (it checks none); dgf re-signs with it. */
export const COSMOS_UPSTREAM_KEY = Buffer.from('the-real-account-key'.padEnd(32, '#')).toString('base64');
export const PASSWORD = 'bench-pw-0123';
export const userKey = (name: string): string => Buffer.from(`${name}-key`.padEnd(32, '#')).toString('base64');

export type ProtocolName = 'postgres' | 'redis' | 'mongodb' | 'cosmos' | 'blob';
export const PROTOCOL_NAMES: ProtocolName[] = ['postgres', 'redis', 'mongodb', 'cosmos', 'blob'];

export interface LiveDgf {
  child: ChildProcess;
  pid: number;
  ports: Record<ProtocolName, number>;
  adminUrl: string;
  dir: string;
  /** Exit code/signal once the process has ended, else null. */
  exited: { code: number | null; signal: NodeJS.Signals | null } | null;
  /** Everything written to stderr (bounded to the last 256 KiB). */
  stderr(): string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const srv = net.createServer().listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

/** Users every listener knows: `admin` (exempt from masking and denials) and the masked, non-admin `analyst`. */
const USERS = ['admin', 'analyst', 'fuzz'];

/** Write a config for the five listeners and start `dgf start` on it; resolves when every port answers. */
export async function startLiveDgf(options: { maxMessageBytes?: number; pgAuth?: 'trust' | 'scram'; pgMaxConnections?: number } = {}): Promise<LiveDgf> {
  const dir = mkdtempSync(path.join(tmpdir(), 'dgf-live-'));
  const ports = {} as Record<ProtocolName, number>;
  for (const p of PROTOCOL_NAMES) ports[p] = await freePort();
  const adminPort = await freePort();
  const maxMessageBytes = options.maxMessageBytes ?? 1024 * 1024;
  const config = {
    admin: { listen: `127.0.0.1:${adminPort}` },
    policies: { hashKey: 'bench-hash-key-0123456789abcdef', watch: false },
    roles: [
      { match: { user: 'admin' }, role: 'admin' },
      { match: { user: 'analyst' }, role: 'analyst' },
      { match: { user: 'fuzz' }, role: 'analyst' },
    ],
    audit: { failMode: 'closed', sinks: [{ type: 'file', path: path.join(dir, 'audit.jsonl'), fsyncMs: 20 }] },
    stateDir: dir,
    log: { level: 'warn' },
    listeners: [
      {
        name: 'pg',
        protocol: 'postgres',
        listen: `127.0.0.1:${ports.postgres}`,
        auth: options.pgAuth ?? 'scram',
        users: USERS.map((name) => ({ name, password: PASSWORD })),
        upstream: { url: 'postgres://postgres@127.0.0.1:55432/postgres', maxConnections: options.pgMaxConnections ?? 8 },
        maxMessageBytes,
      },
      {
        name: 'cache',
        protocol: 'redis',
        listen: `127.0.0.1:${ports.redis}`,
        users: USERS.map((name) => ({ name, password: PASSWORD })),
        upstream: { url: 'redis://127.0.0.1:56379' },
        maxMessageBytes,
      },
      {
        name: 'mongo',
        protocol: 'mongodb',
        listen: `127.0.0.1:${ports.mongodb}`,
        users: USERS.map((name) => ({ name, password: PASSWORD })),
        upstream: { url: 'mongodb://127.0.0.1:57017/' },
        maxMessageBytes,
      },
      {
        name: 'cosmos',
        protocol: 'cosmos',
        listen: `127.0.0.1:${ports.cosmos}`,
        users: USERS.map((name) => ({ name, key: userKey(name) })),
        upstream: { endpoint: 'https://127.0.0.1:8081', key: COSMOS_UPSTREAM_KEY, insecureSkipVerify: true },
        maxMessageBytes,
      },
      {
        name: 'blob',
        protocol: 'blob',
        listen: `127.0.0.1:${ports.blob}`,
        users: USERS.map((name) => ({ name, key: userKey(name) })),
        upstream: { url: 'http://127.0.0.1:10000/devstoreaccount1', account: 'devstoreaccount1', key: AZURITE_KEY },
        maxMessageBytes,
        options: { scanStorageOnStart: false },
      },
    ],
  };
  const file = path.join(dir, 'dgf.yaml');
  // YAML is a superset of JSON.
  writeFileSync(file, JSON.stringify(config, null, 2));
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), 'start', '--config', file], {
    cwd: ROOT,
    env: { ...process.env, DGF_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
    if (err.length > 512 * 1024) err = err.slice(-256 * 1024);
  });
  const live: LiveDgf = {
    child,
    pid: child.pid!,
    ports,
    adminUrl: `http://127.0.0.1:${adminPort}`,
    dir,
    exited: null,
    stderr: () => err,
    async stop() {
      if (live.exited) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await once(child, 'exit').catch(() => undefined);
      clearTimeout(t);
    },
  };
  child.on('exit', (code, signal) => {
    live.exited = { code, signal };
  });
  // Generous: on a loaded machine tsx compiles the sources and the listeners check their upstreams first.
  const deadline = Date.now() + 180_000;
  let lastStatus = 0;
  for (;;) {
    if (live.exited) throw new Error(`dgf exited during start (${JSON.stringify(live.exited)}):\n${err}`);
    try {
      const r = await fetch(`${live.adminUrl}/ready`);
      lastStatus = r.status;
      if (r.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`dgf did not become ready in 180 s (last /ready status ${lastStatus}):\n${err}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return live;
}

/**
 * Current and peak resident set size of a process, and the current one split into anonymous and file-backed pages,
 * in bytes (Linux /proc; 0 when unavailable).
 */
export function rssOf(pid: number): { rss: number; peak: number; rssAnon: number; rssFile: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
    return { rss: kb('VmRSS'), peak: kb('VmHWM'), rssAnon: kb('RssAnon'), rssFile: kb('RssFile') };
  } catch {
    return { rss: 0, peak: 0, rssAnon: 0, rssFile: 0 };
  }
}

/** Prometheus text -> value of the first sample of `name` (NaN when absent). */
export function metric(text: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+|NaN)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}
