import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PolicyStore, MaskTally, type CompiledPolicy } from '../../../src/policy/index.js';
import { TextMasker, UploadScanner, contentKind, splitCsvLine } from '../../../protocols/blob/content.js';
import { BodyError } from '../../../protocols/shared/http-body.js';

async function run(stream: Transform, chunks: Buffer[]): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(Readable.from(chunks), stream, async (source: AsyncIterable<Buffer>) => {
    for await (const c of source) out.push(c);
  });
  return Buffer.concat(out);
}

/** The input cut into pieces of `size` bytes (multi-byte characters get split too). */
function pieces(data: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += size) out.push(data.subarray(i, i + size));
  return out;
}

describe('blob content: classification and masking, streamed', () => {
  let policy: CompiledPolicy;
  before(async () => {
    policy = (await PolicyStore.load({ hashKey: 'unit-test-key' })).current();
  });

  test('content kind from type, then from name', () => {
    assert.equal(contentKind('application/json; charset=utf-8', 'x'), 'json');
    assert.equal(contentKind('text/csv', null), 'csv');
    assert.equal(contentKind('text/plain', null), 'text');
    assert.equal(contentKind('application/octet-stream', 'a/b.CSV'), 'csv');
    assert.equal(contentKind(undefined, 'data.json'), 'json');
    assert.equal(contentKind('image/png', 'a.json'), null);
    assert.equal(contentKind('application/octet-stream', 'a.bin'), null);
  });

  test('CSV cells split on unquoted commas only', () => {
    assert.deepEqual(splitCsvLine('1,"a, b",c'), ['1', '"a, b"', 'c']);
    assert.deepEqual(splitCsvLine(''), ['']);
  });

  test('text masking gives the same output whole, byte by byte, and at every split', async () => {
    const text = Buffer.from('Hello ünïcode: mail ann@example.com or call +1 415 555 0134, card 4111 1111 1111 1111.\nbye\n');
    const whole = (await run(new TextMasker({ policy, role: 'analyst', kind: 'text', stats: new MaskTally(), object: 'c/b' }), [text])).toString();
    assert.ok(!whole.includes('ann@example.com') && !whole.includes('555 0134') && whole.includes('ünïcode'), whole);
    const byByte = await run(new TextMasker({ policy, role: 'analyst', kind: 'text', stats: new MaskTally(), object: 'c/b' }), pieces(text, 1));
    assert.equal(byByte.toString(), whole);
    for (let cut = 1; cut < text.length; cut++) {
      const split = await run(new TextMasker({ policy, role: 'analyst', kind: 'text', stats: new MaskTally(), object: 'c/b' }), [text.subarray(0, cut), text.subarray(cut)]);
      assert.equal(split.toString(), whole, `split at ${cut}`);
    }
  });

  test('entities across window boundaries in a large stream are all masked', async () => {
    const line = 'row 0000 contact someone.name@example.com today\n';
    const big = Buffer.from(line.repeat(20_000));
    const tally = new MaskTally();
    const out = (await run(new TextMasker({ policy, role: 'analyst', kind: 'text', stats: tally, object: 'c/b' }), pieces(big, 7001))).toString();
    assert.ok(!out.includes('someone.name@example.com'));
    assert.equal(out.split('\n').length, 20_001);
  });

  test('CSV: classified columns masked by name, quoted cells kept valid; dpo sees clear', async () => {
    const csv = Buffer.from('id,email,ssn,note\n1,"ann@example.com",123-45-6789,"likes, commas"\n2,bob@example.com,987-65-4321,plain\n');
    const out = (await run(new TextMasker({ policy, role: 'analyst', kind: 'csv', stats: new MaskTally(), object: 'c/b.csv' }), pieces(csv, 5))).toString();
    const rows = out.trim().split('\n').map(splitCsvLine);
    assert.deepEqual(rows[0], ['id', 'email', 'ssn', 'note']);
    assert.equal(rows[1]![2], '***-**-6789');
    assert.ok(!rows[1]![1]!.includes('ann@example.com'));
    assert.equal(rows[1]![3], '"likes, commas"');
    const clear = (await run(new TextMasker({ policy, role: 'dpo', kind: 'csv', stats: new MaskTally(), object: 'c/b.csv' }), [csv])).toString();
    assert.equal(clear, csv.toString());
  });

  test('upload scanning: bytes pass unchanged, labels found whatever the split', async () => {
    const body = Buffer.from('name,email\nann,ann@example.com\nssn 123-45-6789 in text\n');
    const expected = ['pii.email', 'pii.ssn'];
    for (const size of [1, 3, 17, body.length]) {
      const scanner = new UploadScanner({ policy, kind: 'csv', maxBytes: 1 << 20, idleMs: 5000, maxScanBytes: 1 << 20 });
      const out = await run(scanner, pieces(body, size));
      assert.ok(out.equals(body));
      for (const l of expected) assert.ok(scanner.labels.has(l), `${l} with pieces of ${size}`);
      assert.ok(scanner.fields().some((f) => f.name === 'email'));
      assert.ok(scanner.complete);
    }
  });

  test('upload scanning: JSON key names classify; limits refuse with 413', async () => {
    const scanner = new UploadScanner({ policy, kind: 'json', maxBytes: 1 << 20, idleMs: 5000, maxScanBytes: 1 << 20 });
    await run(scanner, [Buffer.from('{"patient":{"password":"hunter2"}}')]);
    assert.ok(scanner.labels.has('secret.password'));
    const small = new UploadScanner({ policy, kind: null, maxBytes: 10, idleMs: 5000, maxScanBytes: 0 });
    await assert.rejects(run(small, [Buffer.alloc(8), Buffer.alloc(8)]), (err: unknown) => err instanceof BodyError && err.status === 413);
  });
});
