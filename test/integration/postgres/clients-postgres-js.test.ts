/** postgres (porsager) through dgf in transaction pooling: it prepares named statements and uses binary parameters. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import postgres from 'postgres';
import type { TestDgf } from '../../helpers/dgf.js';
import { direct, startPgDgf } from '../../fixtures/postgres/setup.js';

describe('postgres.js through dgf', () => {
  let dgf: TestDgf;
  let port: number;

  before(async () => {
    const d = await direct();
    await d.query('drop table if exists wire_pjs; create table wire_pjs (id int primary key, name text, amount numeric, at timestamptz, doc jsonb, raw bytea)');
    await d.query(`insert into wire_pjs select g, 'n' || g, g * 2.25, timestamptz '2024-01-01 00:00:00+00' + g * interval '1 day', jsonb_build_object('k', g), decode('deadbeef', 'hex') from generate_series(1, 20) g`);
    await d.end();
    ({ dgf, port } = await startPgDgf());
  });

  after(async () => {
    await dgf.stop();
    const d = await direct();
    await d.query('drop table if exists wire_pjs');
    await d.end();
  });

  test('prepared statements, types, concurrency on 2 upstream connections', async () => {
    const sql = postgres({ host: '127.0.0.1', port, user: 'admin', password: 'adminpw', database: 'postgres', max: 6, prepare: true, onnotice: () => undefined });
    try {
      const rows = await sql`select id, name, amount, at, doc, raw from wire_pjs where id = ${3}`;
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.name, 'n3');
      assert.equal(rows[0]!.amount, '6.75');
      assert.ok(rows[0]!.at instanceof Date);
      assert.equal((rows[0]!.at as Date).toISOString(), '2024-01-04T00:00:00.000Z');
      assert.deepEqual(rows[0]!.doc, { k: 3 });
      assert.equal(Buffer.from(rows[0]!.raw as Uint8Array).toString('hex'), 'deadbeef');
      // Many concurrent executions of the same and different statements through 6 client connections and 2 upstream ones.
      const results = await Promise.all(
        Array.from({ length: 60 }, (_, i) =>
          i % 2 === 0 ? sql`select name from wire_pjs where id = ${(i % 20) + 1}` : sql`select count(*)::int as n from wire_pjs where id <= ${(i % 20) + 1}`,
        ),
      );
      results.forEach((r, i) => {
        if (i % 2 === 0) assert.equal(r[0]!.name, `n${(i % 20) + 1}`);
        else assert.equal(r[0]!.n, (i % 20) + 1);
      });
      const inserted = await sql.begin(async (tx) => {
        await tx`insert into wire_pjs (id, name, amount, raw) values (${100}, ${'tx'}, ${1.5}, ${Buffer.from([1, 2, 3])})`;
        const [r] = await tx`select raw from wire_pjs where id = ${100}`;
        await tx`delete from wire_pjs where id = ${100}`;
        return r!.raw as Uint8Array;
      });
      assert.deepEqual([...inserted], [1, 2, 3]);
      const err = await sql`select * from wire_no_such_table`.catch((e: unknown) => e as { code?: string });
      assert.equal((err as { code?: string }).code, '42P01');
      assert.equal((await sql`select ${41}::int + 1 as n`)[0]!.n, 42);
    } finally {
      await sql.end();
    }
  });

  test('cursor iteration (portal suspension)', async () => {
    const sql = postgres({ host: '127.0.0.1', port, user: 'admin', password: 'adminpw', database: 'postgres', max: 2 });
    try {
      const seen: number[] = [];
      await sql`select id from wire_pjs order by id`.cursor(6, (rows) => {
        for (const r of rows) seen.push(r.id as number);
      });
      assert.equal(seen.length, 20);
      assert.equal(seen[19], 20);
    } finally {
      await sql.end();
    }
  });
});
