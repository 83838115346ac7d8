/**
 * Property-based tests of the HTTP pieces shared by the Cosmos and Blob listeners: readBounded (bodies in any
 * chunking, the cap), hasBody, parseJsonBuffer, and HttpListener + readBounded over a real socket: a body sent
 * with Content-Length or chunked transfer encoding, written in random pieces, must arrive byte for byte; mutated
 * request bytes must be answered (400, 413, ...) or the connection closed, never crash the server.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { BodyError, hasBody, readBounded } from '../../../protocols/shared/http-body.js';
import { parseJsonBuffer } from '../../../protocols/shared/http-json.js';
import { HttpListener } from '../../../protocols/shared/http-server.js';
import { bytesArb, check, cutsArb, mutate, mutationsArb, onlyErrors, splitAt } from './fuzz-kit.js';

const SEED = 0x4854; // 'HT'
const LIMIT = 16 * 1024;

describe('fuzz: http-body', () => {
  test('readBounded: any chunking gives the same body; past the limit a 413 BodyError', async () => {
    await check(
      fc.asyncProperty(fc.uint8Array({ maxLength: 3000 }), cutsArb, fc.integer({ min: 0, max: 4000 }), async (body, cuts, limit) => {
        const chunks = splitAt(Buffer.from(body), cuts);
        const got = await readBounded(Readable.from(chunks, { objectMode: false }), limit, 5000).then(
          (b) => b,
          (e: unknown) => e,
        );
        if (body.length > limit) {
          assert.ok(got instanceof BodyError);
          assert.equal(got.status, 413);
        } else {
          assert.ok(Buffer.isBuffer(got));
          assert.deepEqual(got, Buffer.from(body));
        }
      }),
      SEED,
      300,
    );
  });

  test('hasBody and parseJsonBuffer never throw', () => {
    const headerValue = fc.option(fc.oneof(fc.string({ maxLength: 10 }), fc.array(fc.string({ maxLength: 5 }), { maxLength: 2 })), { nil: undefined });
    check(
      fc.property(headerValue, headerValue, bytesArb, fc.json(), (te, cl, bytes, json) => {
        hasBody({ 'transfer-encoding': te, 'content-length': cl });
        parseJsonBuffer(Buffer.from(bytes));
        assert.deepEqual(parseJsonBuffer(Buffer.from(json)), JSON.parse(json));
      }),
      SEED + 1,
      1000,
    );
  });
});

describe('fuzz: HttpListener request framing over a socket', () => {
  let listener: HttpListener;
  let port: number;

  before(async () => {
    listener = new HttpListener(
      '127.0.0.1:0',
      (req, res) => {
        readBounded(req, LIMIT, 300).then(
          (body) => {
            const text = `${body.length}:${createHash('sha256').update(body).digest('hex')}`;
            res.writeHead(200, { 'content-type': 'text/plain', 'content-length': text.length });
            res.end(text);
          },
          (err: BodyError) => {
            res.writeHead(err.status, { connection: 'close' });
            res.end(err.message);
          },
        );
      },
      { limits: { headersTimeoutMs: 400, maxHeaderBytes: 4096 } },
    );
    ({ port } = await listener.start());
  });

  after(async () => {
    await listener.close(100);
  });

  /** Write `pieces` one by one and read until the server closes; returns what it answered. */
  async function exchange(pieces: Buffer[]): Promise<string> {
    const s = net.connect(port, '127.0.0.1');
    s.setNoDelay(true);
    await once(s, 'connect');
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    const closed = new Promise<void>((resolve) => {
      s.on('close', () => resolve());
      s.on('error', () => resolve());
    });
    for (const p of pieces) {
      if (s.destroyed) break;
      s.write(p);
      await new Promise((r) => setImmediate(r));
    }
    const timer = setTimeout(() => s.destroy(), 1500);
    await closed;
    clearTimeout(timer);
    return Buffer.concat(chunks).toString('latin1');
  }

  function chunked(body: Buffer, sizes: number[]): Buffer {
    const parts: Buffer[] = [];
    let off = 0;
    for (const size of [...sizes, body.length]) {
      const n = Math.min(size, body.length - off);
      if (n <= 0) continue;
      parts.push(Buffer.from(`${n.toString(16)}\r\n`), body.subarray(off, off + n), Buffer.from('\r\n'));
      off += n;
    }
    parts.push(Buffer.from('0\r\n\r\n'));
    return Buffer.concat(parts);
  }

  test('Content-Length and chunked bodies in random write pieces arrive byte for byte', async () => {
    await check(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2000 }), fc.boolean(), fc.array(fc.integer({ min: 1, max: 700 }), { maxLength: 6 }), cutsArb, async (body, useChunked, sizes, cuts) => {
        const b = Buffer.from(body);
        const head = useChunked
          ? 'POST /dbs/x/colls/y/docs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n'
          : `POST /dbs/x/colls/y/docs HTTP/1.1\r\nHost: x\r\nContent-Length: ${b.length}\r\nConnection: close\r\n\r\n`;
        const request = Buffer.concat([Buffer.from(head), useChunked ? chunked(b, sizes) : b]);
        const answer = await exchange(splitAt(request, cuts.slice(0, 24)));
        assert.match(answer, /^HTTP\/1\.1 200 /);
        assert.ok(answer.endsWith(`${b.length}:${createHash('sha256').update(b).digest('hex')}`), answer);
      }),
      SEED + 2,
      80,
    );
  });

  test('mutated requests: an HTTP answer or a closed connection, and the server keeps serving', async () => {
    const valid = fc.uint8Array({ maxLength: 300 }).map((body) =>
      Buffer.concat([Buffer.from(`PUT /acct/c/b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`), chunked(Buffer.from(body), [100])]),
    );
    await check(
      fc.asyncProperty(fc.oneof(valid, bytesArb.map((b) => Buffer.from(b))), mutationsArb, cutsArb, async (v, mutations, cuts) => {
        const input = mutate(v, mutations);
        const answer = await exchange(splitAt(input, cuts.slice(0, 8)));
        assert.ok(answer === '' || /^HTTP\/1\.1 \d{3} /.test(answer), answer.slice(0, 80));
        const ok = await exchange([Buffer.from('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')]);
        assert.match(ok, /^HTTP\/1\.1 200 /);
      }),
      SEED + 3,
      50,
    );
  });

  test('a chunk size of 2^31 and a body past the cap are refused without buffering them', async () => {
    for (const size of ['80000000', 'ffffffff', '7fffffff', 'fffffffffffffffff']) {
      const answer = await exchange([Buffer.from(`POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${size}\r\nabc`)]);
      assert.ok(answer === '' || /^HTTP\/1\.1 (400|408|413) /.test(answer), answer.slice(0, 80));
    }
    const big = Buffer.alloc(LIMIT + 10, 0x61);
    const answer = await exchange([Buffer.from(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${big.length}\r\nConnection: close\r\n\r\n`), big]);
    assert.match(answer, /^HTTP\/1\.1 413 /);
    onlyErrors(() => parseJsonBuffer(Buffer.from('{"a":'.repeat(10_000))));
  });
});
