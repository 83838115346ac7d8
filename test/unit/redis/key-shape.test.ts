import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KeyShapeMemo, sameShape } from '../../../protocols/redis/key-shape.js';
import { classificationName } from '../../../protocols/redis/reply-masking.js';

const SAMPLES = [
  '', ':', '::', 'a', '0', '00', '7', '123', 'key', 'key:', ':key', 'key:0', 'key:1', 'key:000000012345', 'key:12a',
  'key:1:email', 'key:22:email', 'key:22:e-mail', 'user:42:email', 'user:42:name', 'user::email', 'a:b:c', 'a:1:2',
  'a:12:345', '1:2:3', 'x1:2', 'caf\u00e9:1', 'caf\u00e9:22', '\u00ff:\u00fe', 'key:1:', 'key:1:0',
];

test('sameShape agrees with classificationName on every pair of sample keys', () => {
  for (const a of SAMPLES) {
    for (const b of SAMPLES) {
      const want = classificationName(a) === classificationName(b);
      assert.equal(sameShape(Buffer.from(a, 'latin1'), Buffer.from(b, 'latin1')), want, `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
    }
  }
});

test('sameShape agrees with classificationName on random keys of digits, letters and colons', () => {
  const alphabet = ['0', '1', '9', 'a', 'z', ':', ':', '\u00e9'];
  let seed = 7;
  const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % n);
  const key = (): string => Array.from({ length: rnd(9) }, () => alphabet[rnd(alphabet.length)]).join('');
  for (let i = 0; i < 20_000; i++) {
    const a = key();
    const b = i % 2 ? key() : a.replace(/[0-9]+/g, (d) => String(rnd(1000)).padStart(d.length > 1 ? 1 : 0, '0'));
    assert.equal(sameShape(Buffer.from(a, 'latin1'), Buffer.from(b, 'latin1')), classificationName(a) === classificationName(b), `${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
  }
});

test('the memo gives classificationName of every key and reuses the string object for a repeated shape', () => {
  const memo = new KeyShapeMemo();
  const keys = ['key:1', 'key:22', 'user:3:email', 'user:4:email', 'key:5', 'a', 'a', 'key:6:x', 'key:7'];
  const shapes = keys.map((k) => memo.shapes([Buffer.from(k, 'latin1')], [k])[0]!);
  assert.deepEqual(shapes, keys.map(classificationName));
  assert.ok(Object.is(shapes[0], shapes[1]), 'same shape: same string');
  assert.deepEqual(memo.shapes(['m:1', 'm:2', 'n:3'].map((k) => Buffer.from(k)), ['m:1', 'm:2', 'n:3']), ['m:0', 'm:0', 'n:0']);
});

test('the memo keeps a copy of the key, not a view of the read buffer', () => {
  const memo = new KeyShapeMemo();
  const chunk = Buffer.from('key:1');
  memo.shapes([chunk], ['key:1']);
  chunk.write('zzz:1');
  assert.deepEqual(memo.shapes([Buffer.from('zzz:2')], ['zzz:2']), ['zzz:0'], 'the overwritten chunk did not change what the memo compares with');
});
