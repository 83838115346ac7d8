/**
 * COPY ... TO STDOUT through dgf is masked like result rows (text, CSV with header, a query with a renamed
 * column, binary), using psql as users run it; dpo gets the clear data PostgreSQL sends.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startDgf, type TestDgf } from '../../helpers/dgf.js';
import { createSeededDatabase, dropDatabase, governedListener, PG_PORT, ROLES } from '../../fixtures/postgres-governance/database.js';

const run = promisify(execFile);
const DB = 'dgf_gov_copy';
const EMAIL_MASK = /^[a-z]\*\*\*@[a-z.]+$/;

describe('COPY TO masking', () => {
  let dgf: TestDgf;
  let port: number;

  before(async () => {
    await createSeededDatabase(DB);
    dgf = await startDgf({ listeners: [governedListener(DB)], roles: ROLES });
    port = dgf.listener('pg').address.port;
  });

  after(async () => {
    await dgf?.stop();
    await dropDatabase(DB);
  });

  async function psql(user: string | null, sql: string, encoding: 'utf8' | 'buffer' = 'utf8'): Promise<string | Buffer> {
    const target = user === null ? ['-h', '127.0.0.1', '-p', String(PG_PORT), '-U', 'postgres'] : ['-h', '127.0.0.1', '-p', String(port), '-U', user];
    const { stdout } = await run('psql', [...target, '-d', DB, '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', sql], {
      env: { ...process.env, PGPASSWORD: user ?? '', PGSSLMODE: 'disable' },
      encoding: encoding === 'buffer' ? 'buffer' : 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    return stdout;
  }

  test('text COPY of the whole table: every classified column masked, lines still valid', async () => {
    const clear = ((await psql(null, 'copy customers to stdout')) as string).trimEnd().split('\n');
    const masked = ((await psql('analyst', 'copy customers to stdout')) as string).trimEnd().split('\n');
    assert.equal(masked.length, clear.length);
    for (let i = 0; i < clear.length; i++) {
      const c = clear[i]!.split('\t');
      const m = masked[i]!.split('\t');
      assert.equal(m.length, 10);
      assert.equal(m[0], c[0]);
      assert.match(m[2]!, EMAIL_MASK);
      assert.match(m[4]!, /^\*\*\*-\*\*-\d{4}$/);
      assert.ok(m[5]!.endsWith(c[5]!.slice(-4)) && m[5]!.startsWith('*'));
      assert.equal(m[6], `${c[6]!.slice(0, 4)}-01-01`);
      const doc = JSON.parse(m[9]!);
      assert.match(doc.contact.email, EMAIL_MASK);
    }
  });

  test('CSV with HEADER: header kept, masked values re-quoted where needed', async () => {
    const out = ((await psql('analyst', 'copy (select id, email, notes from customers order by id limit 40) to stdout with (format csv, header)')) as string).trimEnd().split('\n');
    assert.equal(out[0], 'id,email,notes');
    for (const line of out.slice(1)) {
      const email = line.split(',')[1]!;
      assert.match(email, EMAIL_MASK);
      assert.doesNotMatch(line, /\d{4} \d{4} \d{4} \d{3,4}/, 'card numbers in free text masked');
    }
  });

  test('COPY of a query with a renamed column is still masked', async () => {
    const out = ((await psql('analyst', 'copy (select email as x from customers order by id limit 5) to stdout')) as string).trimEnd().split('\n');
    assert.equal(out.length, 5);
    for (const line of out) assert.match(line, EMAIL_MASK);
  });

  test('dpo gets exactly what PostgreSQL sends for personal data', async () => {
    const sql = 'copy customers (id, full_name, email, ssn, date_of_birth) to stdout';
    assert.equal(await psql('dpo', sql), await psql(null, sql));
  });

  test('binary COPY: the email column is masked inside the binary tuples', async () => {
    const out = (await psql('analyst', 'copy customers (id, email) to stdout (format binary)', 'buffer')) as Buffer;
    assert.equal(out.subarray(0, 11).toString('latin1'), 'PGCOPY\n\xff\r\n\0');
    let at = 19 + out.readInt32BE(15);
    let rows = 0;
    for (;;) {
      const count = out.readInt16BE(at);
      at += 2;
      if (count === -1) break;
      assert.equal(count, 2);
      assert.equal(out.readInt32BE(at), 4);
      at += 8;
      const len = out.readInt32BE(at);
      at += 4;
      assert.match(out.toString('utf8', at, at + len), EMAIL_MASK);
      at += len;
      rows++;
    }
    assert.equal(rows, 200);
    assert.equal(at, out.length);
  });

  test('COPY of a join with *: lineage finds every column, classified ones masked, no clear value sent', async () => {
    const sql = 'copy (select * from customers c join orders o on o.customer_id = c.id order by o.id limit 50) to stdout';
    const clear = ((await psql(null, sql)) as string).trimEnd().split('\n');
    const masked = ((await psql('analyst', sql)) as string).trimEnd().split('\n');
    assert.equal(masked.length, clear.length);
    for (let i = 0; i < clear.length; i++) {
      const c = clear[i]!.split('\t');
      const m = masked[i]!.split('\t');
      assert.equal(m.length, c.length, 'same fields per line');
      assert.equal(m[0], c[0], 'customer id untouched');
      assert.match(m[2]!, EMAIL_MASK);
      assert.notEqual(m[2], c[2]);
      assert.equal(m[m.length - 2], c[c.length - 2], 'order status untouched');
    }
  });

  test('COPY (query) with a computed column from classified data: the derived mask, never the clear value', async () => {
    const sql = "copy (select id, email || '' as e, upper(full_name) from customers order by id limit 20) to stdout with (format csv)";
    const clear = ((await psql(null, sql)) as string).trimEnd().split('\n');
    const masked = ((await psql('analyst', sql)) as string).trimEnd().split('\n');
    assert.equal(masked.length, clear.length);
    for (const line of masked) assert.match(line, /^\d+,\[REDACTED\],\[REDACTED\]$/);
  });
});
