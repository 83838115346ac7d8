import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startDgf } from '../../helpers/dgf.js';

test('smoke', async () => {
  const dgf = await startDgf({
    listeners: [{ name: 'pg', protocol: 'postgres', listen: '127.0.0.1:0', upstream: { url: 'postgres://postgres@127.0.0.1:55432/postgres?sslmode=disable', maxConnections: 2 }, users: [{ name: 'admin', password: 'pw' }], pool: 'transaction' }],
    roles: [{ match: { user: 'admin' }, role: 'admin' }],
  });
  try {
    const port = dgf.listener('pg').address.port;
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'admin', password: 'pw', database: 'postgres' });
    await c.connect();
    const r = await c.query('select 1 as x, $1::text as y', ['hi']);
    assert.deepEqual(r.rows, [{ x: 1, y: 'hi' }]);
    const r2 = await c.query({ name: 'q1', text: 'select $1::int + 1 as z', values: [41] });
    assert.equal(r2.rows[0].z, 42);
    const r3 = await c.query({ name: 'q1', text: 'select $1::int + 1 as z', values: [1] });
    assert.equal(r3.rows[0].z, 2);
    await c.end();
  } finally {
    await dgf.stop();
  }
});
