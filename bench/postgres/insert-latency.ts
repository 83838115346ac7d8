/**
 * The real-world latency check of issue #17: INSERTS single-row INSERTs (`insert into t (id, v) values ($1, $2)`,
 * node-postgres, one client, one await after the other) directly against PostgreSQL and through dgf in its default
 * configuration (no failMode/durability keys: failMode closed, durability write; transaction pooling, pool 2, the
 * shipped packs, audit to a file with fsyncMs 20, user bench / benchpw: the config of bench/postgres/dgf.sh).
 * Two anchors run in the same rounds: PgBouncer (transaction mode, pool 2, as in bench/postgres/run.sh) and the bare
 * Node pipe of bench/postgres/bare-pipe.ts (no parsing, pooling, auth, policy or audit: what any Node.js proxy pays
 * per round trip on this machine). ROUNDS rounds, the targets interleaved (the order reversed every other round);
 * reports each round's ms and the medians of the per-round ratios to direct (dgf's goal <= 1.3).
 * Writes bench/results/postgres-insert-latency.md.
 *
 *   node --import tsx bench/postgres/insert-latency.ts   # INSERTS=5000 ROUNDS=5 PGPORT=55432 DGF_PORT=16541
 *                                                        # BOUNCER_PORT=16542 PIPE_PORT=16543
 *
 * Needs the test PostgreSQL on 55432 (bash scripts/backends.sh start). Creates and drops its own database.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { availableParallelism, release, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const INSERTS = Number(process.env.INSERTS ?? 5000);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const PGPORT = Number(process.env.PGPORT ?? 55432);
const DGF_PORT = Number(process.env.DGF_PORT ?? 16541);
const BOUNCER_PORT = Number(process.env.BOUNCER_PORT ?? 16542);
const PIPE_PORT = Number(process.env.PIPE_PORT ?? 16543);
// V8 keeps optimizing dgf's paths for the first ~10,000 statements (--trace-opt): a short warm-up measures the JIT.
const WARMUP = Math.min(2000, INSERTS);
const DB = 'dgf_insert_latency';
const GOAL = 1.3;
const SQL = 'insert into t (id, v) values ($1, $2)';
const OUT = join(ROOT, 'bench/results/postgres-insert-latency.md');

const work = mkdtempSync(join(tmpdir(), 'dgf-insert-latency-'));
const children: ChildProcess[] = [];

function dgfConfig(): string {
  // bench/postgres/dgf.sh's config with its `default` durability: no failMode / durability keys.
  return `admin:
  listen: 127.0.0.1:0
policies:
  hashKey: bench-hash-key-0123456789
  watch: false
audit:
  sinks:
    - { type: file, path: ${join(work, 'audit/audit.jsonl')}, fsyncMs: 20 }
listeners:
  - name: pg
    protocol: postgres
    listen: 127.0.0.1:${DGF_PORT}
    users:
      - { name: bench, password: benchpw }
    upstream:
      url: postgres://postgres@127.0.0.1:${PGPORT}/postgres?sslmode=disable
      maxConnections: 2
    pool: transaction
    quota: { preset: supabase-free }
`;
}

const direct = (database: string): pg.ClientConfig => ({ host: '127.0.0.1', port: PGPORT, user: 'postgres', database });
const viaDgf: pg.ClientConfig = { host: '127.0.0.1', port: DGF_PORT, user: 'bench', password: 'benchpw', database: DB };
const viaBouncer: pg.ClientConfig = { host: '127.0.0.1', port: BOUNCER_PORT, user: 'postgres', database: DB };
const viaPipe: pg.ClientConfig = { host: '127.0.0.1', port: PIPE_PORT, user: 'postgres', database: DB };

const TARGETS = ['direct', 'pgbouncer', 'pipe', 'dgf'] as const;
type Target = (typeof TARGETS)[number];
const LABEL: Record<Target, string> = { direct: 'direct', pgbouncer: 'PgBouncer', pipe: 'Node pipe', dgf: 'dgf' };

async function withClient<T>(config: pg.ClientConfig, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client(config);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

/** Start `args` (logging to WORK/NAME.log) and wait until `config` answers a query; returns its pid. */
async function startAndWait(name: string, command: string, args: string[], config: pg.ClientConfig): Promise<number> {
  const log = openSync(join(work, `${name}.log`), 'a');
  const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, DGF_LOG_LEVEL: 'warn' }, stdio: ['ignore', log, log] });
  children.push(child);
  let exited = false;
  child.on('exit', () => (exited = true));
  for (let i = 0; i < 240 && !exited; i++) {
    try {
      await withClient(config, (c) => c.query('select 1'));
      return child.pid!;
    } catch {
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  child.kill();
  throw new Error(`${name} did not start: ${readFileSync(join(work, `${name}.log`), 'utf8')}`);
}

function startDgf(): Promise<number> {
  mkdirSync(join(work, 'audit'), { recursive: true });
  const configPath = join(work, 'dgf.yaml');
  writeFileSync(configPath, dgfConfig());
  return startAndWait('dgf', process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'start', '--config', configPath], viaDgf);
}

function startPipe(): Promise<number> {
  return startAndWait('pipe', process.execPath, ['--import', 'tsx', 'bench/postgres/bare-pipe.ts', String(PIPE_PORT), String(PGPORT)], viaPipe);
}

/** PgBouncer as bench/postgres/run.sh runs it: transaction pooling, 2 server connections, as the postgres user. */
function startBouncer(): Promise<number> {
  const dir = join(work, 'pgbouncer');
  mkdirSync(dir, { recursive: true, mode: 0o777 });
  chmodSync(dir, 0o777);
  const ini = join(dir, 'pgbouncer.ini');
  writeFileSync(join(dir, 'userlist.txt'), '"postgres" ""\n', { mode: 0o644 });
  const template = readFileSync(join(ROOT, 'bench/postgres/pgbouncer.ini.in'), 'utf8');
  const filled = template.replaceAll('@DB@', DB).replaceAll('@PGPORT@', String(PGPORT)).replaceAll('@PORT@', String(BOUNCER_PORT)).replaceAll('@DIR@', dir);
  writeFileSync(ini, filled, { mode: 0o644 });
  // PgBouncer refuses to run as root; in the foreground (no -d) so that killing the child stops it.
  const asRoot = process.getuid?.() === 0;
  return asRoot
    ? startAndWait('pgbouncer', 'su', ['postgres', '-s', '/bin/sh', '-c', `exec /usr/sbin/pgbouncer ${ini}`], viaBouncer)
    : startAndWait('pgbouncer', '/usr/sbin/pgbouncer', [ini], viaBouncer);
}

const HZ = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** utime + stime of a process, in seconds (fields 14 and 15 of /proc/<pid>/stat, in clock ticks). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
  return (Number(fields[11]) + Number(fields[12])) / HZ;
}

/** `count` INSERTs, one await after the other; returns the elapsed ms. */
async function inserts(c: pg.Client, firstId: number, count: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < count; i++) await c.query(SQL, [firstId + i, `value ${firstId + i}`]);
  return performance.now() - t0;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function main(): Promise<void> {
  chmodSync(work, 0o755); // PgBouncer runs as postgres and reads its ini from here.
  await withClient(direct('postgres'), async (c) => {
    await c.query(`drop database if exists ${DB} with (force)`);
    await c.query(`create database ${DB}`);
  });
  const admin = new pg.Client(direct(DB));
  await admin.connect();
  const clients = new Map<Target, pg.Client>();
  try {
    await admin.query('create table t (id integer primary key, v text not null)');
    const pids: Partial<Record<Target, number>> = { dgf: await startDgf(), pipe: await startPipe() };
    await startBouncer();
    // Its own pid (the child is `su` when run as root), for its CPU.
    pids.pgbouncer = Number(readFileSync(join(work, 'pgbouncer/pgbouncer.pid'), 'utf8'));
    const configs: Record<Target, pg.ClientConfig> = { direct: direct(DB), pgbouncer: viaBouncer, pipe: viaPipe, dgf: viaDgf };
    for (const t of TARGETS) {
      const c = new pg.Client(configs[t]);
      await c.connect();
      clients.set(t, c);
    }
    // Warm-up, not measured: JIT, pools, statement shapes.
    for (const t of TARGETS) {
      await admin.query('truncate t');
      await inserts(clients.get(t)!, 0, WARMUP);
    }
    const rows: Round[] = [];
    for (let r = 1; r <= ROUNDS; r++) {
      const order = r % 2 ? TARGETS : [...TARGETS].reverse();
      const round = { ms: {}, cpuUs: {} } as Round;
      for (const t of order) {
        await admin.query('truncate t');
        const pid = pids[t];
        const cpu0 = pid ? cpuSeconds(pid) : 0;
        round.ms[t] = await inserts(clients.get(t)!, 0, INSERTS);
        if (pid) round.cpuUs[t] = ((cpuSeconds(pid) - cpu0) * 1e6) / INSERTS;
        const { rows: n } = await admin.query<{ n: string }>('select count(*) as n from t');
        if (Number(n[0]!.n) !== INSERTS) throw new Error(`round ${r}, ${t}: ${n[0]!.n} rows, expected ${INSERTS}`);
      }
      rows.push(round);
      console.log(`round=${r} ` + TARGETS.map((t) => `${t}=${round.ms[t].toFixed(0)}ms`).join(' ') + ` dgf/direct=${(round.ms.dgf / round.ms.direct).toFixed(3)}`);
    }
    const ratio = (t: Target, to: Target): number => median(rows.map((x) => x.ms[t] / x.ms[to]));
    const records = readdirSync(join(work, 'audit'))
      .map((f) => readFileSync(join(work, 'audit', f), 'utf8').split('\n').filter(Boolean).length)
      .reduce((a, b) => a + b, 0);
    const statements = WARMUP + ROUNDS * INSERTS;
    console.log(`median dgf/direct=${ratio('dgf', 'direct').toFixed(3)} (goal <= ${GOAL}) pgbouncer/direct=${ratio('pgbouncer', 'direct').toFixed(3)} pipe/direct=${ratio('pipe', 'direct').toFixed(3)} audit records=${records}`);
    writeReport(rows, ratio, records, statements);
  } finally {
    for (const c of clients.values()) await c.end().catch(() => undefined);
    await admin.query('drop table if exists t').catch(() => undefined);
    await admin.end().catch(() => undefined);
    for (const child of children) child.kill();
    try {
      process.kill(Number(readFileSync(join(work, 'pgbouncer/pgbouncer.pid'), 'utf8')));
    } catch {
      // not running
    }
    await new Promise((r) => setTimeout(r, 300));
    await withClient(direct('postgres'), (c) => c.query(`drop database if exists ${DB} with (force)`)).catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  }
}

interface Round {
  ms: Record<Target, number>;
  cpuUs: Partial<Record<Target, number>>;
}

function writeReport(rows: readonly Round[], ratio: (t: Target, to: Target) => number, records: number, statements: number): void {
  const us = (ms: number): string => ((ms * 1000) / INSERTS).toFixed(0);
  const med = ratio('dgf', 'direct');
  const proxies = ['pgbouncer', 'pipe', 'dgf'] as const;
  const lines = [
    '# PostgreSQL: single-row INSERT latency, direct vs PgBouncer vs dgf',
    '',
    `Run: ${new Date().toISOString().slice(0, 16)}Z on ${availableParallelism()} cores (${release()}); ` +
      `\`INSERTS=${INSERTS} ROUNDS=${ROUNDS} node --import tsx bench/postgres/insert-latency.ts\`.`,
    `${INSERTS} single-row INSERTs (\`${SQL}\`, node-postgres, extended protocol, one client, each awaited before the`,
    `next) per target and round, into a fresh table (truncated before each run) of a database of its own; ${ROUNDS}`,
    `rounds, the targets interleaved (the order reversed every other round), after ${WARMUP} unmeasured INSERTs per target.`,
    `PostgreSQL 15 on 127.0.0.1:${PGPORT} (its own fsync off). dgf in its default configuration (no \`failMode\` /`,
    '`durability` keys: failMode closed, durability write): every INSERT\'s intent record is handed to the operating',
    'system (one write(2) per event-loop turn) before the INSERT goes upstream; the file sink fdatasyncs every 20 ms in',
    'the background. Transaction pooling, pool 2, shipped packs, SCRAM login as `bench` (config of bench/postgres/dgf.sh).',
    'PgBouncer 1.18: transaction mode, pool 2 (as in bench/postgres/run.sh). The Node pipe (bench/postgres/bare-pipe.ts)',
    'is a reference, not a proxy: one upstream connection per client, bytes piped both ways, nothing else, i.e. what a',
    'Node.js process pays for the two extra loopback hops of a round trip on this machine.',
    'Everything shares the same machine with other work.',
    '',
    `Goal (issue #17): dgf / direct <= ${GOAL}. Median of the per-round ratios: **${med.toFixed(2)}** ` +
      `(${med <= GOAL ? 'goal met' : 'above the goal'}).`,
    '',
    '| ratio (median of per-round ratios) | value |',
    '| --- | ---: |',
    `| PgBouncer / direct | ${ratio('pgbouncer', 'direct').toFixed(2)} |`,
    `| Node pipe / direct | ${ratio('pipe', 'direct').toFixed(2)} |`,
    `| dgf / direct | ${med.toFixed(2)} |`,
    `| dgf / PgBouncer | ${ratio('dgf', 'pgbouncer').toFixed(2)} |`,
    `| dgf / Node pipe | ${ratio('dgf', 'pipe').toFixed(2)} |`,
    '',
    '| round | ' + TARGETS.map((t) => `${LABEL[t]} ms`).join(' | ') + ' | ' + TARGETS.map((t) => `${LABEL[t]} us/INSERT`).join(' | ') + ' | ' + proxies.map((t) => `${LABEL[t]} CPU us/INSERT`).join(' | ') + ' |',
    '| ---: | ' + [...TARGETS, ...TARGETS, ...proxies].map(() => '---:').join(' | ') + ' |',
    ...rows.map(
      (x, i) =>
        `| ${i + 1} | ` +
        TARGETS.map((t) => x.ms[t].toFixed(0)).join(' | ') +
        ' | ' +
        TARGETS.map((t) => us(x.ms[t])).join(' | ') +
        ' | ' +
        proxies.map((t) => (x.cpuUs[t] ?? 0).toFixed(1)).join(' | ') +
        ' |',
    ),
    '',
    'CPU: utime + stime of the proxy\'s process (/proc/<pid>/stat) during its run, divided by the INSERTs.',
    `Audit records written by dgf: ${records} for ${statements} INSERTs and the start-up probes (warm-up included).`,
    '',
  ];
  writeFileSync(OUT, lines.join('\n'));
  console.log(`wrote ${OUT}`);
}

await main();
