import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ReplyScanner, type FrameSink } from '../../../protocols/redis/codec/reply-scanner.js';
import { decodeFrame, toJs } from '../../../protocols/redis/codec/decode.js';
import { handBuilt, splits, streams } from './resp-fixtures.js';

class Collect implements FrameSink {
  frames: Buffer[] = [];
  types: number[] = [];
  counts: number[] = [];
  private parts: Buffer[] = [];
  constructor(private readonly scanner: ReplyScanner) {}
  onFrameBytes(chunk: Buffer, start: number, end: number, complete: boolean): void {
    this.parts.push(chunk.subarray(start, end));
    if (complete) {
      this.frames.push(Buffer.concat(this.parts));
      this.types.push(this.scanner.frameType);
      this.counts.push(this.scanner.frameCount);
      this.parts = [];
    }
  }
}

function scan(chunks: Buffer[], max?: number): Collect {
  const s = new ReplyScanner(max);
  const c = new Collect(s);
  for (const chunk of chunks) s.push(chunk, c);
  assert.equal(s.idle, true, 'scanner ends between frames');
  return c;
}

describe('ReplyScanner', () => {
  for (const fx of streams()) {
    test(`${fx.name}: frames are the same for every split`, () => {
      const whole = scan([fx.bytes]);
      assert.equal(whole.frames.length, fx.frames);
      assert.deepEqual(Buffer.concat(whole.frames), fx.bytes, 'spans cover every byte exactly once');
      // Each frame is a complete value the whole-frame decoder accepts.
      for (const f of whole.frames) assert.equal(decodeFrame(f).end, f.length);
      for (const { how, chunks } of splits(fx.bytes)) {
        const got = scan(chunks);
        assert.equal(got.frames.length, fx.frames, how);
        for (let i = 0; i < fx.frames; i++) assert.ok(got.frames[i]!.equals(whole.frames[i]!), `${how}: frame ${i}`);
        assert.deepEqual(got.types, whole.types, how);
        assert.deepEqual(got.counts, whole.counts, how);
      }
    });
  }

  test('reports the top-level type and count, skipping attributes', () => {
    const c = scan([Buffer.from(handBuilt[0]!.frame + '%2\r\n+a\r\n:1\r\n+b\r\n:2\r\n$-1\r\n')]);
    assert.deepEqual(c.types, [0x2a, 0x25, 0x24]);
    assert.deepEqual(c.counts, [2, 2, -1]);
  });

  test('decodes hand-built RESP3 values', () => {
    const values = handBuilt.map((h) => {
      const b = Buffer.from(h.frame, 'latin1');
      return toJs(b, decodeFrame(b));
    });
    assert.deepEqual(values[0], [2039123, 9543892]);
    assert.deepEqual(values[2], ['message', 'ch', 'hello']);
    assert.equal(values[3], 3492890328409238509324850943850943825024385n);
    assert.equal(values[5], 'Some string');
    assert.equal(values[7], -Infinity);
    assert.equal(values[9], null);
    assert.equal(values[10], false);
    assert.deepEqual(values[15], [['first', 1], ['second', ['x', true]]]);
  });

  for (const bad of ['?x\r\n', '$abc\r\n', '*1x\r\n', '$-2\r\n', '*-5\r\n', '$1234567890123456\r\n']) {
    test(`rejects malformed ${JSON.stringify(bad)} at any split`, () => {
      for (const { chunks } of splits(Buffer.from(bad))) {
        assert.throws(() => scan(chunks), /Protocol error/);
      }
    });
  }

  test('a frame over the limit is a protocol error before its body arrives', () => {
    assert.throws(() => scan([Buffer.from('$1099511627776\r\n')], 1 << 20), /invalid bulk length/);
    assert.throws(() => scan([Buffer.from('*2\r\n$10\r\n0123456789\r\n$10\r\n0123')], 20), /larger than/);
  });
});
