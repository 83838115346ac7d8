import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeSql, initSqlAnalyzer, type StatementInfo } from '../../../protocols/postgres/governance/analyze.js';

function one(sql: string): StatementInfo {
  const out = analyzeSql(sql);
  assert.equal(out.length, 1, `one statement in ${sql}`);
  return out[0]!;
}

describe('analyzeSql', () => {
  before(async () => {
    await initSqlAnalyzer();
  });

  test('SELECT with joins, subqueries and CTEs lists the real tables, not CTE names', () => {
    const s = one('with recent as (select * from orders where created_at > now()) select c.email as x from customers c join recent r on r.customer_id = c.id where c.id in (select customer_id from sales.refunds)');
    assert.equal(s.operation, 'select');
    assert.equal(s.kind, 'read');
    assert.deepEqual([...s.objects].sort(), ['public.customers', 'public.orders', 'sales.refunds']);
    assert.equal(s.session, null);
    assert.equal(s.transaction, null);
    assert.equal(s.copy, null);
  });

  test('DML targets come first; data-modifying CTEs make a write', () => {
    assert.deepEqual(one("insert into customers(email) select email from staging.leads where id = 3").objects, ['public.customers', 'staging.leads']);
    const u = one('with x as (select * from a) update b set v = 1 from x');
    assert.equal(u.operation, 'update');
    assert.equal(u.kind, 'write');
    assert.deepEqual(u.objects, ['public.b', 'public.a']);
    assert.deepEqual([one('delete from customers where id = 1').operation, one('delete from customers').kind], ['delete', 'write']);
    const m = one('merge into t using s on t.id = s.id when matched then update set v = s.v');
    assert.deepEqual([m.operation, m.kind, m.objects], ['merge', 'write', ['public.t', 'public.s']]);
    const cte = one('with d as (delete from customers returning *) select * from d');
    assert.deepEqual([cte.operation, cte.kind, cte.objects], ['delete', 'write', ['public.customers']]);
  });

  test('DDL kinds and objects', () => {
    const d = one('drop table if exists customers, s.b cascade');
    assert.deepEqual([d.operation, d.kind, d.objects], ['drop', 'ddl', ['public.customers', 's.b']]);
    assert.deepEqual([one('truncate orders').operation, one('truncate orders').kind, one('truncate orders').objects], ['truncate', 'ddl', ['public.orders']]);
    assert.deepEqual([one('create table t (a int)').operation, one('create table t (a int)').kind], ['create', 'ddl']);
    assert.deepEqual([one('alter table customers add column x int').operation, one('alter table customers add column x int').objects], ['alter', ['public.customers']]);
    assert.deepEqual([one('create index on customers(email)').operation, one('create index on customers(email)').objects], ['create', ['public.customers']]);
    assert.equal(one('drop schema app cascade').operation, 'drop');
    assert.deepEqual([one('drop database other').operation, one('drop database other').kind], ['drop_database', 'admin']);
    assert.deepEqual([one('drop role bob').operation, one('drop role bob').kind], ['drop', 'admin']);
    assert.deepEqual([one('set role postgres').kind, one('set session authorization postgres').kind, one('set work_mem = 64').kind], ['admin', 'admin', 'session']);
    assert.deepEqual([one('grant select on customers to bob').operation, one('grant select on customers to bob').kind], ['grant', 'admin']);
    assert.deepEqual([one('vacuum analyze customers').operation, one('vacuum analyze customers').kind, one('vacuum analyze customers').objects], ['vacuum', 'admin', ['public.customers']]);
  });

  test('EXPLAIN ANALYZE is judged as the statement it runs', () => {
    assert.deepEqual([one('explain select * from customers').operation, one('explain select * from customers').kind], ['explain', 'read']);
    const e = one('explain (analyze, buffers) create table t2 as select * from customers');
    assert.deepEqual([e.operation, e.kind, e.objects], ['create', 'ddl', ['public.t2', 'public.customers']]);
    const x = one('explain analyze delete from customers');
    assert.deepEqual([x.operation, x.kind, x.objects], ['delete', 'write', ['public.customers']]);
  });

  test('COPY direction, object, columns, format and options', () => {
    const a = one('COPY public.customers (email, ssn) TO STDOUT WITH (FORMAT csv, HEADER true)');
    assert.deepEqual([a.operation, a.kind], ['copy', 'read']);
    assert.deepEqual(a.copy, { direction: 'to', object: 'public.customers', columns: ['email', 'ssn'], format: 'csv', options: { header: true } });
    const b = one('copy s.t from stdin binary');
    assert.deepEqual([b.kind, b.copy], ['write', { direction: 'from', object: 's.t', columns: null, format: 'binary' }]);
    const c = one("copy (select email as x, c.ssn, upper(full_name) from customers c where id > 3) to stdout with (delimiter '|', null 'NULL')");
    assert.deepEqual(c.copy, { direction: 'to', object: 'public.customers', columns: ['email', 'ssn', 'upper'], format: 'text', options: { delimiter: '|', null: 'NULL' } });
    assert.equal(one("copy customers to '/tmp/x'").kind, 'admin');
    assert.equal(one("copy customers from program 'cat /etc/passwd'").kind, 'admin');
  });

  test('session state: SET, RESET, set_config, LISTEN, advisory locks, temp tables, cursors, PREPARE, DISCARD', () => {
    const set = one("SET LOCAL statement_timeout = '5s'");
    assert.deepEqual([set.operation, set.kind, set.session, set.setting], ['set', 'session', 'set', { name: 'statement_timeout', value: '5s', local: true }]);
    assert.deepEqual(one('set search_path to app, public').setting, { name: 'search_path', value: 'app, public', local: false });
    assert.deepEqual(one("set time zone 'UTC'").setting, { name: 'timezone', value: 'UTC', local: false });
    assert.deepEqual(one('set work_mem = 1024').setting, { name: 'work_mem', value: '1024', local: false });
    const tx = one('set transaction isolation level serializable');
    assert.deepEqual([tx.session, tx.setting?.local], [null, true]);
    assert.deepEqual([one('reset all').session, one('reset all').setting], ['reset', { name: 'all', value: null, local: false }]);
    assert.deepEqual(one('reset search_path').setting, { name: 'search_path', value: null, local: false });
    const sc = one("select set_config('app.user', 'x', false)");
    assert.deepEqual([sc.session, sc.setting], ['set', { name: 'app.user', value: 'x', local: false }]);
    assert.equal(one('show search_path').operation, 'show');
    assert.deepEqual([one('listen jobs').session, one('unlisten *').session], ['listen', 'unlisten']);
    assert.equal(one('select pg_advisory_lock(42)').session, 'advisory-lock');
    assert.equal(one('select pg_try_advisory_lock(1, 2)').session, 'advisory-lock');
    assert.equal(one('select pg_advisory_xact_lock(42)').session, null);
    const tt = one('create temp table scratch (a int)');
    assert.deepEqual([tt.session, tt.objects], ['temp-table', ['pg_temp.scratch']]);
    assert.equal(one('select * into temporary t2 from customers').session, 'temp-table');
    const hold = one('declare c cursor with hold for select * from customers');
    assert.deepEqual([hold.session, hold.objects], ['hold-cursor', ['public.customers']]);
    assert.equal(one('declare c cursor for select 1').session, 'declare-cursor');
    const p = one('prepare del(int) as delete from customers where id = $1');
    assert.deepEqual([p.operation, p.kind, p.session, p.objects], ['delete', 'write', 'prepare', ['public.customers']]);
    assert.deepEqual([one('execute del(1)').operation, one('deallocate all').session, one('discard all').session], ['execute', 'deallocate', 'discard']);
  });

  test('transaction control', () => {
    assert.equal(one('begin').transaction, 'begin');
    assert.equal(one('start transaction isolation level repeatable read').transaction, 'begin');
    assert.equal(one('commit').transaction, 'commit');
    assert.equal(one('end').transaction, 'commit');
    assert.equal(one('rollback').transaction, 'rollback');
    assert.equal(one('savepoint s1').transaction, 'savepoint');
    assert.equal(one('release savepoint s1').transaction, 'savepoint');
    // ROLLBACK TO keeps the transaction open.
    assert.equal(one('rollback to savepoint s1').transaction, 'savepoint');
  });

  test('several statements of one simple Query, each normalized on its own', () => {
    const out = analyzeSql("begin; update customers set email = 'a@b.example' where id = 7; select 'é', 42 ; commit");
    assert.deepEqual(out.map((s) => s.operation), ['begin', 'update', 'select', 'commit']);
    assert.deepEqual(out.map((s) => s.normalized), ['begin', 'update customers set email = $1 where id = $2', "select $1, $2", 'commit']);
  });

  test('normalized text never carries literals or comments', () => {
    const s = one("select * /* ssn 123-45-6789 */ from customers where card_number = '4111111111111111' -- a@b.example\n and id = 5");
    assert.equal(s.normalized, 'select * from customers where card_number = $1 and id = $2');
    assert.ok(!s.normalized.includes('4111'));
  });

  test('unparseable text gives one unknown statement that echoes nothing', () => {
    const out = analyzeSql("select * from customers where ssn = '123-45-6789");
    assert.deepEqual(out, [{ operation: 'unknown', kind: 'other', objects: [], normalized: '<unparseable>', session: null, transaction: null, copy: null }]);
    assert.deepEqual(analyzeSql('this is not sql 4111111111111111'), out);
  });

  test('empty queries give no statement', () => {
    assert.deepEqual(analyzeSql(''), []);
    assert.deepEqual(analyzeSql('  ;  '), []);
    assert.deepEqual(analyzeSql('-- only a comment'), []);
  });

  test('quoted identifiers keep their case; temp and qualified names', () => {
    assert.deepEqual(one('select * from "Sales"."Q1 Orders", Customers').objects, ['Sales.Q1 Orders', 'public.customers']);
  });

  test('results are cached by text and frozen', () => {
    const sql = 'select * from customers where id = $1';
    const a = analyzeSql(sql);
    const b = analyzeSql(sql);
    assert.equal(a, b);
    assert.ok(Object.isFrozen(a[0]));
    assert.ok(Object.isFrozen(a[0]!.objects));
  });

  test('cache stays bounded under a stream of distinct texts', () => {
    for (let i = 0; i < 5000; i++) analyzeSql(`select ${i} from t${i}`);
    // Still answers correctly after evictions, including for texts evicted long ago.
    assert.deepEqual(one('select 0 from t0').objects, ['public.t0']);
  });

  test('analysis is fast for a cached text and reasonable uncached', () => {
    const sql = 'select id, email from customers where id = $1';
    analyzeSql(sql);
    let t = performance.now();
    for (let i = 0; i < 100_000; i++) analyzeSql(sql);
    const cachedUs = ((performance.now() - t) / 100_000) * 1000;
    t = performance.now();
    for (let i = 0; i < 500; i++) analyzeSql(`select id, email from customers c join orders o on o.customer_id = c.id where c.id = ${i}`);
    const uncachedUs = ((performance.now() - t) / 500) * 1000;
    assert.ok(cachedUs < 5, `cached ${cachedUs} µs`);
    assert.ok(uncachedUs < 2000, `uncached ${uncachedUs} µs`);
  });
});
