import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeSql, initSqlAnalyzer } from '../../../protocols/postgres/governance/analyze.js';
import { CopyMaskRefusedError, CopyOutMasker } from '../../../protocols/postgres/governance/row-masker.js';
import { CatalogCache } from '../../../protocols/postgres/governance/catalog.js';
import { copyData, customersCatalog, governanceFixture, type GovernanceFixture } from '../../fixtures/postgres-governance/governance.js';

const body = (msg: Buffer): string => {
  assert.equal(msg.readInt32BE(1), msg.length - 1);
  return msg.toString('utf8', 5);
};

describe('CopyOutMasker', () => {
  let f: GovernanceFixture;
  let catalog: CatalogCache;
  before(async () => {
    await initSqlAnalyzer();
    f = await governanceFixture();
    catalog = await customersCatalog();
  });

  function build(sql: string, role = 'analyst'): { masker: CopyOutMasker; op: ReturnType<GovernanceFixture['begin']> } {
    const op = f.begin(role, 'copy');
    return { masker: CopyOutMasker.build(analyzeSql(sql)[0]!, catalog, f.gov.policy(), role, op, f.gov), op };
  }

  test('text COPY of a whole table: every column from the catalog, masked like rows', () => {
    const { masker, op } = build('copy customers to stdout');
    const line = '7\tAda Lovelace\tada@example.com\t+1 202 555 0143\t123-45-6789\t4111111111111111\t1991-10-15\t1234.50\tcall re card 4111 1111 1111 1111\t{"contact": {"email": "ada@example.com"}}\n';
    const out = body(masker.maskCopyData(copyData(line)));
    const fields = out.slice(0, -1).split('\t');
    assert.equal(fields[0], '7');
    assert.equal(fields[2], 'a***@example.com');
    assert.equal(fields[4], '***-**-6789');
    assert.equal(fields[5], '************1111');
    assert.equal(fields[6], '1991-01-01');
    assert.equal(fields[8], 'call re card **** **** **** 1111');
    assert.deepEqual(JSON.parse(fields[9]!), { contact: { email: 'a***@example.com' } });
    assert.ok(out.endsWith('\n'));
    assert.equal(op.rows, 1);
  });

  test('CSV with HEADER: the header line passes, quoted values are re-quoted', () => {
    const { masker } = build('copy customers (id, email, notes) to stdout with (format csv, header)');
    const header = copyData('id,email,notes\n');
    assert.equal(masker.maskCopyData(header), header);
    const out = body(masker.maskCopyData(copyData('1,ada@example.com,"hi, mail me at bob@example.org"\n')));
    assert.equal(out, '1,a***@example.com,"hi, mail me at b***@example.org"\n');
  });

  test('COPY (query) with an alias is still classified by the source column', () => {
    const { masker } = build('copy (select email as x from customers) to stdout');
    assert.equal(body(masker.maskCopyData(copyData('ada@example.com\n'))), 'a***@example.com\n');
  });

  test('dpo sees personal data clear: the same Buffer comes back', () => {
    const { masker } = build('copy customers (email, ssn) to stdout', 'dpo');
    const msg = copyData('ada@example.com\t123-45-6789\n');
    assert.equal(masker.maskCopyData(msg), msg);
  });

  test('a text[] column in COPY is masked element by element', async () => {
    const own = new CatalogCache();
    await own.refresh(async () => [
      ['7000', 'public', 'people', '1', 'id', '23'],
      ['7000', 'public', 'people', '2', 'aliases', '1009'],
    ]);
    const op = f.begin('analyst', 'copy');
    const masker = CopyOutMasker.build(analyzeSql('copy people to stdout')[0]!, own, f.gov.policy(), 'analyst', op, f.gov);
    assert.equal(body(masker.maskCopyData(copyData('1\t{"Ada L",ada@example.com}\n'))), '1\t{"Ada L",a***@example.com}\n');
  });

  test('admin: passthrough', () => {
    assert.equal(build('copy customers to stdout', 'admin').masker.passthrough, true);
  });

  test('binary COPY is masked with the binary codecs', () => {
    const { masker } = build('copy customers (id, email) to stdout (format binary)');
    const header = Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8)]);
    const tuple = Buffer.alloc(2 + 4 + 4 + 4 + 15);
    let at = tuple.writeInt16BE(2, 0);
    at = tuple.writeInt32BE(4, at);
    at = tuple.writeInt32BE(7, at);
    at = tuple.writeInt32BE(15, at);
    tuple.write('ada@example.com', at);
    const out = masker.maskCopyData(copyData(Buffer.concat([header, tuple])));
    assert.equal(out.readInt32BE(1), out.length - 1);
    const t = out.subarray(5 + 19);
    assert.equal(t.readInt16BE(0), 2);
    assert.equal(t.readInt32BE(6), 7);
    const len = t.readInt32BE(10);
    assert.equal(t.toString('utf8', 14, 14 + len), 'a***@example.com');
    const trailer = copyData(Buffer.from([0xff, 0xff]));
    assert.equal(masker.maskCopyData(trailer), trailer);
  });

  test('binary COPY of an empty result: header and trailer in one message pass unchanged', () => {
    const { masker, op } = build('copy customers (id, email) to stdout (format binary)');
    const msg = copyData(Buffer.concat([Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'), Buffer.alloc(8), Buffer.from([0xff, 0xff])]));
    assert.equal(masker.maskCopyData(msg), msg);
    assert.equal(op.rows, 0);
  });

  test('columns that cannot be resolved are refused for a masked role, not passed clear', () => {
    const { masker } = build('copy (select * from customers c join orders o on o.customer_id = c.id) to stdout');
    assert.ok(masker.refusal);
    assert.throws(() => masker.maskCopyData(copyData('x\n')), (e: unknown) => e instanceof CopyMaskRefusedError && e.code === '42501');
  });

  test('a line whose field count does not match the plan is refused', () => {
    const { masker } = build('copy customers (id, email) to stdout');
    assert.throws(() => masker.maskCopyData(copyData('1\tada@example.com\textra\n')), CopyMaskRefusedError);
  });
});
