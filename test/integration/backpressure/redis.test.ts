/**
 * Redis backpressure. A client that stops reading (then reads one byte a second) while 300 MB of replies are due:
 * - on a dedicated upstream connection (here after SELECT 1) dgf pauses that connection: the client stays
 *   connected, dgf's memory stays bounded, other clients keep their rate;
 * - on a shared connection dgf cannot pause for one client (64 MB due): its output is bounded by clientOutputLimitBytes,
 *   past which it is disconnected (with a -ERR naming the limit, for a client that still reads); others are unaffected;
 * - a client reading normally whose one reply is larger than the limit (40 MB) gets that clear -ERR.
 * A private redis-server holds the data (never the shared one on 56379).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { startDgf, type TestDgf } from '../../helpers/dgf.js';
import { privateRedis, type PrivateBackend } from '../../helpers/backends.js';
import { RssSampler, SlowSocket, mb, rate } from '../../helpers/slow-client.js';

const LIMIT = 32 * 1024 * 1024;
const VALUE = Buffer.alloc(1024 * 1024, 'v');
const GETS = 300;

describe('backpressure: redis', () => {
  let backend: PrivateBackend;
  let dgf: TestDgf;
  let port: number;
  let others: Redis[] = [];

  before(async () => {
    backend = await privateRedis();
    await backend.start();
    const direct = new Redis({ port: backend.port, host: '127.0.0.1' });
    await direct.set('big', VALUE);
    await direct.set('small', 'x');
    await direct.setrange('huge', 40 * 1024 * 1024, 'x');
    await direct.select(1);
    await direct.set('big', VALUE);
    direct.disconnect();
    dgf = await startDgf({
      roles: [{ match: { user: 'app' }, role: 'admin' }],
      policies: { packs: ['default'] },
      listeners: [
        {
          name: 'cache',
          protocol: 'redis',
          listen: '127.0.0.1:0',
          users: [{ name: 'app', password: 'app-pw' }],
          upstream: { url: `redis://127.0.0.1:${backend.port}`, maxConnections: 8 },
          options: { memoryPollMs: 0, clientOutputLimitBytes: LIMIT, sharedConnections: 2 },
        },
      ],
    });
    port = dgf.listener('cache').address.port;
    others = [0, 1].map(() => new Redis({ port, host: '127.0.0.1', username: 'app', password: 'app-pw', maxRetriesPerRequest: 0 }));
    await othersRate(1000); // warm-up, so the baselines compare like with like
  });

  after(async () => {
    for (const c of others) c.disconnect();
    await dgf?.stop();
    await backend?.dispose();
  });

  const othersRate = (ms: number): Promise<number> => {
    let i = 0;
    return rate(() => others[i++ % others.length]!.get('small'), ms, 2);
  };

  async function slowClient(dedicated: boolean): Promise<SlowSocket> {
    const s = await SlowSocket.connect(port);
    s.write('AUTH app app-pw\r\n');
    await s.readUntil((b) => b.includes('\r\n'));
    if (dedicated) {
      s.write('SELECT 1\r\n');
      assert.match((await s.readUntil((b) => b.includes('\r\n'))).toString(), /^\+OK/);
    }
    s.becomeSlow();
    if (dedicated) {
      // One command at a time, as an application issues them, each its own batch: replies leave as they come.
      for (let i = 0; i < GETS && !s.closed; i++) {
        s.write('GET big\r\n');
        await new Promise((r) => setTimeout(r, 3));
      }
    } else {
      // Twice the limit: enough to pass it; more would only measure the shared connection carrying the bytes.
      s.write('GET big\r\n'.repeat(64));
    }
    return s;
  }

  test('dedicated connection: paused, not cut off; memory bounded; others keep their rate', async () => {
    const baseline = await othersRate(1500);
    const rss = new RssSampler();
    const [slow, during] = await Promise.all([slowClient(true), othersRate(4000)]);
    rss.stop();
    const closed = slow.closed;
    slow.destroy();
    console.log(`redis dedicated: others ${baseline.toFixed(0)} -> ${during.toFixed(0)} req/s, RSS +${mb(rss.growthMb)} while ${GETS} MB were due, slow client read ${slow.trickled} B`);
    assert.equal(closed, false, 'the slow client must not be disconnected');
    assert.ok(rss.growthMb < 200, `RSS grew ${mb(rss.growthMb)}`);
    assert.ok(during >= baseline * 0.5, `others slowed from ${baseline} to ${during} req/s`);
  });

  test('shared connection: bounded by clientOutputLimitBytes, then disconnected; others keep their rate', async () => {
    const baseline = await othersRate(1500);
    const rss = new RssSampler();
    const slow = await slowClient(false);
    const during = await othersRate(2000);
    rss.stop();
    // Resumes reading: what was already on the wire arrives, then the close (the error after it was dropped with
    // the socket: a client that does not read within the grace period cannot see it; the log names the limit).
    await slow.drain(5000);
    const closed = slow.closed;
    slow.destroy();
    console.log(`redis shared (64 MB due): others ${baseline.toFixed(0)} -> ${during.toFixed(0)} req/s, RSS +${mb(rss.growthMb)} (limit ${mb(LIMIT / 1048576)}), disconnected ${closed}`);
    assert.equal(closed, true, 'the slow client is disconnected');
    assert.ok(rss.growthMb < 200, `RSS grew ${mb(rss.growthMb)}`);
    assert.ok(during >= baseline * 0.5, `others slowed from ${baseline} to ${during} req/s`);
    assert.equal(await others[0]!.get('small'), 'x');
  });

  test('one reply over the limit: a clear -ERR, then disconnected; others unaffected', async () => {
    const c = new Redis({ port, host: '127.0.0.1', username: 'app', password: 'app-pw', maxRetriesPerRequest: 0, retryStrategy: () => null });
    c.on('error', () => undefined);
    try {
      await assert.rejects(c.getBuffer('huge'), /ERR dgf: client output buffer limit exceeded \(33554432 bytes, listener option clientOutputLimitBytes\)/);
      assert.equal(await others[0]!.get('small'), 'x');
    } finally {
      c.disconnect();
    }
  });
});
