import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { createAuditLog } from '../../../src/audit/log.js';
import { operationsOf } from '../../../src/audit/operations.js';
import type { AuditSink } from '../../../src/audit/sinks/types.js';
import type { AuditRecord, IntentSlot } from '../../../src/audit/types.js';
import { verifyAuditFiles } from '../../../src/audit/verify.js';
import { computeReport } from '../../../src/compliance/report.js';
import { AuditUnavailableError } from '../../../src/errors.js';
import { KEY, event, tempDir } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;

function lines(file: string): AuditRecord[] {
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as AuditRecord);
}

const intentOf = (i: number) => event(i, { phase: 'intent', rows: null, labels: [], masked: {}, duration_ms: 0 });

describe('write-ahead audit (failMode closed)', () => {
  beforeEach(async () => ({ dir, cleanup } = await tempDir()));
  afterEach(() => cleanup());

  it('durability write: an intent is in the file, numbered, before the turn ends (no timer, no thread-pool round trip)', async () => {
    const file = join(dir, 'a.jsonl');
    const log = await createAuditLog({ failMode: 'closed', durability: 'write', sinks: [{ type: 'file', path: file, fsyncMs: 1000 }] }, { chainKey: KEY });
    const slot: IntentSlot = { intentSeq: 0 };
    let timerFired = false;
    setTimeout(() => (timerFired = true), 0);
    await log.append(intentOf(1), slot);
    // Kept in the check phase of the turn that appended it: before the next turn's timers.
    assert.equal(timerFired, false, 'the intent waited for a later turn');
    const recs = lines(file);
    assert.equal(recs.length, 1, 'the record is handed to the OS before the promise resolves');
    assert.equal(recs[0]!.phase, 'intent');
    assert.equal(slot.intentSeq, recs[0]!.seq);
    await log.close();
  });

  it('intents of one turn share one write and one promise (group commit)', async () => {
    const file = join(dir, 'a.jsonl');
    const log = await createAuditLog({ failMode: 'closed', sinks: [{ type: 'file', path: file }] }, { chainKey: KEY });
    const slots = Array.from({ length: 50 }, () => ({ intentSeq: 0 }));
    const promises = slots.map((s, i) => log.append(intentOf(i), s));
    assert.equal(new Set(promises).size, 1);
    await promises[0];
    assert.deepEqual(slots.map((s) => s.intentSeq), Array.from({ length: 50 }, (_, i) => i + 1));
    await log.close();
  });

  it('an outcome names its intent; verify is clean and reports and operationsOf count the operation once', async () => {
    const file = join(dir, 'a.jsonl');
    const log = await createAuditLog({ failMode: 'closed', sinks: [{ type: 'file', path: file }] }, { chainKey: KEY });
    const slot = { intentSeq: 0 };
    await log.append(intentOf(1), slot);
    log.note(event(1, { phase: 'outcome', intent: slot.intentSeq }));
    await log.close();
    const recs = lines(file);
    assert.deepEqual(recs.map((r) => [r.seq, r.phase, r.intent]), [
      [1, 'intent', undefined],
      [2, 'outcome', 1],
    ]);
    const v = await verifyAuditFiles([file], KEY);
    assert.equal(v.ok, true);
    assert.equal(v.noOutcome, undefined);
    const ops = operationsOf(recs);
    assert.equal(ops.length, 1);
    assert.equal(ops[0]!.phase, 'outcome');
    const report = computeReport(recs, { framework: 'gdpr' });
    const usage = report.data_touched.find((l) => l.label === 'pii.email');
    assert.equal(usage?.operations, 1, 'one operation, not two records');
    assert.equal(usage?.masked_values, 1);
  });

  it('an intent without outcome (dgf stopped) is a note of verify, not tampering, and still an operation', async () => {
    const file = join(dir, 'a.jsonl');
    const log = await createAuditLog({ failMode: 'closed', sinks: [{ type: 'file', path: file }] }, { chainKey: KEY });
    const a = { intentSeq: 0 };
    const b = { intentSeq: 0 };
    await Promise.all([log.append(intentOf(1), a), log.append(intentOf(2), b)]);
    log.note(event(1, { phase: 'outcome', intent: a.intentSeq }));
    await log.close();
    const v = await verifyAuditFiles([file], KEY);
    assert.equal(v.ok, true);
    assert.deepEqual(v.noOutcome, [b.intentSeq]);
    assert.ok(v.notes.some((n) => /1 operation\(s\) have no outcome \(dgf stopped/.test(n)), v.notes.join('; '));
    assert.equal(operationsOf(lines(file)).length, 2);
  });

  it('a batch intent is settled once outcomes covered all of its entries', () => {
    const entry = { operation: 'get', object: 'k', statement: null, labels: [], masked: {}, rows: null, decision: 'allow' as const, rules: [], error: null };
    const base = { v: 1 as const, ts: '2026-12-07T00:00:00.000Z', prev: '', hash: '' };
    const intent = { ...event(0), ...base, seq: 1, phase: 'intent' as const, entries: [entry, entry, entry] };
    const part1 = { ...event(0), ...base, seq: 2, phase: 'outcome' as const, intent: 1, entries: [entry, entry] };
    const part2 = { ...event(0), ...base, seq: 3, phase: 'outcome' as const, intent: 1 };
    assert.deepEqual(operationsOf([intent, part1]).map((r) => r.seq), [2, 1], 'one command still owed: the intent is unsettled');
    assert.deepEqual(operationsOf([intent, part1, part2]).map((r) => r.seq), [2, 3]);
  });

  it('a sink that cannot write (ENOSPC on /dev/full) rejects the intent: the caller must not run the operation', async () => {
    const log = await createAuditLog({ failMode: 'closed', sinks: [{ type: 'file', path: '/dev/full' }] }, { chainKey: KEY });
    const slot = { intentSeq: 0 };
    await assert.rejects(log.append(intentOf(1), slot), (e: unknown) => e instanceof AuditUnavailableError && /ENOSPC|no space/i.test((e as Error).message));
    assert.equal(slot.intentSeq > 0 ? 'sealed' : 'not kept', 'sealed', 'sealed but not kept: the seq is reused by the next batch');
    // The next batch starts from the same chain head: the lost record left no gap.
    const next = { intentSeq: 0 };
    await assert.rejects(log.append(intentOf(2), next));
    assert.equal(next.intentSeq, slot.intentSeq);
    await log.close();
  });

  it('durability fsync: kept once fdatasync returned; the chain verifies', async () => {
    const file = join(dir, 'a.jsonl');
    const log = await createAuditLog({ failMode: 'closed', durability: 'fsync', sinks: [{ type: 'file', path: file }] }, { chainKey: KEY });
    const slots = [1, 2, 3].map(() => ({ intentSeq: 0 }));
    await Promise.all(slots.map((s, i) => log.append(intentOf(i), s)));
    assert.equal(lines(file).length, 3);
    for (const s of slots) log.note(event(0, { phase: 'outcome', intent: s.intentSeq }));
    await log.close();
    const v = await verifyAuditFiles([file], KEY);
    assert.equal(v.ok, true);
    assert.equal(v.records, 6);
    assert.equal(v.noOutcome, undefined);
  });

  it('an outcome noted after the turn-end flush shares the next intent\'s write, or its deadline: no write of its own', async () => {
    // The Redis proxy flushes its turn's intents itself (appendedAtTurnEnd) and then notes the outcomes of the
    // commands completed in that turn; the end-of-turn flush queued by the intents must not write those alone.
    const writes: number[] = [];
    const sink: AuditSink = {
      name: 'count',
      durable: true,
      open: async () => null,
      write: async (_data, count) => void writes.push(count),
      writeNow: (_data, count) => void writes.push(count),
      close: async () => undefined,
    };
    const log = await createAuditLog({ failMode: 'closed', sinks: [{ type: 'file', path: join(dir, 'unused.jsonl'), fsyncMs: 50 }] }, { chainKey: KEY, sinks: [sink] });
    const first = { intentSeq: 0 };
    const kept = log.append(intentOf(1), first);
    log.appendedAtTurnEnd();
    await kept;
    assert.deepEqual(writes, [1], 'the intent is written in its own turn');
    log.note(event(1, { phase: 'outcome', intent: first.intentSeq }));
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(writes, [1], 'the outcome waited for the next intent or its deadline');
    const next = log.append(intentOf(2), { intentSeq: 0 });
    log.appendedAtTurnEnd();
    await next;
    assert.deepEqual(writes, [1, 2], 'the outcome went out with the next intent, in one write');
    log.note(event(2, { phase: 'outcome', intent: 2 }));
    await new Promise((resolve) => setTimeout(resolve, 120));
    assert.deepEqual(writes, [1, 2, 1], 'with no intent to share, the deadline (fsyncMs) writes the outcome');
    await log.close();
  });
});
