/** Quotas (storage polled with pg_database_size, upstream connections) and upstream loss. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { direct, startPgDgf } from '../../fixtures/postgres/setup.js';

interface Usage {
  resource: string;
  used: number;
  limit: number;
  status: string;
}

async function usageOf(adminUrl: string): Promise<Usage[]> {
  const body = (await (await fetch(`${adminUrl}/api/v1/monitoring/usage`)).json()) as Record<string, unknown>;
  const text = JSON.stringify(body);
  // The shape is the admin API's; find this listener's resources wherever they are listed.
  const found: Usage[] = [];
  JSON.parse(text, (_k, v: unknown) => {
    if (v && typeof v === 'object' && 'resource' in v && 'used' in v) found.push(v as Usage);
    return v;
  });
  return found;
}

describe('quotas', () => {
  test('storage over its limit: writes refused with 53100 naming the quota, reads still served; usage visible', async () => {
    const d = await direct();
    await d.query('drop table if exists wire_quota; create table wire_quota (id int)');
    await d.end();
    const { dgf, port } = await startPgDgf({ options: { storagePollMs: 100 }, quota: { preset: 'supabase-free', limits: { storageBytes: 1024 } } });
    try {
      const c = new pg.Client({ host: '127.0.0.1', port, user: 'admin', password: 'adminpw', database: 'postgres' });
      await c.connect();
      await c.query('select 1');
      let storage: Usage | undefined;
      for (let i = 0; i < 50 && !(storage && storage.used > 0); i++) {
        await new Promise((r) => setTimeout(r, 100));
        storage = (await usageOf(dgf.adminUrl)).find((u) => u.resource === 'storage');
      }
      assert.ok(storage && storage.used > 1024, 'pg_database_size was polled into the storage quota');
      await assert.rejects(c.query('insert into wire_quota values (1)'), (e: Error & { code?: string }) => e.code === '53100' && /storage/i.test(e.message));
      await assert.rejects(c.query({ name: 'ins', text: 'insert into wire_quota values ($1)', values: [2] }), (e: Error & { code?: string }) => e.code === '53100');
      assert.equal((await c.query('select count(*)::int as n from wire_quota')).rows[0].n, 0);
      const connections = (await usageOf(dgf.adminUrl)).find((u) => u.resource === 'connections');
      assert.ok(connections && connections.limit === 2 && connections.used >= 1 && connections.used <= 2);
      await c.end();
    } finally {
      await dgf.stop();
      const d2 = await direct();
      await d2.query('drop table if exists wire_quota');
      await d2.end();
    }
  });
});

describe('upstream loss', () => {
  test('the upstream backend dies under a client: FATAL 08006 for that client, the others and the pool carry on', async () => {
    const { dgf, port } = await startPgDgf({ maxConnections: 2 });
    const checker = await direct();
    try {
      const a = new pg.Client({ host: '127.0.0.1', port, user: 'admin', password: 'adminpw', database: 'postgres' });
      a.on('error', () => undefined);
      await a.connect();
      await a.query('begin');
      const pid = (await a.query('select pg_backend_pid() as p')).rows[0].p as number;
      // Capture the outcome at once: the error can arrive while the test still awaits pg_terminate_backend.
      const outcome = a.query('select pg_sleep(5)').then(
        () => null,
        (e: Error & { code?: string }) => e,
      );
      await new Promise((r) => setTimeout(r, 200));
      await checker.query('select pg_terminate_backend($1)', [pid]);
      const failure = await outcome;
      assert.ok(failure, 'the query on the killed backend must fail');
      assert.ok(failure.code === '57P01' || failure.code === '08006' || /terminat/.test(failure.message), String(failure));
      // An idle pooled connection killed behind dgf's back is dropped, and a new one is opened on demand.
      const b = new pg.Client({ host: '127.0.0.1', port, user: 'admin', password: 'adminpw', database: 'postgres' });
      await b.connect();
      const pidB = (await b.query('select pg_backend_pid() as p')).rows[0].p as number;
      await checker.query('select pg_terminate_backend($1)', [pidB]);
      await new Promise((r) => setTimeout(r, 200));
      for (let i = 0; i < 3; i++) assert.equal((await b.query('select 5 as v')).rows[0].v, 5);
      await b.end();
    } finally {
      await checker.end();
      await dgf.stop();
    }
  });
});
