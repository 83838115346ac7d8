/**
 * Issue #18 item 5, statement analysis: what a DO block, a function body, a rule or a dblink call runs is judged as
 * part of the statement, and code dgf cannot read is dynamic code that every deny rule it could evade matches.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeSql, initSqlAnalyzer, isDynamicCode, type StatementInfo } from '../../../protocols/postgres/governance/analyze.js';
import { constantText } from '../../../protocols/postgres/governance/embedded-code.js';
import { analyzeStatement } from '../../../protocols/postgres/statement-shapes.js';
import { compilePolicySources } from '../../../src/policy/index.js';
import { YamlSource } from '../../../src/config/yaml-source.js';

function one(sql: string): StatementInfo {
  const out = analyzeSql(sql);
  assert.equal(out.length, 1, `one statement in ${sql}`);
  return out[0]!;
}

const has = (info: StatementInfo, tag: string): boolean => info.tags?.includes(tag) === true;
/** What a statement runs inside it is tagged `runs:<verb>`. */
const runs = (info: StatementInfo, verb: string): boolean => has(info, `runs:${verb}`);

describe('embedded code: statements inside statements', () => {
  before(async () => {
    await initSqlAnalyzer();
  });

  test('a DO block with constant EXECUTE texts and static statements carries their verbs and objects', () => {
    const cases: Array<[string, string, string]> = [
      [`DO $$ BEGIN EXECUTE 'DROP TABLE victim'; END $$`, 'drop', 'public.victim'],
      [`DO $$ BEGIN DROP TABLE victim; END $$`, 'drop', 'public.victim'],
      [`DO $$ BEGIN EXECUTE 'DROP ' || 'TABLE ' || 'victim'; END $$`, 'drop', 'public.victim'],
      [`DO $$ BEGIN EXECUTE format('TRUNCATE %I', 'victim'); END $$`, 'truncate', 'public.victim'],
      [`DO $$ BEGIN EXECUTE concat('DELETE FROM ', 'orders'); END $$`, 'delete', 'public.orders'],
      [`DO 'BEGIN EXECUTE ''GRANT ALL ON victim TO PUBLIC''; END'`, 'grant', 'public.victim'],
      [`DO LANGUAGE plpgsql $$ BEGIN ALTER TABLE victim ADD COLUMN z int; END $$`, 'alter', 'public.victim'],
      [`DO $$ BEGIN IF true THEN EXECUTE 'DO $x$ BEGIN EXECUTE ''DROP TABLE victim''; END $x$'; END IF; END $$`, 'drop', 'public.victim'],
      [`DO $$ DECLARE r record; BEGIN FOR r IN EXECUTE 'DELETE FROM orders RETURNING id' LOOP END LOOP; END $$`, 'delete', 'public.orders'],
    ];
    for (const [sql, verb, object] of cases) {
      const s = one(sql);
      assert.equal(s.operation, 'do', sql);
      assert.ok(runs(s, verb), `${sql}: runs:${verb} in ${s.tags}`);
      assert.ok(s.objects.includes(object), `${sql}: ${object} in ${s.objects}`);
      assert.equal(isDynamicCode(s), false, sql);
    }
  });

  test('EXECUTE of computed text, other languages and COPY PROGRAM are dynamic code', () => {
    for (const sql of [
      `DO $$ DECLARE t text := 'victim'; BEGIN EXECUTE 'DROP TABLE ' || t; END $$`,
      `DO $$ DECLARE q text; BEGIN q := 'TRUNCATE victim'; EXECUTE q; END $$`,
      `DO $$ BEGIN EXECUTE format('DROP TABLE %I', current_user); END $$`,
      `DO $$ BEGIN EXECUTE (SELECT 'DROP TABLE victim'); END $$`,
      `DO $$ BEGIN EXECUTE chr(68) || 'ROP TABLE victim'; END $$`,
      `DO LANGUAGE plpython3u 'plpy.execute("DROP TABLE victim")'`,
      `CREATE FUNCTION run(q text) RETURNS void LANGUAGE plpgsql AS $$ BEGIN EXECUTE q; END $$`,
      `CREATE FUNCTION trg() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN EXECUTE TG_ARGV[0]; RETURN NEW; END $$`,
      `CREATE FUNCTION c_fn() RETURNS void LANGUAGE c AS 'libfoo', 'foo'`,
      `COPY victim FROM PROGRAM 'psql -c "drop table victim"'`,
      `SELECT dblink_exec('dbname=x', current_setting('app.q'))`,
    ]) {
      const s = one(sql);
      assert.ok(isDynamicCode(s), `${sql}: dynamic (${s.tags})`);
      assert.ok(has(s, 'may:drop') && has(s, 'may:truncate') && has(s, 'may:grant'), sql);
    }
  });

  test('function, procedure and rule bodies: judged at CREATE, as what they will run', () => {
    const f = one(`CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN EXECUTE 'DROP TABLE victim'; END $$`);
    assert.equal(f.operation, 'create');
    assert.ok(has(f, 'create-function') && runs(f, 'drop'));
    assert.equal(f.session, null, 'creating a function leaves no state');
    const sql = one(`CREATE FUNCTION f2() RETURNS void LANGUAGE sql AS 'TRUNCATE victim'`);
    assert.ok(runs(sql, 'truncate') && sql.objects.includes('public.victim'));
    const atomic = one(`CREATE FUNCTION f3() RETURNS void LANGUAGE sql BEGIN ATOMIC DELETE FROM orders; END`);
    assert.ok(runs(atomic, 'delete') && atomic.objects.includes('public.orders'));
    const proc = one(`CREATE PROCEDURE p() LANGUAGE plpgsql AS $$ BEGIN TRUNCATE victim; END $$`);
    assert.ok(has(proc, 'create-procedure') && runs(proc, 'truncate'));
    const rule = one(`CREATE RULE r AS ON INSERT TO scratch DO ALSO DELETE FROM orders`);
    assert.ok(runs(rule, 'delete') && rule.objects.includes('public.orders'));
    const dblink = one(`SELECT dblink_exec('dbname=x', 'DROP TABLE victim')`);
    assert.ok(runs(dblink, 'drop') && !isDynamicCode(dblink));
  });

  test('ordinary PL/pgSQL stays readable: assignments, loops, RAISE, PERFORM are not dynamic', () => {
    const s = one(`DO $$ DECLARE v int; a int[]; r record; BEGIN v := 1 + 2; a[1] := 3; FOR r IN SELECT id FROM orders LOOP RAISE NOTICE '%', r.id; END LOOP; PERFORM count(*) FROM customers; END $$`);
    assert.equal(isDynamicCode(s), false, String(s.tags));
    assert.ok(s.objects.includes('public.orders') && s.objects.includes('public.customers'));
    assert.equal(s.session, null);
  });

  test('session state left by a DO block: pinned when dgf knows it, unknown-state when it cannot replay it', () => {
    assert.equal(one(`DO $$ BEGIN EXECUTE 'LISTEN chan'; END $$`).session, 'listen');
    assert.equal(one(`DO $$ BEGIN CREATE TEMP TABLE leak(x int); END $$`).session, 'temp-table');
    assert.equal(one(`DO $$ BEGIN PERFORM pg_advisory_lock(42); END $$`).session, 'advisory-lock');
    assert.equal(one(`DO $$ BEGIN PERFORM set_config('search_path', 'evil', false); END $$`).session, 'unknown-state');
    assert.equal(one(`DO $$ BEGIN SET ROLE nobody; END $$`).session, 'unknown-state');
    assert.equal(one(`DO $$ DECLARE q text := 'x'; BEGIN EXECUTE q; END $$`).session, 'unknown-state');
    assert.equal(one(`CALL p()`).session, 'unknown-state');
    assert.deepEqual(one(`DO $$ BEGIN PERFORM my_fn(); END $$`).calls?.includes('my_fn'), true);
  });

  test('set_config dgf cannot replay (several calls, computed name or value) is unknown-state', () => {
    assert.equal(one(`select set_config('search_path', 'a', false)`).session, 'set');
    assert.equal(one(`select set_config('search_path', 'a', false), set_config('work_mem', '1MB', false)`).session, 'unknown-state');
    assert.equal(one(`select set_config('search_path', $1, false)`).session, 'unknown-state');
    assert.equal(one(`select set_config($1, 'x', false)`).session, 'unknown-state');
    assert.equal(one(`select set_config('search_path', $1, true)`).session, 'set');
  });

  test('unqualified names are remembered as written (the session resolves them through its search_path)', () => {
    const d = one('delete from ledger where id = 1');
    assert.deepEqual(d.objects, ['public.ledger']);
    assert.deepEqual(d.bare, ['ledger']);
    const q = one('select * from app.ledger join ledger using (id)');
    assert.deepEqual(q.objects, ['app.ledger', 'public.ledger']);
    assert.deepEqual(q.bare, [null, 'ledger']);
    assert.deepEqual(one('drop table ledger, app.x').bare, ['ledger', null]);
    assert.equal(one('select * from app.ledger').bare, undefined);
  });

  test('a DO block as a string constant is never shared by shape with a benign one', () => {
    const benign = analyzeStatement(`DO 'BEGIN PERFORM 1; END'`)[0]!;
    assert.ok(!runs(benign, 'drop'));
    const evil = analyzeStatement(`DO 'BEGIN DROP TABLE victim; END'`)[0]!;
    assert.ok(runs(evil, 'drop'), 'the second text is analyzed itself');
  });

  test('constantText reads constants only', () => {
    assert.equal(constantText(`'a' || 'b'`), 'ab');
    assert.equal(constantText(`format('%s %I %L', 'x', 'Y z', 'it''s')`), `x "Y z" 'it''s'`);
    assert.equal(constantText(`'a' || t`), undefined);
    assert.equal(constantText(`upper('a')`), undefined);
  });
});

describe('policy: dynamic code matches every deny rule it could evade', () => {
  before(async () => {
    await initSqlAnalyzer();
  });

  const policy = compilePolicySources([
    YamlSource.parse(
      `
rules:
  - id: etl-no-drop
    match: { role: [etl, ops], operation: [drop, truncate] }
    action: deny
    message: no drop
  - id: etl-no-delete-orders
    match: { role: [etl], operation: [delete], objects: [public.orders] }
    action: deny
    message: no delete of orders
  - id: etl-no-redis-admin
    match: { role: [etl2], operation: [flushall, config] }
    action: deny
    message: redis only
  - id: ops-may-run-code
    match: { role: [ops], operation: [dynamic-code] }
    action: allow
  - id: reader-may-select
    match: { role: [reader], operation: [select] }
    action: allow
  - id: reader-no-drop
    match: { role: [reader], operation: [drop] }
    action: deny
    message: no drop
`,
      'policies/rules.yaml',
    ),
  ]);
  const decide = (role: string, sql: string): string => {
    const info = one(sql);
    const d = policy.decide({ listener: 'pg', protocol: 'postgres', identity: { user: role }, role, operation: info.operation, kind: info.kind, objects: info.objects, ...(info.tags ? { tags: info.tags } : {}) });
    return d.action === 'deny' ? d.ruleId! : 'allow';
  };

  test('constant inner statements match the rules of their verbs and objects', () => {
    assert.equal(decide('etl', `DO $$ BEGIN EXECUTE 'DROP TABLE victim'; END $$`), 'etl-no-drop');
    assert.equal(decide('etl', `DO $$ BEGIN EXECUTE 'DELETE FROM orders'; END $$`), 'etl-no-delete-orders');
    assert.equal(decide('etl', `DO $$ BEGIN EXECUTE 'DELETE FROM other'; END $$`), 'allow');
    assert.equal(decide('ops', `DO $$ BEGIN EXECUTE 'DROP TABLE victim'; END $$`), 'etl-no-drop', 'allowing dynamic code does not allow a visible drop');
  });

  test('an allow rule on one verb never allows the code around it', () => {
    assert.equal(decide('reader', 'select 1'), 'allow');
    assert.equal(decide('reader', `DO $$ BEGIN PERFORM 1; DROP TABLE victim; END $$`), 'reader-no-drop');
    assert.equal(decide('reader', `CREATE FUNCTION f() RETURNS void LANGUAGE sql AS 'SELECT 1; DROP TABLE victim'`), 'reader-no-drop');
  });

  test('renaming (or moving) an object a deny rule names is refused by that rule', () => {
    assert.equal(decide('etl', 'ALTER TABLE orders RENAME TO old_orders'), 'etl-no-delete-orders');
    assert.equal(decide('etl', 'ALTER TABLE public.orders SET SCHEMA archive'), 'etl-no-delete-orders');
    assert.equal(decide('etl', 'ALTER TABLE other RENAME TO x'), 'allow');
    assert.equal(decide('etl', 'ALTER TABLE orders RENAME COLUMN a TO b'), 'allow', 'a column rename keeps the relation name');
  });

  test('dynamic code: refused for roles with a deny rule on a PostgreSQL verb, unless allowed', () => {
    const dyn = `DO $$ DECLARE t text := 'orders'; BEGIN EXECUTE 'DELETE FROM ' || t; END $$`;
    assert.equal(decide('etl', dyn), 'etl-no-drop');
    assert.equal(decide('ops', dyn), 'allow');
    assert.equal(decide('etl2', dyn), 'allow', 'rules on other protocols verbs cannot be evaded by SQL');
    assert.equal(decide('admin', dyn), 'allow');
  });
});
