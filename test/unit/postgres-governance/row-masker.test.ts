import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { RowMasker, type ColumnInfo } from '../../../protocols/postgres/governance/row-masker.js';
import { CatalogCache } from '../../../protocols/postgres/governance/catalog.js';
import { decodeNumeric } from '../../../protocols/postgres/governance/pg-values.js';
import { initSqlAnalyzer } from '../../../protocols/postgres/governance/analyze.js';
import { traceSql } from '../../../protocols/postgres/governance/lineage.js';
import { decideLineage, type LineageVerdict } from '../../../protocols/postgres/governance/lineage-plan.js';
import { customersCatalog, dataRow, governanceFixture, parseDataRow, type GovernanceFixture } from '../../fixtures/postgres-governance/governance.js';

const T = 16384;
const col = (name: string, attr: number, typeOid: number, format = 0, tableOid = T): ColumnInfo => ({ name, tableOid, columnAttr: attr, typeOid, format });
const int4 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};
const text = (s: string): Buffer => Buffer.from(s, 'utf8');
const jsonb = (s: string): Buffer => Buffer.concat([Buffer.from([1]), Buffer.from(s, 'utf8')]);

describe('RowMasker', () => {
  let f: GovernanceFixture;
  let catalog: CatalogCache;
  before(async () => {
    f = await governanceFixture();
    catalog = await customersCatalog();
  });

  function mask(role: string, columns: ColumnInfo[], fields: Array<Buffer | null>): { out: Array<Buffer | null>; same: boolean; masker: RowMasker; op: ReturnType<GovernanceFixture['begin']> } {
    const op = f.begin(role);
    const masker = RowMasker.build(columns, catalog, f.gov.policy(), role, op, f.gov);
    const row = dataRow(fields);
    const result = masker.maskDataRow(row);
    return { out: parseDataRow(result), same: result === row, masker, op };
  }

  function verdict(sql: string, role: string): LineageVerdict {
    const [lineage] = traceSql(sql, catalog, ['public']);
    return decideLineage(lineage!, f.gov.policy(), role, () => undefined);
  }

  function maskTraced(role: string, sql: string, columns: ColumnInfo[], fields: Array<Buffer | null>): Array<Buffer | null> {
    const masker = RowMasker.build(columns, catalog, f.gov.policy(), role, f.begin(role), f.gov, verdict(sql, role));
    return parseDataRow(masker.maskDataRow(dataRow(fields)));
  }

  test('lineage: a computed column from classified sources gets the derived mask, for text and other types', async () => {
    await initSqlAnalyzer();
    const sql = "select full_name || '' n, length(ssn) l, id from customers";
    const out = maskTraced('analyst', sql, [col('n', 0, 25, 0, 0), col('l', 0, 23, 0, 0), col('id', 1, 23)], [text('Ada Lovelace'), int4(11), int4(7)]);
    assert.equal(out[0]!.toString(), '[REDACTED]');
    assert.equal(out[1], null, 'an int derived from a masked column is NULL: no format-preserving mask of a derived value is safe');
    assert.equal(out[2]!.readInt32BE(0), 7);
    // admin sees everything: the same bytes.
    const clear = maskTraced('admin', sql, [col('n', 0, 25, 0, 0), col('l', 0, 23, 0, 0), col('id', 1, 23)], [text('Ada Lovelace'), int4(11), int4(7)]);
    assert.equal(clear[0]!.toString(), 'Ada Lovelace');
  });

  test('lineage: a plain reference through a subquery alias keeps its label mask (RowDescription has no source)', async () => {
    await initSqlAnalyzer();
    const out = maskTraced('analyst', 'select s.contact from (select email as contact from customers) s', [col('contact', 0, 25, 0, 0)], [text('ada.lovelace@example.com')]);
    assert.equal(out[0]!.toString(), 'a***@example.com');
  });

  test('lineage and RowDescription disagree (catalog changed behind dgf): masked as derived from both', async () => {
    await initSqlAnalyzer();
    // Lineage says the column is customers.id; the RowDescription says it is attribute 5 (ssn).
    const out = maskTraced('analyst', 'select id from customers', [col('id', 5, 25)], [text('123-45-6789')]);
    assert.equal(out[0]!.toString(), '[REDACTED]');
  });

  test('a renamed column is still classified by its source (select email as x)', () => {
    const r = mask('analyst', [col('x', 3, 25)], [text('ada.lovelace@example.com')]);
    assert.equal(r.out[0]!.toString(), 'a***@example.com');
    assert.deepEqual(r.op.maskedCounts(), { 'pii.email': 1 });
    assert.equal(r.op.rows, 1);
  });

  test('analyst sees masks, dpo sees personal data clear, admin passes through untouched', () => {
    const columns = [col('email', 3, 25), col('ssn', 5, 25), col('full_name', 2, 25)];
    const fields = [text('ada@example.com'), text('123-45-6789'), text('Ada Lovelace')];
    const analyst = mask('analyst', columns, fields);
    assert.deepEqual(analyst.out.map((b) => b!.toString()), ['a***@example.com', '***-**-6789', 'A** ********']);
    const dpo = mask('dpo', columns, fields);
    assert.deepEqual(dpo.out.map((b) => b!.toString()), ['ada@example.com', '123-45-6789', 'Ada Lovelace']);
    // dpo still scans values for labels it may not see, but nothing here needs it: the same Buffer comes back.
    assert.equal(dpo.same, true);
    assert.deepEqual(dpo.op.seenLabels().sort(), ['pii.email', 'pii.full_name', 'pii.ssn']);
    const admin = mask('admin', columns, fields);
    assert.equal(admin.masker.passthrough, true);
    assert.equal(admin.same, true);
  });

  test('binary int4 stays 4 bytes, binary date stays an int32 day count, binary numeric is valid', () => {
    const columns = [col('id', 1, 23, 1), col('date_of_birth', 7, 1082, 1), col('balance', 8, 1700, 1)];
    const numeric = Buffer.from('000200000000000404d2162e', 'hex'); // 1234.5678
    const r = mask('analyst', columns, [int4(42), Buffer.from('fffff448', 'hex') /* 1991-10-15 */, numeric]);
    assert.equal(r.out[0]!.length, 4);
    assert.equal(r.out[0]!.readInt32BE(0), 42);
    assert.equal(r.out[1]!.length, 4);
    // generalized to the year: 1991-01-01
    assert.equal(r.out[1]!.readInt32BE(0), Math.round((Date.UTC(1991, 0, 1) - Date.UTC(2000, 0, 1)) / 86_400_000));
    const masked = decodeNumeric(r.out[2]!, 0);
    assert.match(masked, /^-?\d+(\.\d+)?$/);
    assert.notEqual(masked, '1234.5678');
  });

  test('text date and numeric masks stay valid text of their type', () => {
    const r = mask('analyst', [col('date_of_birth', 7, 1082), col('balance', 8, 1700)], [text('1991-10-15'), text('1234.56')]);
    assert.equal(r.out[0]!.toString(), '1991-01-01');
    assert.match(r.out[1]!.toString(), /^-?\d+(\.\d+)?$/);
  });

  test('values are scanned inside text and inside jsonb (text and binary)', () => {
    const columns = [col('notes', 9, 25), col('profile', 10, 3802, 1), col('profile', 10, 3802, 0)];
    const doc = '{"contact": {"email": "ada@example.com"}, "tier": "gold"}';
    const r = mask('analyst', columns, [text('call about card 4111 1111 1111 1111 today'), jsonb(doc), text(doc)]);
    assert.equal(r.out[0]!.toString(), 'call about card **** **** **** 1111 today');
    assert.equal(r.out[1]![0], 1);
    assert.deepEqual(JSON.parse(r.out[1]!.subarray(1).toString()), { contact: { email: 'a***@example.com' }, tier: 'gold' });
    assert.deepEqual(JSON.parse(r.out[2]!.toString()), { contact: { email: 'a***@example.com' }, tier: 'gold' });
  });

  test('a computed column (no table) is classified by its name and scanned by value', () => {
    const r = mask('analyst', [col('contact_email', 0, 25, 0, 0), col('anything', 0, 25, 0, 0)], [text('bob@example.org'), text('ssn is 123-45-6789')]);
    assert.equal(r.out[0]!.toString(), 'b***@example.org');
    assert.equal(r.out[1]!.toString(), 'ssn is ***-**-6789');
  });

  test('NULLs stay NULL and unchanged rows come back as the same Buffer', () => {
    const r = mask('analyst', [col('email', 3, 25), col('notes', 9, 25)], [null, text('nothing to see')]);
    assert.deepEqual(r.out, [null, text('nothing to see')]);
    assert.equal(r.same, true);
  });

  test('unmasked columns around masked ones keep their exact bytes; lengths are rewritten', () => {
    const columns = [col('id', 1, 23, 1), col('email', 3, 25), col('status', 0, 25, 0, 0), col('ssn', 5, 25)];
    const r = mask('analyst', columns, [int4(7), text('a-very-long-address@example.com'), text('paid'), text('123-45-6789')]);
    assert.deepEqual(r.out[0], int4(7));
    assert.equal(r.out[1]!.toString(), 'a***@example.com');
    assert.equal(r.out[2]!.toString(), 'paid');
    assert.equal(r.out[3]!.toString(), '***-**-6789');
  });

  test('an undecodable binary type whose name is classified is sent as NULL', () => {
    const r = mask('analyst', [col('email', 0, 3904 /* int4range */, 1, 0)], [Buffer.from('0200000004000000010000000400000005', 'hex')]);
    assert.deepEqual(r.out, [null]);
  });

  test('the default role (unmapped identity) is masked', () => {
    const r = mask('default', [col('email', 3, 25)], [text('ada@example.com')]);
    assert.notEqual(r.out[0]!.toString(), 'ada@example.com');
  });

  test('labels reach the inventory once per shape with the source table', () => {
    mask('analyst', [col('x', 3, 25)], [text('ada@example.com')]);
    const inv = f.inventory.snapshot()['pg-test'] ?? [];
    assert.ok(inv.some((e) => e.object === 'public.customers' && e.field === 'email' && e.labels['pii.email']! > 0));
  });

  test('shape plans are cached, and re-planned after a catalog refresh', async () => {
    const own = new CatalogCache();
    await own.refresh(async () => [['5000', 'public', 'people', '1', 'full_name', '25']]);
    const shape = [col('x', 1, 25, 0, 5000)];
    const row = dataRow([text('Ada Lovelace')]);
    const first = RowMasker.build(shape, own, f.gov.policy(), 'analyst', f.begin('analyst'), f.gov);
    assert.equal(parseDataRow(first.maskDataRow(row))[0]!.toString(), 'A** ********');
    // The column was renamed upstream: after the refresh the same shape means something else.
    await own.refresh(async () => [['5000', 'public', 'people', '1', 'nickname', '25']]);
    const op = f.begin('analyst');
    const second = RowMasker.build(shape, own, f.gov.policy(), 'analyst', op, f.gov);
    assert.equal(second.maskDataRow(row), row);
    assert.deepEqual(op.seenLabels(), []);
    assert.equal(second.catalogMiss, false);
    // A table created since the refresh: reported, so the session can refresh the catalog.
    const unknown = RowMasker.build([col('email', 1, 25, 0, 5001)], own, f.gov.policy(), 'analyst', f.begin('analyst'), f.gov);
    assert.equal(unknown.catalogMiss, true);
    assert.equal(parseDataRow(unknown.maskDataRow(dataRow([text('ada@example.com')])))[0]!.toString(), 'a***@example.com');
  });

  test('a malformed row is refused, not forwarded', () => {
    const op = f.begin('analyst');
    const masker = RowMasker.build([col('email', 3, 25)], catalog, f.gov.policy(), 'analyst', op, f.gov);
    const row = dataRow([text('ada@example.com')]);
    row.writeInt32BE(1000, 7);
    assert.throws(() => masker.maskDataRow(row), /malformed DataRow/);
  });

  test('masks 100k rows quickly', () => {
    const columns = [col('id', 1, 23, 1), col('email', 3, 25), col('balance', 8, 1700), col('notes', 9, 25)];
    const op = f.begin('analyst');
    const masker = RowMasker.build(columns, catalog, f.gov.policy(), 'analyst', op, f.gov);
    const rows = Array.from({ length: 1000 }, (_, i) => dataRow([int4(i), text(`user${i}@example.com`), text(`${i}.50`), text('loyal customer')]));
    const t = performance.now();
    for (let k = 0; k < 100; k++) for (const row of rows) masker.maskDataRow(row);
    const usPerRow = ((performance.now() - t) / 100_000) * 1000;
    assert.equal(op.rows, 100_000);
    assert.ok(usPerRow < 50, `${usPerRow.toFixed(2)} µs per row`);
  });
});
