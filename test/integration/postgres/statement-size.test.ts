/**
 * A statement too long to analyze cannot stall or bloat dgf (issue #18, bounded memory): the SQL parser
 * (libpg-query) runs on the event loop, in WebAssembly memory that never shrinks, so before this limit one client's
 * 2 MB `SELECT 1,1,...` took 3.7 s of the loop and 1.3 GB of RSS, and 8 MB hung dgf for every client. A Query or
 * Parse longer than the listener's `options.maxStatementBytes` (default 256 KiB) is refused with 54000, recorded
 * as a denial, and nothing of it runs upstream; the session and the other clients carry on.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import postgres from 'postgres';
import { readAudit, startDgf, type TestDgf } from '../../helpers/dgf.js';
import { ROLES, createSeededDatabase, directClient, dropDatabase, governedListener } from '../../fixtures/postgres-governance/database.js';

const DB = 'dgf_statement_size';
const LIMIT = 8192;

/** A statement of about `bytes` bytes that PostgreSQL would run: a long target list. */
function longSelect(bytes: number, marker: string): string {
  const n = Math.ceil(bytes / 2);
  return `select '${marker}' as m, ` + Array.from({ length: Math.min(n, 1600) }, () => '1').join(',') + ` -- ${'x'.repeat(Math.max(0, bytes - 3300))}`;
}

describe('PostgreSQL: statements longer than maxStatementBytes', () => {
  let dgf: TestDgf;
  let port: number;
  let defaultPort: number;
  let direct: pg.Client;

  before(async () => {
    await createSeededDatabase(DB);
    dgf = await startDgf({
      roles: ROLES,
      listeners: [
        { ...governedListener(DB), options: { maxStatementBytes: LIMIT } },
        { ...governedListener(DB), name: 'pg-default' },
      ],
    });
    port = dgf.listener('pg').address.port;
    defaultPort = dgf.listener('pg-default').address.port;
    direct = directClient(DB);
    await direct.connect();
  });

  after(async () => {
    await direct?.end();
    await dgf?.stop();
    await dropDatabase(DB);
  });

  const connect = async (user: string, p = port): Promise<pg.Client> => {
    const c = new pg.Client({ host: '127.0.0.1', port: p, user, password: user, database: DB });
    await c.connect();
    return c;
  };
  const tooLarge = (err: pg.DatabaseError): boolean => {
    assert.equal(err.code, '54000');
    assert.match(err.message, /more than the \d+ bytes dgf analyzes/);
    return true;
  };

  test('simple and extended protocol, every role: 54000, nothing upstream, the session goes on', async () => {
    for (const user of ['analyst', 'admin']) {
      const c = await connect(user);
      try {
        const marker = `too_long_${user}`;
        await assert.rejects(c.query(longSelect(LIMIT + 100, marker)), tooLarge);
        await assert.rejects(c.query(longSelect(LIMIT + 100, marker) + ' where $1::int = 1', [1]), tooLarge);
        const seen = await direct.query("select count(*)::int as n from pg_stat_activity where datname = $1 and query like $2", [DB, `%${marker}%`]);
        assert.equal(seen.rows[0].n, 0);
        assert.equal((await c.query('select count(*)::int as n from orders')).rows[0].n, 800);
        // Just under the limit is analyzed and runs.
        const ok = await c.query(longSelect(LIMIT - 4000, 'fits'));
        assert.equal(ok.rows[0].m, 'fits');
      } finally {
        await c.end();
      }
    }
  });

  test('inside a transaction the refusal fails the transaction, as a server error would: nothing of it commits', async () => {
    const c = await connect('admin');
    try {
      await c.query('create table if not exists size_tx (id int)');
      await c.query('truncate size_tx');
      await c.query('begin');
      await c.query('insert into size_tx values (1)');
      await assert.rejects(c.query(longSelect(LIMIT + 100, 'in_tx')), tooLarge);
      await assert.rejects(c.query('insert into size_tx values (2)'), (err: pg.DatabaseError) => err.code === '25P02');
      await c.query('commit');
      assert.equal((await direct.query('select count(*)::int as n from size_tx')).rows[0].n, 0);
    } finally {
      await c.end();
    }
  });

  test('postgres (porsager) pipelines Parse/Bind/Execute: the long one fails, the next statement runs', async () => {
    const sql = postgres({ host: '127.0.0.1', port, user: 'admin', password: 'admin', database: DB, max: 1, onnotice: () => undefined });
    try {
      await assert.rejects(sql.unsafe(longSelect(LIMIT + 100, 'porsager') + ' where $1::int = 1', [1]), (err: { code?: string }) => err.code === '54000');
      const rows = await sql`select count(*)::int as n from orders`;
      assert.equal(rows[0]!.n, 800);
    } finally {
      await sql.end();
    }
  });

  test('the default limit: a 4 MB statement is refused at once and other clients are served meanwhile', async () => {
    const attacker = await connect('analyst', defaultPort);
    const other = await connect('analyst', defaultPort);
    try {
      const huge = 'select ' + '1,'.repeat(2 * 1024 * 1024) + '1';
      const started = Date.now();
      const refused = assert.rejects(attacker.query(huge), tooLarge);
      // Another client's statement is answered while the huge one is being handled.
      assert.equal((await other.query('select 1 as one')).rows[0].one, 1);
      await refused;
      assert.ok(Date.now() - started < 3000, `refusal took ${Date.now() - started} ms`);
      assert.equal((await attacker.query('select 2 as two')).rows[0].two, 2);
    } finally {
      await attacker.end();
      await other.end();
    }
  });

  test('the refusal is audited as a denial by its own rule', async () => {
    const records = await readAudit(dgf.auditFile);
    const denied = records.filter((r) => r.decision === 'deny' && Array.isArray(r.rules) && (r.rules as string[]).includes('dgf-statement-too-large'));
    assert.ok(denied.length >= 5, `denials recorded: ${denied.length}`);
    for (const r of denied) {
      assert.equal(r.statement, '<statement too large to analyze>');
      assert.match(String(r.error), /more than the \d+ bytes dgf analyzes/);
    }
  });
});
