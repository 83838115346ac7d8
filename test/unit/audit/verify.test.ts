import assert from 'node:assert/strict';
import { readFile, writeFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { verifyAuditFiles } from '../../../src/audit/verify.js';
import { auditVerify } from '../../../src/cli/commands/audit.js';
import { KEY, collector, tempDir, writeTrail } from './helpers.js';

let dir: string;
let cleanup: () => Promise<void>;
let file: string;

async function lines(): Promise<string[]> {
  return (await readFile(file, 'utf8')).split('\n').slice(0, -1);
}
async function put(ls: string[], trailingNewline = true): Promise<void> {
  await writeFile(file, ls.join('\n') + (trailingNewline ? '\n' : ''));
}

describe('audit verify', () => {
  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
    file = join(dir, 'audit.jsonl');
    await writeTrail(file, 10);
  });
  afterEach(() => cleanup());

  it('accepts an intact trail', async () => {
    const r = await verifyAuditFiles([file], KEY);
    assert.equal(r.ok, true);
    assert.equal(r.records, 10);
    assert.equal(r.firstSeq, 1);
    assert.equal(r.lastSeq, 10);
    const out = collector();
    assert.equal(await auditVerify([file], { key: KEY }, out, collector()), 0);
    assert.equal(out.text(), 'ok: 10 records, chain intact (first seq 1, last seq 10)\n');
  });

  it('finds an edited record', async () => {
    const ls = await lines();
    ls[4] = ls[4]!.replace('"rows":1', '"rows":2');
    await put(ls);
    const r = await verifyAuditFiles([file], KEY);
    assert.equal(r.ok, false);
    assert.deepEqual({ line: r.problem!.line, seq: r.problem!.seq }, { line: 5, seq: 5 });
    assert.match(r.problem!.reason, /hash mismatch/);
    const err = collector();
    assert.equal(await auditVerify([file], { key: KEY }, collector(), err), 1);
    assert.match(err.text(), /audit\.jsonl:5: seq 5: hash mismatch/);
  });

  it('finds a key added outside the hashed fields', async () => {
    const ls = await lines();
    ls[2] = ls[2]!.replace('{"v":1,', '{"v":1,"note":"x",');
    await put(ls);
    const r = await verifyAuditFiles([file], KEY);
    assert.equal(r.problem?.line, 3);
    assert.match(r.problem!.reason, /altered/);
  });

  it('finds a deleted record', async () => {
    const ls = await lines();
    ls.splice(3, 1);
    await put(ls);
    const r = await verifyAuditFiles([file], KEY);
    assert.deepEqual(r.problem && { line: r.problem.line, seq: r.problem.seq }, { line: 4, seq: 5 });
    assert.match(r.problem!.reason, /seq gap: expected 4, found 5/);
    assert.equal(r.records, 3);
  });

  it('finds an inserted record (copy of another, and a forged one)', async () => {
    const ls = await lines();
    const copy = [...ls];
    copy.splice(6, 0, ls[1]!);
    await put(copy);
    let r = await verifyAuditFiles([file], KEY);
    assert.equal(r.problem?.line, 7);
    assert.match(r.problem!.reason, /out of order|duplicated/);
    const forged = [...ls];
    const rec = JSON.parse(ls[5]!) as Record<string, unknown>;
    forged.splice(6, 0, JSON.stringify({ ...rec, seq: 7, statement: 'forged' }));
    await put(forged);
    r = await verifyAuditFiles([file], KEY);
    assert.equal(r.problem?.line, 7);
    assert.match(r.problem!.reason, /hash mismatch/);
  });

  it('finds reordered records', async () => {
    const ls = await lines();
    [ls[6], ls[7]] = [ls[7]!, ls[6]!];
    await put(ls);
    const r = await verifyAuditFiles([file], KEY);
    assert.equal(r.problem?.line, 7);
    assert.equal(r.problem?.seq, 8);
    assert.match(r.problem!.reason, /seq gap|order/);
  });

  it('finds a record replaced by a validly signed one from another chain (prev mismatch)', async () => {
    const other = join(dir, 'other.jsonl');
    await new Promise((r) => setTimeout(r, 5)); // later timestamps: same seqs and key, different hashes
    await writeTrail(other, 10);
    const ls = await lines();
    ls[4] = (await readFile(other, 'utf8')).split('\n')[4]!;
    await put(ls);
    const r = await verifyAuditFiles([file], KEY);
    assert.deepEqual(r.problem && { line: r.problem.line, seq: r.problem.seq }, { line: 5, seq: 5 });
    assert.match(r.problem!.reason, /prev does not match the hash of seq 4/);
  });

  it('finds truncation inside the last record', async () => {
    const text = await readFile(file, 'utf8');
    await writeFile(file, text.slice(0, text.length - 40));
    const r = await verifyAuditFiles([file], KEY);
    assert.equal(r.problem?.line, 10);
    assert.match(r.problem!.reason, /truncated/);
    const err = collector();
    assert.equal(await auditVerify([file], { key: KEY }, collector(), err), 1);
  });

  it('finds a complete last record that lost its newline', async () => {
    const text = await readFile(file, 'utf8');
    await writeFile(file, text.slice(0, -1));
    const r = await verifyAuditFiles([file], KEY);
    assert.match(r.problem!.reason, /truncated/);
  });

  it('reports a wrong key on the first record', async () => {
    const r = await verifyAuditFiles([file], 'other-key');
    assert.equal(r.problem?.line, 1);
    assert.match(r.problem!.reason, /key/);
  });

  it('bad input is a clear usage error, never a throw', async () => {
    const missing = join(dir, 'nope.jsonl');
    let r = await verifyAuditFiles([missing], KEY);
    assert.match(r.usageError!, /no such file/);
    const err = collector();
    assert.equal(await auditVerify([missing], { key: KEY }, collector(), err), 2);
    assert.match(err.text(), /nope\.jsonl: no such file/);

    const empty = join(dir, 'empty.jsonl');
    await writeFile(empty, '');
    r = await verifyAuditFiles([empty], KEY);
    assert.match(r.usageError!, /no audit records/);

    const bin = join(dir, 'bin.jsonl');
    await writeFile(bin, Buffer.from([0, 1, 2, 255, 254, 10, 0, 0]));
    r = await verifyAuditFiles([bin], KEY);
    assert.match(r.usageError!, /not an audit file/);

    const text = join(dir, 'text.jsonl');
    await writeFile(text, 'hello\nworld\n');
    r = await verifyAuditFiles([text], KEY);
    assert.match(r.usageError!, /not an audit file/);

    r = await verifyAuditFiles([dir], KEY);
    assert.match(r.usageError!, /not a regular file/);

    const garbled = await lines();
    garbled[0] = '{"seq": oops';
    await put(garbled);
    r = await verifyAuditFiles([file], KEY);
    assert.equal(r.problem?.line, 1);
    assert.match(r.problem!.reason, /not valid JSON/);
  });
});

describe('audit verify across rotated files', () => {
  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
    file = join(dir, 'audit.jsonl');
  });
  afterEach(() => cleanup());

  async function trailFiles(): Promise<string[]> {
    await writeTrail(file, 40, 2_000);
    // Rotated names sort oldest first; the active file is last.
    return (await readdir(dir)).filter((n) => n !== 'audit.jsonl').sort().map((n) => join(dir, n)).concat(file);
  }

  it('verifies the chain across files given in any order', async () => {
    const files = await trailFiles();
    assert.ok(files.length >= 3, `expected rotation, got ${files.length} file(s)`);
    const r = await verifyAuditFiles([...files].reverse(), KEY);
    assert.equal(r.ok, true, JSON.stringify(r.problem));
    assert.equal(r.records, 40);
    assert.deepEqual(r.files, files);
  });

  it('finds a missing middle file', async () => {
    const files = await trailFiles();
    const r = await verifyAuditFiles(files.filter((_, i) => i !== 1), KEY);
    assert.equal(r.ok, false);
    assert.equal(r.problem?.line, 1);
    assert.match(r.problem!.reason, /seq gap.*file is missing/);
  });

  it('finds the first file of a rotated pair edited', async () => {
    const files = await trailFiles();
    const ls = (await readFile(files[0]!, 'utf8')).split('\n');
    ls[0] = ls[0]!.replace('"analyst"', '"admin"');
    await writeFile(files[0]!, ls.join('\n'));
    const r = await verifyAuditFiles(files, KEY);
    assert.equal(r.problem?.file, files[0]);
    assert.equal(r.problem?.seq, 1);
  });
});
