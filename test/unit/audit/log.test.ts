import assert from 'node:assert/strict';
import { appendFile, readFile, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { GENESIS, chainKey, expectedHash } from '../../../src/audit/chain.js';
import { createAuditLog } from '../../../src/audit/log.js';
import type { AuditSink, ChainHead } from '../../../src/audit/sinks/types.js';
import type { AuditRecord } from '../../../src/audit/types.js';
import { verifyAuditFiles } from '../../../src/audit/verify.js';
import { AuditUnavailableError } from '../../../src/errors.js';
import { auditRecords } from '../../../src/metrics/index.js';
import { KEY, event, tempDir } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;

async function records(file: string): Promise<AuditRecord[]> {
  const text = await readFile(file, 'utf8');
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as AuditRecord);
}

/** A durable sink whose writes are controlled by the test. */
class ScriptedSink implements AuditSink {
  readonly name = 'scripted';
  readonly durable = true;
  batches: { data: string; count: number; firstSeq: number }[] = [];
  failNext = 0;
  gate: Promise<void> | null = null;
  async open(): Promise<ChainHead | null> {
    return null;
  }
  async write(data: Buffer, count: number, firstSeq: number): Promise<void> {
    if (this.gate) await this.gate;
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('disk full');
    }
    this.batches.push({ data: data.toString('utf8'), count, firstSeq });
  }
  async close(): Promise<void> {}
}

function counter(sink: string, outcome: string): Promise<number> {
  return Promise.resolve(auditRecords.get()).then((m) => m.values.find((v) => v.labels.sink === sink && v.labels.outcome === outcome)?.value ?? 0);
}

describe('audit log', () => {
  beforeEach(async () => ({ dir, cleanup } = await tempDir()));
  afterEach(() => cleanup());

  it('closed mode resolves only once the record is in the file (fsynced batch)', async () => {
    const file = join(dir, 'audit.jsonl');
    const log = await createAuditLog({ failMode: 'closed', sinks: [{ type: 'file', path: file, fsyncMs: 20 }] }, { chainKey: KEY });
    const seen: number[] = [];
    const ps = [1, 2, 3].map((i) =>
      log.append(event(i)).then(async () => {
        // On resolution the record must already be on disk.
        const recs = await records(file);
        seen.push(recs.length);
        assert.ok(recs.some((r) => r.statement?.endsWith(`-- ${i}`)));
      }),
    );
    assert.equal(log.queueDepth(), 3);
    await Promise.all(ps);
    assert.deepEqual(seen, [3, 3, 3]);
    await log.close();
    const recs = await records(file);
    assert.deepEqual(recs.map((r) => r.seq), [1, 2, 3]);
    assert.equal(recs[0]!.prev, GENESIS);
    assert.equal(recs[1]!.prev, recs[0]!.hash);
  });

  it('forms one batch from records appended while an fsync runs', async () => {
    const sink = new ScriptedSink();
    let open!: () => void;
    sink.gate = new Promise((r) => (open = r));
    const log = await createAuditLog({ failMode: 'closed', sinks: [] }, { chainKey: KEY, sinks: [sink] });
    const first = log.append(event(1));
    await new Promise((r) => setImmediate(r)); // batch 1 is now being written
    const rest = [2, 3, 4, 5].map((i) => log.append(event(i)));
    assert.equal(log.queueDepth(), 4);
    sink.gate = null;
    open();
    await Promise.all([first, ...rest]);
    assert.deepEqual(sink.batches.map((b) => [b.firstSeq, b.count]), [[1, 1], [2, 4]]);
    await log.close();
  });

  it('closed mode rejects with AuditUnavailableError when the sink fails, and the chain stays intact', async () => {
    const sink = new ScriptedSink();
    sink.failNext = 1;
    const before = await counter('scripted', 'failed');
    const log = await createAuditLog({ failMode: 'closed', sinks: [] }, { chainKey: KEY, sinks: [sink] });
    const a = log.append(event(1));
    const b = log.append(event(2));
    await assert.rejects(a, AuditUnavailableError);
    await assert.rejects(b, AuditUnavailableError);
    assert.equal((await counter('scripted', 'failed')) - before, 2);
    await log.append(event(3));
    await log.close();
    // The lost records are absent and the next record continues from genesis: seq 1 again, prev genesis.
    const recs = sink.batches.flatMap((x) => x.data.split('\n').filter(Boolean)).map((l) => JSON.parse(l) as AuditRecord);
    assert.deepEqual(recs.map((r) => [r.seq, r.prev === GENESIS]), [[1, true]]);
    assert.match(recs[0]!.statement!, /-- 3$/);
  });

  it('a file sink that cannot write rejects in closed mode; a closed log rejects', async () => {
    const sub = join(dir, 'sub');
    const file = join(sub, 'audit.jsonl');
    const log = await createAuditLog({ failMode: 'closed', sinks: [{ type: 'file', path: file, rotateBytes: 10 }] }, { chainKey: KEY });
    await log.append(event(1));
    await rm(sub, { recursive: true, force: true }); // the next batch must rotate, and the rename fails
    await assert.rejects(log.append(event(2)), AuditUnavailableError);
    await log.close();
    await assert.rejects(log.append(event(3)), /closed/);
  });

  it('open mode resolves at once and counts drops', async () => {
    const sink = new ScriptedSink();
    sink.failNext = 1;
    const before = await counter('scripted', 'dropped');
    const log = await createAuditLog({ failMode: 'open', sinks: [{ type: 'file', path: 'unused', fsyncMs: 1 }] }, { chainKey: KEY, sinks: [sink], maxQueue: 3 });
    await log.append(event(1)); // resolves before any write
    assert.equal(sink.batches.length, 0);
    await log.append(event(2));
    await log.append(event(3));
    await log.append(event(4)); // queue full: dropped
    assert.equal(log.queueDepth(), 3);
    await log.close();
    assert.equal((await counter('scripted', 'dropped')) - before, 4); // 1 over the bound + 3 in the failed batch
  });

  it('resumes seq and prev after a restart, and repairs a torn tail', async () => {
    const file = join(dir, 'audit.jsonl');
    const cfg = { failMode: 'closed' as const, sinks: [{ type: 'file' as const, path: file }] };
    let log = await createAuditLog(cfg, { chainKey: KEY });
    await Promise.all([1, 2, 3].map((i) => log.append(event(i))));
    await log.close();
    // Crash mid-write: half a record at the end.
    await appendFile(file, '{"v":1,"seq":4,"ts":"2026-');
    assert.match((await verifyAuditFiles([file], KEY)).problem?.reason ?? '', /truncated/);
    const warnings: string[] = [];
    log = await createAuditLog(cfg, { chainKey: KEY, logger: { warn: (_o, m) => warnings.push(m ?? ''), error: () => undefined } });
    assert.ok(warnings.some((w) => /torn/.test(w)));
    await log.append(event(4));
    await log.close();
    const recs = await records(file);
    assert.deepEqual(recs.map((r) => r.seq), [1, 2, 3, 4]);
    const v = await verifyAuditFiles([file], KEY);
    assert.equal(v.ok, true, JSON.stringify(v.problem));
  });

  it('continues the chain into a new file on rotation and after restart with an empty active file', async () => {
    const file = join(dir, 'audit.jsonl');
    const cfg = { failMode: 'closed' as const, sinks: [{ type: 'file' as const, path: file, rotateBytes: 1500 }] };
    let log = await createAuditLog(cfg, { chainKey: KEY });
    for (let i = 1; i <= 6; i++) await log.append(event(i));
    await log.close();
    // A crash right after a rotation's rename: the newest records are in a rotated file, the active one is empty.
    const lastSeq = (await records(file)).at(-1)!.seq;
    await rename(file, join(dir, `audit.20991231T235959999Z-${String(lastSeq).padStart(12, '0')}.jsonl`));
    await writeFile(file, '');
    log = await createAuditLog(cfg, { chainKey: KEY });
    await log.append(event(7));
    await log.close();
    const files = (await readdir(dir)).map((n) => join(dir, n));
    assert.ok(files.length >= 3);
    const v = await verifyAuditFiles(files, KEY);
    assert.equal(v.ok, true, JSON.stringify(v.problem));
    assert.equal(v.lastSeq, 7);
  });

  it('recent() returns the newest kept records, newest last, filtered by since', async () => {
    const sink = new ScriptedSink();
    const log = await createAuditLog({ failMode: 'closed', sinks: [] }, { chainKey: KEY, sinks: [sink], ringSize: 4 });
    for (let i = 1; i <= 6; i++) await log.append(event(i));
    assert.deepEqual(log.recent(10).map((r) => r.seq), [3, 4, 5, 6]);
    assert.deepEqual(log.recent(2).map((r) => r.seq), [5, 6]);
    assert.deepEqual(log.recent(10, new Date(Date.now() + 60_000)), []);
    await log.close();
  });

  it('recent() stays right across batches of every size while sealing buffers are reused', async () => {
    const sink = new ScriptedSink();
    const log = await createAuditLog({ failMode: 'closed', sinks: [] }, { chainKey: KEY, sinks: [sink], ringSize: 5 });
    let seq = 0;
    for (const size of [1, 7, 2, 3, 12, 1, 1, 4, 30, 2]) {
      await Promise.all(Array.from({ length: size }, () => log.append(event(++seq))));
      const want = Array.from({ length: Math.min(5, seq) }, (_, i) => seq - Math.min(5, seq) + 1 + i);
      assert.deepEqual(log.recent(10).map((r) => r.seq), want);
      assert.deepEqual(log.recent(10).map((r) => r.statement), want.map((i) => `select * from customers where id = $1 -- ${i}`));
    }
    // Every batch the sink got is a valid chain continuing the previous one.
    const recs = sink.batches.flatMap((x) => x.data.split('\n').filter(Boolean)).map((l) => JSON.parse(l) as AuditRecord);
    assert.deepEqual(recs.map((r) => r.seq), Array.from({ length: seq }, (_, i) => i + 1));
    recs.forEach((r, i) => assert.equal(r.prev, i === 0 ? GENESIS : recs[i - 1]!.hash));
    await log.close();
  });

  it('seals a burst in chunks of at most 4096 records, each resolving its own appenders', async () => {
    const sink = new ScriptedSink();
    let open!: () => void;
    sink.gate = new Promise((r) => (open = r));
    const log = await createAuditLog({ failMode: 'closed', sinks: [] }, { chainKey: KEY, sinks: [sink] });
    const first = log.append(event(0));
    await new Promise((r) => setImmediate(r)); // batch 1 is now being written: the burst queues behind it
    const burst = Array.from({ length: 9000 }, (_, i) => log.append(event(i + 1)));
    assert.equal(log.queueDepth(), 9000);
    sink.gate = null;
    open();
    await Promise.all([first, ...burst]);
    assert.deepEqual(sink.batches.map((b) => b.count), [1, 4096, 4096, 808]);
    const recs = sink.batches.flatMap((x) => x.data.split('\n').filter(Boolean)).map((l) => JSON.parse(l) as AuditRecord);
    const key = chainKey(KEY);
    recs.forEach((r, i) => {
      assert.equal(r.seq, i + 1);
      assert.equal(r.prev, i === 0 ? GENESIS : recs[i - 1]!.hash);
      assert.match(r.statement!, new RegExp(`-- ${i}$`));
    });
    assert.equal(expectedHash(key, recs.at(-1)!), recs.at(-1)!.hash);
    await log.close();
  });

  it('stdout-only: the chain head survives a restart through stateDir', async () => {
    const lines: string[] = [];
    const out = { write: (c: Uint8Array | string) => (lines.push(Buffer.from(c).toString()), true) };
    const { StdoutSink } = await import('../../../src/audit/sinks/stdout.js');
    let log = await createAuditLog({ failMode: 'open', sinks: [{ type: 'stdout' }] }, { chainKey: KEY, stateDir: dir, sinks: [new StdoutSink(out)] });
    await log.append(event(1));
    await log.close();
    log = await createAuditLog({ failMode: 'open', sinks: [{ type: 'stdout' }] }, { chainKey: KEY, stateDir: dir, sinks: [new StdoutSink(out)] });
    await log.append(event(2));
    await log.close();
    const recs = lines.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as AuditRecord);
    assert.deepEqual(recs.map((r) => r.seq), [1, 2]);
    assert.equal(recs[1]!.prev, recs[0]!.hash);
  });
});

describe('audit log start on a foreign file', () => {
  it('refuses to cut a tail that is not a torn record', async () => {
    const { dir: d, cleanup: c } = await tempDir();
    try {
      const file = join(d, 'audit.jsonl');
      await writeFile(file, 'some other content without newline');
      await assert.rejects(createAuditLog({ failMode: 'closed', sinks: [{ type: 'file', path: file }] }, { chainKey: KEY }), /not an audit record/);
      assert.equal(await readFile(file, 'utf8'), 'some other content without newline');
    } finally {
      await c();
    }
  });
});
