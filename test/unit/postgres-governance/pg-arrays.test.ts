import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { maskBinaryTextArray, maskTextArray } from '../../../protocols/postgres/governance/pg-arrays.js';
import type { FieldPlan } from '../../../src/policy/types.js';
import { governanceFixture, type GovernanceFixture } from '../../fixtures/postgres-governance/governance.js';

/** array_send of a 1-D text[] (lower bound 1). */
function binaryArray(elements: Array<string | null>, dims: number[] = [elements.length]): Buffer {
  const parts: Buffer[] = [];
  const head = Buffer.alloc(12 + dims.length * 8);
  head.writeInt32BE(dims.length, 0);
  head.writeInt32BE(elements.includes(null) ? 1 : 0, 4);
  head.writeInt32BE(25, 8);
  dims.forEach((d, i) => {
    head.writeInt32BE(d, 12 + i * 8);
    head.writeInt32BE(1, 16 + i * 8);
  });
  parts.push(head);
  for (const e of elements) {
    const len = Buffer.alloc(4);
    if (e === null) {
      len.writeInt32BE(-1);
      parts.push(len);
    } else {
      const b = Buffer.from(e);
      len.writeInt32BE(b.length);
      parts.push(len, b);
    }
  }
  return Buffer.concat(parts);
}

function readBinaryArray(buf: Buffer): { hasNull: number; elements: Array<string | null> } {
  const ndim = buf.readInt32BE(0);
  let count = 1;
  for (let d = 0; d < ndim; d++) count *= buf.readInt32BE(12 + d * 8);
  let at = 12 + ndim * 8;
  const elements: Array<string | null> = [];
  for (let i = 0; i < count; i++) {
    const len = buf.readInt32BE(at);
    at += 4;
    elements.push(len < 0 ? null : buf.toString('utf8', at, at + len));
    at += Math.max(len, 0);
  }
  assert.equal(at, buf.length);
  return { hasNull: buf.readInt32BE(4), elements };
}

describe('arrays of text, masked element by element', () => {
  let f: GovernanceFixture;
  let scan: FieldPlan;
  let mask: FieldPlan;
  before(async () => {
    f = await governanceFixture();
    scan = f.gov.policy().fieldPlan('analyst', { name: 'tags', type: 'text' });
    mask = f.gov.policy().fieldPlan('analyst', { name: 'email', type: 'text' });
  });

  test('text literal: only the found entities change, quoting stays valid', () => {
    const op = f.begin('analyst');
    assert.equal(maskTextArray('{ada@example.com,"b c",NULL,plain}', scan, op), '{a***@example.com,"b c",NULL,plain}');
    assert.equal(maskTextArray('{"mail me at ada@example.com",x}', scan, op), '{"mail me at a***@example.com",x}');
    assert.equal(maskTextArray('{{ada@example.com,x},{y,bob@example.org}}', scan, op), '{{a***@example.com,x},{y,b***@example.org}}');
    assert.equal(maskTextArray('[0:1]={ada@example.com,x}', scan, op), '[0:1]={a***@example.com,x}');
    assert.equal(maskTextArray('{nothing,here}', scan, op), undefined);
    assert.equal(maskTextArray('{}', scan, op), undefined);
  });

  test('text literal under a name mask: every element masked, escapes handled', () => {
    const op = f.begin('analyst');
    assert.equal(maskTextArray('{ada@example.com,"x\\"y@example.com"}', mask, op), '{a***@example.com,x***@example.com}');
  });

  test('binary array: masked elements rewritten, others and NULLs kept, has-null flag right', () => {
    const op = f.begin('analyst');
    const out = maskBinaryTextArray(...withBounds(binaryArray(['ada@example.com', null, 'plain'])), scan, op)!;
    assert.deepEqual(readBinaryArray(out), { hasNull: 1, elements: ['a***@example.com', null, 'plain'] });
    assert.equal(maskBinaryTextArray(...withBounds(binaryArray(['a', 'b'])), scan, op), undefined);
    const two = maskBinaryTextArray(...withBounds(binaryArray(['ada@example.com', 'x', 'y', 'bob@example.org'], [2, 2])), scan, op)!;
    assert.deepEqual(readBinaryArray(two).elements, ['a***@example.com', 'x', 'y', 'b***@example.org']);
    assert.equal(maskBinaryTextArray(...withBounds(binaryArray([])), scan, op), undefined);
  });

  test('a malformed binary array throws instead of passing through', () => {
    const op = f.begin('analyst');
    const bad = binaryArray(['ada@example.com']).subarray(0, 24);
    assert.throws(() => maskBinaryTextArray(bad, 0, bad.length, scan, op), /malformed/);
  });
});

function withBounds(b: Buffer): [Buffer, number, number] {
  return [b, 0, b.length];
}
