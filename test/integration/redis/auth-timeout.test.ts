/**
 * Authentication must finish within `authTimeoutMs` (issue #18 item 4, part): a client that connects and sends
 * nothing, or only commands other than AUTH, is answered an error and disconnected; one that authenticates in
 * time keeps its connection past the timeout. Real Redis 7 behind dgf, raw RESP.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { TestDgf } from '../../helpers/dgf.js';
import { PASSWORD, RawClient, resp, startRedisDgf } from './helpers.js';

describe('Redis: authentication timeout', () => {
  let dgf: TestDgf;
  let port: number;

  before(async () => {
    ({ dgf, port } = await startRedisDgf({ authTimeoutMs: 300 }));
  });

  after(async () => {
    await dgf?.stop();
  });

  test('a silent client is told and disconnected', async () => {
    const c = await RawClient.connect(port);
    assert.equal(await c.waitClose(3000), true);
    const frames = await c.waitFrames(1, 100);
    assert.match(String((frames[0] as Error).message), /authentication timeout/);
  });

  test('a client that only sends PING (NOAUTH) is disconnected too', async () => {
    const c = await RawClient.connect(port);
    c.send(resp('PING'));
    assert.equal(await c.waitClose(3000), true);
  });

  test('a client that authenticates in time keeps its connection', async () => {
    const c = await RawClient.connect(port);
    try {
      c.send(resp('AUTH', 'analyst', PASSWORD));
      await c.waitFrames(1);
      await new Promise((r) => setTimeout(r, 600));
      c.send(resp('PING'));
      const frames = await c.waitFrames(2);
      assert.equal(c.closed, false);
      assert.equal(frames[1], 'PONG');
    } finally {
      c.close();
    }
  });
});
