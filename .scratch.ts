import pg from 'pg';
import { startDgf } from './test/helpers/dgf.js';
import { governedListener, ROLES } from './test/fixtures/postgres-governance/database.js';
const dgf = await startDgf({ listeners: [governedListener('dgf_scratch')], roles: ROLES });
const port = dgf.listener('pg').address.port;
for (const user of ['analyst', 'dpo']) {
  const c = new pg.Client({ host: '127.0.0.1', port, user, password: user, database: 'dgf_scratch', binary: true });
  await c.connect();
  const r = await c.query('select c.id, email as x, date_of_birth, balance, profile, created_at from customers c join orders o on o.customer_id = c.id where c.id <= $1 order by o.id limit 2', [3]);
  console.log(user, r.rows, r.fields.map(f => [f.name, f.format]));
  await c.end();
}
await dgf.stop();
