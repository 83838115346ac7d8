/**
 * No open doors before authentication (issue #18 item 4): a Redis client that has not authenticated may send only
 * commands of at most 10 arguments and bulk strings of at most 16 KiB (Redis' own limits since 6.2.6), else it
 * gets Redis' own `-ERR Protocol error: unauthenticated multibulk length` / `... bulk length` and is disconnected.
 * AUTH, HELLO, QUIT and PING fit; once authenticated the listener's `maxMessageBytes` applies as before, also to
 * commands pipelined right behind the AUTH; with `auth: trust` nothing is capped.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestDgf } from '../../helpers/dgf.js';
import { PASSWORD, RawClient, resp, startRedisDgf } from './helpers.js';

describe('Redis: limits before authentication', () => {
  let dgf: TestDgf;
  let port: number;

  before(async () => {
    ({ dgf, port } = await startRedisDgf());
  });

  after(async () => {
    await dgf?.stop();
  });

  const key = `dgf:preauth:${process.pid}`;

  test('a command of 11 arguments before AUTH: Redis\' protocol error, then the connection is closed', async () => {
    const c = await RawClient.connect(port);
    c.send(resp('MSET', ...Array.from({ length: 10 }, (_, i) => `k${i}`)));
    const frames = await c.waitFrames(1, 3000);
    assert.match(String((frames[0] as Error).message), /Protocol error: unauthenticated multibulk length/);
    assert.equal(await c.waitClose(3000), true);
  });

  test('the count alone decides: a header announcing 1000 arguments is refused before any argument arrives', async () => {
    const c = await RawClient.connect(port);
    c.send('*1000\r\n');
    const frames = await c.waitFrames(1, 3000);
    assert.match(String((frames[0] as Error).message), /unauthenticated multibulk length/);
    assert.equal(await c.waitClose(3000), true);
  });

  test('a bulk string over 16 KiB before AUTH is refused at its length, before its body is buffered', async () => {
    const c = await RawClient.connect(port);
    c.send(`*2\r\n$4\r\nECHO\r\n$${16 * 1024 * 1024}\r\n`);
    const frames = await c.waitFrames(1, 3000);
    assert.match(String((frames[0] as Error).message), /Protocol error: unauthenticated bulk length/);
    assert.equal(await c.waitClose(3000), true);
  });

  test('split byte by byte, the same refusal', async () => {
    const c = await RawClient.connect(port);
    const bytes = Buffer.from(`*2\r\n$4\r\nECHO\r\n$20000\r\n`);
    for (const b of bytes) {
      c.send(Buffer.from([b]));
      await new Promise((r) => setImmediate(r));
    }
    const frames = await c.waitFrames(1, 3000);
    assert.match(String((frames[0] as Error).message), /unauthenticated bulk length/);
    assert.equal(await c.waitClose(3000), true);
  });

  test('AUTH, HELLO 3 AUTH ... SETNAME, PING and a 16 KiB argument fit under the limits', async () => {
    const c = await RawClient.connect(port);
    try {
      c.send(resp('PING'));
      c.send(resp('ECHO', 'x'.repeat(16 * 1024)));
      c.send(resp('HELLO', '2', 'AUTH', 'analyst', PASSWORD, 'SETNAME', 'preauth-test'));
      const frames = await c.waitFrames(3);
      assert.equal(c.closed, false);
      assert.match(String((frames[0] as Error).message), /NOAUTH/);
      assert.match(String((frames[1] as Error).message), /NOAUTH/);
      assert.ok(Array.isArray(frames[2]), 'HELLO answered with the server map');
    } finally {
      c.close();
    }
  });

  test('after AUTH the listener limits apply: 200 arguments and a 1 MiB value', async () => {
    const c = await RawClient.connect(port);
    try {
      c.send(resp('AUTH', 'analyst', PASSWORD));
      await c.waitFrames(1);
      const pairs = Array.from({ length: 100 }, (_, i) => [`${key}:${i}`, String(i)]).flat();
      c.send(resp('MSET', ...pairs));
      c.send(resp('SET', key, 'v'.repeat(1024 * 1024)));
      c.send(resp('STRLEN', key));
      const frames = await c.waitFrames(4);
      assert.equal(c.closed, false);
      assert.deepEqual(frames.slice(1), ['OK', 'OK', 1024 * 1024]);
      c.send(resp('DEL', key, ...pairs.filter((_, i) => i % 2 === 0)));
      await c.waitFrames(5);
    } finally {
      c.close();
    }
  });

  test('commands pipelined right behind AUTH, in the same write, are not held to the pre-authentication limits', async () => {
    const c = await RawClient.connect(port);
    try {
      c.send(resp('AUTH', 'analyst', PASSWORD) + resp('MSET', ...Array.from({ length: 12 }, (_, i) => `${key}:p${i}`)) + resp('DEL', ...Array.from({ length: 6 }, (_, i) => `${key}:p${i * 2}`)));
      const frames = await c.waitFrames(3);
      assert.equal(c.closed, false);
      assert.deepEqual(frames, ['OK', 'OK', 6]);
    } finally {
      c.close();
    }
  });

  test('a wrong password does not lift the limits', async () => {
    const c = await RawClient.connect(port);
    c.send(resp('AUTH', 'analyst', 'wrong'));
    const first = await c.waitFrames(1);
    assert.match(String((first[0] as Error).message), /WRONGPASS|invalid/i);
    c.send(resp('MSET', ...Array.from({ length: 12 }, (_, i) => `k${i}`)));
    const frames = await c.waitFrames(2, 3000);
    assert.match(String((frames[1] as Error).message), /unauthenticated multibulk length/);
    assert.equal(await c.waitClose(3000), true);
  });
});

describe('Redis: auth trust is not capped', () => {
  let dgf: TestDgf;
  let port: number;

  before(async () => {
    ({ dgf, port } = await startRedisDgf({ auth: 'trust', users: [] }));
  });

  after(async () => {
    await dgf?.stop();
  });

  test('a 20-argument command and a 64 KiB argument pass', async () => {
    const c = await RawClient.connect(port);
    try {
      c.send(resp('ECHO', 'y'.repeat(64 * 1024)));
      c.send(resp('EXISTS', ...Array.from({ length: 19 }, (_, i) => `dgf:preauth:none:${i}`)));
      const frames = await c.waitFrames(2);
      assert.equal(c.closed, false);
      assert.equal(String(frames[0]).length, 64 * 1024);
      assert.equal(frames[1], 0);
    } finally {
      c.close();
    }
  });
});
