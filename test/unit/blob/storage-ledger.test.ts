import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { StorageLedger } from '../../../protocols/blob/storage-ledger.js';

describe('blob storage ledger', () => {
  test('puts replace, appends add, staged blocks count until committed, deletes subtract', () => {
    const published: number[] = [];
    const l = new StorageLedger((b) => published.push(b));
    l.setBlob('c/a', 100);
    l.setBlob('c/a', 40);
    assert.equal(l.total, 40);
    l.addToBlob('c/log', 10);
    l.addToBlob('c/log', 5);
    assert.equal(l.total, 55);
    l.addPending('c/big', 300);
    l.addPending('c/big', 200);
    assert.equal(l.total, 555);
    l.commitPending('c/big');
    assert.equal(l.total, 555);
    l.deleteBlob('c/a');
    assert.equal(l.total, 515);
    l.setBlob('d/x', 7);
    l.deleteContainer('c');
    assert.equal(l.total, 7);
    assert.equal(published.at(-1), 7);
    l.deleteBlob('never/seen');
    assert.equal(l.total, 7);
  });
});
