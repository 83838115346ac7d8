/**
 * Parameter counts are unsigned 16-bit numbers on the wire (issue #18 item 7, first part): a statement with
 * 40,000 parameters (more than a signed int16 holds) runs through dgf as it runs directly, with node-postgres
 * (Bind with 40,000 values) and porsager postgres (Parse with 40,000 parameter types too), in transaction and
 * session pooling. Real PostgreSQL 15. The statement (~430 KB of text) needs a maxStatementBytes above the default.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import postgres from 'postgres';
import { startDgf, type TestDgf } from '../../helpers/dgf.js';
import { ROLES, createSeededDatabase, dropDatabase, governedListener } from '../../fixtures/postgres-governance/database.js';

const DB = 'dgf_param_count';
const N = 40_000;
const SQL = `select cardinality(array[${Array.from({ length: N }, (_, i) => `$${i + 1}::int`).join(',')}]) as n`;
const VALUES = Array.from({ length: N }, (_, i) => i);

describe('40,000 parameters (over the signed 16-bit range)', () => {
  let dgf: TestDgf;

  before(async () => {
    await createSeededDatabase(DB);
    dgf = await startDgf({
      roles: ROLES,
      // The statement text is ~430 KB, over the default maxStatementBytes (256 KiB, statement-size.test.ts).
      listeners: [
        governedListener(DB, { options: { maxStatementBytes: 1024 * 1024 } }),
        governedListener(DB, { name: 'pg-session', pool: 'session', options: { maxStatementBytes: 1024 * 1024 } }),
      ],
    });
  });

  after(async () => {
    await dgf?.stop();
    await dropDatabase(DB);
  });

  for (const listener of ['pg', 'pg-session']) {
    test(`${listener}: node-postgres (Bind with ${N} values)`, async () => {
      const c = new pg.Client({ host: '127.0.0.1', port: dgf.listener(listener).address.port, user: 'analyst', password: 'analyst', database: DB });
      await c.connect();
      try {
        const r = await c.query(SQL, VALUES);
        assert.equal(r.rows[0].n, N);
      } finally {
        await c.end();
      }
    });

    test(`${listener}: porsager postgres (Parse with ${N} parameter types)`, async () => {
      const sql = postgres({ host: '127.0.0.1', port: dgf.listener(listener).address.port, user: 'analyst', password: 'analyst', database: DB, max: 1, onnotice: () => undefined });
      try {
        const rows = await sql.unsafe(SQL, VALUES, { prepare: true });
        assert.equal(Number(rows[0]!.n), N);
      } finally {
        await sql.end();
      }
    });
  }
});
