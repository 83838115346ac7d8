/**
 * Masking of query results through dgf against the real PostgreSQL 15: text results (node-postgres, porsager
 * postgres) and binary results (extended protocol, result format 1) for text, int, numeric, date and jsonb
 * columns; a renamed column still masked; dpo sees personal data clear; the audit record and the inventory.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import postgres from 'postgres';
import { readAudit, type TestDgf } from '../../helpers/dgf.js';
import { startGovernedDatabase, type GovernedDatabase } from '../../fixtures/postgres-governance/database.js';
import { RawClient, type RawResult } from '../../fixtures/postgres-governance/raw-client.js';
import { decodeNumeric } from '../../../protocols/postgres/governance/pg-values.js';

const DB = 'dgf_gov_masking';
const EMAIL_MASK = /^[a-z]\*\*\*@[a-z.]+$/;
const SSN_MASK = /^\*\*\*-\*\*-\d{4}$/;

describe('masking of query results', () => {
  let db: GovernedDatabase;
  let dgf: TestDgf;
  let port: number;
  let direct: pg.Client;

  before(async () => {
    db = await startGovernedDatabase(DB);
    ({ dgf, port, direct } = db);
    // Classified columns of integer types: masks must keep them integers of the same width.
    await direct.query(`create table staff (id int4 primary key, zip_code int4, phone int8, ssn int4, badge int2, salary numeric(10,2),
        aliases text[], backup_email varchar[]);
      insert into staff values
        (1, 90210, 2025550143, 123456789, 7, 85000.00, '{"Ada L",ada@example.com,NULL}', '{ada@example.org}'),
        (2, 10001, 6175550199, 987654321, 8, 123456.78, '{nothing}', '{bob@example.com,"bob b@example.com"}')`);
  });

  after(async () => {
    await db?.stop();
  });

  async function through<T>(user: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
    const c = new pg.Client({ host: '127.0.0.1', port, user, password: user, database: DB });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  }

  const SQL = 'select id, full_name, email, ssn, card_number, date_of_birth, balance, notes, profile from customers order by id limit 50';

  test('text results (node-postgres): analyst gets masks that keep each type, dpo gets personal data clear', async () => {
    const clear = (await direct.query(SQL)).rows;
    const analyst = await through('analyst', async (c) => (await c.query(SQL)).rows);
    const dpo = await through('dpo', async (c) => (await c.query(SQL)).rows);
    assert.equal(analyst.length, 50);
    for (let i = 0; i < clear.length; i++) {
      const [c, a, d] = [clear[i], analyst[i], dpo[i]];
      assert.equal(a.id, c.id, 'int column untouched');
      assert.match(a.email, EMAIL_MASK);
      assert.notEqual(a.email, c.email);
      assert.match(a.ssn, SSN_MASK);
      assert.equal(a.ssn.slice(-4), c.ssn.slice(-4));
      assert.equal(a.card_number, `************${c.card_number.slice(-4)}`.slice(-c.card_number.length));
      // date generalized to the year, still a date the driver parses
      assert.ok(a.date_of_birth instanceof Date);
      assert.equal(a.date_of_birth.getFullYear(), c.date_of_birth.getFullYear());
      assert.equal(a.date_of_birth.getMonth(), 0);
      assert.equal(a.date_of_birth.getDate(), 1);
      // numeric still a numeric
      assert.match(a.balance, /^-?\d+(\.\d+)?$/);
      // jsonb parsed by the driver, e-mail inside masked, the rest intact
      assert.match(a.profile.contact.email, EMAIL_MASK);
      assert.equal(a.profile.tier, c.profile.tier);
      assert.deepEqual(a.profile.tags, c.profile.tags);
      if (c.notes && /\d{4} \d{4} \d{4} \d{3,4}/.test(c.notes)) assert.doesNotMatch(a.notes, /\d{4} \d{4} \d{4}/);
      if (c.notes && c.notes.includes('@')) assert.ok(!a.notes.includes(c.notes.match(/\S+@\S+/)![0]));
      // dpo: personal data clear
      assert.equal(d.email, c.email);
      assert.equal(d.ssn, c.ssn);
      assert.equal(d.full_name, c.full_name);
      assert.equal(d.date_of_birth.getTime(), c.date_of_birth.getTime());
      assert.deepEqual(d.profile, c.profile);
    }
  });

  test('select email as x is still customers.email', async () => {
    const rows = await through('analyst', async (c) => (await c.query('select email as x, upper(email) as y from customers where id = $1', [3])).rows);
    assert.match(rows[0].x, EMAIL_MASK);
    // a value computed from a classified column gets the derived mask over the whole value (lineage)
    assert.equal(rows[0].y, '[REDACTED]');
    const join = await through('analyst', async (c) => (await c.query('select o.id, c.email as contact from orders o join customers c on c.id = o.customer_id order by o.id limit 5')).rows);
    for (const r of join) assert.match(r.contact, EMAIL_MASK);
  });

  test('binary results: int4 stays 4 bytes, date stays an int32 day count, numeric and jsonb stay valid', async () => {
    const sql = 'select id, email as x, date_of_birth, balance, profile from customers where id <= $1 order by id';
    const clearRows = (await direct.query('select id, email, date_of_birth, balance, profile from customers where id <= 10 order by id')).rows;
    const run = async (user: string) => {
      const c = await RawClient.connect({ host: '127.0.0.1', port, user, password: user, database: DB });
      try {
        return await c.query(sql, ['10'], 1);
      } finally {
        c.close();
      }
    };
    const analyst = await run('analyst');
    assert.equal(analyst.error, null);
    assert.deepEqual(analyst.fields.map((f) => f.format), [1, 1, 1, 1, 1]);
    assert.equal(analyst.rows.length, 10);
    for (let i = 0; i < 10; i++) {
      const [id, email, dob, balance, profile] = analyst.rows[i]!;
      const c = clearRows[i];
      assert.equal(id!.length, 4);
      assert.equal(id!.readInt32BE(0), c.id);
      assert.match(email!.toString(), EMAIL_MASK);
      assert.equal(dob!.length, 4);
      const days = dob!.readInt32BE(0);
      const masked = new Date(Date.UTC(2000, 0, 1) + days * 86_400_000);
      assert.equal(masked.getUTCFullYear(), c.date_of_birth.getFullYear());
      assert.equal(masked.toISOString().slice(5, 10), '01-01');
      const num = decodeNumeric(balance!, 0);
      assert.match(num, /^\d+(\.\d+)?$/);
      assert.equal(profile![0], 1, 'jsonb version byte');
      const doc = JSON.parse(profile!.subarray(1).toString());
      assert.match(doc.contact.email, EMAIL_MASK);
      assert.equal(doc.tier, c.profile.tier);
    }
    const dpo = await run('dpo');
    for (let i = 0; i < 10; i++) {
      const [, email, dob] = dpo.rows[i]!;
      assert.equal(email!.toString(), clearRows[i].email);
      const days = dob!.readInt32BE(0);
      const d = clearRows[i].date_of_birth as Date;
      assert.equal(days, Math.round((Date.UTC(d.getFullYear(), d.getMonth(), d.getDate()) - Date.UTC(2000, 0, 1)) / 86_400_000));
    }
  });

  test('classified integer columns stay integers of their width, in text and binary', async () => {
    const clear = (await direct.query('select * from staff order by id')).rows;
    const text = await through('analyst', async (c) => (await c.query('select * from staff order by id')).rows);
    const c = await RawClient.connect({ host: '127.0.0.1', port, user: 'analyst', password: 'analyst', database: DB });
    let binary: RawResult;
    try {
      binary = await c.query('select id, zip_code, phone, ssn, badge, salary from staff where id > $1 order by id', ['0'], 1);
    } finally {
      c.close();
    }
    assert.equal(binary.error, null);
    for (let i = 0; i < clear.length; i++) {
      const [id, zip, phone, ssn, badge, salary] = binary.rows[i]!;
      // text: still integers the driver parses, masked
      assert.equal(typeof text[i].zip_code, 'number');
      assert.notEqual(text[i].zip_code, clear[i].zip_code);
      assert.ok(String(text[i].zip_code).startsWith(String(clear[i].zip_code).slice(0, 2)));
      assert.match(text[i].phone, /^\d+$/); // int8 is text in node-postgres
      assert.notEqual(text[i].phone, clear[i].phone);
      assert.notEqual(text[i].ssn, clear[i].ssn);
      assert.equal(text[i].badge, clear[i].badge);
      // binary: same widths, masked values equal to the text ones
      assert.equal(id!.readInt32BE(0), clear[i].id);
      assert.equal(zip!.length, 4);
      assert.equal(zip!.readInt32BE(0), text[i].zip_code);
      assert.equal(phone!.length, 8);
      assert.equal(phone!.readBigInt64BE(0).toString(), text[i].phone);
      assert.equal(ssn!.length, 4);
      assert.equal(ssn!.readInt32BE(0), text[i].ssn);
      assert.equal(badge!.length, 2);
      assert.equal(badge!.readInt16BE(0), clear[i].badge);
      assert.equal(decodeNumeric(salary!, 0), text[i].salary);
      assert.notEqual(text[i].salary, clear[i].salary);
    }
  });

  test('text arrays are masked element by element and stay arrays, in text and binary', async () => {
    const text = await through('analyst', async (c) => (await c.query('select aliases, backup_email from staff order by id')).rows);
    assert.deepEqual(text[0].aliases, ['Ada L', 'a***@example.com', null]);
    assert.deepEqual(text[0].backup_email, ['a***@example.org']);
    assert.deepEqual(text[1].aliases, ['nothing']);
    assert.equal(text[1].backup_email.length, 2);
    for (const e of text[1].backup_email) assert.match(e, /\*\*\*@example\.com$/);
    const c = await RawClient.connect({ host: '127.0.0.1', port, user: 'analyst', password: 'analyst', database: DB });
    try {
      const r = await c.query('select aliases from staff where id = $1', ['1'], 1);
      const arr = r.rows[0]![0]!;
      assert.equal(arr.readInt32BE(0), 1); // one dimension
      assert.equal(arr.readInt32BE(8), 25); // of text
      assert.equal(arr.readInt32BE(12), 3);
      let at = 20;
      const elements: Array<string | null> = [];
      for (let i = 0; i < 3; i++) {
        const len = arr.readInt32BE(at);
        at += 4;
        elements.push(len < 0 ? null : arr.toString('utf8', at, at + len));
        at += Math.max(0, len);
      }
      assert.equal(at, arr.length);
      assert.deepEqual(elements, ['Ada L', 'a***@example.com', null]);
    } finally {
      c.close();
    }
  });

  test('porsager postgres (named prepared statements): masked for analyst', async () => {
    const sql = postgres({ host: '127.0.0.1', port, user: 'analyst', password: 'analyst', database: DB, max: 1, onnotice: () => undefined });
    try {
      for (let i = 0; i < 3; i++) {
        const rows = await sql`select id, email, ssn, date_of_birth from customers where id = ${i + 1}`;
        assert.match(rows[0]!.email as string, EMAIL_MASK);
        assert.match(rows[0]!.ssn as string, SSN_MASK);
        assert.equal((rows[0]!.date_of_birth as Date).getUTCDate(), 1);
      }
    } finally {
      await sql.end();
    }
  });

  test('porsager postgres: pipelined queries and a cursor (Execute with a row limit) are all masked', async () => {
    const sql = postgres({ host: '127.0.0.1', port, user: 'analyst', password: 'analyst', database: DB, max: 1, onnotice: () => undefined });
    try {
      // One connection: these go out pipelined, several Parse/Bind/Execute before the Syncs are answered.
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => sql`select email, ${i}::int as n from customers where id = ${i + 1}`));
      results.forEach((rows, i) => {
        assert.equal(rows[0]!.n, i);
        assert.match(rows[0]!.email as string, EMAIL_MASK);
      });
      let seen = 0;
      for await (const batch of sql`select id, email, ssn from customers order by id`.cursor(25)) {
        for (const row of batch) {
          assert.match(row.email as string, EMAIL_MASK);
          assert.match(row.ssn as string, SSN_MASK);
          seen++;
        }
      }
      assert.equal(seen, 200);
    } finally {
      await sql.end();
    }
  });

  test('health data: redacted for analyst, also for dpo (not a clinician)', async () => {
    const a = await through('analyst', async (c) => (await c.query('select diagnosis, medication from patients order by id limit 3')).rows);
    const d = await through('dpo', async (c) => (await c.query('select diagnosis, medication from patients order by id limit 3')).rows);
    const clear = (await direct.query('select diagnosis, medication from patients order by id limit 3')).rows;
    for (let i = 0; i < 3; i++) {
      assert.notEqual(a[i].diagnosis, clear[i].diagnosis);
      assert.notEqual(d[i].diagnosis, clear[i].diagnosis);
    }
  });

  test('the audit record of a masked read: normalized statement, labels, masked counts, rows', async () => {
    await through('analyst', (c) => c.query("select email, ssn from customers where email like 'e%' limit 4"));
    let record: Record<string, unknown> | undefined;
    for (let i = 0; i < 50 && !record; i++) {
      record = (await readAudit(dgf.auditFile)).find((r) => r.role === 'analyst' && r.phase !== 'intent' && String(r.statement).includes('email like $1'));
      if (!record) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(record, 'audit record written');
    assert.equal(record.operation, 'select');
    assert.equal(record.object, 'public.customers');
    assert.equal(record.statement, 'select email, ssn from customers where email like $1 limit $2');
    assert.equal(record.rows, 4);
    assert.ok((record.labels as string[]).includes('pii.email'));
    assert.equal((record.masked as Record<string, number>)['pii.email'], 4);
    assert.equal((record.masked as Record<string, number>)['pii.ssn'], 4);
    assert.ok(!JSON.stringify(record).includes('@example'), 'no clear value in the audit trail');
  });

  test('the inventory learns the classified columns of the source table', async () => {
    await through('analyst', (c) => c.query('select email as x from customers limit 1'));
    const inv = (await (await fetch(`${dgf.adminUrl}/api/v1/inventory`)).json()) as Record<string, unknown>;
    const text = JSON.stringify(inv);
    assert.match(text, /public\.customers/);
    assert.match(text, /"email"/);
    assert.match(text, /pii\.email/);
  });
});
