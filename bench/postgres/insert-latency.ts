/**
 * The real-world latency check of issue #17: INSERTS single-row INSERTs (`insert into t (id, v) values ($1, $2)`,
 * node-postgres, one client, one await after the other) directly against PostgreSQL and through dgf in its default
 * configuration (no failMode/durability keys: failMode closed, durability write; transaction pooling, pool 2, the
 * shipped packs, audit to a file with fsyncMs 20, user bench / benchpw: the config of bench/postgres/dgf.sh).
 * ROUNDS rounds, direct and dgf interleaved (the order swapped every other round); reports each round's ms and the
 * median of the per-round ratios dgf / direct (goal <= 1.3). Writes bench/results/postgres-insert-latency.md.
 *
 *   node --import tsx bench/postgres/insert-latency.ts          # INSERTS=5000 ROUNDS=5 PGPORT=55432 DGF_PORT=16541
 *
 * Needs the test PostgreSQL on 55432 (bash scripts/backends.sh start). Creates and drops its own database.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { availableParallelism, release, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const INSERTS = Number(process.env.INSERTS ?? 5000);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const PGPORT = Number(process.env.PGPORT ?? 55432);
const DGF_PORT = Number(process.env.DGF_PORT ?? 16541);
// V8 keeps optimizing dgf's paths for the first ~10,000 statements (--trace-opt): a short warm-up measures the JIT.
const WARMUP = Math.min(2000, INSERTS);
const DB = 'dgf_insert_latency';
const GOAL = 1.3;
const SQL = 'insert into t (id, v) values ($1, $2)';
const OUT = join(ROOT, 'bench/results/postgres-insert-latency.md');

const work = mkdtempSync(join(tmpdir(), 'dgf-insert-latency-'));
let dgf: ChildProcess | null = null;

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

async function withClient<T>(config: pg.ClientConfig, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client(config);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}

async function startDgf(): Promise<ChildProcess> {
  mkdirSync(join(work, 'audit'), { recursive: true });
  const configPath = join(work, 'dgf.yaml');
  writeFileSync(configPath, dgfConfig());
  const log = openSync(join(work, 'dgf.log'), 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'start', '--config', configPath], {
    cwd: ROOT,
    env: { ...process.env, DGF_LOG_LEVEL: 'warn' },
    stdio: ['ignore', log, log],
  });
  let exited = false;
  child.on('exit', () => (exited = true));
  for (let i = 0; i < 240 && !exited; i++) {
    try {
      await withClient(viaDgf, (c) => c.query('select 1'));
      return child;
    } catch {
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  child.kill();
  throw new Error(`dgf did not start: ${readFileSync(join(work, 'dgf.log'), 'utf8')}`);
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
  await withClient(direct('postgres'), async (c) => {
    await c.query(`drop database if exists ${DB} with (force)`);
    await c.query(`create database ${DB}`);
  });
  const admin = new pg.Client(direct(DB));
  await admin.connect();
  try {
    await admin.query('create table t (id integer primary key, v text not null)');
    const proc = await startDgf();
    dgf = proc;
    const clients = { direct: new pg.Client(direct(DB)), dgf: new pg.Client(viaDgf) };
    await clients.direct.connect();
    await clients.dgf.connect();
    try {
      // Warm-up, not measured: JIT, pools, statement shapes.
      for (const c of [clients.direct, clients.dgf]) {
        await admin.query('truncate t');
        await inserts(c, 0, WARMUP);
      }
      const rows: Array<{ direct: number; dgf: number; ratio: number; dgfCpuUs: number }> = [];
      for (let r = 1; r <= ROUNDS; r++) {
        const order = r % 2 ? (['direct', 'dgf'] as const) : (['dgf', 'direct'] as const);
        const ms = { direct: 0, dgf: 0 };
        let dgfCpuUs = 0;
        for (const target of order) {
          await admin.query('truncate t');
          const cpu0 = cpuSeconds(proc.pid!);
          ms[target] = await inserts(clients[target], 0, INSERTS);
          if (target === 'dgf') dgfCpuUs = ((cpuSeconds(proc.pid!) - cpu0) * 1e6) / INSERTS;
        }
        const { rows: n } = await admin.query<{ n: string }>('select count(*) as n from t');
        if (Number(n[0]!.n) !== INSERTS) throw new Error(`round ${r}: ${n[0]!.n} rows, expected ${INSERTS}`);
        rows.push({ direct: ms.direct, dgf: ms.dgf, ratio: ms.dgf / ms.direct, dgfCpuUs });
        console.log(
          `round=${r} direct=${ms.direct.toFixed(0)}ms dgf=${ms.dgf.toFixed(0)}ms ratio=${(ms.dgf / ms.direct).toFixed(3)} dgf-cpu=${dgfCpuUs.toFixed(1)}us/insert`,
        );
      }
      const med = median(rows.map((x) => x.ratio));
      const records = readdirSync(join(work, 'audit'))
        .map((f) => readFileSync(join(work, 'audit', f), 'utf8').split('\n').filter(Boolean).length)
        .reduce((a, b) => a + b, 0);
      const statements = WARMUP + ROUNDS * INSERTS;
      console.log(`median dgf/direct=${med.toFixed(3)} (goal <= ${GOAL}) audit records=${records}`);
      writeReport(rows, med, records, statements);
    } finally {
      await clients.direct.end().catch(() => undefined);
      await clients.dgf.end().catch(() => undefined);
    }
  } finally {
    await admin.query('drop table if exists t').catch(() => undefined);
    await admin.end().catch(() => undefined);
    dgf?.kill();
    await withClient(direct('postgres'), (c) => c.query(`drop database if exists ${DB} with (force)`)).catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  }
}

function writeReport(rows: ReadonlyArray<{ direct: number; dgf: number; ratio: number; dgfCpuUs: number }>, med: number, records: number, statements: number): void {
  const us = (ms: number): string => ((ms * 1000) / INSERTS).toFixed(0);
  const lines = [
    '# PostgreSQL: single-row INSERT latency, direct vs dgf',
    '',
    `Run: ${new Date().toISOString().slice(0, 16)}Z on ${availableParallelism()} cores (${release()}); ` +
      `\`INSERTS=${INSERTS} ROUNDS=${ROUNDS} node --import tsx bench/postgres/insert-latency.ts\`.`,
    `${INSERTS} single-row INSERTs (\`${SQL}\`, node-postgres, extended protocol, one client, each awaited before the`,
    `next) per target and round, into a fresh table (truncated before each run) of a database of its own; ${ROUNDS}`,
    `rounds, direct and dgf interleaved (the order swapped every other round), after ${WARMUP} unmeasured INSERTs per target.`,
    `PostgreSQL 15 on 127.0.0.1:${PGPORT} (its own fsync off). dgf in its default configuration (no \`failMode\` /`,
    '`durability` keys: failMode closed, durability write): every INSERT\'s intent record is handed to the operating',
    'system (one write(2) per event-loop turn) before the INSERT goes upstream; the file sink fdatasyncs every 20 ms in',
    'the background. Transaction pooling, pool 2, shipped packs, SCRAM login as `bench` (config of bench/postgres/dgf.sh).',
    'Everything shares the same machine with other work.',
    '',
    `Goal (issue #17): dgf / direct <= ${GOAL}. Median of the per-round ratios: **${med.toFixed(2)}** ` +
      `(${med <= GOAL ? 'goal met' : 'above the goal'}).`,
    '',
    '| round | direct ms | dgf ms | dgf / direct | direct us/INSERT | dgf us/INSERT | dgf CPU us/INSERT |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (x, i) =>
        `| ${i + 1} | ${x.direct.toFixed(0)} | ${x.dgf.toFixed(0)} | ${x.ratio.toFixed(2)} | ${us(x.direct)} | ${us(x.dgf)} | ${x.dgfCpuUs.toFixed(1)} |`,
    ),
    '',
    'dgf CPU: utime + stime of the dgf process (/proc/<pid>/stat) during its run, divided by the INSERTs.',
    `Audit records written by dgf: ${records} for ${statements} INSERTs and the start-up probes (warm-up included).`,
    '',
  ];
  writeFileSync(OUT, lines.join('\n'));
  console.log(`wrote ${OUT}`);
}

await main();
