import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PolicyStore, type CompiledPolicy } from '../../../src/policy/index.js';
import { UploadScanner, contentKind, splitCsvLine } from '../../../protocols/blob/content.js';
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
