/**
 * Issue #18 item 5: the firewall sees through indirection. Every attack an adversary would use to hide a DROP,
 * TRUNCATE, DELETE, ALTER or GRANT from a rule on its verb or object (DO blocks, EXECUTE of constant or computed
 * text, functions, procedures, rules, triggers, PREPARE, dblink, COPY PROGRAM, search_path redirection, a benign
 * shape cached first) is sent by the `pg` client through a real dgf to the real PostgreSQL, and must be answered
 * 42501 with nothing run upstream (checked directly). Roles: `etl` has deny rules and no masks (so the shipped
 * masked-no-blind-code rule does not apply: the firewall rules alone must hold), `ops` has the same deny rule on drop
 * but a rule allowing dynamic code, `admin` has no rules. A second listener with the shipped packs checks that a
 * masked role (analyst) is refused too.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startDgf, type TestDgf } from '../../helpers/dgf.js';
import { createSeededDatabase, directClient, dropDatabase, governedListener, PG_HOST, PG_PORT, ROLES } from '../../fixtures/postgres-governance/database.js';

const DB = 'dgf_gov_indirection';

const POLICY = `
rules:
  - id: etl-no-destructive
    match: { role: [etl, ops], operation: [drop, truncate, alter, grant, revoke] }
    action: deny
    message: "etl may not run destructive DDL"
  - id: etl-no-delete-orders
    match: { role: [etl], operation: [delete], objects: [public.orders] }
    action: deny
    message: "etl may not delete orders"
  - id: etl-no-write-ledger
    match: { role: [etl], operation: [delete, update, insert], objects: [app.ledger] }
    action: deny
    message: "etl may not write the app ledger"
  - id: ops-runs-code
    match: { role: [ops], operation: [dynamic-code] }
    action: allow
`;

describe('firewall: indirection', () => {
  let dgf: TestDgf;
  let packs: TestDgf;
  let port: number;
  let packsPort: number;
  let direct: pg.Client;
  let dir: string;

  before(async () => {
    await createSeededDatabase(DB);
    direct = directClient(DB);
    await direct.connect();
    await direct.query(`create schema app; create table app.ledger (id int primary key, amount int);
      insert into app.ledger select g, g from generate_series(1, 10) g;
      create table public.ledger (id int primary key, amount int); insert into public.ledger select g, g from generate_series(1, 10) g;
      create table scratch (x int)`);
    dir = mkdtempSync(path.join(tmpdir(), 'dgf-indirection-'));
    writeFileSync(path.join(dir, 'rules.yaml'), POLICY);
    const users = ['etl', 'ops', 'admin'].map((name) => ({ name, password: name }));
    dgf = await startDgf({
      listeners: [{ ...governedListener(DB), users }],
      roles: users.map((u) => ({ match: { user: u.name }, role: u.name })),
      policies: { dir, packs: [] },
    });
    port = dgf.listener('pg').address.port;
    packs = await startDgf({ listeners: [governedListener(DB)], roles: ROLES });
    packsPort = packs.listener('pg').address.port;
  });

  after(async () => {
    await direct?.end();
    await dgf?.stop();
    await packs?.stop();
    await dropDatabase(DB);
    rmSync(dir, { recursive: true, force: true });
  });

  async function connect(user: string, p = port): Promise<pg.Client> {
    const c = new pg.Client({ host: PG_HOST, port: p, user, password: user, database: DB });
    await c.connect();
    return c;
  }

  let victims = 0;
  /** A fresh table to attack, so one attack that got through does not hide the next. */
  async function victim(): Promise<string> {
    const name = `victim_${++victims}`;
    await direct.query(`create table ${name} (id int); insert into ${name} values (1), (2)`);
    return name;
  }
  const exists = async (name: string, schema = 'public'): Promise<boolean> =>
    (await direct.query('select count(*)::int as n from pg_tables where schemaname = $1 and tablename = $2', [schema, name])).rows[0].n === 1;
  const rows = async (table: string): Promise<number> => (await direct.query(`select count(*)::int as n from ${table}`)).rows[0].n;
  const columns = async (table: string): Promise<number> =>
    (await direct.query("select count(*)::int as n from information_schema.columns where table_schema = 'public' and table_name = $1", [table])).rows[0].n;
  const functionExists = async (name: string): Promise<boolean> => (await direct.query('select count(*)::int as n from pg_proc where proname = $1', [name])).rows[0].n > 0;

  async function refused(c: pg.Client, sql: string | pg.QueryConfig): Promise<void> {
    await assert.rejects(c.query(sql as string), (err: pg.DatabaseError) => {
      assert.equal(err.code, '42501', `${typeof sql === 'string' ? sql : sql.text}: ${err.message}`);
      return true;
    });
  }

  /** Each attack: statements the adversary sends (the last must be refused) and what must still hold upstream. */
  const dropAttacks: Array<[string, (t: string) => string]> = [
    ['DO + EXECUTE constant', (t) => `DO $$ BEGIN EXECUTE 'DROP TABLE ${t}'; END $$`],
    ['DO + static DROP', (t) => `DO $$ BEGIN DROP TABLE ${t}; END $$`],
    ['DO + EXECUTE constant concatenation', (t) => `DO $$ BEGIN EXECUTE 'DROP ' || 'TABLE ' || '${t}'; END $$`],
    ['DO + EXECUTE of a variable', (t) => `DO $$ DECLARE n text := '${t}'; BEGIN EXECUTE 'DROP TABLE ' || n; END $$`],
    ['DO + EXECUTE format() of a constant', (t) => `DO $$ BEGIN EXECUTE format('DROP TABLE %I', '${t}'); END $$`],
    ['DO + EXECUTE format() of a computed name', (t) => `DO $$ BEGIN EXECUTE format('DROP TABLE %I', lower('${t.toUpperCase()}')); END $$`],
    ['DO + assigned variable', (t) => `DO $$ DECLARE q text; BEGIN q := 'TRUNCATE ${t}'; EXECUTE q; END $$`],
    ['DO + chr() obfuscation', (t) => `DO $$ BEGIN EXECUTE chr(68) || 'ROP TABLE ${t}'; END $$`],
    ['DO + EXECUTE (SELECT ...)', (t) => `DO $$ BEGIN EXECUTE (SELECT 'DROP TABLE ${t}'); END $$`],
    ['DO nested in EXECUTE', (t) => `DO $$ BEGIN EXECUTE 'DO $x$ BEGIN EXECUTE ''DROP TABLE ${t}''; END $x$'; END $$`],
    ['DO written as a string constant', (t) => `DO 'BEGIN EXECUTE ''DROP TABLE ${t}''; END'`],
    ['DO with explicit LANGUAGE', (t) => `DO LANGUAGE plpgsql $$ BEGIN EXECUTE 'TRUNCATE ${t}'; END $$`],
    ['DO inside an IF branch', (t) => `DO $$ BEGIN IF random() >= 0 THEN EXECUTE 'DROP TABLE ${t}'; END IF; END $$`],
    ['DO + EXECUTE of a base64-decoded text', (t) => `DO $$ BEGIN EXECUTE convert_from(decode('${Buffer.from(`DROP TABLE ${t}`).toString('base64')}', 'base64'), 'UTF8'); END $$`],
    ['multi-statement: benign then DO', (t) => `select 1; DO $$ BEGIN EXECUTE 'DROP TABLE ${t}'; END $$`],
  ];

  for (const [name, attack] of dropAttacks) {
    test(`etl: ${name} is refused and nothing runs upstream`, async () => {
      const t = await victim();
      const c = await connect('etl');
      try {
        await refused(c, attack(t));
        assert.equal(await exists(t), true, `${t} still exists`);
        assert.equal(await rows(t), 2, `${t} still has its rows`);
        assert.equal((await c.query('select 1 as ok')).rows[0].ok, 1, 'the session is still usable');
      } finally {
        await c.end();
      }
    });
  }

  test('etl: DO via the extended protocol is refused too', async () => {
    const t = await victim();
    const c = await connect('etl');
    try {
      await refused(c, { text: `DO $$ BEGIN EXECUTE 'DROP TABLE ${t}'; END $$`, values: [] } as pg.QueryConfig);
      await refused(c, { text: `DO $$ DECLARE n text := '${t}'; BEGIN EXECUTE 'DROP TABLE ' || n; END $$`, queryMode: 'extended' } as pg.QueryConfig);
      assert.equal(await exists(t), true);
    } finally {
      await c.end();
    }
  });

  test('etl: a benign DO text cached first does not let an evil one of the same shape through', async () => {
    const t = await victim();
    const c = await connect('etl');
    try {
      await c.query(`DO 'BEGIN PERFORM 1; END'`);
      await refused(c, `DO 'BEGIN DROP TABLE ${t}; END'`);
      assert.equal(await exists(t), true);
    } finally {
      await c.end();
    }
  });

  test('etl: DELETE / ALTER / GRANT hidden in DO blocks hit the rules on their verbs and objects', async () => {
    const t = await victim();
    const c = await connect('etl');
    try {
      const orders = await rows('orders');
      await refused(c, `DO $$ BEGIN EXECUTE 'DELETE FROM orders'; END $$`);
      await refused(c, `DO $$ BEGIN DELETE FROM public.orders; END $$`);
      await refused(c, `DO $$ DECLARE r record; BEGIN FOR r IN EXECUTE 'DELETE FROM orders RETURNING id' LOOP END LOOP; END $$`);
      await refused(c, `DO $$ BEGIN EXECUTE 'WITH d AS (DELETE FROM orders RETURNING 1) SELECT count(*) FROM d'; END $$`);
      assert.equal(await rows('orders'), orders);
      await refused(c, `DO $$ BEGIN EXECUTE 'ALTER TABLE ${t} ADD COLUMN z int'; END $$`);
      assert.equal(await columns(t), 1);
      await refused(c, `DO $$ BEGIN EXECUTE 'GRANT ALL ON ${t} TO PUBLIC'; END $$`);
      const acl = (await direct.query('select relacl::text as acl from pg_class where relname = $1', [t])).rows[0].acl as string | null;
      assert.ok(acl === null || !acl.includes('=arwd'), `no grant to PUBLIC: ${acl}`);
      // a DO block that deletes elsewhere is allowed: the rule is on orders
      await c.query(`DO $$ BEGIN EXECUTE 'DELETE FROM ${t} WHERE id = 1'; END $$`);
      assert.equal(await rows(t), 1);
    } finally {
      await c.end();
    }
  });

  const codeAttacks: Array<[string, (t: string, f: string) => string[]]> = [
    ['CREATE FUNCTION plpgsql + EXECUTE, then SELECT it', (t, f) => [`CREATE FUNCTION ${f}() RETURNS void LANGUAGE plpgsql AS $$ BEGIN EXECUTE 'DROP TABLE ${t}'; END $$`, `SELECT ${f}()`]],
    ['CREATE FUNCTION language sql with a DROP body', (t, f) => [`CREATE FUNCTION ${f}() RETURNS void LANGUAGE sql AS 'DROP TABLE ${t}'`, `SELECT ${f}()`]],
    ['CREATE FUNCTION BEGIN ATOMIC deleting orders', (_t, f) => [`CREATE FUNCTION ${f}() RETURNS void LANGUAGE sql BEGIN ATOMIC DELETE FROM orders; END`, `SELECT ${f}()`]],
    ['CREATE PROCEDURE + CALL', (t, f) => [`CREATE PROCEDURE ${f}() LANGUAGE plpgsql AS $$ BEGIN TRUNCATE ${t}; END $$`, `CALL ${f}()`]],
    ['CREATE OR REPLACE FUNCTION taking SQL text (EXECUTE of a parameter)', (t, f) => [`CREATE OR REPLACE FUNCTION ${f}(q text) RETURNS void LANGUAGE plpgsql AS $$ BEGIN EXECUTE q; END $$`, `SELECT ${f}('DROP TABLE ${t}')`]],
    ['trigger function with EXECUTE of TG_ARGV', (t, f) => [`CREATE FUNCTION ${f}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN EXECUTE TG_ARGV[0]; RETURN NEW; END $$`, `CREATE TRIGGER ${f}_t AFTER INSERT ON scratch FOR EACH ROW EXECUTE FUNCTION ${f}('DROP TABLE ${t}')`, 'INSERT INTO scratch VALUES (1)']],
    ['event trigger function dropping on any DDL', (t, f) => [`CREATE FUNCTION ${f}() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN DROP TABLE IF EXISTS ${t}; END $$`, `CREATE EVENT TRIGGER ${f}_e ON ddl_command_end EXECUTE FUNCTION ${f}()`]],
    ['function in an untrusted language', (t, f) => [`CREATE FUNCTION ${f}() RETURNS void LANGUAGE plpython3u AS 'plpy.execute("DROP TABLE ${t}")'`]],
  ];

  for (const [name, attack] of codeAttacks) {
    test(`etl: ${name}: the creation is refused, nothing is dropped`, async () => {
      const t = await victim();
      const f = `fn_${victims}`;
      const orders = await rows('orders');
      const c = await connect('etl');
      try {
        const steps = attack(t, f);
        await refused(c, steps[0]!);
        for (const s of steps.slice(1)) await c.query(s).catch(() => undefined);
        assert.equal(await functionExists(f), false, `${f} was not created`);
        assert.equal(await exists(t), true);
        assert.equal(await rows(t), 2);
        assert.equal(await rows('orders'), orders);
      } finally {
        await c.end();
      }
    });
  }

  test('etl: a rule whose action deletes orders is refused', async () => {
    const orders = await rows('orders');
    const c = await connect('etl');
    try {
      await refused(c, 'CREATE RULE scratch_wipe AS ON INSERT TO scratch DO ALSO DELETE FROM orders');
      await c.query('INSERT INTO scratch VALUES (2)').catch(() => undefined);
      assert.equal(await rows('orders'), orders);
    } finally {
      await c.end();
    }
  });

  test('etl: PREPARE of a denied statement and COPY ... PROGRAM are refused', async () => {
    const orders = await rows('orders');
    const t = await victim();
    const c = await connect('etl');
    try {
      await refused(c, 'PREPARE wipe AS DELETE FROM orders');
      await c.query('EXECUTE wipe').catch(() => undefined);
      assert.equal(await rows('orders'), orders);
      await refused(c, `COPY (SELECT 1) TO PROGRAM 'psql -U postgres -p ${PG_PORT} -h 127.0.0.1 -d ${DB} -c "drop table ${t}"'`);
      assert.equal(await exists(t), true);
    } finally {
      await c.end();
    }
  });

  test('etl: search_path redirection: an unqualified name resolves where PostgreSQL resolves it', async () => {
    const c = await connect('etl');
    try {
      // public.ledger is not protected: allowed under the default path
      await c.query('delete from ledger where id = 10');
      assert.equal(await rows('public.ledger'), 9);
      await c.query('set search_path = app, public');
      await refused(c, 'delete from ledger where id = 1');
      await refused(c, { text: 'update ledger set amount = 0 where id = $1', values: [2] });
      assert.equal(await rows('app.ledger'), 10);
      await c.query('reset search_path');
      await c.query("select set_config('search_path', 'app', false)");
      await refused(c, 'insert into ledger values (11, 11)');
      await c.query('reset search_path');
      // a path set inside a transaction (SET, SET LOCAL, set_config(..., true)) counts from the next statement on
      await c.query('begin');
      await c.query('set local search_path = app');
      await refused(c, 'delete from ledger where id = 3');
      await c.query('rollback');
      await c.query('begin');
      await c.query("select set_config('search_path', 'app', true)");
      await refused(c, 'delete from ledger where id = 4');
      await c.query('rollback');
      await refused(c, "set search_path = app; delete from ledger where id = 5");
      await c.query('reset search_path');
      // the transaction is over: the local path is gone, public.ledger again
      await c.query('delete from ledger where id = 9');
      assert.equal(await rows('public.ledger'), 8);
      assert.equal(await rows('app.ledger'), 10);
    } finally {
      await c.end();
    }
  });

  test('ops: dynamic code allowed by the policy runs, a visible DROP inside it is still refused', async () => {
    const t = await victim();
    const c = await connect('ops');
    try {
      await c.query(`DO $$ DECLARE n text := '${t}'; BEGIN EXECUTE 'DELETE FROM ' || n || ' WHERE id = 1'; END $$`);
      assert.equal(await rows(t), 1);
      await refused(c, `DO $$ BEGIN EXECUTE 'DROP TABLE ${t}'; END $$`);
      assert.equal(await exists(t), true);
    } finally {
      await c.end();
    }
  });

  test('admin (no rules) runs dynamic code; etl runs ordinary PL/pgSQL', async () => {
    const t = await victim();
    const a = await connect('admin');
    const e = await connect('etl');
    try {
      await e.query(`DO $$ DECLARE v int; BEGIN SELECT count(*) INTO v FROM orders; RAISE NOTICE 'n=%', v; END $$`);
      await e.query(`CREATE FUNCTION etl_total() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM orders'`);
      assert.ok(Number((await e.query('select etl_total() as n')).rows[0].n) > 0);
      await a.query(`DO $$ DECLARE n text := '${t}'; BEGIN EXECUTE 'DROP TABLE ' || n; END $$`);
      assert.equal(await exists(t), false);
    } finally {
      await a.end();
      await e.end();
    }
  });

  test('shipped packs: a masked role (analyst) is refused DO blocks and code that drops', async () => {
    const t = await victim();
    const c = await connect('analyst', packsPort);
    try {
      await refused(c, `DO $$ BEGIN EXECUTE 'DROP TABLE ${t}'; END $$`);
      await refused(c, `CREATE FUNCTION an_fn() RETURNS void LANGUAGE sql AS 'DROP TABLE ${t}'`);
      await refused(c, `CREATE FUNCTION an_fn2(q text) RETURNS void LANGUAGE plpgsql AS $$ BEGIN EXECUTE q; END $$`);
      assert.equal(await exists(t), true);
    } finally {
      await c.end();
    }
  });
});
