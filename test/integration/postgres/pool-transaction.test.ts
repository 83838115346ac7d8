/** Transaction pooling onto 2 upstream connections: concurrency, limits, queue timeout, pinning, cleanup. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import type { TestDgf } from '../../helpers/dgf.js';
import { direct, sendCancel, startPgDgf, upstreamBackends } from '../../fixtures/postgres/setup.js';

const DB = 'dgf_wire_pool';

describe('transaction pooling', () => {
  let dgf: TestDgf;
  let port: number;
  let checker: pg.Client;

  before(async () => {
    const d = await direct();
    await d.query(`drop database if exists ${DB} with (force)`);
    await d.query(`create database ${DB}`);
    await d.end();
    const s = await direct(DB);
    await s.query('create table counters (id int primary key, n int not null)');
    await s.query('insert into counters select g, 0 from generate_series(1, 10) g');
    await s.end();
    ({ dgf, port } = await startPgDgf({ maxConnections: 2, poolTimeoutMs: 20_000, url: `postgres://postgres@127.0.0.1:55432/${DB}?sslmode=disable` }));
    checker = await direct(DB);
  });

  after(async () => {
    await checker.end();
    await dgf.stop();
    const d = await direct();
    await d.query(`drop database if exists ${DB} with (force)`);
    await d.end();
  });

  /** Poll pg_stat_activity until stopped; `stop` returns the most upstream backends seen. */
  const sampleBackends = (): { stop(): Promise<number> } => {
    let maxSeen = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        maxSeen = Math.max(maxSeen, await upstreamBackends(checker, DB));
        await new Promise((r) => setTimeout(r, 5));
      }
    })();
    return {
      async stop() {
        sampling = false;
        await sampler;
        return maxSeen;
      },
    };
  };

  const client = async (user = 'admin', password = 'adminpw'): Promise<pg.Client> => {
    const c = new pg.Client({ host: '127.0.0.1', port, user, password, database: DB });
    await c.connect();
    return c;
  };

  test('100 concurrent clients through maxConnections 2: every answer right, never more than 2 upstream backends', async () => {
    const clients = await Promise.all(Array.from({ length: 100 }, () => client()));
    const backends = sampleBackends();
    let maxSeen = 0;
    try {
      await Promise.all(
        clients.map(async (c, i) => {
          for (let k = 0; k < 5; k++) {
            const r = await c.query({ name: 'echo', text: 'select $1::int * 2 as v, pg_sleep(0.001)', values: [i * 10 + k] });
            assert.equal(r.rows[0].v, (i * 10 + k) * 2);
            await c.query('begin');
            await c.query('update counters set n = n + 1 where id = $1', [(i % 10) + 1]);
            await c.query('commit');
          }
        }),
      );
    } finally {
      maxSeen = await backends.stop();
      await Promise.all(clients.map((c) => c.end()));
    }
    assert.ok(maxSeen >= 1 && maxSeen <= 2, `saw ${maxSeen} upstream backends`);
    const total = await checker.query('select sum(n)::int as s from counters');
    assert.equal(total.rows[0].s, 500);
    assert.ok((await upstreamBackends(checker, DB)) <= 2);
  });

  test('simple-protocol SELECTs of 40 clients queued behind each other on 2 connections: each client gets its own answers', async () => {
    const clients = await Promise.all(Array.from({ length: 40 }, () => client()));
    const backends = sampleBackends();
    let maxSeen = 0;
    try {
      await Promise.all(
        clients.map(async (c, i) => {
          for (let k = 0; k < 25; k++) {
            // Inline literals: pg sends these as simple Query messages, the pipelinable kind.
            const v = i * 1000 + k;
            const r = await c.query(`select ${v} as v, '${'x'.repeat(k)}' as pad`);
            assert.equal(r.rows[0].v, v);
            assert.equal(r.rows[0].pad, 'x'.repeat(k));
            if (k % 10 === 9) {
              // A transaction in between: never queued behind, never lets others in.
              await c.query('begin');
              await c.query(`update counters set n = n + 1 where id = ${(i % 10) + 1}`);
              assert.equal((await c.query(`select ${v} as again`)).rows[0].again, v);
              await c.query('commit');
            }
            if (k === 12) await assert.rejects(c.query('select * from no_such_table_here'), /does not exist/);
          }
        }),
      );
    } finally {
      maxSeen = await backends.stop();
      await Promise.all(clients.map((c) => c.end()));
    }
    assert.ok(maxSeen <= 2, `saw ${maxSeen} upstream backends`);
  });

  test('a cancel while other clients queue behind the canceller cancels only its query', async () => {
    const [a, b, c] = await Promise.all([client(), client(), client()]);
    try {
      const keys = a as unknown as { processID: number; secretKey: number };
      const slowA = a.query('select pg_sleep(3) as a');
      await new Promise((r) => setTimeout(r, 100));
      const slowB = b.query('select pg_sleep(3) as b');
      await new Promise((r) => setTimeout(r, 100));
      // Both connections are busy and nobody waits in the pool: C's SELECT is queued behind A's or B's.
      const quick = c.query('select 42 as v');
      await new Promise((r) => setTimeout(r, 200));
      await sendCancel(port, keys.processID, keys.secretKey);
      await assert.rejects(slowA, (e: Error & { code?: string }) => e.code === '57014');
      assert.equal((await quick).rows[0].v, 42);
      assert.equal((await slowB).rows.length, 1);
      assert.equal((await a.query('select 1 as ok')).rows[0].ok, 1);
    } finally {
      await Promise.all([a.end(), b.end(), c.end()]);
    }
  });

  test('a client that disconnects while its SELECT is queued behind another: the others go on', async () => {
    const [a, b, c, d] = await Promise.all([client(), client(), client(), client()]);
    const slowA = a.query('select pg_sleep(0.5) as a');
    const slowB = b.query('select pg_sleep(0.5) as b');
    await new Promise((r) => setTimeout(r, 100));
    const gone = c.query('select pg_sleep(0.2), 1 as c').catch(() => null);
    const later = d.query('select 7 as d');
    await new Promise((r) => setTimeout(r, 50));
    c.on('error', () => undefined);
    (c as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    await gone;
    assert.equal((await slowA).rows.length, 1);
    assert.equal((await slowB).rows.length, 1);
    assert.equal((await later).rows[0].d, 7);
    assert.equal((await a.query('select 3 as x')).rows[0].x, 3);
    await Promise.all([a.end(), b.end(), d.end()]);
  });

  test('a client waiting longer than poolTimeoutMs gets SQLSTATE 53300 with a clear message', async () => {
    const short = await startPgDgf({ maxConnections: 1, poolTimeoutMs: 300, url: `postgres://postgres@127.0.0.1:55432/${DB}?sslmode=disable` });
    try {
      const mk = async (): Promise<pg.Client> => {
        const c = new pg.Client({ host: '127.0.0.1', port: short.port, user: 'admin', password: 'adminpw', database: DB });
        await c.connect();
        return c;
      };
      const holder = await mk();
      const waiter = await mk();
      await holder.query('begin');
      await holder.query('select 1');
      await assert.rejects(waiter.query('select 1'), (e: Error & { code?: string }) => e.code === '53300' && /maxConnections/.test(e.message));
      await holder.query('commit');
      assert.equal((await waiter.query('select 7 as x')).rows[0].x, 7);
      await holder.end();
      await waiter.end();
    } finally {
      await short.dgf.stop();
    }
  });

  test('a client lost mid-transaction: its transaction is rolled back and its locks released before reuse', async () => {
    const a = await client();
    a.on('error', () => undefined);
    await a.query('begin');
    await a.query('update counters set n = n + 1000 where id = 1');
    // Kill the client socket without Terminate.
    (a as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    const b = await client();
    try {
      await b.query(`set lock_timeout = '3s'`);
      await b.query('begin');
      await b.query('update counters set n = n where id = 1');
      await b.query('commit');
      const r = await b.query('select n from counters where id = 1');
      assert.ok(r.rows[0].n < 1000, 'the lost transaction was not committed');
    } finally {
      await b.end();
    }
  });

  test('session-only features pin the client: temp tables, LISTEN/NOTIFY, advisory locks, SQL PREPARE', async () => {
    const a = await client();
    const b = await client();
    try {
      await a.query('create temp table wire_tmp (x int)');
      await a.query('insert into wire_tmp values (1), (2)');
      // Other clients run meanwhile; the temp table must still be there for a.
      await Promise.all([b.query('select pg_sleep(0.01)'), b.query('select 1')]);
      assert.equal((await a.query('select count(*)::int as n from wire_tmp')).rows[0].n, 2);
      await a.query('prepare wire_sql_stmt (int) as select $1 + 1 as y');
      assert.equal((await a.query('execute wire_sql_stmt(4)')).rows[0].y, 5);
      const got = new Promise<string>((resolve) => a.on('notification', (n) => resolve(n.payload ?? '')));
      await a.query('listen wire_chan');
      await b.query(`notify wire_chan, 'hello'`);
      assert.equal(await got, 'hello');
      await a.query('select pg_advisory_lock(4242)');
      const locked = await checker.query('select count(*)::int as n from pg_locks where locktype = $1 and objid = 4242', ['advisory']);
      assert.equal(locked.rows[0].n, 1);
    } finally {
      await a.end();
      await b.end();
    }
    // After the pinned client left, its connection was reset (DISCARD ALL): the lock is gone.
    const deadline = Date.now() + 3000;
    let n = 1;
    while (Date.now() < deadline && n > 0) {
      n = (await checker.query('select count(*)::int as n from pg_locks where locktype = $1 and objid = 4242', ['advisory'])).rows[0].n;
      if (n > 0) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(n, 0);
  });
});

describe('session pooling', () => {
  test('the connection is reset with DISCARD ALL before another client gets it', async () => {
    const { dgf, port } = await startPgDgf({ pool: 'session', maxConnections: 1 });
    try {
      const mk = async (): Promise<pg.Client> => {
        const c = new pg.Client({ host: '127.0.0.1', port, user: 'admin', password: 'adminpw', database: 'postgres' });
        await c.connect();
        return c;
      };
      const a = await mk();
      const pidA = (await a.query('select pg_backend_pid() as p')).rows[0].p;
      await a.query('create temp table wire_session_tmp (x int)');
      await a.query(`set work_mem = '7MB'`);
      await a.end();
      const b = await mk();
      assert.equal((await b.query('select pg_backend_pid() as p')).rows[0].p, pidA, 'same upstream backend');
      assert.equal((await b.query(`select to_regclass('pg_temp.wire_session_tmp') is null as gone`)).rows[0].gone, true);
      assert.notEqual((await b.query('show work_mem')).rows[0].work_mem, '7MB');
      await b.end();
    } finally {
      await dgf.stop();
    }
  });

  test('NotificationResponse reaches a listening client in session mode', async () => {
    const { dgf, port } = await startPgDgf({ pool: 'session', maxConnections: 2 });
    try {
      const mk = async (): Promise<pg.Client> => {
        const c = new pg.Client({ host: '127.0.0.1', port, user: 'admin', password: 'adminpw', database: 'postgres' });
        await c.connect();
        return c;
      };
      const listener = await mk();
      const notifier = await mk();
      const got = new Promise<string>((resolve) => listener.on('notification', (n) => resolve(`${n.channel}:${n.payload ?? ''}`)));
      await listener.query('listen wire_session_chan');
      await notifier.query(`select pg_notify('wire_session_chan', 'ping')`);
      assert.equal(await got, 'wire_session_chan:ping');
      await listener.end();
      await notifier.end();
    } finally {
      await dgf.stop();
    }
  });
});
