import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { TestDgf } from '../../helpers/dgf.js';
import { PASSWORD, RawClient, client, direct, resp, startRedisDgf } from './helpers.js';

const NS = `bad-${process.pid}`;
const AUTH = resp('AUTH', 'service', PASSWORD);

describe('bad input and slow clients', () => {
  let dgf: TestDgf;
  let port: number;
  let up: Redis;
  let good: Redis;

  before(async () => {
    ({ dgf, port } = await startRedisDgf({
      maxMessageBytes: 1024 * 1024,
      options: { clientOutputLimitBytes: 4 * 1024 * 1024 },
    }));
    up = direct();
    good = client(port, 'service');
    await good.set(`${NS}:good`, 'fine');
  });

  after(async () => {
    good.disconnect();
    await up.del(`${NS}:good`, `${NS}:big`);
    up.disconnect();
    await dgf.stop();
  });

  /** The well-behaved client still gets correct answers. */
  async function othersUnaffected(): Promise<void> {
    assert.equal(await good.get(`${NS}:good`), 'fine');
    const p = await good.pipeline().ping().get(`${NS}:good`).exec();
    assert.deepEqual(p, [
      [null, 'PONG'],
      [null, 'fine'],
    ]);
  }

  test('random bytes: a protocol error, then the connection is closed', async () => {
    for (let i = 0; i < 5; i++) {
      const raw = await RawClient.connect(port);
      // A leading '*' with a non-digit makes sure the garbage is not read as inline text only.
      raw.send(Buffer.concat([Buffer.from(AUTH), Buffer.from('*x'), randomBytes(64 * 1024)]));
      assert.ok(await raw.waitClose(), 'closed');
      const frames = await raw.waitFrames(2, 100);
      assert.equal(frames[0], 'OK');
      assert.match(String(frames[1]), /ERR Protocol error/);
    }
    // Pure noise (read as inline text or a bad header): error or close, never a crash.
    for (let i = 0; i < 20; i++) {
      const raw = await RawClient.connect(port);
      raw.send(randomBytes(8 * 1024));
      raw.socket.end();
      assert.ok(await raw.waitClose(), 'closed');
    }
    await othersUnaffected();
  });

  test('a bulk length of 2^40 is refused before any body is read', async () => {
    const raw = await RawClient.connect(port);
    raw.send(AUTH + '*2\r\n$3\r\nGET\r\n$1099511627776\r\n');
    const frames = await raw.waitFrames(2);
    assert.deepEqual(frames[0], 'OK');
    assert.match(String(frames[1]), /^Error: ERR Protocol error: invalid bulk length/);
    assert.ok(await raw.waitClose());
    await othersUnaffected();
  });

  test('a command larger than maxMessageBytes is refused', async () => {
    const raw = await RawClient.connect(port);
    raw.send(AUTH + '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n');
    const frames = await raw.waitFrames(2);
    assert.match(String(frames[1]), /Protocol error: invalid bulk length/);
    assert.ok(await raw.waitClose());
    await othersUnaffected();
  });

  test('an unterminated multibulk waits without an answer, and its connection closes when the client leaves', async () => {
    const raw = await RawClient.connect(port);
    // A key of this run's own: another client of the shared Redis may well write a key named "k".
    const key = `${NS}:partial`;
    raw.send(AUTH + `*3\r\n$3\r\nSET\r\n$${key.length}\r\n${key}\r\n$100\r\nonly-part`);
    await raw.waitFrames(1);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(raw.frames.length, 1, 'only the AUTH reply');
    assert.equal(raw.closed, false);
    await othersUnaffected();
    raw.socket.end();
    assert.ok(await raw.waitClose());
    assert.equal(await up.exists(key), 0, 'the partial SET never ran');
  });

  test('a client that stops reading a huge LRANGE is disconnected; memory stays bounded; others unaffected', async () => {
    const element = 'x'.repeat(1000);
    const batch: string[] = [];
    for (let i = 0; i < 1000; i++) batch.push(element);
    for (let i = 0; i < 20; i++) await up.rpush(`${NS}:big`, ...batch); // 20k elements, ~20 MB per LRANGE
    const rssBefore = process.memoryUsage().rss;
    const raw = await RawClient.connect(port);
    raw.socket.pause(); // never read
    raw.send(AUTH + resp('LRANGE', `${NS}:big`, '0', '-1').repeat(10));
    const t0 = Date.now();
    // Meanwhile a well-behaved client keeps working with normal latency.
    let served = 0;
    while (!raw.closed && Date.now() - t0 < 8000) {
      await othersUnaffected();
      served++;
    }
    assert.ok(raw.closed, 'the slow client was disconnected');
    assert.ok(served > 0);
    const grew = process.memoryUsage().rss - rssBefore;
    assert.ok(grew < 150 * 1024 * 1024, `rss grew by ${Math.round(grew / 1048576)} MiB for 200 MB of replies`);
    await othersUnaffected();
  });
});
