/** The shared HTTP body helpers (protocols/shared/http-body.ts) used by the cosmos and blob listeners. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough, Readable } from 'node:stream';
import { BodyError, hasBody, readBounded } from '../../../protocols/shared/http-body.js';

describe('readBounded', () => {
  test('joins the pieces whole, byte by byte and at every split', async () => {
    const body = Buffer.from('{"id":"ünï","n":1}');
    assert.ok((await readBounded(Readable.from([body]), 100, 1000)).equals(body));
    assert.ok((await readBounded(Readable.from([...body].map((b) => Buffer.from([b]))), 100, 1000)).equals(body));
    for (let cut = 1; cut < body.length; cut++) {
      assert.ok((await readBounded(Readable.from([body.subarray(0, cut), body.subarray(cut)]), 100, 1000)).equals(body));
    }
    assert.equal((await readBounded(Readable.from([]), 100, 1000)).length, 0);
  });

  test('refuses past the limit without holding more than the limit', async () => {
    await assert.rejects(readBounded(Readable.from([Buffer.alloc(60), Buffer.alloc(60)]), 100, 1000), (err: unknown) => err instanceof BodyError && err.status === 413);
    assert.equal((await readBounded(Readable.from([Buffer.alloc(50), Buffer.alloc(50)]), 100, 1000)).length, 100);
  });

  test('gives up on a body that stops arriving', async () => {
    const stalled = new PassThrough();
    stalled.write(Buffer.from('partial'));
    const started = Date.now();
    await assert.rejects(readBounded(stalled, 100, 100), (err: unknown) => err instanceof BodyError && err.status === 408);
    assert.ok(Date.now() - started < 1000);
    stalled.destroy();
  });

  test('a body is announced by a non-zero length or chunked encoding', () => {
    assert.equal(hasBody({ 'content-length': '0' }), false);
    assert.equal(hasBody({}), false);
    assert.equal(hasBody({ 'content-length': '12' }), true);
    assert.equal(hasBody({ 'transfer-encoding': 'chunked' }), true);
  });
});
