/**
 * Results stay correct across DDL (issue #18 item 7): a prepared statement whose table changes under it behaves
 * through dgf exactly as it does directly against PostgreSQL: PostgreSQL's own `0A000 cached plan must not change
 * result type`, or a fresh plan whose rows match the description the driver holds; never a RowDescription dgf
 * answered from its statement cache that no longer matches the rows (porsager postgres then fails with a
 * RangeError decoding a DataRow, or decodes wrong values). A statement described for one client is never answered
 * for a client whose search_path differs.
 *
 * Every scenario runs twice with the same drivers, once directly on PostgreSQL 55432 and once through dgf
 * (transaction pooling, two upstream connections), and the outcomes (rows, or the error's SQLSTATE) must be equal.
 * The DDL comes from a separate direct connection, as a migration tool would run it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import postgres from 'postgres';
import { startDgf, type TestDgf } from '../../helpers/dgf.js';
import { PG_HOST, PG_PORT, ROLES, createSeededDatabase, directClient, dropDatabase, governedListener } from '../../fixtures/postgres-governance/database.js';

const DB = 'dgf_prepared_ddl';

type Outcome = { rows: unknown } | { code: string };

async function outcome(run: () => Promise<unknown>): Promise<Outcome> {
  try {
    return { rows: JSON.parse(JSON.stringify(await run())) as unknown };
  } catch (err) {
    const e = err as { code?: string; name?: string; message?: string };
    return { code: typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) ? e.code : `${e.name ?? 'Error'}: ${e.message ?? ''}` };
  }
}

interface Target {
  port: number;
  user: string;
  password?: string;
}

interface Ctx {
  /** A table name of this run's own. */
  t: string;
  /** DDL and data changes, on a direct connection of their own. */
  admin: (sql: string) => Promise<void>;
  porsager: (extra?: Record<string, unknown>) => postgres.Sql;
  nodePg: () => Promise<pg.Client>;
}

type Scenario = (ctx: Ctx) => Promise<Outcome[]>;

describe('prepared statements across DDL: the same behaviour directly and through dgf', () => {
  let dgf: TestDgf;
  let admin: pg.Client;
  let run = 0;

  before(async () => {
    await createSeededDatabase(DB);
    // Transaction pooling (two upstream connections) and session pooling, side by side.
    // Session pooling holds one upstream connection per client: room for a scenario's clients.
    const session = governedListener(DB, { name: 'pg-session', pool: 'session' });
    session.upstream = { ...(session.upstream as Record<string, unknown>), maxConnections: 10 };
    dgf = await startDgf({ roles: ROLES, listeners: [governedListener(DB), session] });
    admin = directClient(DB);
    await admin.connect();
  });

  after(async () => {
    await admin?.end();
    await dgf?.stop();
    await dropDatabase(DB);
  });

  async function play(target: Target, scenario: Scenario): Promise<Outcome[]> {
    const t = `t_${run++}`;
    const sqls: postgres.Sql[] = [];
    const clients: pg.Client[] = [];
    const ctx: Ctx = {
      t,
      admin: async (sql) => {
        await admin.query(sql);
      },
      porsager: (extra = {}) => {
        const s = postgres({ host: PG_HOST, port: target.port, user: target.user, password: target.password ?? '', database: DB, max: 1, prepare: true, onnotice: () => undefined, ...extra });
        sqls.push(s);
        return s;
      },
      nodePg: async () => {
        const c = new pg.Client({ host: PG_HOST, port: target.port, user: target.user, ...(target.password ? { password: target.password } : {}), database: DB });
        c.on('error', () => undefined);
        await c.connect();
        clients.push(c);
        return c;
      },
    };
    try {
      return await scenario(ctx);
    } finally {
      for (const s of sqls) await s.end({ timeout: 1 });
      for (const c of clients) await c.end().catch(() => undefined);
    }
  }

  async function same(scenario: Scenario): Promise<void> {
    const direct = await play({ port: PG_PORT, user: 'postgres' }, scenario);
    for (const listener of ['pg', 'pg-session']) {
      const proxied = await play({ port: dgf.listener(listener).address.port, user: 'admin', password: 'admin' }, scenario);
      assert.deepEqual(proxied, direct, `through the ${listener} listener`);
    }
  }

  /** Runs `text` with porsager postgres' named prepared statements (Parse + Describe once, then Bind + Execute). */
  // `simple: false` (honoured, though not in the typings): without parameters porsager would send a simple Query.
  const extended = { prepare: true, simple: false };
  const porsagerRun = (sql: postgres.Sql, text: string, params: unknown[] = []) => () => sql.unsafe(text, params as never[], extended).then((r) => [...r]);
  /** node-postgres named statement: Parse once per connection, then Bind + Describe portal + Execute. */
  const nodePgRun = (c: pg.Client, name: string, text: string, params: unknown[] = []) => () => c.query({ name, text, values: params }).then((r) => r.rows);

  for (const driver of ['porsager', 'node-postgres'] as const) {
    const exec = async (ctx: Ctx, text: string, name: string) => {
      if (driver === 'porsager') {
        const s = ctx.porsager();
        return () => porsagerRun(s, text)();
      }
      const c = await ctx.nodePg();
      return () => nodePgRun(c, name, text)();
    };

    test(`${driver}: drop and recreate the table with other column types between two executions`, async () => {
      await same(async (ctx) => {
        await ctx.admin(`drop table if exists ${ctx.t}; create table ${ctx.t} (a int, b text); insert into ${ctx.t} values (1, 'one'), (2, 'two')`);
        const q = await exec(ctx, `select a, b from ${ctx.t} order by 1`, 's1');
        const first = await outcome(q);
        await ctx.admin(`drop table ${ctx.t}; create table ${ctx.t} (a text, b int8); insert into ${ctx.t} values ('x', 10), ('yy', 20)`);
        const out = [first];
        for (let i = 0; i < 4; i++) out.push(await outcome(q));
        return out;
      });
    });

    test(`${driver}: ALTER TABLE ... ALTER COLUMN TYPE between executions`, async () => {
      await same(async (ctx) => {
        await ctx.admin(`drop table if exists ${ctx.t}; create table ${ctx.t} (a int, b text); insert into ${ctx.t} values (1, 'one'), (2, 'two')`);
        const q = await exec(ctx, `select a, b from ${ctx.t} order by 1`, 's2');
        const out = [await outcome(q)];
        await ctx.admin(`alter table ${ctx.t} alter column a type text using 'v' || a`);
        for (let i = 0; i < 4; i++) out.push(await outcome(q));
        return out;
      });
    });

    test(`${driver}: ADD and DROP COLUMN under SELECT *`, async () => {
      await same(async (ctx) => {
        await ctx.admin(`drop table if exists ${ctx.t}; create table ${ctx.t} (a int, b text); insert into ${ctx.t} values (1, 'one')`);
        const q = await exec(ctx, `select * from ${ctx.t}`, 's3');
        const out = [await outcome(q)];
        await ctx.admin(`alter table ${ctx.t} add column c int8 default 42`);
        for (let i = 0; i < 3; i++) out.push(await outcome(q));
        await ctx.admin(`alter table ${ctx.t} drop column b`);
        for (let i = 0; i < 3; i++) out.push(await outcome(q));
        return out;
      });
    });

    test(`${driver}: a new client prepares the text again after the table changed`, async () => {
      await same(async (ctx) => {
        await ctx.admin(`drop table if exists ${ctx.t}; create table ${ctx.t} (a int); insert into ${ctx.t} values (7)`);
        const text = `select a from ${ctx.t}`;
        // Two clients, so the statement is prepared on both upstream connections through dgf.
        const q1 = await exec(ctx, text, 's4');
        const q2 = await exec(ctx, text, 's4');
        const out = [await outcome(q1), await outcome(q2)];
        await ctx.admin(`drop table ${ctx.t}; create table ${ctx.t} (a text); insert into ${ctx.t} values ('seven')`);
        for (let i = 0; i < 3; i++) {
          const q = await exec(ctx, text, 's4');
          out.push(await outcome(q));
        }
        return out;
      });
    });
  }

  for (const ddl of ['drop and recreate', 'add column']) {
    test(`porsager: ${ddl}, and the next execution lands on the other upstream connection`, async () => {
      await same(async (ctx) => {
        await ctx.admin(`drop table if exists ${ctx.t}; create table ${ctx.t} (a int, b text); insert into ${ctx.t} values (1, 'one'), (2, 'two')`);
        // A client in a transaction holds one upstream connection (the pool hands out the last released one first):
        // the statement is prepared on the other; once both are back, the next execution gets the blocker's.
        const blocker = await ctx.nodePg();
        await blocker.query('begin');
        await blocker.query('select 1');
        const s = ctx.porsager();
        const q = porsagerRun(s, `select * from ${ctx.t} order by 1`);
        const out = [await outcome(q)];
        await blocker.query('commit');
        await ctx.admin(
          ddl === 'add column'
            ? `alter table ${ctx.t} add column c int8 default 42`
            : `drop table ${ctx.t}; create table ${ctx.t} (a text, b int8, c bool); insert into ${ctx.t} values ('x', 10, true), ('yy', 20, false)`,
        );
        for (let i = 0; i < 4; i++) out.push(await outcome(q));
        return out;
      });
    });
  }

  test('porsager: the DDL runs through the same proxy (another client), the statement lands on either connection', async () => {
    await same(async (ctx) => {
      await ctx.admin(`drop table if exists ${ctx.t}; create table ${ctx.t} (a int, b text); insert into ${ctx.t} values (1, 'one')`);
      const migrator = await ctx.nodePg();
      const s1 = ctx.porsager();
      const s2 = ctx.porsager();
      const text = `select * from ${ctx.t}`;
      const out = [await outcome(porsagerRun(s1, text)), await outcome(porsagerRun(s2, text))];
      await migrator.query(`drop table ${ctx.t}`);
      await migrator.query(`create table ${ctx.t} (a numeric, b bytea, c text)`);
      await migrator.query(`insert into ${ctx.t} values (1.5, '\\x00ff', 'c')`);
      for (let i = 0; i < 3; i++) out.push(await outcome(porsagerRun(s1, text)), await outcome(porsagerRun(s2, text)));
      const s3 = ctx.porsager();
      out.push(await outcome(porsagerRun(s3, text)));
      return out;
    });
  });

  test('porsager: two clients with different search_path prepare the same text (transaction pooling, 2 connections)', async () => {
    await same(async (ctx) => {
      await ctx.admin(
        `drop schema if exists ${ctx.t}_x cascade; drop schema if exists ${ctx.t}_y cascade; create schema ${ctx.t}_x; create schema ${ctx.t}_y;` +
          `create table ${ctx.t}_x.item (v int); insert into ${ctx.t}_x.item values (1);` +
          `create table ${ctx.t}_y.item (v text, w bool); insert into ${ctx.t}_y.item values ('why', true)`,
      );
      const x = ctx.porsager({ connection: { search_path: `${ctx.t}_x` } });
      const y = ctx.porsager({ connection: { search_path: `${ctx.t}_y` } });
      const out: Outcome[] = [];
      for (let i = 0; i < 3; i++) {
        out.push(await outcome(porsagerRun(x, 'select * from item')));
        out.push(await outcome(porsagerRun(y, 'select * from item')));
      }
      const both = await Promise.all([outcome(porsagerRun(x, 'select * from item')), outcome(porsagerRun(y, 'select * from item'))]);
      return [...out, ...both];
    });
  });

  test('node-postgres: two clients with different search_path (SET) prepare the same text', async () => {
    await same(async (ctx) => {
      await ctx.admin(
        `drop schema if exists ${ctx.t}_x cascade; drop schema if exists ${ctx.t}_y cascade; create schema ${ctx.t}_x; create schema ${ctx.t}_y;` +
          `create table ${ctx.t}_x.item (v int); insert into ${ctx.t}_x.item values (1);` +
          `create table ${ctx.t}_y.item (v text, w bool); insert into ${ctx.t}_y.item values ('why', true)`,
      );
      const x = await ctx.nodePg();
      const y = await ctx.nodePg();
      await x.query(`set search_path = ${ctx.t}_x`);
      await y.query(`set search_path = ${ctx.t}_y`);
      const out: Outcome[] = [];
      for (let i = 0; i < 3; i++) {
        out.push(await outcome(nodePgRun(x, 'item', 'select * from item')));
        out.push(await outcome(nodePgRun(y, 'item', 'select * from item')));
      }
      return out;
    });
  });

  for (const driver of ['porsager', 'node-postgres'] as const) {
    test(`${driver}: a client changes its search_path between executions`, async () => {
      await same(async (ctx) => {
        await ctx.admin(
          `drop schema if exists ${ctx.t}_x cascade; drop schema if exists ${ctx.t}_y cascade; create schema ${ctx.t}_x; create schema ${ctx.t}_y;` +
            `create table ${ctx.t}_x.item (v int); insert into ${ctx.t}_x.item values (1);` +
            `create table ${ctx.t}_y.item (v text, w bool); insert into ${ctx.t}_y.item values ('why', true)`,
        );
        const out: Outcome[] = [];
        if (driver === 'porsager') {
          const s = ctx.porsager();
          await s.unsafe(`set search_path = ${ctx.t}_x`);
          out.push(await outcome(porsagerRun(s, 'select * from item')));
          await s.unsafe(`set search_path = ${ctx.t}_y`);
          for (let i = 0; i < 3; i++) out.push(await outcome(porsagerRun(s, 'select * from item')));
        } else {
          const c = await ctx.nodePg();
          await c.query(`set search_path = ${ctx.t}_x`);
          out.push(await outcome(nodePgRun(c, 'item', 'select * from item')));
          await c.query(`set search_path = ${ctx.t}_y`);
          for (let i = 0; i < 3; i++) out.push(await outcome(nodePgRun(c, 'item', 'select * from item')));
        }
        return out;
      });
    });
  }
});
