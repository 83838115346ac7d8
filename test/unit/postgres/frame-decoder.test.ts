/** FrameDecoder: every fixture whole, byte by byte, and split at every boundary (as ioredis tests its decoder). */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { serialize } from 'pg-protocol';
import { FrameDecoder } from '../../../protocols/postgres/codec/frame-decoder.js';
import { MessageTooLargeError, ProtocolError } from '../../../protocols/shared/errors.js';

const stream = Buffer.concat([
  serialize.parse({ name: 's1', text: 'select $1::int', types: [23] }),
  serialize.bind({ statement: 's1', values: ['42'] }),
  serialize.describe({ type: 'P' }),
  serialize.execute({ rows: 10 }),
  serialize.sync(),
  serialize.query('select 1; select 2'),
  serialize.copyData(Buffer.alloc(3000, 7)),
  serialize.end(),
]);
const expected = [
  ['P'.charCodeAt(0), serialize.parse({ name: 's1', text: 'select $1::int', types: [23] })],
  ['B'.charCodeAt(0), serialize.bind({ statement: 's1', values: ['42'] })],
  ['D'.charCodeAt(0), serialize.describe({ type: 'P' })],
  ['E'.charCodeAt(0), serialize.execute({ rows: 10 })],
  ['S'.charCodeAt(0), serialize.sync()],
  ['Q'.charCodeAt(0), serialize.query('select 1; select 2')],
  ['d'.charCodeAt(0), serialize.copyData(Buffer.alloc(3000, 7))],
  ['X'.charCodeAt(0), serialize.end()],
] as const;

function decodeChunks(chunks: Buffer[], max = 1 << 20): Array<[number, Buffer]> {
  const d = new FrameDecoder(max);
  const out: Array<[number, Buffer]> = [];
  for (const c of chunks) {
    d.push(c);
    // Copy: a frame is a view, valid as long as its buffer is not reused (it never is).
    while (d.next()) out.push([d.code, Buffer.from(d.frame())]);
  }
  assert.equal(d.buffered, 0);
  return out;
}

function check(out: Array<[number, Buffer]>): void {
  assert.equal(out.length, expected.length);
  out.forEach(([code, frame], i) => {
    assert.equal(code, expected[i]![0]);
    assert.deepEqual(frame, expected[i]![1]);
  });
}

describe('FrameDecoder', () => {
  test('whole stream in one chunk', () => check(decodeChunks([stream])));

  test('byte by byte', () => {
    const chunks: Buffer[] = [];
    for (let i = 0; i < stream.length; i++) chunks.push(stream.subarray(i, i + 1));
    check(decodeChunks(chunks));
  });

  test('split at every boundary', () => {
    for (let i = 1; i < stream.length; i++) check(decodeChunks([stream.subarray(0, i), stream.subarray(i)]));
  });

  test('frames handed out stay valid after later pushes (no compaction in place)', () => {
    const d = new FrameDecoder(1 << 20);
    const views: Buffer[] = [];
    for (let i = 0; i < stream.length; i += 7) {
      d.push(Buffer.from(stream.subarray(i, i + 7)));
      while (d.next()) views.push(d.frame());
    }
    views.forEach((v, i) => assert.deepEqual(v, expected[i]![1]));
  });

  test('startup packets: SSLRequest then StartupMessage, split everywhere', () => {
    const ssl = serialize.requestSsl();
    const startup = serialize.startup({ user: 'u', database: 'd' });
    const all = Buffer.concat([ssl, startup]);
    for (let i = 1; i < all.length; i++) {
      const d = new FrameDecoder(1 << 20, { startup: true });
      const got: Buffer[] = [];
      for (const c of [all.subarray(0, i), all.subarray(i)]) {
        d.push(c);
        while (d.next()) {
          got.push(Buffer.from(d.frame()));
          if (got.length === 1) assert.equal(d.code, 0);
        }
      }
      assert.deepEqual(got, [ssl, startup]);
    }
  });

  test('a 2 GB length is refused from its header alone', () => {
    const d = new FrameDecoder(16 * 1024 * 1024);
    d.push(Buffer.from([0x51, 0x7f, 0xff, 0xff, 0xff]));
    assert.throws(() => d.next(), (e: unknown) => e instanceof MessageTooLargeError && e.code === '08P01');
  });

  test('lengths below 4, and negative ones, are protocol errors', () => {
    for (const len of [0, 3, -1, -2147483648]) {
      const d = new FrameDecoder(1024);
      const b = Buffer.alloc(5);
      b[0] = 0x51;
      b.writeInt32BE(len, 1);
      d.push(b);
      assert.throws(() => d.next(), ProtocolError);
    }
  });

  test('startup packet lengths outside 8..10000 are protocol errors', () => {
    for (const len of [0, 7, 10_001, 0x7fffffff]) {
      const d = new FrameDecoder(1 << 20, { startup: true });
      const b = Buffer.alloc(8);
      b.writeInt32BE(len, 0);
      d.push(b);
      assert.throws(() => d.next(), ProtocolError);
    }
  });

  test('a large frame arriving in many chunks is assembled with bounded copying', () => {
    const big = serialize.copyData(Buffer.alloc(4 * 1024 * 1024, 1));
    const d = new FrameDecoder(8 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 65536) {
      d.push(big.subarray(i, i + 65536));
      if (i + 65536 < big.length) assert.equal(d.next(), false);
    }
    assert.equal(d.next(), true);
    assert.equal(d.end - d.start, big.length);
    assert.ok(d.buffer.length <= big.length * 2);
  });
});
