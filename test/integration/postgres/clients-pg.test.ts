/** node-postgres (pg) through dgf in transaction pooling: simple and extended queries, named statements, types, portals. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import type { TestDgf } from '../../helpers/dgf.js';
import { direct, startPgDgf } from '../../fixtures/postgres/setup.js';

describe('pg (node-postgres) through dgf', () => {
  let dgf: TestDgf;
  let port: number;

  before(async () => {
    const d = await direct();
    await d.query('drop table if exists wire_pg_items; create table wire_pg_items (id int primary key, name text, price numeric(10,2), born date, meta jsonb, tags text[])');
    await d.query(`insert into wire_pg_items select g, 'item ' || g, g * 1.5, date '2020-01-01' + g, jsonb_build_object('n', g), array['a', 'b'] from generate_series(1, 50) g`);
    await d.end();
    ({ dgf, port } = await startPgDgf());
  });

  after(async () => {
    await dgf.stop();
    const d = await direct();
    await d.query('drop table if exists wire_pg_items');
    await d.end();
  });

  const client = async (): Promise<pg.Client> => {
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'admin', password: 'adminpw', database: 'postgres' });
    await c.connect();
    return c;
  };

  test('simple and parameterized queries return typed rows', async () => {
    const c = await client();
    try {
      const r = await c.query('select id, name, price, born, meta, tags from wire_pg_items where id = $1', [7]);
      assert.equal(r.rows.length, 1);
      const row = r.rows[0];
      assert.equal(row.id, 7);
      assert.equal(row.name, 'item 7');
      assert.equal(row.price, '10.50');
      assert.ok(row.born instanceof Date);
      assert.deepEqual(row.meta, { n: 7 });
      assert.deepEqual(row.tags, ['a', 'b']);
      const multi = (await c.query('select 1 as a; select 2 as b')) as unknown as pg.QueryResult[];
      assert.equal(multi.length, 2);
      assert.equal(multi[1]!.rows[0].b, 2);
    } finally {
      await c.end();
    }
  });

  test('named prepared statements keep working across transactions and connections', async () => {
    const clients = await Promise.all([client(), client(), client()]);
    try {
      for (let round = 0; round < 5; round++) {
        await Promise.all(
          clients.map(async (c, i) => {
            const r = await c.query({ name: 'by-id', text: 'select name from wire_pg_items where id = $1', values: [i + round + 1] });
            assert.equal(r.rows[0].name, `item ${i + round + 1}`);
          }),
        );
      }
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  });

  test('transactions keep their connection; rollback undoes', async () => {
    const c = await client();
    try {
      await c.query('begin');
      await c.query('update wire_pg_items set name = $1 where id = 1', ['changed']);
      assert.equal((await c.query('select name from wire_pg_items where id = 1')).rows[0].name, 'changed');
      await c.query('rollback');
      assert.equal((await c.query('select name from wire_pg_items where id = 1')).rows[0].name, 'item 1');
    } finally {
      await c.end();
    }
  });

  test('errors come back as the server sent them and the session continues', async () => {
    const c = await client();
    try {
      await assert.rejects(c.query('select * from no_such_table_wire'), (e: Error & { code?: string }) => e.code === '42P01');
      await assert.rejects(c.query({ name: 'bad', text: 'select $1::int', values: ['x'] }), (e: Error & { code?: string }) => e.code === '22P02');
      assert.equal((await c.query('select 41 + 1 as n')).rows[0].n, 42);
    } finally {
      await c.end();
    }
  });

  test('portal suspension: rows fetched in batches (Execute with a row limit)', async () => {
    const c = await client();
    try {
      const q = new pg.Query({ text: 'select id from wire_pg_items order by id', rows: 7 } as unknown as pg.QueryConfig);
      const done = new Promise<number[]>((resolve, reject) => {
        const ids: number[] = [];
        q.on('row', (r: { id: number }) => ids.push(r.id));
        q.on('end', () => resolve(ids));
        q.on('error', reject);
      });
      c.query(q);
      const ids = await done;
      assert.equal(ids.length, 50);
      assert.equal(ids[49], 50);
    } finally {
      await c.end();
    }
  });

  test('SET is kept for the client across transactions (re-applied on whichever connection runs it)', async () => {
    const a = await client();
    const b = await client();
    try {
      await a.query(`set statement_timeout = '4321ms'`);
      for (let i = 0; i < 6; i++) {
        const [ra, rb] = await Promise.all([a.query('show statement_timeout'), b.query('show statement_timeout')]);
        assert.equal(ra.rows[0].statement_timeout, '4321ms');
        assert.equal(rb.rows[0].statement_timeout, '0');
      }
      await a.query('reset statement_timeout');
      assert.equal((await a.query('show statement_timeout')).rows[0].statement_timeout, '0');
    } finally {
      await a.end();
      await b.end();
    }
  });
});
