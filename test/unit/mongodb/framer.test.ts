import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { MessageFramer } from '../../../protocols/mongodb/codec/framer.js';
import { MessageTooLargeError, ProtocolError } from '../../../protocols/shared/errors.js';
import { frames } from './fixtures.js';

const stream = Buffer.concat(frames.map((f) => f.bytes));
const expected = frames.map((f) => f.bytes.toString('hex'));

function collect(chunks: Buffer[], max = 48_000_000): string[] {
  const framer = new MessageFramer(max);
  const out: string[] = [];
  for (const c of chunks) framer.push(c, (f) => out.push(Buffer.from(f).toString('hex')));
  assert.equal(framer.buffered, 0);
  return out;
}

describe('MessageFramer on captured frames', () => {
  test('whole stream in one chunk', () => {
    assert.deepEqual(collect([stream]), expected);
  });

  test('byte by byte', () => {
    const chunks: Buffer[] = [];
    for (let i = 0; i < stream.length; i++) chunks.push(stream.subarray(i, i + 1));
    assert.deepEqual(collect(chunks), expected);
  });

  test('split at every boundary', () => {
    for (let i = 1; i < stream.length; i++) {
      assert.deepEqual(collect([stream.subarray(0, i), stream.subarray(i)]), expected, `split at ${i}`);
    }
  });

  test('each frame alone, split at every byte of it', () => {
    for (const f of frames) {
      for (let i = 1; i < f.bytes.length; i++) {
        assert.deepEqual(collect([f.bytes.subarray(0, i), f.bytes.subarray(i)]), [f.bytes.toString('hex')]);
      }
    }
  });

  test('a whole frame inside one chunk is handed out without a copy', () => {
    const framer = new MessageFramer(1024 * 1024);
    const f = frames[0]!.bytes;
    let got: Buffer | null = null;
    framer.push(f, (x) => (got = x));
    assert.equal(got!.buffer, f.buffer);
  });
});

describe('MessageFramer length checks', () => {
  const header = (len: number): Buffer => {
    const b = Buffer.alloc(16);
    b.writeUInt32LE(len >>> 0, 0);
    b.writeInt32LE(2013, 12);
    return b;
  };

  test('messageLength below 16 is a protocol error', () => {
    for (const len of [0, 1, 4, 15]) {
      assert.throws(() => new MessageFramer(1024).push(header(len), () => undefined), (e: unknown) => e instanceof ProtocolError && !(e instanceof MessageTooLargeError));
    }
  });

  test('messageLength of 2 GB is refused before anything is buffered', () => {
    const framer = new MessageFramer(16 * 1024 * 1024);
    assert.throws(() => framer.push(header(0x80000000), () => undefined), MessageTooLargeError);
    assert.equal(framer.buffered, 0);
  });

  test('the cap applies when the length arrives split across chunks', () => {
    const framer = new MessageFramer(1000);
    const h = header(1001);
    framer.push(h.subarray(0, 2), () => undefined);
    assert.throws(() => framer.push(h.subarray(2), () => undefined), MessageTooLargeError);
  });

  test('a frame at the cap is accepted', () => {
    const b = Buffer.alloc(64);
    b.writeInt32LE(64, 0);
    assert.equal(collect([b], 64).length, 1);
  });
});
