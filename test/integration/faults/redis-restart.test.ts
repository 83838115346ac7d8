/**
 * Redis stopped and restarted under load (a private redis-server, never the shared one on 56379): while it is
 * down clients get `-ERR` replies promptly, none hangs, /health goes degraded; after the restart the shared
 * connections are reopened, /health is healthy again, and every acknowledged SET has its audit record.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { startDgf, type TestDgf } from '../../helpers/dgf.js';
import { privateRedis, waitHealth, type PrivateBackend } from '../../helpers/backends.js';
import { sleep, startLoad, succeededOps, waitFor, restartUnderLoad } from '../../helpers/fault-load.js';

const WORKERS = 4;
const HANG_MS = 8000;

describe('faults: redis restart under load', () => {
  let backend: PrivateBackend;
  let dgf: TestDgf;
  const clients: Redis[] = [];

  before(async () => {
    backend = await privateRedis();
    await backend.start();
    dgf = await startDgf({
      roles: [{ match: { user: 'app' }, role: 'admin' }],
      listeners: [
        {
          name: 'cache',
          protocol: 'redis',
          listen: '127.0.0.1:0',
          users: [{ name: 'app', password: 'app-pw' }],
          upstream: { url: `redis://127.0.0.1:${backend.port}`, maxConnections: 6, connectTimeoutMs: 1000, replyTimeoutMs: 2000 },
          poolTimeoutMs: 3000,
          options: { memoryPollMs: 0 },
        },
      ],
    });
  });

  after(async () => {
    for (const c of clients) c.disconnect();
    await dgf?.stop();
    await backend?.dispose();
  });

  test('errors while down, reconnect after, nothing acknowledged missing from the audit', async () => {
    const port = dgf.listener('cache').address.port;
    for (let w = 0; w < WORKERS; w++) {
      const c = new Redis({ host: '127.0.0.1', port, username: 'app', password: 'app-pw', maxRetriesPerRequest: 0, retryStrategy: () => 100 });
      c.on('error', () => undefined);
      clients.push(c);
    }
    const load = startLoad(WORKERS, (w, id) => clients[w]!.set(`fault:${id}`, id), { hangMs: HANG_MS, pauseMs: 5 });
    await waitFor('load before the stop', () => load.stats.acked.length >= 40);

    const { stats, errorsWhileDown } = await restartUnderLoad('redis', { backend, load, adminUrl: dgf.adminUrl, workers: WORKERS, refill: WORKERS * 10, waitHealth });
    console.log('redis restart: error kinds', [...new Set(stats.errors.map((e) => e.message.slice(0, 100)))]);
    assert.equal(stats.hung, 0, 'no client may hang');
    assert.ok(errorsWhileDown > 0, 'clients saw errors while the upstream was down');
    for (const e of stats.errors) {
      assert.ok(e.ms < 5000, `an error took ${e.ms} ms: ${e.message}`);
      // Redis's own error reply, not a dropped client connection.
      assert.match(e.message, /^ERR /, `not a Redis error reply: ${e.message}`);
    }

    await sleep(200);
    const ops = await succeededOps(dgf.auditFile);
    const audited = new Set(ops.filter((o) => o.operation === 'set').map((o) => o.object));
    const missing = stats.acked.filter((id) => !audited.has(`fault:${id}`));
    assert.deepEqual(missing.slice(0, 10), [], `${missing.length} acknowledged SETs have no audit record of their success`);
  });
});
