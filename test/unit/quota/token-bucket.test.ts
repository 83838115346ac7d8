import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenBucket } from '../../../src/quota/token-bucket.js';

function clock(start = 1000): { now: () => number; advance(ms: number): void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('TokenBucket', () => {
  test('starts full with one second of budget and refuses when empty', () => {
    const c = clock();
    const b = new TokenBucket(1000, c.now);
    assert.equal(b.capacity, 1000);
    assert.equal(b.available(), 1000);
    assert.deepEqual(b.take(600), { ok: true });
    assert.deepEqual(b.take(400), { ok: true });
    const refused = b.take(100);
    assert.equal(refused.ok, false);
    assert.equal(refused.retryAfterMs, 100);
    assert.equal(b.available(), 0, 'a refused take takes nothing');
  });

  test('refills continuously at the rate, never above capacity', () => {
    const c = clock();
    const b = new TokenBucket(1000, c.now);
    b.take(1000);
    c.advance(250);
    assert.equal(b.available(), 250);
    assert.equal(b.take(300).retryAfterMs, 50);
    c.advance(50);
    assert.deepEqual(b.take(300), { ok: true });
    c.advance(60_000);
    assert.equal(b.available(), 1000);
  });

  test('retryAfterMs is exactly when the take passes', () => {
    const c = clock();
    const b = new TokenBucket(10, c.now);
    b.take(10);
    const r = b.take(3);
    assert.equal(r.retryAfterMs, 300);
    c.advance(299);
    assert.equal(b.take(3).ok, false);
    c.advance(1);
    assert.equal(b.take(3).ok, true);
  });

  test('charges after the fact may drive it into debt that later takes wait out', () => {
    const c = clock();
    const b = new TokenBucket(1000, c.now);
    assert.ok(b.take(0).ok);
    b.charge(2500);
    assert.equal(b.available(), -1500);
    assert.equal(b.used(), 2500);
    const gate = b.take(0);
    assert.equal(gate.ok, false);
    assert.equal(gate.retryAfterMs, 1500);
    c.advance(1500);
    assert.ok(b.take(0).ok);
  });

  test('a take larger than the bucket passes only when full', () => {
    const c = clock();
    const b = new TokenBucket(100, c.now);
    b.take(1);
    const r = b.take(500);
    assert.equal(r.ok, false);
    assert.equal(r.retryAfterMs, 10);
    c.advance(10);
    assert.ok(b.take(500).ok);
    assert.equal(b.available(), -400);
  });

  test('refunds never fill past capacity', () => {
    const c = clock();
    const b = new TokenBucket(100, c.now);
    b.take(50);
    b.charge(-500);
    assert.equal(b.available(), 100);
  });

  test('a clock going backwards mints nothing', () => {
    const c = clock(5000);
    const b = new TokenBucket(100, c.now);
    b.take(100);
    c.advance(-1000);
    assert.equal(b.available(), 0);
  });
});
