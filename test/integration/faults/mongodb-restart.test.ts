/**
 * The MongoDB-wire server (a private CongoDB, never the shared one on 57017) stopped and restarted under load:
 * while it is down clients get MongoDB error replies promptly, none hangs, /health goes degraded; after the
 * restart the driver's pool reconnects, /health is healthy again, and every acknowledged insert has its audit
 * record.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MongoClient } from 'mongodb';
import { startDgf, type TestDgf } from '../../helpers/dgf.js';
import { privateCongo, waitHealth, type PrivateBackend } from '../../helpers/backends.js';
import { sleep, startLoad, succeededOps, waitFor, restartUnderLoad } from '../../helpers/fault-load.js';

const WORKERS = 3;
const HANG_MS = 8000;

describe('faults: mongodb restart under load', () => {
  let backend: PrivateBackend;
  let dgf: TestDgf;
  const clients: MongoClient[] = [];

  before(async () => {
    backend = await privateCongo();
    await backend.start();
    dgf = await startDgf({
      roles: [{ match: { user: 'app' }, role: 'admin' }],
      listeners: [
        {
          name: 'mongo',
          protocol: 'mongodb',
          listen: '127.0.0.1:0',
          users: [{ name: 'app', password: 'app-pw' }],
          upstream: { url: `mongodb://127.0.0.1:${backend.port}/?directConnection=true`, maxConnections: 4, connectTimeoutMs: 1000 },
        },
      ],
    });
  });

  after(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    await dgf?.stop();
    await backend?.dispose();
  });

  test('errors while down, reconnect after, nothing acknowledged missing from the audit', async () => {
    const port = dgf.listener('mongo').address.port;
    for (let w = 0; w < WORKERS; w++) {
      // No retries on the client side: each error the application sees is counted.
      clients.push(new MongoClient(`mongodb://app:app-pw@127.0.0.1:${port}/app?directConnection=true`, { appName: `w${w}`, retryWrites: false, retryReads: false, serverSelectionTimeoutMS: 5000 }));
    }
    const load = startLoad(WORKERS, (w, id) => clients[w]!.db('app').collection('faults').insertOne({ tag: id, w }), { hangMs: HANG_MS, pauseMs: 10 });
    await waitFor('load before the stop', () => load.stats.acked.length >= 30);

    const { stats, errorsWhileDown, stoppedAt, restartedAt } = await restartUnderLoad('mongodb', { backend, load, adminUrl: dgf.adminUrl, workers: WORKERS, refill: WORKERS * 5, waitHealth });
    console.log('mongodb restart: error kinds', [...new Set(stats.errors.map((e) => `${String(e.code)} ${e.message.slice(0, 100)}`))]);
    const hung = stats.errors.filter((e) => e.message.startsWith('hung')).map((e) => `started ${e.at - e.ms - stoppedAt} ms after the stop (restart at +${restartedAt - stoppedAt} ms)`);
    assert.equal(stats.hung, 0, `no client may hang: ${hung.join('; ')}`);
    assert.ok(errorsWhileDown > 0, 'clients saw errors while the upstream was down');
    for (const e of stats.errors) {
      assert.ok(e.ms < 5000, `an error took ${e.ms} ms: ${e.message}`);
      // A MongoDB error reply (numeric code from dgf), not a dropped client connection.
      assert.equal(typeof e.code, 'number', `not a MongoDB error reply: ${e.message}`);
    }

    await sleep(200);
    const ops = await succeededOps(dgf.auditFile);
    for (let w = 0; w < WORKERS; w++) {
      const acked = stats.acked.filter((id) => id.startsWith(`w${w}-`)).length;
      const audited = ops.filter((o) => o.operation === 'insert' && o.identity['application'] === `w${w}`).length;
      assert.ok(audited >= acked, `worker ${w}: ${acked} inserts acknowledged, ${audited} audited as succeeded`);
    }
  });
});
