/**
 * Soak: 1,000 concurrent clients across the five listeners of a LIVE dgf (its own process, the real CLI) for
 * 10 minutes, each a loop of reads, writes, statements the shipped policies deny, and reconnects, with think time
 * between operations. Every minute it records the operations, the unexpected errors, the denials (expected, and
 * whether every one was enforced), client latency, dgf's RSS (/proc), its V8 heap and its event-loop delay from
 * /metrics (prom-client's dgf_nodejs_eventloop_lag_* gauges, reset at each scrape: sampled every 5 s, worst kept).
 *
 * Lost acknowledged writes: every write is to a key of its own (a new key, or a key the same client created
 * before, overwritten with a new unique value), and every write the client saw acknowledged is recorded (key and
 * value). Once the load has stopped and dgf has exited, each recorded key is read back DIRECTLY from its backend
 * (not through dgf) and compared with the last acknowledged value; a missing key or another value is a lost write.
 * A write that failed (no acknowledgement) may or may not have landed: its key is never written again, and either
 * value (the last acknowledged one or the failed one) is accepted.
 *
 *   node --import tsx bench/soak/run.ts [--minutes 10] [--clients 1000] [--think-ms 1000] [--warmup-s 0] [--keys-per-client 8] [--self-test-loss] [--out soak.json]
 *
 * Every client is connected, and every worker has made one read (so the pooled drivers have opened their
 * connections), before the measured minutes start. --warmup-s: seconds of full load after that and before the
 * measured minutes (figures printed and kept in the JSON as `warmup`, not in the per-minute table; default 0).
 * --self-test-loss: deletes one acknowledged key per protocol in the backend before the read-back (expects 5 lost).
 * --keys-per-client K: each client writes at most K keys of its own (new keys until it has K, then overwrites of
 * them with new values): a working set that stops growing, so that memory growth is a leak and not dgf's bounded
 * caches (key decisions, traces, inventory, blob labels) filling with ever-new names. 0 = ever-new keys (70% of the
 * writes create a key, as long as the run lasts): the caches then grow towards their caps during the whole run.
 *
 * Clients per protocol (clients/5 each): pg and ioredis hold one connection per client; the mongodb driver,
 * @azure/cosmos and @azure/storage-blob share one client object among 5 workers (a driver pools connections;
 * 1,000 MongoClients would mostly measure the driver's monitors). Needs `bash scripts/backends.sh start`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { Redis } from 'ioredis';
import { MongoClient, ObjectId } from 'mongodb';
import { CosmosClient } from '@azure/cosmos';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { AZURITE_KEY, COSMOS_UPSTREAM_KEY, metric, PASSWORD, rssOf, startLiveDgf, userKey, type LiveDgf, type ProtocolName } from '../fuzz/live-dgf.js';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    clients: { type: 'string', default: '1000' },
    'think-ms': { type: 'string', default: '1000' },
    'warmup-s': { type: 'string', default: '0' },
    'keys-per-client': { type: 'string', default: '8' },
    /** Check the check: delete one acknowledged key per protocol in the backend before reading back (expects 5 lost). */
    'self-test-loss': { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
const MINUTES = Number(args.minutes);
const CLIENTS = Number(args.clients);
const THINK_MS = Number(args['think-ms']);
const WARMUP_MS = Number(args['warmup-s']) * 1000;
const KEYS_PER_CLIENT = Number(args['keys-per-client']);
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
  /** Writes acknowledged to the client in this minute, and how many of them were found lost at the end. */
  ackedWrites: number;
  lostWrites: number;
  latencies: number[];
  /** Latencies and errors per protocol. */
  byProtocol: Record<string, { ops: number; errors: number; latencies: number[] }>;
  /** CPU seconds dgf used in this minute (user + system, from /proc/<pid>/stat). */
  cpuSeconds: number;
  rssMax: number;
  /** Every 5 s sample of the minute (the median is the minute's level; the max catches a peak before a GC). */
  rssSamples: number[];
  /** V8 heap (used, and total = reserved by V8) and external memory from dgf's /metrics: max of the samples. */
  heapUsedMax: number;
  /** Lowest heap used sampled in the minute: close to the live set after a major GC (a leak raises it). */
  heapUsedMin: number;
  heapTotalMax: number;
  externalMax: number;
  eldP99Max: number;
  eldMax: number;
  eldMeanSum: number;
  eldSamples: number;
}

const newMinute = (minute: number): Minute => ({
  minute,
  ops: { read: 0, write: 0, deny: 0, reconnect: 0 },
  errors: 0,
  errorsBy: {},
  errorSamples: [],
  denied: 0,
  denyNotEnforced: 0,
  ackedWrites: 0,
  lostWrites: 0,
  latencies: [],
  byProtocol: {},
  cpuSeconds: 0,
  rssMax: 0,
  rssSamples: [],
  heapUsedMax: 0,
  heapUsedMin: 0,
  heapTotalMax: 0,
  externalMax: 0,
  eldP99Max: 0,
  eldMax: 0,
  eldMeanSum: 0,
  eldSamples: 0,
});

const minutes: Minute[] = [];
/** The load before the measured minutes (--warmup-s), as minute 0. */
const warmup = newMinute(0);
/** Operations that finish after the measured minutes (shutdown drain, or late answers during the read-back). */
const drain = newMinute(-1);
let peakRss = 0;
let startedAt = Number.POSITIVE_INFINITY;
/** 0-based index of the measured minute now (negative during the warm-up). */
const minuteIndex = (): number => Math.floor((Date.now() - startedAt) / 60_000);
function current(): Minute {
  const i = minuteIndex();
  if (i < 0) return warmup;
  if (i >= MINUTES) return drain;
  while (minutes.length <= i) minutes.push(newMinute(minutes.length + 1));
  return minutes[i]!;
}

/** One 5 s sample of dgf's memory, for the JSON output (seconds from the start of the measured minutes). */
interface Sample {
  t: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  /** RssAnon and RssFile from /proc/<pid>/status (VmRSS = anon + file + shmem). */
  rssAnon: number;
  rssFile: number;
  /** Used bytes per V8 heap space. */
  spaces: Record<string, number>;
  clientConnections: number;
  /** Every 30 s: where the RSS is, by mapping (see rssByMapping). */
  rssBy?: Record<string, number>;
}
const samples: Sample[] = [];

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

// ---------------------------------------------------------------------------------------------------------------
// Acknowledged writes.

/** Run tag: keys of this run never collide with what an earlier run left in the backends. */
const RUN = Date.now().toString(36);

interface AckedWrite {
  protocol: ProtocolName;
  key: string;
  /** The last acknowledged value. */
  value: string;
  /** Values of writes to this key that failed without an acknowledgement (they may have landed). */
  uncertain: string[];
  /** Measured minute (1-based; 0 = warm-up, MINUTES + 1 = shutdown drain) of the last acknowledgement. */
  minute: number;
}

const ledger = new Map<string, AckedWrite>();
/** Every acknowledged write operation (creations and overwrites). */
let ackedOps = 0;
let drainAcked = 0;
let valueSeq = 0;

interface WriteIntent {
  key: string;
  /** A number unique to the key in this run (its MongoDB _id: see oid). */
  n: number;
  value: string;
  overwrite: boolean;
}

let keySeq = 0;

/**
 * The keys one client writes: new keys of its own, or (30%, or always once it holds KEYS_PER_CLIENT) an overwrite
 * of one it created and saw acknowledged.
 */
class ClientWrites {
  /** Acknowledged keys this client may overwrite (a key whose write failed is dropped: never written again). */
  private readonly own: Array<{ key: string; n: number }> = [];
  private seq = 0;
  /** Keys this client has created (acknowledged or not). */
  private created = 0;

  constructor(
    readonly protocol: ProtocolName,
    private readonly client: string,
  ) {}

  next(): WriteIntent {
    const value = `v${++valueSeq}-${RUN} reach user${rid()}@example.com`;
    const full = KEYS_PER_CLIENT > 0 && this.created >= KEYS_PER_CLIENT && this.own.length > 0;
    if (full || (this.own.length > 0 && Math.random() < 0.3)) return { ...this.own[Math.floor(Math.random() * this.own.length)]!, value, overwrite: true };
    this.created++;
    return { key: `${RUN}-${this.client}-${++this.seq}`, n: ++keySeq, value, overwrite: false };
  }

  /** Run `write` for the next intent; records it when it resolves (acknowledged), marks the key when it fails. */
  async run(write: (w: WriteIntent) => Promise<void>): Promise<void> {
    const w = this.next();
    try {
      await write(w);
    } catch (err) {
      const entry = ledger.get(`${this.protocol}\u0000${w.key}`);
      if (entry) entry.uncertain.push(w.value);
      const i = this.own.findIndex((o) => o.key === w.key);
      if (i >= 0) this.own.splice(i, 1);
      throw err;
    }
    const i = minuteIndex();
    const minute = i < 0 ? 0 : i >= MINUTES ? MINUTES + 1 : i + 1;
    ackedOps++;
    if (minute === 0) warmup.ackedWrites++;
    else if (minute > MINUTES) drainAcked++;
    else current().ackedWrites++;
    const id = `${this.protocol}\u0000${w.key}`;
    const entry = ledger.get(id);
    if (entry) {
      entry.value = w.value;
      entry.minute = minute;
    } else {
      ledger.set(id, { protocol: this.protocol, key: w.key, value: w.value, uncertain: [], minute });
      if (this.own.length < 50) this.own.push({ key: w.key, n: w.n });
    }
  }
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
/** A read must find the seeded record (else the soak would measure empty answers). */
function found<T>(x: T | null | undefined, what: string): T {
  if (x === null || x === undefined) throw new Error(`read: ${what} not found`);
  return x;
}
/**
 * A fixed ObjectId for (kind, n): CongoDB (the MongoDB test backend) stores any other _id as an ObjectId of its own
 * (a string _id is refused, an integer becomes the timestamp of a new ObjectId), so a document is only found
 * again by _id when the _id is an ObjectId. kind 1: the seeded items, kind 2: the soak's writes.
 */
const oid = (kind: number, n: number): ObjectId => ObjectId.createFromHexString(kind.toString(16).padStart(8, '0') + n.toString(16).padStart(16, '0'));

async function pgWorker(port: number, writes: ClientWrites): Promise<Worker> {
  const connect = async (): Promise<pg.Client> => {
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'analyst', password: PASSWORD, database: 'postgres' });
    c.on('error', () => undefined);
    await c.connect();
    return c;
  };
  let c = await connect();
  return {
    read: async () => found((await c.query('SELECT id, email, n FROM soak_items WHERE id = $1', [rid()])).rows[0], 'soak_items row'),
    write: () =>
      writes.run(async (w) => {
        const r = w.overwrite
          ? await c.query('UPDATE soak_writes SET v = $2 WHERE id = $1', [w.key, w.value])
          : await c.query('INSERT INTO soak_writes (id, v) VALUES ($1, $2)', [w.key, w.value]);
        if (r.rowCount !== 1) throw new Error(`${w.overwrite ? 'UPDATE' : 'INSERT'} of ${w.key} affected ${r.rowCount} rows`);
      }),
    deny: () => c.query('TRUNCATE soak_nothing'),
    async reconnect() {
      await c.end().catch(() => undefined);
      c = await connect();
    },
    close: () => c.end(),
  };
}

async function redisWorker(port: number, writes: ClientWrites): Promise<Worker> {
  const connect = async (): Promise<Redis> => {
    const r = new Redis({ port, host: '127.0.0.1', username: 'analyst', password: PASSWORD, maxRetriesPerRequest: 1, lazyConnect: true });
    r.on('error', () => undefined);
    await r.connect();
    return r;
  };
  let r = await connect();
  return {
    read: async () => found(await r.get(`soak:${rid()}`), 'redis key'),
    write: () =>
      writes.run(async (w) => {
        const reply = await r.set(`soak:w:${w.key}`, w.value, 'EX', 7200);
        if (reply !== 'OK') throw new Error(`SET soak:w:${w.key} answered ${String(reply)}`);
      }),
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

function mongoWorker(port: number, shared: MongoClient, writes: ClientWrites): Worker {
  const url = `mongodb://analyst:${PASSWORD}@127.0.0.1:${port}/soakdb?directConnection=true`;
  const items = shared.db('soakdb').collection('items');
  const out = shared.db('soakdb').collection<{ _id: ObjectId; k: string; v: string }>('writes');
  return {
    read: async () => found(await items.findOne({ _id: oid(1, rid()) }), 'mongodb item'),
    write: () =>
      writes.run(async (w) => {
        if (w.overwrite) {
          const r = await out.updateOne({ _id: oid(2, w.n) }, { $set: { v: w.value } });
          if (!r.acknowledged || r.matchedCount !== 1) throw new Error(`updateOne ${w.key}: acknowledged ${r.acknowledged}, matched ${r.matchedCount}`);
        } else {
          const r = await out.insertOne({ _id: oid(2, w.n), k: w.key, v: w.value });
          if (!r.acknowledged) throw new Error(`insertOne ${w.key} not acknowledged`);
        }
      }),
    deny: () => shared.db('soakdb').collection('soak_nothing').deleteMany({}),
    async reconnect() {
      const fresh = new MongoClient(url, { maxPoolSize: 1, serverSelectionTimeoutMS: 10_000 });
      try {
        await fresh.db('soakdb').collection('items').findOne({ _id: oid(1, rid()) });
      } finally {
        await fresh.close();
      }
    },
    close: async () => undefined,
  };
}

function cosmosWorker(endpoint: string, shared: CosmosClient, writes: ClientWrites): Worker {
  const items = shared.database('soakdb').container('items');
  const out = shared.database('soakdb').container('writes');
  return {
    read: async () => found((await items.item(`d${rid() % 50}`, 'eu').read()).resource, 'cosmos item'),
    write: () =>
      writes.run(async (w) => {
        const doc = { id: w.key, pk: 'eu', v: w.value };
        const r = w.overwrite ? await out.items.upsert(doc) : await out.items.create(doc);
        if (r.statusCode !== 200 && r.statusCode !== 201) throw new Error(`${w.overwrite ? 'upsert' : 'create'} ${w.key}: status ${r.statusCode}`);
      }),
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

function blobWorker(url: string, shared: BlobServiceClient, writes: ClientWrites): Worker {
  const container = shared.getContainerClient('soak');
  return {
    read: () => container.getBlobClient(`r/${rid() % 50}.txt`).downloadToBuffer(),
    write: () =>
      writes.run(async (w) => {
        await container.getBlockBlobClient(`w/${w.key}.txt`).upload(w.value, Buffer.byteLength(w.value));
      }),
    deny: () => shared.getContainerClient('soak-nothing').delete(),
    async reconnect() {
      const fresh = new BlobServiceClient(url, new StorageSharedKeyCredential('analyst', userKey('analyst')));
      await fresh.getContainerClient('soak').getBlobClient(`r/${rid() % 50}.txt`).getProperties();
    },
    close: async () => undefined,
  };
}

// Direct clients of the backends (scripts/backends.sh), for seeding and for reading the writes back.
const DIRECT_PG = { host: '127.0.0.1', port: 55432, user: 'postgres', database: 'postgres' };
const DIRECT_REDIS = { host: '127.0.0.1', port: 56379 };
const DIRECT_MONGO = 'mongodb://127.0.0.1:57017/?directConnection=true';
const directCosmos = (): CosmosClient =>
  new CosmosClient({ endpoint: 'https://127.0.0.1:8081', key: COSMOS_UPSTREAM_KEY, agent: new https.Agent({ rejectUnauthorized: false, keepAlive: true }) });
const directBlob = (): BlobServiceClient =>
  new BlobServiceClient('http://127.0.0.1:10000/devstoreaccount1', new StorageSharedKeyCredential('devstoreaccount1', AZURITE_KEY));

async function seed(live: LiveDgf): Promise<void> {
  const direct = new pg.Client(DIRECT_PG);
  await direct.connect();
  await direct.query('DROP TABLE IF EXISTS soak_items; CREATE TABLE soak_items (id int PRIMARY KEY, email text, n int NOT NULL DEFAULT 0)');
  await direct.query(`INSERT INTO soak_items SELECT g, 'user' || g || '@example.com', 0 FROM generate_series(1, ${ROWS}) g`);
  await direct.query('DROP TABLE IF EXISTS soak_writes; CREATE TABLE soak_writes (id text PRIMARY KEY, v text NOT NULL)');
  await direct.end();
  const redis = new Redis(DIRECT_REDIS);
  const batch = redis.pipeline();
  for (let i = 1; i <= ROWS; i++) batch.set(`soak:${i}`, `user${i}@example.com`, 'EX', 7200);
  await batch.exec();
  redis.disconnect();
  const mongo = new MongoClient(DIRECT_MONGO);
  await mongo.connect();
  const items = mongo.db('soakdb').collection('items');
  await items.deleteMany({});
  await items.insertMany(Array.from({ length: ROWS }, (_, i) => ({ _id: oid(1, i + 1), email: `user${i + 1}@example.com`, n: 0 })));
  await mongo.db('soakdb').collection('writes').deleteMany({});
  await mongo.close();
  const cosmosDirect = directCosmos();
  const { database: directDb } = await cosmosDirect.databases.createIfNotExists({ id: 'soakdb' });
  await directDb.container('writes').delete().catch(() => undefined);
  await directDb.containers.createIfNotExists({ id: 'writes', partitionKey: { paths: ['/pk'] } });
  cosmosDirect.dispose();
  const cosmos = new CosmosClient({ endpoint: `http://127.0.0.1:${live.ports.cosmos}`, key: userKey('admin') });
  const { database } = await cosmos.databases.createIfNotExists({ id: 'soakdb' });
  const { container } = await database.containers.createIfNotExists({ id: 'items', partitionKey: { paths: ['/pk'] } });
  for (let i = 0; i < 50; i++) await container.items.upsert({ id: `d${i}`, pk: 'eu', email: `user${i}@example.com`, n: i });
  cosmos.dispose();
  const blob = new BlobServiceClient(`http://127.0.0.1:${live.ports.blob}/admin`, new StorageSharedKeyCredential('admin', userKey('admin')));
  const c = blob.getContainerClient('soak');
  await c.createIfNotExists();
  // Earlier runs' written blobs, straight from Azurite: its in-memory store gets slower as it fills.
  const leftovers: string[] = [];
  for await (const b of directBlob().getContainerClient('soak').listBlobsFlat({ prefix: 'w/' })) leftovers.push(b.name);
  const directSoak = directBlob().getContainerClient('soak');
  await eachLimit(leftovers, 16, async (name) => {
    await directSoak.getBlobClient(name).deleteIfExists();
  });
  if (leftovers.length > 0) console.log(`deleted ${leftovers.length} blobs earlier runs wrote`);
  for (let i = 0; i < 50; i++) {
    const body = `stored note ${i}: reach user${i}@example.com`;
    await c.getBlockBlobClient(`r/${i}.txt`).upload(body, Buffer.byteLength(body));
  }
}

/** Run `f` over `xs` with at most `n` at a time. */
async function eachLimit<T>(xs: T[], n: number, f: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, xs.length) }, async () => {
      while (next < xs.length) await f(xs[next++]!);
    }),
  );
}

interface LostWrite {
  protocol: ProtocolName;
  key: string;
  expected: string;
  found: string | null;
  minute: number;
}

/** --self-test-loss: delete the first acknowledged key of each protocol straight in its backend. */
async function dropOnePerProtocol(): Promise<void> {
  const first = new Map<ProtocolName, AckedWrite>();
  for (const e of ledger.values()) if (!first.has(e.protocol)) first.set(e.protocol, e);
  const pick = (p: ProtocolName): AckedWrite | undefined => first.get(p);
  const c = new pg.Client(DIRECT_PG);
  await c.connect();
  if (pick('postgres')) await c.query('DELETE FROM soak_writes WHERE id = $1', [pick('postgres')!.key]);
  await c.end();
  const r = new Redis(DIRECT_REDIS);
  if (pick('redis')) await r.del(`soak:w:${pick('redis')!.key}`);
  r.disconnect();
  const m = new MongoClient(DIRECT_MONGO);
  if (pick('mongodb')) await m.db('soakdb').collection('writes').deleteOne({ k: pick('mongodb')!.key });
  await m.close();
  const cosmos = directCosmos();
  if (pick('cosmos')) await cosmos.database('soakdb').container('writes').item(pick('cosmos')!.key, 'eu').replace({ id: pick('cosmos')!.key, pk: 'eu', v: 'changed' });
  cosmos.dispose();
  if (pick('blob')) await directBlob().getContainerClient('soak').getBlobClient(`w/${pick('blob')!.key}.txt`).delete();
  console.log(`self-test: deleted (cosmos: changed) one acknowledged key per protocol: ${[...first.values()].map((e) => `${e.protocol} ${e.key}`).join(', ')}`);
}

/** Read every acknowledged write back from its backend, directly; what is missing or holds another value is lost. */
async function verifyWrites(): Promise<{ checked: Record<string, number>; lost: LostWrite[]; readErrors: string[] }> {
  const byProtocol = new Map<ProtocolName, AckedWrite[]>();
  for (const e of ledger.values()) {
    let list = byProtocol.get(e.protocol);
    if (!list) byProtocol.set(e.protocol, (list = []));
    list.push(e);
  }
  const found = new Map<string, string | null>();
  const readErrors: string[] = [];
  const id = (p: ProtocolName, key: string): string => `${p}\u0000${key}`;
  const pgList = byProtocol.get('postgres') ?? [];
  if (pgList.length > 0) {
    const c = new pg.Client(DIRECT_PG);
    await c.connect();
    const { rows } = await c.query<{ id: string; v: string }>('SELECT id, v FROM soak_writes');
    for (const r of rows) found.set(id('postgres', r.id), r.v);
    await c.end();
  }
  const redisList = byProtocol.get('redis') ?? [];
  if (redisList.length > 0) {
    const r = new Redis(DIRECT_REDIS);
    for (let i = 0; i < redisList.length; i += 500) {
      const chunk = redisList.slice(i, i + 500);
      const values = await r.mget(...chunk.map((e) => `soak:w:${e.key}`));
      chunk.forEach((e, j) => found.set(id('redis', e.key), values[j] ?? null));
    }
    r.disconnect();
  }
  if ((byProtocol.get('mongodb') ?? []).length > 0) {
    const m = new MongoClient(DIRECT_MONGO);
    await m.connect();
    for await (const d of m.db('soakdb').collection<{ _id: ObjectId; k: string; v: string }>('writes').find({})) found.set(id('mongodb', d.k), d.v);
    await m.close();
  }
  if ((byProtocol.get('cosmos') ?? []).length > 0) {
    const c = directCosmos();
    const { resources } = await c.database('soakdb').container('writes').items.query<{ id: string; v: string }>('SELECT c.id, c.v FROM c').fetchAll();
    for (const d of resources) found.set(id('cosmos', d.id), d.v);
    c.dispose();
  }
  const blobList = byProtocol.get('blob') ?? [];
  if (blobList.length > 0) {
    const container = directBlob().getContainerClient('soak');
    await eachLimit(blobList, 32, async (e) => {
      try {
        found.set(id('blob', e.key), (await container.getBlobClient(`w/${e.key}.txt`).downloadToBuffer()).toString('utf8'));
      } catch (err) {
        const status = (err as { statusCode?: number }).statusCode;
        if (status === 404) found.set(id('blob', e.key), null);
        else if (readErrors.length < 20) readErrors.push(`blob ${e.key}: ${(err as Error).message}`);
      }
    });
  }
  const checked: Record<string, number> = {};
  const lost: LostWrite[] = [];
  for (const [p, list] of byProtocol) {
    checked[p] = list.length;
    for (const e of list) {
      const got = found.get(id(p, e.key)) ?? null;
      if (got === e.value || (got !== null && e.uncertain.includes(got))) continue;
      lost.push({ protocol: p, key: e.key, expected: e.value, found: got, minute: e.minute });
    }
  }
  return { checked, lost, readErrors };
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


/**
 * Resident bytes of a process by kind of mapping (/proc/<pid>/smaps): `brk` = the [heap] segment (glibc's main
 * malloc arena: the main thread's native allocations, Buffers' backing stores among them), `arena64` = anonymous
 * mappings that start on a 64 MiB boundary and are at most 64 MiB long (glibc's per-thread malloc arenas: V8's and
 * libuv's threads), `file` = file-backed (code, libraries), `anon` = the other anonymous mappings (V8's heap pages,
 * libpg-query's WebAssembly memory, large malloc blocks).
 */
const ARENA = 64n * 1024n * 1024n;
function rssByMapping(pid: number): Record<string, number> {
  const out: Record<string, number> = { brk: 0, arena64: 0, file: 0, anon: 0, other: 0 };
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/smaps`, 'utf8');
  } catch {
    return out;
  }
  let kind = 'other';
  let size = 0;
  let start = 0n;
  let path = '';
  for (const line of text.split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ (\d+)\s*(.*)$/.exec(line);
    if (head) {
      start = BigInt(`0x${head[1]}`);
      size = Number(BigInt(`0x${head[2]}`) - start);
      path = head[4]!;
      kind = path === '[heap]' ? 'brk' : head[3] !== '0' ? 'file' : path === '' ? 'anon' : 'other';
      continue;
    }
    if (line.startsWith('Rss:')) {
      const rss = Number(/(\d+)/.exec(line)![1]) * 1024;
      let k = kind;
      if (kind === 'anon' && start % ARENA === 0n && size <= Number(ARENA)) k = 'arena64';
      out[k] = (out[k] ?? 0) + rss;
    }
  }
  return out;
}

/** Sum of every sample of `name` (all label sets). */
function metricSum(text: string, name: string): number {
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, 'gm'))) sum += Number(m[1]);
  return sum;
}

let samplerStartedAt = 0;
async function sampler(live: LiveDgf): Promise<void> {
  let lastCpu = cpuOf(live.pid);
  samplerStartedAt = Date.now();
  while (!stopping) {
    const m = current();
    const cpu = cpuOf(live.pid);
    m.cpuSeconds += cpu - lastCpu;
    lastCpu = cpu;
    const now = rssOf(live.pid);
    const { rss, peak } = now;
    if (rss > m.rssMax) m.rssMax = rss;
    m.rssSamples.push(rss);
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
      const s: Sample = {
        t: Math.round((Date.now() - (Number.isFinite(startedAt) ? startedAt : samplerStartedAt)) / 1000),
        rss,
        heapUsed: metric(text, 'dgf_nodejs_heap_size_used_bytes'),
        heapTotal: metric(text, 'dgf_nodejs_heap_size_total_bytes'),
        external: metric(text, 'dgf_nodejs_external_memory_bytes'),
        rssAnon: now.rssAnon,
        rssFile: now.rssFile,
        spaces: Object.fromEntries(
          [...text.matchAll(/^dgf_nodejs_heap_space_size_used_bytes\{space="([a-z_]+)"\} ([0-9.eE+-]+)$/gm)].map((x) => [x[1]!, Number(x[2])]),
        ),
        clientConnections: metricSum(text, 'dgf_client_connections'),
        ...(samples.length % 6 === 0 ? { rssBy: rssByMapping(live.pid) } : {}),
      };
      samples.push(s);
      if (s.heapUsed > m.heapUsedMax) m.heapUsedMax = s.heapUsed;
      if (m.heapUsedMin === 0 || s.heapUsed < m.heapUsedMin) m.heapUsedMin = s.heapUsed;
      if (s.heapTotal > m.heapTotalMax) m.heapTotalMax = s.heapTotal;
      if (s.external > m.externalMax) m.externalMax = s.external;
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

const mib = (bytes: number): string => (bytes / 1048576).toFixed(0);

function row(m: Minute): string {
  const ops = m.ops.read + m.ops.write + m.ops.deny + m.ops.reconnect;
  return `| ${m.minute === 0 ? 'warm-up' : m.minute} | ${ops} | ${m.ops.read} | ${m.ops.write} | ${m.denied}/${m.ops.deny} | ${m.ops.reconnect} | ${m.errors} | ${m.denyNotEnforced} | ${m.ackedWrites} | ${m.lostWrites} | ${pct(m.latencies, 50).toFixed(1)} | ${pct(m.latencies, 99).toFixed(1)} | ${mib(pct(m.rssSamples, 50))} / ${mib(m.rssMax)} | ${mib(m.heapUsedMin)}-${mib(m.heapUsedMax)}/${mib(m.heapTotalMax)} | ${mib(m.externalMax)} | ${(m.eldMeanSum / Math.max(1, m.eldSamples) * 1000).toFixed(1)} | ${(m.eldP99Max * 1000).toFixed(1)} | ${(m.eldMax * 1000).toFixed(1)} | ${m.cpuSeconds.toFixed(1)} |`;
}

function table(): string {
  return [
    '| min | ops | reads | writes | denied/deny ops | reconnects | errors | deny not enforced | acked writes | lost writes | p50 ms | p99 ms | RSS median / max MiB | heap used min-max/total MiB | external MiB | ELD mean ms | ELD p99 max ms | ELD max ms | dgf CPU s |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...(WARMUP_MS > 0 ? [row(warmup)] : []),
    ...minutes.map(row),
  ].join('\n');
}

function protocolTable(checked: Record<string, number>, lost: LostWrite[]): string {
  const rows = ['postgres', 'redis', 'mongodb', 'cosmos', 'blob'].map((p) => {
    const all = minutes.flatMap((m) => m.byProtocol[p]?.latencies ?? []);
    const ops = minutes.reduce((n, m) => n + (m.byProtocol[p]?.ops ?? 0), 0);
    const errors = minutes.reduce((n, m) => n + (m.byProtocol[p]?.errors ?? 0), 0);
    return `| ${p} | ${ops} | ${errors} | ${pct(all, 50).toFixed(1)} | ${pct(all, 99).toFixed(1)} | ${checked[p] ?? 0} | ${lost.filter((l) => l.protocol === p).length} |`;
  });
  return ['| protocol | ops | errors | p50 ms | p99 ms | keys written (read back) | lost |', '|---|---:|---:|---:|---:|---:|---:|', ...rows].join('\n');
}

async function main(): Promise<void> {
  const live = await startLiveDgf({ pgAuth: 'scram', pgMaxConnections: 10 });
  console.log(`dgf pid ${live.pid}; seeding (run tag ${RUN})`);
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
  const connectStart = Date.now();
  console.log(`connecting ${PER_PROTOCOL * 5} clients`);
  const workers: Array<[ProtocolName, Worker]> = [];
  const w = (p: ProtocolName, i: number): ClientWrites => new ClientWrites(p, `${p.slice(0, 2)}${i}`);
  for (let i = 0; i < PER_PROTOCOL; i++) {
    workers.push(['postgres', await pgWorker(live.ports.postgres, w('postgres', i))]);
    workers.push(['redis', await redisWorker(live.ports.redis, w('redis', i))]);
    workers.push(['mongodb', mongoWorker(live.ports.mongodb, sharedMongo[Math.floor(i / SHARE)]!, w('mongodb', i))]);
    workers.push(['cosmos', cosmosWorker(cosmosEndpoint, sharedCosmos[Math.floor(i / SHARE)]!, w('cosmos', i))]);
    workers.push(['blob', blobWorker(blobUrl, sharedBlob[Math.floor(i / SHARE)]!, w('blob', i))]);
  }
  // One read from every worker at once: the pooled drivers (5 workers per client object) open their connections
  // now, so every client connection is open before the measured minutes start.
  const primeErrors = (await Promise.all(workers.map(([, wk]) => wk.read().then(() => 0, () => 1)))).reduce((a: number, b: number) => a + b, 0);
  const connectSeconds = (Date.now() - connectStart) / 1000;
  const rssAtConnect = rssOf(live.pid).rss;
  const connectionsAtStart = metricSum(await (await fetch(`${live.adminUrl}/metrics`)).text(), 'dgf_client_connections');
  console.log(
    `${workers.length} clients connected and primed in ${connectSeconds.toFixed(1)} s (${primeErrors} priming reads failed): ` +
      `${connectionsAtStart} client connections open at dgf, dgf RSS ${mib(rssAtConnect)} MiB`,
  );
  const loadStart = Date.now();
  startedAt = loadStart + WARMUP_MS;
  if (WARMUP_MS > 0) console.log(`warm-up: ${WARMUP_MS / 1000} s of load before the measured minutes`);
  const samplerDone = sampler(live);
  const running = workers.map(([p, wk]) => runWorker(p, wk));
  const ticker = setInterval(() => {
    const i = minuteIndex();
    const done = i < 1 ? (minutes[0] ?? warmup) : minutes[i - 1]!;
    console.log(`[${new Date().toISOString().slice(11, 19)}] minute ${done.minute}: ops ${Object.values(done.ops).reduce((a, b) => a + b, 0)} errors ${done.errors} acked writes ${done.ackedWrites} rss ${mib(rssOf(live.pid).rss)} MiB ${JSON.stringify(done.errorsBy)}`);
  }, 60_000);
  await sleep(WARMUP_MS + MINUTES * 60_000);
  stopping = true;
  clearInterval(ticker);
  await Promise.race([Promise.all(running), sleep(15_000)]);
  await samplerDone;
  // Operations finishing during shutdown land in `drain`: not part of the table.
  for (const m of sharedMongo) await m.close().catch(() => undefined);
  for (const c of sharedCosmos) c.dispose();
  const crashed = live.exited;
  await live.stop();
  // dgf has exited: nothing is in flight any more. Read every acknowledged write back from the backends.
  console.log(`verifying ${ledger.size} keys (${ackedOps} acknowledged writes) directly against the backends`);
  if (args['self-test-loss']) await dropOnePerProtocol();
  const verifyStart = Date.now();
  const { checked, lost, readErrors } = await verifyWrites();
  for (const l of lost) {
    if (l.minute === 0) warmup.lostWrites++;
    else if (l.minute <= MINUTES) minutes[l.minute - 1]!.lostWrites++;
  }
  const md = `${table()}\n\n${protocolTable(checked, lost)}`;
  console.log(md);
  console.log(
    `acknowledged writes: ${ackedOps} (${ledger.size} keys; ${drainAcked} acknowledged during the shutdown drain), lost: ${lost.length}` +
      `${readErrors.length ? `; read-back errors: ${readErrors.length}` : ''} (verified in ${((Date.now() - verifyStart) / 1000).toFixed(1)} s)`,
  );
  for (const l of lost.slice(0, 20)) console.log(`  lost ${l.protocol} ${l.key} (minute ${l.minute}): expected ${JSON.stringify(l.expected)}, found ${JSON.stringify(l.found)}`);
  for (const e of readErrors) console.log(`  read-back error: ${e}`);
  const m1 = minutes[0]?.rssMax ?? 0;
  const mLast = minutes[minutes.length - 1]?.rssMax ?? 0;
  const med1 = pct(minutes[0]?.rssSamples ?? [], 50);
  const medLast = pct(minutes[minutes.length - 1]?.rssSamples ?? [], 50);
  const change = (a: number, b: number): string => `${(((b - a) / Math.max(1, a)) * 100).toFixed(1)}%`;
  console.log(
    `RSS minute 1 -> ${minutes.length}: median ${mib(med1)} -> ${mib(medLast)} MiB (${change(med1, medLast)}), max ${mib(m1)} -> ${mib(mLast)} MiB (${change(m1, mLast)}); ` +
      `ELD p99 worst ${(Math.max(...minutes.map((m) => m.eldP99Max)) * 1000).toFixed(1)} ms`,
  );
  const perMinute = (m: Minute): Record<string, unknown> => ({
    ...m,
    latencies: undefined,
    p50: pct(m.latencies, 50),
    p99: pct(m.latencies, 99),
    byProtocol: Object.fromEntries(
      Object.entries(m.byProtocol).map(([p, v]) => [p, { ops: v.ops, errors: v.errors, p50: pct(v.latencies, 50), p99: pct(v.latencies, 99) }]),
    ),
  });
  const summary = {
    date: new Date().toISOString(),
    minutes: MINUTES,
    clients: workers.length,
    thinkMs: THINK_MS,
    warmupSeconds: WARMUP_MS / 1000,
    keysPerClient: KEYS_PER_CLIENT,
    connectSeconds,
    connectionsAtStart,
    rssAtConnectBytes: rssAtConnect,
    crashed,
    peakRssBytes: peakRss,
    rssMinute1Bytes: m1,
    rssLastMinuteBytes: mLast,
    rssChangePercent: ((mLast - m1) / Math.max(1, m1)) * 100,
    rssMedianMinute1Bytes: med1,
    rssMedianLastMinuteBytes: medLast,
    rssMedianChangePercent: ((medLast - med1) / Math.max(1, med1)) * 100,
    eldP99WorstSeconds: Math.max(...minutes.map((m) => m.eldP99Max)),
    writes: {
      acknowledged: ackedOps,
      keys: ledger.size,
      acknowledgedDuringDrain: drainAcked,
      checkedByProtocol: checked,
      lost: lost.length,
      lostSamples: lost.slice(0, 50),
      readErrors,
    },
    stderrTail: live.stderr().slice(-3000),
    warmup: WARMUP_MS > 0 ? perMinute(warmup) : undefined,
    perMinute: minutes.map(perMinute),
    samples,
    table: md,
  };
  if (args.out) writeFileSync(args.out, JSON.stringify(summary, null, 2));
  process.exit(0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
