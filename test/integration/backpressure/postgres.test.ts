/**
 * PostgreSQL backpressure: a client that stops reading (then reads one byte a second) a ~400 MB result. dgf
 * pauses the upstream connection that client's query runs on, so its memory stays bounded, and other clients
 * (on the pool's other connections) keep their rate. A private PostgreSQL cluster serves it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startDgf, type TestDgf } from '../../helpers/dgf.js';
import { privatePostgres, type PrivateBackend } from '../../helpers/backends.js';
import { RssSampler, SlowSocket, mb, rate } from '../../helpers/slow-client.js';

const ROWS = 400_000; // x 1000 bytes: ~400 MB of DataRows

function startupMessage(user: string, database: string): Buffer {
  const body = Buffer.from(`user\0${user}\0database\0${database}\0\0`);
  const head = Buffer.alloc(8);
  head.writeInt32BE(8 + body.length, 0);
  head.writeInt32BE(196608, 4);
  return Buffer.concat([head, body]);
}

function queryMessage(sql: string): Buffer {
  const body = Buffer.from(`${sql}\0`);
  const head = Buffer.alloc(5);
  head[0] = 0x51;
  head.writeInt32BE(4 + body.length, 1);
  return Buffer.concat([head, body]);
}

describe('backpressure: postgres', () => {
  let backend: PrivateBackend;
  let dgf: TestDgf;
  let port: number;
  const others: pg.Client[] = [];

  before(async () => {
    backend = await privatePostgres();
    await backend.start();
    dgf = await startDgf({
      roles: [{ match: { user: 'app' }, role: 'admin' }],
      policies: { packs: ['default'] },
      listeners: [
        {
          name: 'pg',
          protocol: 'postgres',
          listen: '127.0.0.1:0',
          auth: 'trust',
          upstream: { url: `postgres://postgres@127.0.0.1:${backend.port}/postgres?sslmode=disable`, maxConnections: 4 },
        },
      ],
    });
    port = dgf.listener('pg').address.port;
    for (let i = 0; i < 2; i++) {
      const c = new pg.Client({ host: '127.0.0.1', port, user: 'app', database: 'postgres' });
      await c.connect();
      others.push(c);
    }
  });

  after(async () => {
    for (const c of others) await c.end().catch(() => undefined);
    await dgf?.stop();
    await backend?.dispose();
  });

  const othersRate = (ms: number): Promise<number> => {
    let i = 0;
    return rate(() => others[i++ % others.length]!.query('select 1'), ms, 2);
  };

  test('a slow reader of a 400 MB result: upstream paused, memory bounded, others keep their rate', async () => {
    await othersRate(1000); // warm-up
    const baseline = await othersRate(1500);
    const slow = await SlowSocket.connect(port);
    slow.write(startupMessage('app', 'postgres'));
    // Up to ReadyForQuery ('Z', length 5, status 'I').
    await slow.readUntil((b) => b.includes(Buffer.from([0x5a, 0, 0, 0, 5, 0x49])));
    const rss = new RssSampler();
    slow.becomeSlow();
    slow.write(queryMessage(`select repeat('x', 1000) from generate_series(1, ${ROWS})`));
    const during = await othersRate(4000);
    rss.stop();
    const closed = slow.closed;
    slow.destroy();
    console.log(`postgres: others ${baseline.toFixed(0)} -> ${during.toFixed(0)} q/s, RSS +${mb(rss.growthMb)} while ~${ROWS / 1000} MB were due, slow client read ${slow.trickled} B`);
    assert.equal(closed, false, 'the slow client must not be disconnected');
    assert.ok(rss.growthMb < 200, `RSS grew ${mb(rss.growthMb)}`);
    assert.ok(during >= baseline * 0.5, `others slowed from ${baseline} to ${during} q/s`);
    // The pool recovers the slow client's connection once it is gone.
    assert.equal((await others[0]!.query('select 2 as n')).rows[0].n, 2);
  });
});
