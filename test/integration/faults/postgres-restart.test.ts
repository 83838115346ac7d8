/**
 * PostgreSQL stopped and restarted under load (a private cluster, never the shared one on 55432): while it is
 * down clients get PostgreSQL errors promptly, none hangs, /health goes degraded; after the restart the pool
 * refills, /health is healthy again, and every acknowledged insert has its audit record (and its row).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startDgf, type TestDgf } from '../../helpers/dgf.js';
import { privatePostgres, waitHealth, type PrivateBackend } from '../../helpers/backends.js';
import { sleep, startLoad, succeededOps, waitFor, restartUnderLoad } from '../../helpers/fault-load.js';

const WORKERS = 4;
const HANG_MS = 8000;

describe('faults: postgres restart under load', () => {
  let backend: PrivateBackend;
  let dgf: TestDgf;
  const pools: pg.Pool[] = [];

  before(async () => {
    backend = await privatePostgres();
    await backend.start();
    const direct = new pg.Client({ host: '127.0.0.1', port: backend.port, user: 'postgres', database: 'postgres' });
    await direct.connect();
    await direct.query('create table t (w int not null, id text primary key)');
    await direct.end();
    dgf = await startDgf({
      roles: [{ match: { user: 'app' }, role: 'admin' }],
      listeners: [
        {
          name: 'pg',
          protocol: 'postgres',
          listen: '127.0.0.1:0',
          users: [{ name: 'app', password: 'app-pw' }],
          upstream: { url: `postgres://postgres@127.0.0.1:${backend.port}/postgres?sslmode=disable`, maxConnections: 3, connectTimeoutMs: 1000 },
          poolTimeoutMs: 3000,
        },
      ],
    });
  });

  after(async () => {
    for (const p of pools) await p.end().catch(() => undefined);
    await dgf?.stop();
    await backend?.dispose();
  });

  test('errors while down, refill after, nothing acknowledged missing from the audit', async () => {
    const port = dgf.listener('pg').address.port;
    for (let w = 0; w < WORKERS; w++) {
      const p = new pg.Pool({ host: '127.0.0.1', port, user: 'app', password: 'app-pw', database: 'postgres', max: 1, application_name: `w${w}`, connectionTimeoutMillis: 5000 });
      p.on('error', () => undefined);
      pools.push(p);
    }
    const load = startLoad(WORKERS, (w, id) => pools[w]!.query('insert into t (w, id) values ($1, $2)', [w, id]), { hangMs: HANG_MS, pauseMs: 5 });
    await waitFor('load before the stop', () => load.stats.acked.length >= 40);

    const { stats, errorsWhileDown } = await restartUnderLoad('postgres', { backend, load, adminUrl: dgf.adminUrl, workers: WORKERS, refill: WORKERS * 10, waitHealth });
    console.log('postgres restart: error kinds', [...new Set(stats.errors.map((e) => `${String(e.code)} ${e.message.slice(0, 100)}`))]);
    assert.equal(stats.hung, 0, 'no client may hang');
    assert.ok(stats.maxMs < HANG_MS);
    assert.ok(errorsWhileDown > 0, 'clients saw errors while the upstream was down');
    for (const e of stats.errors) {
      assert.ok(e.ms < 5000, `an error took ${e.ms} ms: ${e.message}`);
      // PostgreSQL's own error (ErrorResponse with a SQLSTATE), not a dropped client connection.
      assert.match(String(e.code), /^[0-9A-Z]{5}$/, `not a PostgreSQL error: ${e.message}`);
    }

    // Every acknowledged insert is in the table and in the audit trail (per worker: application_name).
    const direct = new pg.Client({ host: '127.0.0.1', port: backend.port, user: 'postgres', database: 'postgres' });
    await direct.connect();
    const rows = (await direct.query<{ id: string }>('select id from t')).rows.map((r) => r.id);
    await direct.end();
    const inTable = new Set(rows);
    for (const id of stats.acked) assert.ok(inTable.has(id), `acknowledged insert ${id} is not in the table`);

    await sleep(200);
    const ops = await succeededOps(dgf.auditFile);
    for (let w = 0; w < WORKERS; w++) {
      const acked = stats.acked.filter((id) => id.startsWith(`w${w}-`)).length;
      const audited = ops.filter((o) => o.operation === 'insert' && o.identity['application'] === `w${w}`).length;
      assert.ok(audited >= acked, `worker ${w}: ${acked} inserts acknowledged, ${audited} audited as succeeded`);
    }
  });
});
