/**
 * Cosmos DB point reads and queries, and Blob small GETs, direct vs through dgf, in one run. Writes
 * bench/results/azure.md.
 *
 * - Cosmos upstream: cosmosdb-server over HTTPS with keep-alive, in its own process (the stock CLI answers
 *   `connection: close`, which would measure TLS handshakes, not the proxy).
 * - Blob upstream: Azurite from scripts/backends.sh (127.0.0.1:10000).
 * - dgf: `dgf start` in its own process, audit to a file; once with failMode closed (the default: each answer
 *   waits for its audit record's fsync) and once with failMode open (the proxy's own cost).
 * - Clients: undici with signed requests (no SDK overhead in the numbers), one in flight for latency,
 *   16 in flight for throughput.
 *   Run: node --import tsx bench/azure/azure.bench.ts
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Agent, request, type Dispatcher } from 'undici';
import { authorizationHeader } from '../../protocols/cosmos/signing.js';
import { signBlobRequest } from '../../protocols/blob/signing.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
const COSMOS_KEY = Buffer.from('bench-real-cosmos-key-0123456789').toString('base64');
const APP_KEY = Buffer.from('bench-app-key-issued-by-dgf-0123').toString('base64');
const LATENCY_N = Number(process.env.BENCH_N ?? 2000);
const THROUGHPUT_MS = Number(process.env.BENCH_MS ?? 4000);
const CONCURRENCY = 16;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitFor(check: () => Promise<boolean>, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not become ready`);
}

function startCosmosServer(port: number): ChildProcess {
  const code = `require('@vercel/cosmosdb-server').createHttpsServer({ keepAlive: true }).listen(${port}, '127.0.0.1')`;
  return spawn(process.execPath, ['-e', code], { cwd: ROOT, stdio: 'ignore' });
}

function startDgfProcess(configFile: string): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'start', '--config', configFile], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, DGF_LOG_LEVEL: 'warn' },
  });
}

type Req = { origin: string; path: string; method: 'GET' | 'POST' | 'PUT'; headers: Record<string, string>; body?: string };
type Maker = () => Req;

function cosmosReq(origin: string, key: string, method: 'GET' | 'POST', p: string, extra: Record<string, string> = {}, body?: string): Req {
  const date = new Date().toUTCString();
  const segs = p.replace(/^\/+/, '').split('/');
  const feed = segs.length % 2 === 1;
  const type = feed ? segs[segs.length - 1]! : segs[segs.length - 2]!;
  const link = feed ? segs.slice(0, -1).join('/') : segs.join('/');
  return {
    origin,
    path: p,
    method,
    headers: { 'x-ms-date': date, 'x-ms-version': '2020-07-15', authorization: authorizationHeader(Buffer.from(key, 'base64'), method, type, link, date), ...extra },
    ...(body ? { body } : {}),
  };
}

async function send(dispatcher: Dispatcher, r: Req): Promise<number> {
  const res = await request(`${r.origin}${r.path}`, { method: r.method, headers: r.headers, body: r.body ?? null, dispatcher });
  await res.body.dump();
  if (res.statusCode >= 400) throw new Error(`${r.method} ${r.origin}${r.path}: ${res.statusCode}`);
  return res.statusCode;
}

interface Result {
  p50: number;
  p99: number;
  rps: number;
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

async function measure(make: Maker, dispatcher: Dispatcher): Promise<Result> {
  for (let i = 0; i < 200; i++) await send(dispatcher, make());
  const times: number[] = [];
  for (let i = 0; i < LATENCY_N; i++) {
    const t = performance.now();
    await send(dispatcher, make());
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  let done = 0;
  const end = performance.now() + THROUGHPUT_MS;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) {
        await send(dispatcher, make());
        done++;
      }
    }),
  );
  return { p50: pct(times, 50), p99: pct(times, 99), rps: done / ((performance.now() - started) / 1000) };
}

function dgfConfig(dir: string, failMode: 'closed' | 'open', cosmosPort: number, ports: { admin: number; cosmos: number; blob: number }): string {
  const file = path.join(dir, `dgf-${failMode}.yaml`);
  writeFileSync(
    file,
    [
      `admin: { listen: "127.0.0.1:${ports.admin}" }`,
      `policies: { watch: false, hashKey: bench-hash-key-0123456789 }`,
      `roles: [ { match: { user: app }, role: service } ]`,
      `audit: { failMode: ${failMode}, sinks: [ { type: file, path: "${path.join(dir, `audit-${failMode}.jsonl`)}" } ] }`,
      `stateDir: "${dir}"`,
      `listeners:`,
      `  - name: cosmos`,
      `    protocol: cosmos`,
      `    listen: "127.0.0.1:${ports.cosmos}"`,
      `    users: [ { name: app, key: "${APP_KEY}" } ]`,
      `    upstream: { endpoint: "https://127.0.0.1:${cosmosPort}", key: "${COSMOS_KEY}", insecureSkipVerify: true, maxConnections: 32 }`,
      `  - name: blob`,
      `    protocol: blob`,
      `    listen: "127.0.0.1:${ports.blob}"`,
      `    users: [ { name: app, key: "${APP_KEY}" } ]`,
      `    upstream: { url: "http://127.0.0.1:10000/devstoreaccount1", account: devstoreaccount1, key: "${AZURITE_KEY}", maxConnections: 32 }`,
      `    options: { scanStorageOnStart: false }`,
      '',
    ].join('\n'),
  );
  return file;
}

function blobReq(origin: string, account: string, key: string, p: string): Req {
  const headers: Record<string, string> = { 'x-ms-date': new Date().toUTCString(), 'x-ms-version': '2021-12-02' };
  headers.authorization = signBlobRequest('SharedKey', account, Buffer.from(key, 'base64'), { method: 'GET', path: p, query: '', headers });
  return { origin, path: p, method: 'GET', headers };
}

async function main(): Promise<void> {
  const loadAtStart = os.loadavg()[0]!.toFixed(2);
  const dir = mkdtempSync(path.join(tmpdir(), 'dgf-bench-azure-'));
  const cosmosPort = await freePort();
  const cosmos = startCosmosServer(cosmosPort);
  const children: ChildProcess[] = [cosmos];
  const insecure = new Agent({ connect: { rejectUnauthorized: false }, connections: 64, pipelining: 1 });
  const plain = new Agent({ connections: 64, pipelining: 1 });
  const rows: string[] = [];
  try {
    const direct = `https://127.0.0.1:${cosmosPort}`;
    await waitFor(async () => (await request(`${direct}/`, { dispatcher: insecure })).statusCode < 500, 'cosmosdb-server');
    // Seed: one database, one container, 100 documents with personal data.
    await send(insecure, cosmosReq(direct, COSMOS_KEY, 'POST', '/dbs', { 'content-type': 'application/json' }, JSON.stringify({ id: 'bench' })));
    await send(insecure, cosmosReq(direct, COSMOS_KEY, 'POST', '/dbs/bench/colls', { 'content-type': 'application/json' }, JSON.stringify({ id: 'people', partitionKey: { paths: ['/pk'], kind: 'Hash' } })));
    for (let i = 0; i < 100; i++) {
      const doc = { id: `p${i}`, pk: 'eu', name: `Person ${i}`, email: `person${i}@example.com`, phone: `+1 415 555 01${String(i).padStart(2, '0')}`, visits: i };
      await send(insecure, cosmosReq(direct, COSMOS_KEY, 'POST', '/dbs/bench/colls/people/docs', { 'content-type': 'application/json', 'x-ms-documentdb-partitionkey': '["eu"]' }, JSON.stringify(doc)));
    }
    // Blob: one 1 KiB blob in Azurite.
    const container = `bench-${Date.now()}`;
    const az = 'http://127.0.0.1:10000';
    const put = (p: string, query: string, extra: Record<string, string>, body: string): Promise<Dispatcher.ResponseData> => {
      const headers: Record<string, string> = { 'x-ms-date': new Date().toUTCString(), 'x-ms-version': '2021-12-02', ...extra, 'content-length': String(body.length) };
      headers.authorization = signBlobRequest('SharedKey', 'devstoreaccount1', Buffer.from(AZURITE_KEY, 'base64'), { method: 'PUT', path: p, query, headers });
      return request(`${az}${p}${query ? `?${query}` : ''}`, { method: 'PUT', headers, body, dispatcher: plain });
    };
    await (await put(`/devstoreaccount1/${container}`, 'restype=container', {}, '')).body.dump();
    await (await put(`/devstoreaccount1/${container}/small.bin`, '', { 'x-ms-blob-type': 'BlockBlob', 'content-type': 'application/octet-stream' }, 'x'.repeat(1024))).body.dump();

    const pointRead = (origin: string, key: string) => (): Req => cosmosReq(origin, key, 'GET', `/dbs/bench/colls/people/docs/p${Math.floor(Math.random() * 100)}`, { 'x-ms-documentdb-partitionkey': '["eu"]' });
    const query = (origin: string, key: string) => (): Req =>
      cosmosReq(
        origin,
        key,
        'POST',
        '/dbs/bench/colls/people/docs',
        { 'content-type': 'application/query+json', 'x-ms-documentdb-isquery': 'True', 'x-ms-documentdb-partitionkey': '["eu"]', 'x-ms-max-item-count': '10' },
        JSON.stringify({ query: 'SELECT * FROM c WHERE c.visits >= @v', parameters: [{ name: '@v', value: 50 }] }),
      );

    const results: Record<string, Result> = {};
    results['cosmos point read / direct'] = await measure(pointRead(direct, COSMOS_KEY), insecure);
    results['cosmos query (10 docs) / direct'] = await measure(query(direct, COSMOS_KEY), insecure);
    results['blob GET 1 KiB / direct'] = await measure(() => blobReq(az, 'devstoreaccount1', AZURITE_KEY, `/devstoreaccount1/${container}/small.bin`), plain);

    for (const failMode of ['closed', 'open'] as const) {
      const ports = { admin: await freePort(), cosmos: await freePort(), blob: await freePort() };
      const config = dgfConfig(dir, failMode, cosmosPort, ports);
      mkdirSync(dir, { recursive: true });
      const dgf = startDgfProcess(config);
      children.push(dgf);
      await waitFor(async () => (await request(`http://127.0.0.1:${ports.admin}/ready`)).statusCode === 200, 'dgf');
      const viaCosmos = `http://127.0.0.1:${ports.cosmos}`;
      const viaBlob = `http://127.0.0.1:${ports.blob}`;
      results[`cosmos point read / dgf (audit ${failMode})`] = await measure(pointRead(viaCosmos, APP_KEY), plain);
      results[`cosmos query (10 docs) / dgf (audit ${failMode})`] = await measure(query(viaCosmos, APP_KEY), plain);
      results[`blob GET 1 KiB / dgf (audit ${failMode})`] = await measure(() => blobReq(viaBlob, 'app', APP_KEY, `/app/${container}/small.bin`), plain);
      dgf.kill('SIGTERM');
      await new Promise((r) => dgf.once('exit', r));
    }

    const base = (name: string): Result => results[`${name.split(' / ')[0]} / direct`]!;
    rows.push('| workload | path | requests/s (16 in flight) | p50 ms | p99 ms | added p50 ms | added p99 ms |');
    rows.push('| --- | --- | ---: | ---: | ---: | ---: | ---: |');
    for (const [name, r] of Object.entries(results)) {
      const [workload, via] = name.split(' / ');
      const b = base(name);
      const added = via === 'direct' ? ['', ''] : [(r.p50 - b.p50).toFixed(3), (r.p99 - b.p99).toFixed(3)];
      rows.push(`| ${workload} | ${via} | ${r.rps.toFixed(0)} | ${r.p50.toFixed(3)} | ${r.p99.toFixed(3)} | ${added[0]} | ${added[1]} |`);
    }
  } finally {
    for (const c of children) c.kill('SIGTERM');
    await insecure.close();
    await plain.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const md = [
    '# Azure (Cosmos DB, Blob) through dgf vs direct',
    '',
    `Run: ${new Date().toISOString()}, Node ${process.version}, ${os.cpus().length} cores, loopback; load average at start ${loadAtStart}, at end ${os.loadavg()[0]!.toFixed(2)} (other processes on the machine skew the numbers).`,
    `Latency: ${LATENCY_N} sequential requests (after 200 warm-up); throughput: ${CONCURRENCY} in flight for ${THROUGHPUT_MS} ms.`,
    'Clients: undici with signed requests (no SDK overhead). Cosmos upstream: cosmosdb-server over HTTPS with keep-alive',
    '(own process); Blob upstream: Azurite. dgf runs as `dgf start` in its own process with the shipped policy packs;',
    'the app user maps to role `service` (documents are still parsed and passed through the masking engine).',
    '"audit closed" is the default: an answer waits for its audit record to be fsynced; "audit open" shows the proxy itself.',
    '',
    ...rows,
    '',
  ].join('\n');
  mkdirSync(path.join(ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(path.join(ROOT, 'bench', 'results', 'azure.md'), md);
  process.stdout.write(md);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
