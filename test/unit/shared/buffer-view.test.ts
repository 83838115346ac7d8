import { test } from 'node:test';
import assert from 'node:assert/strict';
import { view } from '../../../protocols/shared/buffer-view.js';

test('view is subarray: same bytes, same memory, for pooled and offset buffers', () => {
  // Small Buffers come from Node's shared pool at a non-zero byteOffset; subarrays add their own offsets.
  const pooled = Buffer.from('*2\r\n$3\r\nGET\r\n$5\r\nkey:1\r\n');
  const nested = Buffer.concat([Buffer.alloc(7), pooled]).subarray(7);
  for (const b of [pooled, nested]) {
    for (const [s, e] of [[0, b.length], [8, 11], [3, 3], [b.length, b.length]] as const) {
      const v = view(b, s, e);
      assert.ok(Buffer.isBuffer(v));
      assert.ok(v.equals(b.subarray(s, e)));
      if (e > s) {
        v[0] = 0x21;
        assert.equal(b[s], 0x21, 'a view, not a copy');
      }
    }
  }
});
