/**
 * Issue #18 item 5: transaction pooling never hands a connection on with a client's session state. One upstream
 * connection (maxConnections 1), so client B always gets the backend client A just used (checked by backend pid):
 * A leaves state behind the ways dgf cannot see from a plain statement (SET / set_config inside DO blocks and
 * functions, SET ROLE in a DO block, temporary tables, advisory locks and LISTEN made by code, set_config with a
 * bound parameter, several set_config in one statement, CALL of a procedure), then B looks for it. And the fast path
 * (plain SELECTs) keeps its connection as it is: no reset between them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import type { TestDgf } from '../../helpers/dgf.js';
import { direct, startPgDgf } from '../../fixtures/postgres/setup.js';

const DB = 'dgf_pool_state';

describe('transaction pooling: no session state crosses clients', () => {
  let dgf: TestDgf;
  let port: number;
  let checker: pg.Client;

  before(async () => {
    const d = await direct();
    await d.query(`drop database if exists ${DB} with (force)`);
    await d.query(`create database ${DB}`);
    await d.query('do $$ begin if not exists (select 1 from pg_roles where rolname = $r$dgf_pool_nobody$r$) then create role dgf_pool_nobody; end if; end $$');
    await d.end();
    const s = await direct(DB);
    await s.query(`create schema evil;
      create table public.t (x int); insert into public.t values (1);
      create table evil.t (x int); insert into evil.t values (666);
      create function set_evil_path() returns void language plpgsql as $$ begin perform set_config('search_path', 'evil', false); end $$;
      create function take_lock() returns void language sql as 'select pg_advisory_lock(4242)';
      create procedure set_evil_proc() language plpgsql as $$ begin perform set_config('search_path', 'evil', false); end $$;
      grant usage on schema evil to dgf_pool_nobody`);
    await s.end();
    ({ dgf, port } = await startPgDgf({ maxConnections: 1, poolTimeoutMs: 10_000, url: `postgres://postgres@127.0.0.1:55432/${DB}?sslmode=disable` }));
    checker = await direct(DB);
  });

  after(async () => {
    await checker?.end();
    await dgf?.stop();
    const d = await direct();
    await d.query(`drop database if exists ${DB} with (force)`);
    await d.end();
  });

  const client = async (): Promise<pg.Client> => {
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'admin', password: 'adminpw', database: DB });
    await c.connect();
    return c;
  };

  /** What B sees of the backend A used. */
  async function observe(b: pg.Client): Promise<{ pid: number; path: string; user: string; temps: number; locks: number; channels: number; t: number }> {
    const r = await b.query(`select pg_backend_pid() as pid, current_setting('search_path') as path, current_user as user,
      (select count(*)::int from pg_class where relnamespace = pg_my_temp_schema()) as temps,
      (select count(*)::int from pg_locks where locktype = 'advisory' and pid = pg_backend_pid()) as locks,
      (select count(*)::int from pg_listening_channels()) as channels,
      (select x from t limit 1) as t`);
    return r.rows[0];
  }

  const clean = (o: Awaited<ReturnType<typeof observe>>, what: string): void => {
    assert.equal(o.path, '"$user", public', `${what}: search_path`);
    assert.equal(o.user, 'postgres', `${what}: current_user`);
    assert.equal(o.temps, 0, `${what}: temporary relations`);
    assert.equal(o.locks, 0, `${what}: advisory locks`);
    assert.equal(o.channels, 0, `${what}: LISTEN channels`);
    assert.equal(o.t, 1, `${what}: t resolves to public.t`);
  };

  /**
   * A runs `leave` and stays connected, idle; B then runs on the same backend. When dgf pins A to its connection
   * (state it knows of), B waits until A disconnects, and gets the backend after its reset.
   */
  async function leaveThenObserve(what: string, leave: (a: pg.Client) => Promise<unknown>): Promise<void> {
    const a = await client();
    const b = await client();
    let aOpen = true;
    try {
      const pidA = (await a.query('select pg_backend_pid() as pid')).rows[0].pid as number;
      await leave(a);
      const seen = observe(b);
      await new Promise((r) => setTimeout(r, 150));
      aOpen = false;
      await a.end();
      const o = await seen;
      assert.equal(o.pid, pidA, 'B runs on the backend A used (maxConnections 1)');
      clean(o, what);
    } finally {
      if (aOpen) await a.end();
      await b.end();
    }
  }

  const attacks: Array<[string, (a: pg.Client) => Promise<unknown>]> = [
    ['set_config(..., false) inside a DO block', (a) => a.query(`DO $$ BEGIN PERFORM set_config('search_path', 'evil', false); END $$`)],
    ['SET inside a DO block', (a) => a.query(`DO $$ BEGIN SET search_path = evil; END $$`)],
    ['EXECUTE of a computed SET in a DO block', (a) => a.query(`DO $$ DECLARE p text := 'evil'; BEGIN EXECUTE 'SET search_path = ' || p; END $$`)],
    ['a function that calls set_config(..., false)', (a) => a.query('select set_evil_path()')],
    ['a function called through the extended protocol', (a) => a.query({ text: 'select set_evil_path() where $1::int = 1', values: [1] })],
    ['CALL of a procedure that sets the path', (a) => a.query('call set_evil_proc()')],
    ['set_config with a bound value', (a) => a.query({ text: "select set_config('search_path', $1, false)", values: ['evil'] })],
    ['two set_config calls in one statement', (a) => a.query("select set_config('search_path', 'evil', false), set_config('work_mem', '1MB', false)")],
    ['SET ROLE inside a DO block', (a) => a.query(`DO $$ BEGIN SET ROLE dgf_pool_nobody; END $$`)],
    ['set_config(role) inside a function call in a DO block', (a) => a.query(`DO $$ BEGIN PERFORM set_config('role', 'dgf_pool_nobody', false); END $$`)],
    ['a temporary table made by EXECUTE in a DO block (then a transaction commits)', (a) => a.query(`DO $$ BEGIN EXECUTE 'CREATE TEMP TABLE leak_' || 'x (x int)'; END $$`)],
    ['an advisory lock taken by a function', (a) => a.query('select take_lock()')],
    ['an advisory lock taken in a DO block', (a) => a.query(`DO $$ BEGIN PERFORM pg_advisory_lock(4243); END $$`)],
    ['LISTEN by EXECUTE in a DO block', (a) => a.query(`DO $$ BEGIN EXECUTE 'LISTEN ' || 'leak_channel'; END $$`)],
    ['set_config in a DO block inside an explicit transaction', async (a) => {
      await a.query('begin');
      await a.query(`DO $$ BEGIN PERFORM set_config('search_path', 'evil', false); END $$`);
      await a.query('commit');
    }],
  ];

  for (const [what, leave] of attacks) {
    test(`${what}: the next client gets a clean connection`, async () => {
      await leaveThenObserve(what, leave);
    });
  }

  test('A keeps what dgf can replay: its own SET search_path follows it to the next transaction', async () => {
    const a = await client();
    const b = await client();
    try {
      await a.query('set search_path = evil, public');
      clean(await observe(b), 'B after A set its path');
      assert.equal((await a.query('select x from t')).rows[0].x, 666, "A's own setting is replayed for A");
    } finally {
      await a.end();
      await b.end();
    }
  });

  test('fast path: plain SELECTs do not reset the connection (server-side prepared statements survive)', async () => {
    const a = await client();
    const b = await client();
    try {
      // A named statement prepared by dgf on the server stays prepared unless the connection is reset (DISCARD ALL).
      await a.query({ name: 'probe', text: 'select $1::int as v', values: [1] });
      const prepared = async (): Promise<number> =>
        (await b.query("select count(*)::int as n from pg_prepared_statements where name like 'dgf%'")).rows[0].n;
      const before = await prepared();
      assert.ok(before > 0, 'dgf prepared the statement server-side');
      const started = performance.now();
      for (let i = 0; i < 200; i++) {
        await (i % 2 === 0 ? a : b).query(i % 4 < 2 ? 'select x from t' : { name: 'probe', text: 'select $1::int as v', values: [i] });
      }
      const ms = performance.now() - started;
      assert.ok((await prepared()) >= before, 'no reset between plain SELECTs');
      // A reset costs a round trip plus re-preparing; 200 plain statements stay well within a normal budget.
      assert.ok(ms < 5000, `200 SELECTs took ${ms.toFixed(0)} ms`);
      // after a DO block that may leave state, the connection is reset: dgf's statements are prepared afresh
      await a.query(`DO $$ BEGIN PERFORM set_config('search_path', 'evil', false); END $$`);
      assert.equal(await prepared(), 0, 'DISCARD ALL ran before B got the connection');
    } finally {
      await a.end();
      await b.end();
    }
  });

  test('the direct checker sees no leftover advisory locks or temp tables on any dgf backend', async () => {
    const locks = (await checker.query("select count(*)::int as n from pg_locks l join pg_stat_activity a on a.pid = l.pid where l.locktype = 'advisory' and a.datname = $1", [DB])).rows[0].n;
    assert.equal(locks, 0);
  });
});
