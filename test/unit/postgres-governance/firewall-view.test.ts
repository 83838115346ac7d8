/**
 * Issue #18 item 5: the firewall's view of a statement in a session (SessionLineage.firewall): unqualified names
 * resolved through the session's search_path as PostgreSQL resolves them (including a path set earlier in the same
 * transaction, and every candidate when dgf cannot read the path), and whether the client may have left session
 * state the pool must reset (calls of user functions whose bodies set, lock or run code dgf cannot read).
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeSql, initSqlAnalyzer, type StatementInfo } from '../../../protocols/postgres/governance/analyze.js';
import { CATALOG_SQL, CatalogCache, FUNCTIONS_SQL, VIEWS_SQL } from '../../../protocols/postgres/governance/catalog.js';
import { LineageCache, VerdictCache } from '../../../protocols/postgres/governance/lineage-plan.js';
import { SessionLineage } from '../../../protocols/postgres/governance/session-lineage.js';

const one = (sql: string): StatementInfo => analyzeSql(sql)[0]!;

async function catalog(): Promise<CatalogCache> {
  const c = new CatalogCache();
  await c.refresh(async (sql) => {
    if (sql === CATALOG_SQL)
      return [
        ['1', 'public', 'ledger', '1', 'id', '23', 'r'],
        ['2', 'app', 'ledger', '1', 'id', '23', 'r'],
        ['3', 'public', 'orders', '1', 'id', '23', 'r'],
      ];
    if (sql === VIEWS_SQL) return [];
    if (sql === FUNCTIONS_SQL)
      return [
        ['public', 'pure_fn', 'sql', 'select $1 + 1', 'false'],
        ['public', 'sets_path', 'plpgsql', "begin perform set_config('search_path', 'evil', false); end", 'false'],
        ['public', 'returns_value', 'plpgsql', 'begin return 1; end', 'false'],
        ['public', 'locks', 'sql', 'select pg_advisory_lock(1)', 'false'],
        ['public', 'calls_locks', 'sql', 'select locks()', 'false'],
        ['public', 'runs_text', 'plpgsql', 'begin execute $1; end', 'false'],
        ['public', 'py_fn', 'plpython3u', 'return 1', 'false'],
        ['public', 'ext_fn', 'c', 'ext_fn', 'true'],
      ];
    return [['"$user", public']];
  });
  return c;
}

describe('SessionLineage.firewall', () => {
  let cat: CatalogCache;
  before(async () => {
    await initSqlAnalyzer();
    cat = await catalog();
  });
  const session = (): SessionLineage => new SessionLineage(new LineageCache(cat), new VerdictCache());

  test('the default path: the analysis itself comes back (shared decisions), nothing to reset', () => {
    const s = session();
    const info = one('delete from ledger where id = 1');
    assert.equal(s.firewall(info, null), info);
    assert.equal(s.leftState, false);
  });

  test("the session's path: the first schema holding the relation, else the first schema", () => {
    const s = session();
    assert.deepEqual(s.firewall(one('delete from ledger where id = 1'), 'app, public').objects, ['app.ledger']);
    assert.deepEqual(s.firewall(one('delete from orders where id = 1'), 'app, public').objects, ['public.orders']);
    assert.deepEqual(s.firewall(one('create table fresh (x int)'), 'app, public').objects, ['app.fresh']);
    assert.deepEqual(s.firewall(one('select * from public.ledger, ledger'), 'app').objects, ['public.ledger', 'app.ledger']);
  });

  test('a path set in the transaction counts from the next statement; the transaction end forgets a local one', () => {
    const s = session();
    s.firewall(one('set local search_path = app'), null);
    assert.deepEqual(s.firewall(one('delete from ledger'), null).objects, ['app.ledger']);
    s.transactionEnded();
    assert.deepEqual(s.firewall(one('delete from ledger'), null).objects, ['public.ledger']);
    s.firewall(one("select set_config('search_path', 'app', true)"), null);
    assert.deepEqual(s.firewall(one('delete from ledger'), null).objects, ['app.ledger']);
  });

  test('a path dgf cannot read: every relation of that name is a candidate (fail closed)', () => {
    const s = session();
    s.firewall(one("select set_config('search_path', current_user, false)"), null);
    assert.deepEqual([...s.firewall(one('delete from ledger'), null).objects].sort(), ['app.ledger', 'public.ledger']);
    s.transactionEnded();
    assert.deepEqual([...s.firewall(one('delete from ledger'), null).objects].sort(), ['app.ledger', 'public.ledger'], 'until a reset');
    assert.equal(s.takeLeftState(), true, 'set_config of a computed value: the connection is reset');
    assert.deepEqual(s.firewall(one('delete from ledger'), null).objects, ['public.ledger'], 'DISCARD ALL reset the path');
  });

  test('calls of user functions that may leave state mark the client; pure and extension functions do not', () => {
    const marks = (sql: string): boolean => {
      const s = session();
      s.firewall(one(sql), null);
      return s.takeLeftState();
    };
    assert.equal(marks('select pure_fn(1), count(*), lower(x) from orders'), false);
    assert.equal(marks('select returns_value()'), false);
    assert.equal(marks('select ext_fn()'), false);
    assert.equal(marks('select sets_path()'), true);
    assert.equal(marks('select locks()'), true);
    assert.equal(marks('select calls_locks()'), true, 'through another function');
    assert.equal(marks("select runs_text('x')"), true, 'EXECUTE of a parameter');
    assert.equal(marks('select py_fn()'), true, 'a language dgf does not read');
    assert.equal(marks('call anything()'), true);
    assert.equal(marks(`do $$ begin perform sets_path(); end $$`), true);
    assert.equal(marks(`do $$ begin raise notice 'hi'; end $$`), false);
  });
});
