import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CatalogCache, CATALOG_SQL } from '../../../protocols/postgres/governance/catalog.js';

describe('CatalogCache', () => {
  test('maps (table oid, attnum) to schema-qualified table and column; lists columns in attnum order', async () => {
    const c = new CatalogCache();
    let asked = '';
    await c.refresh(async (sql) => {
      asked = sql;
      return [
        ['16384', 'public', 'customers', '1', 'id', '23'],
        ['16384', 'public', 'customers', '3', 'email', '25'],
        ['16390', 'sales', 'orders', '1', 'id', '23'],
      ];
    });
    assert.equal(asked, CATALOG_SQL);
    assert.deepEqual(c.lookup(16384, 3), { object: 'public.customers', column: 'email' });
    assert.equal(c.lookup(16384, 2), undefined); // dropped column
    assert.equal(c.lookup(0, 0), undefined);
    assert.deepEqual(c.columnsOf('public.customers'), ['id', 'email']);
    assert.deepEqual(c.columnsOf('sales.orders'), ['id']);
    assert.equal(c.columnsOf('public.nope'), undefined);
    assert.ok(c.knows(16390));
    assert.ok(c.refreshedAt > 0);
  });

  test('a failed refresh keeps the previous view', async () => {
    const c = new CatalogCache();
    await c.refresh(async () => [['1', 'public', 't', '1', 'a', '25']]);
    await assert.rejects(c.refresh(async () => Promise.reject(new Error('upstream gone'))));
    assert.deepEqual(c.lookup(1, 1), { object: 'public.t', column: 'a' });
  });

  test('the catalog query runs on PostgreSQL and excludes system schemas', () => {
    assert.match(CATALOG_SQL, /not in \('pg_catalog', 'information_schema'\)/);
  });
});
