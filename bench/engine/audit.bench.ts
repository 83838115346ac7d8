/**
 * Audit sink throughput with fsync group commit: `npx tsx bench/engine/audit.bench.ts [records] [concurrency]`.
 * Appends N records (default 200,000) with failMode closed and a file sink (fsyncMs 20) to a temp file from C
 * concurrent appenders (default 1,000; each awaits its record being kept before appending the next), then
 * prints `{ "recordsPerSecond": ... }` counted over kept (fsynced) records. Target: >= 50,000 records/s.
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAuditLog } from '../../src/audit/log.js';
import type { AuditEvent } from '../../src/audit/types.js';

const total = Number(process.argv[2] ?? 200_000);
const concurrency = Number(process.argv[3] ?? 1_000);

const dir = await mkdtemp(join(tmpdir(), 'dgf-audit-bench-'));
const path = join(dir, 'audit.jsonl');
const log = await createAuditLog(
  { failMode: 'closed', sinks: [{ type: 'file', path, fsyncMs: 20 }] },
  { chainKey: 'bench-key-0123456789abcdef' },
);

// As the proxies append: a session's identity object and a decision's rule list are shared by its records.
const identities = Array.from({ length: 8 }, (_, k) => ({ user: 'analyst', application: 'psql', address: `127.0.0.${k + 1}` }));
const rules = ['GDPR-001'];

const event = (i: number): AuditEvent => ({
  listener: 'pg',
  protocol: 'postgres',
  identity: identities[i % identities.length]!,
  role: 'analyst',
  operation: 'select',
  object: 'public.customers',
  statement: 'select id, email, card_number from customers where id = $1',
  labels: ['pii.email', 'financial.card'],
  masked: { 'pii.email': 10, 'financial.card': 10 },
  rows: 10,
  decision: 'allow',
  rules,
  duration_ms: 1.2 + (i % 7) / 10,
  error: null,
});

let next = 0;
const start = process.hrtime.bigint();
async function worker(): Promise<void> {
  while (next < total) {
    const i = next++;
    await log.append(event(i));
  }
}
await Promise.all(Array.from({ length: concurrency }, worker));
const seconds = Number(process.hrtime.bigint() - start) / 1e9;
await log.close();
let bytes = 0; // every file: rotation (100 MiB) may have split the trail
for (const f of await readdir(dir)) bytes += (await stat(join(dir, f))).size;
await rm(dir, { recursive: true, force: true });
console.log(
  JSON.stringify({
    recordsPerSecond: Math.round(total / seconds),
    records: total,
    concurrency,
    seconds: Number(seconds.toFixed(3)),
    bytesPerRecord: Math.round(bytes / total),
    // Other work on the machine skews the figure; the load average says how much.
    cpus: cpus().length,
    load1: Number(loadavg()[0]!.toFixed(2)),
  }),
);
