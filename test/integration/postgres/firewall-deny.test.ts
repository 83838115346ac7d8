/**
 * Firewall rules through dgf against the real PostgreSQL 15: a denied statement is answered with SQLSTATE 42501
 * and the rule's message, nothing of it runs upstream (checked directly on PostgreSQL), the session stays usable,
 * the denial is audited; a role the rule exempts runs the same statement.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { readAudit, type TestDgf } from '../../helpers/dgf.js';
import { startGovernedDatabase, type GovernedDatabase } from '../../fixtures/postgres-governance/database.js';

const DB = 'dgf_gov_firewall';
const MESSAGE = 'destructive statements are not allowed for this role';

describe('firewall: denied statements', () => {
  let db: GovernedDatabase;
  let dgf: TestDgf;
  let port: number;
  let direct: pg.Client;

  before(async () => {
    db = await startGovernedDatabase(DB);
    ({ dgf, port, direct } = db);
  });

  after(async () => {
    await db?.stop();
  });

  async function connect(user: string): Promise<pg.Client> {
    const c = new pg.Client({ host: '127.0.0.1', port, user, password: user, database: DB });
    await c.connect();
    return c;
  }

  const tableExists = async (name: string): Promise<boolean> =>
    (await direct.query("select count(*)::int as n from pg_tables where schemaname = 'public' and tablename = $1", [name])).rows[0].n === 1;
  const count = async (table: string): Promise<number> => (await direct.query(`select count(*)::int as n from ${table}`)).rows[0].n;

  test('DROP TABLE as analyst: 42501 with the rule message, the table still exists upstream', async () => {
    const c = await connect('analyst');
    try {
      await assert.rejects(c.query('drop table customers'), (err: pg.DatabaseError) => {
        assert.equal(err.code, '42501');
        assert.match(err.message, new RegExp(MESSAGE));
        return true;
      });
      assert.equal(await tableExists('customers'), true);
      assert.equal(await count('customers'), 200);
      // No upstream session of dgf ever received the statement (pg_stat_activity keeps each one's last query).
      const seen = await direct.query("select query from pg_stat_activity where datname = $1 and pid <> pg_backend_pid() and query ilike '%drop table%'", [DB]);
      assert.equal(seen.rowCount, 0);
      // the session is still usable after the refusal
      assert.equal((await c.query('select count(*)::int as n from orders')).rows[0].n, 800);
    } finally {
      await c.end();
    }
  });

  test('TRUNCATE and DROP via the extended protocol are refused too', async () => {
    const c = await connect('analyst');
    try {
      await assert.rejects(c.query({ name: 'trunc', text: 'truncate orders' }), (err: pg.DatabaseError) => err.code === '42501');
      await assert.rejects(c.query({ text: 'drop table if exists patients cascade', values: [] , queryMode: 'extended' } as pg.QueryConfig), (err: pg.DatabaseError) => err.code === '42501');
      assert.equal(await count('orders'), 800);
      assert.equal(await tableExists('patients'), true);
    } finally {
      await c.end();
    }
  });

  test('a denied statement inside a multi-statement query: nothing of the query runs', async () => {
    const c = await connect('analyst');
    try {
      await assert.rejects(c.query("update orders set status = 'x' where id = 1; drop table orders"), (err: pg.DatabaseError) => err.code === '42501');
      assert.equal(await tableExists('orders'), true);
      assert.notEqual((await direct.query('select status from orders where id = 1')).rows[0].status, 'x');
    } finally {
      await c.end();
    }
  });

  test('admin (exempt) may drop: the same statement runs upstream', async () => {
    await direct.query('create table scratch_drop_me (a int)');
    const c = await connect('admin');
    try {
      await c.query('drop table scratch_drop_me');
      assert.equal(await tableExists('scratch_drop_me'), false);
    } finally {
      await c.end();
    }
  });

  test('the denial is in the audit trail with its rule and no result', async () => {
    const c = await connect('analyst');
    try {
      await c.query('drop table customers').catch(() => undefined);
    } finally {
      await c.end();
    }
    let denied: Record<string, unknown> | undefined;
    for (let i = 0; i < 50 && !denied; i++) {
      denied = (await readAudit(dgf.auditFile)).find((r) => r.role === 'analyst' && r.decision === 'deny' && r.operation === 'drop');
      if (!denied) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(denied, 'deny record');
    assert.equal(denied.object, 'public.customers');
    assert.ok((denied.rules as string[]).includes('deny-destructive'));
    assert.equal(denied.statement, 'drop table customers');
  });
});
