/**
 * Soak: 1,000 concurrent clients across the five listeners of a LIVE dgf (its own process, the real CLI) for
 * 10 minutes, each a loop of reads, writes, statements the shipped policies deny, and reconnects, with think time
 * between operations. Every minute it records the operations, the unexpected errors, the denials (expected, and
 * whether every one was enforced), client latency, dgf's RSS (/proc) and its event-loop delay from /metrics
 * (prom-client's dgf_nodejs_eventloop_lag_* gauges, reset at each scrape: sampled every 5 s, worst kept).
 *
 *   node --import tsx bench/soak/run.ts [--minutes 10] [--clients 1000] [--think-ms 1000] [--out soak.json]
 *
 * Clients per protocol (clients/5 each): pg and ioredis hold one connection per client; the mongodb driver,
 * @azure/cosmos and @azure/storage-blob share one client object among 5 workers (a driver pools connections;
 * 1,000 MongoClients would mostly measure the driver's monitors). Needs `bash scripts/backends.sh start`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import { CosmosClient } from '@azure/cosmos';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { metric, PASSWORD, rssOf, startLiveDgf, userKey, type LiveDgf, type ProtocolName } from '../fuzz/live-dgf.js';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    clients: { type: 'string', default: '1000' },
    'think-ms': { type: 'string', default: '1000' },
    out: { type: 'string' },
  },
});
const MINUTES = Number(args.minutes);
const CLIENTS = Number(args.clients);
const THINK_MS = Number(args['think-ms']);
const PER_PROTOCOL = Math.floor(CLIENTS / 5);
const SHARE = 5;
const ROWS = 1000;

type Op = 'read' | 'write' | 'deny' | 'reconnect';

interface Minute {
  minute: number;
  ops: Record<Op, number>;
  errors: number;
  errorsBy: Record<string, number>;
  errorSamples: string[];
  denied: number;
  /** A statement the policies deny that went through anyway (must stay 0). */
  denyNotEnforced: number;
  latencies: number[];
  /** Latencies and errors per protocol. */
  byProtocol: Record<string, { ops: number; errors: number; latencies: number[] }>;
  /** CPU seconds dgf used in this minute (user + system, from /proc/<pid>/stat). */
  cpuSeconds: number;
  rssMax: number;
  eldP99Max: number;
  eldMax: number;
  eldMeanSum: number;
  eldSamples: number;
}

const minutes: Minute[] = [];
let peakRss = 0;
let startedAt = 0;
function current(): Minute {
  const i = Math.floor((Date.now() - startedAt) / 60_000);
  while (minutes.length <= i) {
    minutes.push({
      minute: minutes.length + 1,
      ops: { read: 0, write: 0, deny: 0, reconnect: 0 },
      errors: 0,
      errorsBy: {},
      errorSamples: [],
      denied: 0,
      denyNotEnforced: 0,
      latencies: [],
      byProtocol: {},
      cpuSeconds: 0,
      rssMax: 0,
      eldP99Max: 0,
      eldMax: 0,
      eldMeanSum: 0,
      eldSamples: 0,
    });
  }
  return minutes[i]!;
}

const isDenial = (err: unknown): boolean => {
  const e = err as { message?: string; code?: number | string; statusCode?: number };
  return /not allowed|denied|policy/i.test(String(e.message ?? '')) || e.code === 403 || e.statusCode === 403 || e.code === 13 || e.code === '42501';
};

let stopping = false;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A client's operations; `reconnect` replaces its connection (or, for pooled drivers, opens and uses a fresh one). */
interface Worker {
  read(): Promise<unknown>;
  write(): Promise<unknown>;
  deny(): Promise<unknown>;
  reconnect(): Promise<unknown>;
  close(): Promise<void>;
}

function pickOp(): Op {
  const r = Math.random();
  return r < 0.55 ? 'read' : r < 0.85 ? 'write' : r < 0.97 ? 'deny' : 'reconnect';
}

async function runWorker(protocol: ProtocolName, w: Worker): Promise<void> {
  await sleep(Math.random() * THINK_MS);
  while (!stopping) {
    const op = pickOp();
    const t = performance.now();
    const mine = (m: Minute): { ops: number; errors: number; latencies: number[] } => (m.byProtocol[protocol] ??= { ops: 0, errors: 0, latencies: [] });
    try {
      await w[op]();
      const m = current();
      m.ops[op]++;
      m.latencies.push(performance.now() - t);
      mine(m).ops++;
      mine(m).latencies.push(performance.now() - t);
      if (op === 'deny') m.denyNotEnforced++;
    } catch (err) {
      const m = current();
      m.ops[op]++;
      mine(m).ops++;
      if (op === 'deny' && isDenial(err)) {
        m.denied++;
        m.latencies.push(performance.now() - t);
        mine(m).latencies.push(performance.now() - t);
      } else if (!stopping) {
        m.errors++;
        mine(m).errors++;
        const key = `${protocol}/${op}`;
        m.errorsBy[key] = (m.errorsBy[key] ?? 0) + 1;
        if (m.errorSamples.length < 5) m.errorSamples.push(`${key}: ${String((err as Error).message ?? err).slice(0, 160)}`);
      }
    }
    await sleep(THINK_MS * (0.5 + Math.random()));
  }
  await w.close().catch(() => undefined);
}

const rid = (): number => 1 + Math.floor(Math.random() * ROWS);

async function pgWorker(port: number): Promise<Worker> {
  const connect = async (): Promise<pg.Client> => {
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'analyst', password: PASSWORD, database: 'postgres' });
    c.on('error', () => undefined);
    await c.connect();
    return c;
  };
  let c = await connect();
  return {
    read: () => c.query('SELECT id, email, n FROM soak_items WHERE id = $1', [rid()]),
    write: () => c.query('UPDATE soak_items SET n = n + 1 WHERE id = $1', [rid()]),
    deny: () => c.query('TRUNCATE soak_nothing'),
    async reconnect() {
      await c.end().catch(() => undefined);
      c = await connect();
    },
    close: () => c.end(),
  };
}

async function redisWorker(port: number): Promise<Worker> {
  const connect = async (): Promise<Redis> => {
    const r = new Redis({ port, host: '127.0.0.1', username: 'analyst', password: PASSWORD, maxRetriesPerRequest: 1, lazyConnect: true });
    r.on('error', () => undefined);
    await r.connect();
    return r;
  };
  let r = await connect();
  return {
    read: () => r.get(`soak:${rid()}`),
    write: () => r.set(`soak:${rid()}`, `user${rid()}@example.com`, 'EX', 3600),
    deny: () => r.keys('soak:*'),
    async reconnect() {
      r.disconnect();
      r = await connect();
    },
    async close() {
      r.disconnect();
    },
  };
}

function mongoWorker(port: number, shared: MongoClient): Worker {
  const url = `mongodb://analyst:${PASSWORD}@127.0.0.1:${port}/soakdb?directConnection=true`;
  const items = shared.db('soakdb').collection('items');
  return {
    read: () => items.findOne({ _id: rid() as never }),
    write: () => items.updateOne({ _id: rid() as never }, { $inc: { n: 1 } }),
    deny: () => shared.db('soakdb').collection('soak_nothing').deleteMany({}),
    async reconnect() {
      const fresh = new MongoClient(url, { maxPoolSize: 1, serverSelectionTimeoutMS: 10_000 });
      try {
        await fresh.db('soakdb').collection('items').findOne({ _id: rid() as never });
      } finally {
        await fresh.close();
      }
    },
    close: async () => undefined,
  };
}

function cosmosWorker(endpoint: string, shared: CosmosClient): Worker {
  const items = shared.database('soakdb').container('items');
  return {
    read: () => items.item(`d${rid() % 50}`, 'eu').read(),
    write: () => items.items.upsert({ id: `w${rid() % 50}`, pk: 'eu', email: `user${rid()}@example.com`, n: rid() }),
    deny: () => shared.database('soakdb').container('soak-nothing').delete(),
    async reconnect() {
      const fresh = new CosmosClient({ endpoint, key: userKey('analyst') });
      try {
        await fresh.database('soakdb').container('items').item(`d${rid() % 50}`, 'eu').read();
      } finally {
        fresh.dispose();
      }
    },
    close: async () => undefined,
  };
}

function blobWorker(url: string, shared: BlobServiceClient): Worker {
  const container = shared.getContainerClient('soak');
  return {
    read: () => container.getBlobClient(`r/${rid() % 50}.txt`).downloadToBuffer(),
    write: () => {
      const body = `note for user${rid()}@example.com`;
      return container.getBlockBlobClient(`w/${rid() % 50}.txt`).upload(body, Buffer.byteLength(body));
    },
    deny: () => shared.getContainerClient('soak-nothing').delete(),
    async reconnect() {
      const fresh = new BlobServiceClient(url, new StorageSharedKeyCredential('analyst', userKey('analyst')));
      await fresh.getContainerClient('soak').getBlobClient(`r/${rid() % 50}.txt`).getProperties();
    },
    close: async () => undefined,
  };
}

async function seed(live: LiveDgf): Promise<void> {
  const direct = new pg.Client({ host: '127.0.0.1', port: 55432, user: 'postgres', database: 'postgres' });
  await direct.connect();
  await direct.query('DROP TABLE IF EXISTS soak_items; CREATE TABLE soak_items (id int PRIMARY KEY, email text, n int NOT NULL DEFAULT 0)');
  await direct.query(`INSERT INTO soak_items SELECT g, 'user' || g || '@example.com', 0 FROM generate_series(1, ${ROWS}) g`);
  await direct.end();
  const mongo = new MongoClient('mongodb://127.0.0.1:57017/', { directConnection: true });
  await mongo.connect();
  const items = mongo.db('soakdb').collection('items');
  await items.deleteMany({});
  await items.insertMany(Array.from({ length: ROWS }, (_, i) => ({ _id: (i + 1) as never, email: `user${i + 1}@example.com`, n: 0 })));
  await mongo.close();
  const cosmos = new CosmosClient({ endpoint: `http://127.0.0.1:${live.ports.cosmos}`, key: userKey('admin') });
  const { database } = await cosmos.databases.createIfNotExists({ id: 'soakdb' });
  const { container } = await database.containers.createIfNotExists({ id: 'items', partitionKey: { paths: ['/pk'] } });
  for (let i = 0; i < 50; i++) await container.items.upsert({ id: `d${i}`, pk: 'eu', email: `user${i}@example.com`, n: i });
  cosmos.dispose();
  const blob = new BlobServiceClient(`http://127.0.0.1:${live.ports.blob}/admin`, new StorageSharedKeyCredential('admin', userKey('admin')));
  const c = blob.getContainerClient('soak');
  await c.createIfNotExists();
  for (let i = 0; i < 50; i++) {
    const body = `stored note ${i}: reach user${i}@example.com`;
    await c.getBlockBlobClient(`r/${i}.txt`).upload(body, Buffer.byteLength(body));
  }
}

/** CPU seconds (user + system) a process has used so far. */
function cpuOf(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

async function sampler(live: LiveDgf): Promise<void> {
  let lastCpu = cpuOf(live.pid);
  while (!stopping) {
    const m = current();
    const cpu = cpuOf(live.pid);
    m.cpuSeconds += cpu - lastCpu;
    lastCpu = cpu;
    const { rss, peak } = rssOf(live.pid);
    if (rss > m.rssMax) m.rssMax = rss;
    if (peak > peakRss) peakRss = peak;
    try {
      const text = await (await fetch(`${live.adminUrl}/metrics`)).text();
      const p99 = metric(text, 'dgf_nodejs_eventloop_lag_p99_seconds');
      const max = metric(text, 'dgf_nodejs_eventloop_lag_max_seconds');
      const mean = metric(text, 'dgf_nodejs_eventloop_lag_mean_seconds');
      if (p99 > m.eldP99Max) m.eldP99Max = p99;
      if (max > m.eldMax) m.eldMax = max;
      if (Number.isFinite(mean)) {
        m.eldMeanSum += mean;
        m.eldSamples++;
      }
    } catch (err) {
      m.errors++;
      m.errorsBy['metrics'] = (m.errorsBy['metrics'] ?? 0) + 1;
      if (m.errorSamples.length < 5) m.errorSamples.push(`metrics: ${(err as Error).message}`);
    }
    await sleep(5000);
  }
}

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

function table(): string {
  const rows = minutes.map((m) => {
    const ops = m.ops.read + m.ops.write + m.ops.deny + m.ops.reconnect;
    return `| ${m.minute} | ${ops} | ${m.ops.read} | ${m.ops.write} | ${m.denied}/${m.ops.deny} | ${m.ops.reconnect} | ${m.errors} | ${m.denyNotEnforced} | ${pct(m.latencies, 50).toFixed(1)} | ${pct(m.latencies, 99).toFixed(1)} | ${(m.rssMax / 1048576).toFixed(0)} | ${(m.eldMeanSum / Math.max(1, m.eldSamples) * 1000).toFixed(1)} | ${(m.eldP99Max * 1000).toFixed(1)} | ${(m.eldMax * 1000).toFixed(1)} | ${m.cpuSeconds.toFixed(1)} |`;
  });
  return [
    '| min | ops | reads | writes | denied/deny ops | reconnects | errors | deny not enforced | p50 ms | p99 ms | RSS max MiB | ELD mean ms | ELD p99 max ms | ELD max ms | dgf CPU s |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
  ].join('\n');
}

function protocolTable(): string {
  const rows = ['postgres', 'redis', 'mongodb', 'cosmos', 'blob'].map((p) => {
    const all = minutes.flatMap((m) => m.byProtocol[p]?.latencies ?? []);
    const ops = minutes.reduce((n, m) => n + (m.byProtocol[p]?.ops ?? 0), 0);
    const errors = minutes.reduce((n, m) => n + (m.byProtocol[p]?.errors ?? 0), 0);
    return `| ${p} | ${ops} | ${errors} | ${pct(all, 50).toFixed(1)} | ${pct(all, 99).toFixed(1)} |`;
  });
  return ['| protocol | ops | errors | p50 ms | p99 ms |', '|---|---:|---:|---:|---:|', ...rows].join('\n');
}

async function main(): Promise<void> {
  const live = await startLiveDgf({ pgAuth: 'scram', pgMaxConnections: 10 });
  console.log(`dgf pid ${live.pid}; seeding`);
  await seed(live);
  const sharedMongo: MongoClient[] = [];
  const sharedCosmos: CosmosClient[] = [];
  const sharedBlob: BlobServiceClient[] = [];
  const cosmosEndpoint = `http://127.0.0.1:${live.ports.cosmos}`;
  const blobUrl = `http://127.0.0.1:${live.ports.blob}/analyst`;
  for (let i = 0; i < Math.ceil(PER_PROTOCOL / SHARE); i++) {
    const m = new MongoClient(`mongodb://analyst:${PASSWORD}@127.0.0.1:${live.ports.mongodb}/soakdb?directConnection=true`, { maxPoolSize: SHARE, serverSelectionTimeoutMS: 10_000 });
    await m.connect();
    sharedMongo.push(m);
    sharedCosmos.push(new CosmosClient({ endpoint: cosmosEndpoint, key: userKey('analyst') }));
    sharedBlob.push(new BlobServiceClient(blobUrl, new StorageSharedKeyCredential('analyst', userKey('analyst'))));
  }
  console.log(`starting ${PER_PROTOCOL * 5} clients`);
  const workers: Array<[ProtocolName, Worker]> = [];
  for (let i = 0; i < PER_PROTOCOL; i++) {
    workers.push(['postgres', await pgWorker(live.ports.postgres)]);
    workers.push(['redis', await redisWorker(live.ports.redis)]);
    workers.push(['mongodb', mongoWorker(live.ports.mongodb, sharedMongo[Math.floor(i / SHARE)]!)]);
    workers.push(['cosmos', cosmosWorker(cosmosEndpoint, sharedCosmos[Math.floor(i / SHARE)]!)]);
    workers.push(['blob', blobWorker(blobUrl, sharedBlob[Math.floor(i / SHARE)]!)]);
  }
  startedAt = Date.now();
  console.log(`running ${workers.length} clients for ${MINUTES} min`);
  const samplerDone = sampler(live);
  const running = workers.map(([p, w]) => runWorker(p, w));
  const ticker = setInterval(() => {
    const m = current();
    const done = minutes.length > 1 ? minutes[minutes.length - 2]! : m;
    console.log(`[${new Date().toISOString().slice(11, 19)}] minute ${done.minute}: ops ${Object.values(done.ops).reduce((a, b) => a + b, 0)} errors ${done.errors} rss ${(rssOf(live.pid).rss / 1048576).toFixed(0)} MiB ${JSON.stringify(done.errorsBy)}`);
  }, 60_000);
  await sleep(MINUTES * 60_000);
  stopping = true;
  clearInterval(ticker);
  await Promise.race([Promise.all(running), sleep(15_000)]);
  await samplerDone;
  // Operations finishing during shutdown land in a minute past the end: not part of the table.
  if (minutes.length > MINUTES) minutes.length = MINUTES;
  for (const m of sharedMongo) await m.close().catch(() => undefined);
  for (const c of sharedCosmos) c.dispose();
  const crashed = live.exited;
  await live.stop();
  const md = `${table()}\n\n${protocolTable()}`;
  console.log(md);
  const summary = {
    date: new Date().toISOString(),
    minutes: MINUTES,
    clients: workers.length,
    thinkMs: THINK_MS,
    crashed,
    peakRssBytes: peakRss,
    stderrTail: live.stderr().slice(-3000),
    perMinute: minutes.map((m) => ({
      ...m,
      latencies: undefined,
      p50: pct(m.latencies, 50),
      p99: pct(m.latencies, 99),
      byProtocol: Object.fromEntries(
        Object.entries(m.byProtocol).map(([p, v]) => [p, { ops: v.ops, errors: v.errors, p50: pct(v.latencies, 50), p99: pct(v.latencies, 99) }]),
      ),
    })),
    table: md,
  };
  if (args.out) writeFileSync(args.out, JSON.stringify(summary, null, 2));
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
