/**
 * Issue #15, "Must show": the ordinary queries of a masked analyst still work through dgf and return what the
 * direct connection returns, masked where they must be. Counts and distinct counts over classified columns,
 * group by unclassified columns, joins on keys, filters on classified columns, server information, settings,
 * the introspection queries that node-postgres, porsager `postgres`, psql and Prisma-style clients send, CTEs and
 * unions of unclassified columns, prepared statements with parameters, transactions; plain classified columns
 * come back with today's masks (`x***@domain`, `***-**-1234`, first letter kept).
 *
 * Each query runs directly as postgres and through dgf as analyst; one test per group loops its queries,
 * collects every difference and fails listing all of them.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import postgres from 'postgres';
import { startGovernedDatabase, PG_HOST, PG_PORT, type GovernedDatabase } from '../../fixtures/postgres-governance/database.js';
import { RecordingClient, runPsql, type Step, type Target } from '../../fixtures/postgres-governance/leak-check.js';

const DB = 'dgf_gov_utility';

type Cell = string | null;
type Rows = Cell[][];

interface Outcome {
  rows: Rows;
  error: string | null;
}

/** A column check: the analyst's value against the direct (clear) one. */
type ColumnCheck = (masked: Cell, clear: Cell) => boolean;

interface UtilityQuery {
  name: string;
  /** statements on one connection; the rows of all of them are compared */
  sql?: Step[];
  /** or a custom run */
  run?: (t: Target) => Promise<Outcome>;
  /** columns (by index) that hold classified values: checked with the mask's shape instead of equality */
  masked?: Record<number, ColumnCheck>;
  /** a custom comparison instead of equality (a difference as text, or null) */
  compare?: (analyst: Rows, direct: Rows) => string | null;
}

// ------------------------------------------------------------------------------------------------ mask shapes

/** `edsger.diffie1@example.net` -> `e***@example.net` */
const emailMask: ColumnCheck = (m, c) => c !== null && m === `${c[0]}***@${c.split('@')[1]}`;
/** `405-85-4804` -> `***-**-4804` */
const ssnMask: ColumnCheck = (m, c) => c !== null && m === `***-**-${c.slice(-4)}`;
/** `Edsger Diffie` -> `E***** ******`: first letter kept, same length, not clear */
const nameMask: ColumnCheck = (m, c) => c !== null && m !== null && m !== c && m.length === c.length && m[0] === c[0] && /^.[* ]*$/.test(m);

// ------------------------------------------------------------------------------------------------ runners

/** The steps on one node-postgres connection, every value as the raw text sent (NULLs kept). */
async function runPg(t: Target, steps: Step[]): Promise<Outcome> {
  const c = await RecordingClient.connect(t);
  const rows: Rows = [];
  try {
    for (const s of steps) {
      const config = typeof s === 'string' ? { text: s } : s;
      try {
        const res = (await c.client.query({ ...config, rowMode: 'array' })) as unknown as { rows?: unknown[][] } | Array<{ rows?: unknown[][] }>;
        for (const r of Array.isArray(res) ? res : [res]) for (const row of r.rows ?? []) rows.push(row.map((v) => (v === null || v === undefined ? null : String(v))));
      } catch (err) {
        const e = err as { code?: string; message: string };
        return { rows, error: `${e.code ?? 'client'} ${e.message}` };
      }
    }
    return { rows, error: null };
  } finally {
    await c.end();
  }
}

const psqlRun = (command: string) => async (t: Target): Promise<Outcome> => {
  const r = await runPsql(t, ['-c', command]);
  return { rows: r.stdout.toString('utf8').split('\n').map((l) => [l]), error: r.code === 0 ? null : r.stderr.trim() };
};

async function porsagerRun(t: Target, fn: (sql: postgres.Sql) => Promise<unknown[][]>): Promise<Outcome> {
  const sql = postgres({ host: t.host, port: t.port, user: t.user, password: t.password ?? '', database: t.database, max: 1, connect_timeout: 10, onnotice: () => undefined });
  try {
    const rows = await fn(sql);
    return { rows: rows.map((r) => r.map((v) => (v === null || v === undefined ? null : v instanceof Date ? v.toISOString() : typeof v === 'object' ? JSON.stringify(v) : String(v)))), error: null };
  } catch (err) {
    const e = err as { code?: string; message: string };
    return { rows: [], error: `${e.code ?? 'client'} ${e.message}` };
  } finally {
    await sql.end({ timeout: 2 });
  }
}

/** The exact query porsager `postgres` sends on connect (fetch_types) to learn the array types. */
const PORSAGER_ARRAY_TYPES = `
      select b.oid, b.typarray
      from pg_catalog.pg_type a
      left join pg_catalog.pg_type b on b.oid = a.typelem
      where a.typcategory = 'A'
      group by b.oid, b.typarray
      order by b.oid
    `;

// ------------------------------------------------------------------------------------------------ the queries

const GROUPS: Array<{ group: string; queries: UtilityQuery[] }> = [
  {
    group: 'counts and aggregates over classified columns, grouped by unclassified ones',
    queries: [
      { name: 'count(*)', sql: ['select count(*) from customers'] },
      { name: 'count(email)', sql: ['select count(email) from customers'] },
      { name: 'count(distinct email)', sql: ['select count(distinct email) from customers'] },
      {
        name: 'count(distinct ssn) grouped by orders.status',
        sql: ['select o.status, count(distinct c.ssn) from orders o join customers c on c.id = o.customer_id group by o.status order by o.status'],
      },
      { name: 'avg(customer_id) of orders', sql: ['select avg(customer_id) from orders'] },
      { name: 'group by status on orders', sql: ['select status, count(*) from orders group by status order by status'] },
      { name: 'count(*) filter (where email like ...)', sql: ["select count(*) filter (where email like '%.net') from customers"] },
      { name: 'orders per month', sql: ["select date_trunc('month', created_at) as m, count(*) from orders group by 1 order by 1"] },
      { name: 'count of patients by a diagnosis filter', sql: ["select count(*) from patients where diagnosis like 'Type 2%'"] },
      { name: 'diagnosis is not null, grouped', sql: ['select diagnosis is not null as has_dx, count(*) from patients group by 1 order by 1'] },
      { name: 'min(id), max(id) of orders', sql: ['select min(id), max(id) from orders'] },
      { name: 'distinct status', sql: ['select distinct status from orders order by 1'] },
      { name: 'group by with HAVING', sql: ['select status, count(*) from orders group by status having count(*) > 100 order by status'] },
    ],
  },
  {
    group: 'joins on keys and filters on classified columns',
    queries: [
      {
        name: 'orders join customers: unclassified columns and a masked email',
        sql: ['select o.id, o.status, c.email from orders o join customers c on c.id = o.customer_id order by o.id limit 20'],
        masked: { 2: emailMask },
      },
      { name: 'orders join customers on id, keys only', sql: ["select o.id, c.id from orders o join customers c on c.id = o.customer_id where o.status = 'paid' order by o.id limit 50"] },
      { name: 'left join with counts', sql: ['select c.id, count(o.id) from customers c left join orders o on o.customer_id = c.id group by c.id order by c.id'] },
      {
        name: 'join filtered on the e-mail, grouped by status',
        sql: ["select o.status, count(*) from orders o join customers c on c.id = o.customer_id where c.email like '%.org' group by o.status order by o.status"],
      },
      { name: "count where email like '%@example.com'", sql: ["select count(*) from customers where email like '%@example.com'"] },
      { name: "ids where email like '%@example.com'", sql: ["select id from customers where email like '%@example.com' order by id"] },
      { name: 'count where ssn is not null', sql: ['select count(*) from customers where ssn is not null'] },
      { name: "ids where ssn like '1%'", sql: ["select id from customers where ssn like '1%' order by id"] },
      { name: 'EXISTS subquery', sql: ['select id from customers c where exists (select 1 from orders o where o.customer_id = c.id) order by id'] },
      { name: 'EXISTS on a classified value', sql: ["select exists (select 1 from customers where ssn = '000-00-0000')"] },
      { name: 'order by / limit', sql: ['select id, status from orders order by created_at desc, id limit 10'] },
      { name: 'limit / offset pagination', sql: ['select id from customers order by id limit 10 offset 20'] },
      { name: 'order by a classified column', sql: ['select id from customers order by email limit 5'] },
      { name: 'filter on a date of birth', sql: ["select count(*) from customers where date_of_birth < '1970-01-01'"] },
      { name: 'lower(email) = lower($1) filter', sql: [{ text: 'select id from customers where lower(email) = lower($1)', values: ['WHITFIELD.LISKOV9@mail.example.com'] }] },
      {
        name: 'orders join customers with a masked full name',
        sql: ['select o.id, c.full_name from orders o join customers c on c.id = o.customer_id order by o.id limit 10'],
        masked: { 1: nameMask },
      },
    ],
  },
  {
    group: 'plain classified columns keep their masks; booleans and NULL tests are not masked',
    queries: [
      { name: 'select email (plain) -> x***@domain', sql: ['select id, email from customers order by id limit 20'], masked: { 1: emailMask } },
      { name: 'select ssn (plain) -> ***-**-1234', sql: ['select id, ssn from customers order by id limit 10'], masked: { 1: ssnMask } },
      { name: 'select full_name (plain) -> first letter kept', sql: ['select id, full_name from customers order by id limit 10'], masked: { 1: nameMask } },
      { name: "email = 'x@y.z' (boolean)", sql: ["select id, email = 'x@y.z' from customers order by id"] },
      { name: 'email = a real address (boolean, one row true)', sql: ["select id, email = 'whitfield.liskov9@mail.example.com' from customers order by id"] },
      { name: 'email is null', sql: ['select id, email is null from customers order by id'] },
    ],
  },
  {
    group: 'server information and settings',
    queries: [
      {
        name: 'select now()',
        sql: ['select now()'],
        compare: (a, d) => {
          const ta = Date.parse(a[0]?.[0] ?? '');
          const td = Date.parse(d[0]?.[0] ?? '');
          return Number.isFinite(ta) && Math.abs(ta - td) < 60_000 ? null : `now() ${a[0]?.[0]} vs ${d[0]?.[0]}`;
        },
      },
      { name: 'select version()', sql: ['select version()'] },
      { name: 'show server_version', sql: ['show server_version'] },
      { name: 'select 1', sql: ['select 1'] },
      { name: 'current_schema(), current_database()', sql: ['select current_schema(), current_database()'] },
      { name: "current_setting('server_version_num')", sql: ["select current_setting('server_version_num')"] },
      { name: 'show transaction isolation level', sql: ['show transaction isolation level'] },
      { name: 'EXPLAIN of a filtered query', sql: ["explain (costs off) select id from customers where email like '%.org'"] },
      { name: 'SET search_path TO public, then a query', sql: ['set search_path to public', 'select count(*) from orders'] },
      { name: "set_config('search_path', 'public', false)", sql: ["select set_config('search_path', 'public', false)", 'select count(*) from orders'] },
      { name: 'SET statement_timeout and application_name', sql: ['set statement_timeout = 5000', "set application_name = 'report'", 'show application_name'] },
    ],
  },
  {
    group: 'driver and ORM introspection',
    queries: [
      { name: 'porsager array types query (as sent on connect)', sql: [PORSAGER_ARRAY_TYPES] },
      {
        name: 'porsager postgres connects (fetch_types) and queries',
        run: (t) => porsagerRun(t, async (sql) => sql`select count(*)::int as n, max(id) as m from customers`.values()),
      },
      { name: 'node-postgres style pg_type lookup by name', sql: [{ text: 'select oid, typname, typarray from pg_type where typname = any($1) order by oid', values: [['text', 'int4', 'jsonb']] }] },
      { name: 'pg_type by oid (prepared)', sql: [{ name: 'type_by_oid', text: 'select typname, typlen, typtype from pg_type where oid = $1', values: [25] }] },
      {
        name: 'information_schema.columns of customers',
        sql: ["select column_name, data_type, is_nullable, column_default from information_schema.columns where table_schema = 'public' and table_name = 'customers' order by ordinal_position"],
      },
      {
        name: 'pg_class / pg_attribute / pg_namespace / pg_type join',
        sql: [
          `select c.relname, a.attname, a.attnum, t.typname, a.attnotnull from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
           join pg_catalog.pg_attribute a on a.attrelid = c.oid join pg_catalog.pg_type t on t.oid = a.atttypid
           where n.nspname = 'public' and c.relkind = 'r' and a.attnum > 0 and not a.attisdropped order by c.relname, a.attnum`,
        ],
      },
      { name: 'Prisma: schema exists', sql: [{ text: 'SELECT EXISTS(SELECT 1 FROM pg_namespace WHERE nspname = $1)', values: ['public'] }] },
      {
        name: 'Prisma: tables of the schema',
        sql: [
          {
            text: `SELECT tbl.relname AS table_name, namespace.nspname as namespace FROM pg_class AS tbl INNER JOIN pg_namespace AS namespace ON namespace.oid = tbl.relnamespace
                   WHERE tbl.relkind = 'r' AND namespace.nspname = ANY ( $1 ) ORDER BY namespace, table_name`,
            values: [['public']],
          },
        ],
      },
      {
        name: 'Prisma: columns with formatted types',
        sql: [
          {
            text: `SELECT oid.namespace, info.table_name, info.column_name, format_type(att.atttypid, att.atttypmod) as formatted_type, info.numeric_precision,
                     info.is_nullable, info.column_default, info.data_type, info.udt_name
                   FROM information_schema.columns info
                   JOIN pg_attribute att ON att.attname = info.column_name
                   JOIN (SELECT pg_class.oid, relname, pg_namespace.nspname as namespace FROM pg_class JOIN pg_namespace on pg_namespace.oid = pg_class.relnamespace
                         AND pg_namespace.nspname = ANY ( $1 )) as oid on oid.oid = att.attrelid AND relname = info.table_name AND namespace = info.table_schema
                   WHERE table_schema = ANY ( $1 ) ORDER BY namespace, table_name, ordinal_position`,
            values: [['public']],
          },
        ],
      },
      {
        name: 'Prisma: constraints with pg_get_constraintdef',
        sql: [
          `SELECT rel.relname, con.conname, con.contype, pg_get_constraintdef(con.oid) FROM pg_constraint con JOIN pg_class rel ON rel.oid = con.conrelid
           JOIN pg_namespace ns ON ns.oid = rel.relnamespace WHERE ns.nspname = 'public' ORDER BY rel.relname, con.conname`,
        ],
      },
      { name: 'pg_indexes of customers', sql: ["select indexname, indexdef from pg_indexes where schemaname = 'public' and tablename = 'customers' order by indexname"] },
    ],
  },
  {
    group: 'psql meta-commands',
    queries: [
      { name: 'psql \\d customers', run: psqlRun('\\d customers') },
      { name: 'psql \\dt', run: psqlRun('\\dt') },
      { name: 'psql \\d orders', run: psqlRun('\\d orders') },
      { name: 'psql -c with a plain count', run: psqlRun('select count(*) from orders') },
    ],
  },
  {
    group: 'CTEs, unions, prepared statements and transactions',
    queries: [
      { name: 'CTE over unclassified columns', sql: ['with s as (select status, count(*) as n from orders group by status) select status, n from s order by status'] },
      { name: 'UNION of unclassified columns', sql: ['select id from customers where id < 5 union select customer_id from orders where id < 5 order by 1'] },
      {
        name: 'pg prepared statement with a parameter, twice',
        sql: [
          { name: 'u1', text: 'select id, status from orders where customer_id = $1 order by id', values: [5] },
          { name: 'u1', text: 'select id, status from orders where customer_id = $1 order by id', values: [7] },
        ],
      },
      { name: 'pg prepared count with a LIKE parameter on email', sql: [{ name: 'u2', text: 'select count(*) from customers where email like $1', values: ['%example.org'] }] },
      { name: 'pg prepared, masked email by id', sql: [{ name: 'u3', text: 'select id, email from customers where id = $1', values: [3] }], masked: { 1: emailMask } },
      { name: 'BEGIN / queries / COMMIT', sql: ['begin', "select count(*) from orders where status = 'paid'", 'select id from customers where id = 3', 'commit'] },
      {
        name: 'porsager: parameterized join with a masked email',
        run: (t) => porsagerRun(t, async (sql) => sql`select o.id, c.email from orders o join customers c on c.id = o.customer_id where o.id <= ${10} order by o.id`.values()),
        masked: { 1: emailMask },
      },
    ],
  },
];

// ------------------------------------------------------------------------------------------------ the run

describe('masked analyst: ordinary queries still work (issue #15)', () => {
  let db: GovernedDatabase;
  let direct: Target;
  let analyst: Target;

  before(async () => {
    db = await startGovernedDatabase(DB);
    direct = { host: PG_HOST, port: PG_PORT, user: 'postgres', database: DB };
    analyst = { host: '127.0.0.1', port: db.port, user: 'analyst', password: 'analyst', database: DB };
    const email = (await db.direct.query('select email from customers where id = 9')).rows[0].email as string;
    assert.equal(email, 'whitfield.liskov9@mail.example.com', 'the seed still has this address (used in a boolean comparison)');
  });

  after(async () => {
    await db?.stop();
  });

  const execute = (q: UtilityQuery, t: Target): Promise<Outcome> => (q.run ? q.run(t) : runPg(t, q.sql ?? []));

  function difference(q: UtilityQuery, a: Rows, d: Rows): string | null {
    if (q.compare) return q.compare(a, d);
    if (a.length !== d.length) return `${a.length} rows, directly ${d.length}`;
    for (let i = 0; i < d.length; i++) {
      const ar = a[i]!;
      const dr = d[i]!;
      if (ar.length !== dr.length) return `row ${i}: ${ar.length} columns, directly ${dr.length}`;
      for (let j = 0; j < dr.length; j++) {
        const check = q.masked?.[j];
        if (check) {
          if (!check(ar[j]!, dr[j]!)) return `row ${i} column ${j}: ${JSON.stringify(ar[j])} is not the mask of ${JSON.stringify(dr[j])}`;
        } else if (ar[j] !== dr[j]) {
          return `row ${i} column ${j}: ${JSON.stringify(ar[j])}, directly ${JSON.stringify(dr[j])}`;
        }
      }
    }
    return null;
  }

  async function runGroup(t: TestContext, queries: UtilityQuery[]): Promise<void> {
    const failures: string[] = [];
    for (const q of queries) {
      const d = await execute(q, direct);
      if (d.error) {
        failures.push(`${q.name}: query is broken: directly it fails with ${d.error}`);
        continue;
      }
      const a = await execute(q, analyst);
      const problem = a.error ? `fails through dgf: ${a.error}` : difference(q, a.rows, d.rows);
      t.diagnostic(`${q.name}: ${problem ? `FAIL ${problem}` : `ok (${d.rows.length} rows)`}`.slice(0, 400));
      if (problem) failures.push(`${q.name}: ${problem}`);
    }
    assert.ok(failures.length === 0, `${failures.length} of ${queries.length} queries differ:\n${failures.join('\n')}`);
  }

  test('there are at least 30 utility queries', () => {
    const total = GROUPS.reduce((n, g) => n + g.queries.length, 0);
    assert.ok(total >= 30, `${total} queries`);
  });

  for (const g of GROUPS) {
    test(g.group, { timeout: 300_000 }, async (t) => runGroup(t, g.queries));
  }
});
