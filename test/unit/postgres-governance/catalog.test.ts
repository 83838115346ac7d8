import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CatalogCache, CATALOG_SQL, FUNCTIONS_SQL, SEARCH_PATH_SQL, VIEWS_SQL } from '../../../protocols/postgres/governance/catalog.js';

describe('CatalogCache', () => {
  test('maps (table oid, attnum) to schema-qualified table and column; lists columns in attnum order', async () => {
    const c = new CatalogCache();
    const asked: string[] = [];
    await c.refresh(async (sql) => {
      asked.push(sql);
      if (sql === VIEWS_SQL) return [['public', 'contacts', ' SELECT customers.email AS contact FROM customers;']];
      if (sql === FUNCTIONS_SQL) return [['public', 'first_email', 'sql', 'select email from customers', 'false'], ['public', 'digest', 'c', 'pg_digest', 'true']];
      if (sql === SEARCH_PATH_SQL) return [['app,public']];
      return [
        ['16384', 'public', 'customers', '1', 'id', '23', 'r'],
        ['16384', 'public', 'customers', '3', 'email', '25', 'r'],
        ['16390', 'sales', 'orders', '1', 'id', '23', 'p'],
        ['16400', 'public', 'contacts', '1', 'contact', '25', 'v'],
      ];
    });
    assert.deepEqual(asked, [CATALOG_SQL, VIEWS_SQL, FUNCTIONS_SQL, SEARCH_PATH_SQL]);
    assert.equal(c.defaultSearchPath, 'app,public');
    // What lineage needs: relation kinds, view definitions, user functions by name.
    assert.equal(c.relation('public', 'customers')?.kind, 'table');
    assert.equal(c.relation('sales', 'orders')?.kind, 'table');
    assert.equal(c.relation('public', 'contacts')?.kind, 'view');
    assert.match(c.relation('public', 'contacts')?.definition ?? '', /customers\.email AS contact/);
    assert.deepEqual(c.functions('first_email').map((f) => [f.language, f.extension]), [['sql', false]]);
    assert.deepEqual(c.functions('digest').map((f) => [f.language, f.extension]), [['c', true]]);
    assert.deepEqual(c.functions('nope'), []);
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
    await c.refresh(async (sql) => (sql === CATALOG_SQL ? [['1', 'public', 't', '1', 'a', '25', 'r']] : []));
    await assert.rejects(c.refresh(async () => Promise.reject(new Error('upstream gone'))));
    assert.deepEqual(c.lookup(1, 1), { object: 'public.t', column: 'a' });
  });

  test('the catalog query runs on PostgreSQL and excludes system schemas', () => {
    assert.match(CATALOG_SQL, /not in \('pg_catalog', 'information_schema'\)/);
  });
});
