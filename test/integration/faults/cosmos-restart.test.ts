/**
 * cosmosdb-server stopped and restarted under load (a private instance, never the shared one on 8081): while it
 * is down clients get Cosmos errors (HTTP 5xx with a JSON `code`) promptly, none hangs, /health goes degraded;
 * after the restart writes succeed again, /health is healthy, and every acknowledged write has its audit record.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CosmosClient } from '@azure/cosmos';
import { request } from 'undici';
import { startDgf, type TestDgf } from '../../helpers/dgf.js';
import { privateCosmos, waitHealth, type PrivateBackend } from '../../helpers/backends.js';
import { sleep, startLoad, succeededOps, waitFor, restartUnderLoad } from '../../helpers/fault-load.js';
import { expectedAuthorization } from '../cosmos/verifying-upstream.js';

const key = (s: string): string => Buffer.from(s.padEnd(32, '#')).toString('base64');
const REAL_KEY = key('the-real-account-key');
const APP_KEY = key('app-key');
const WORKERS = 4;
const HANG_MS = 8000;

describe('faults: cosmosdb-server restart under load', () => {
  let backend: PrivateBackend;
  let dgf: TestDgf;

  const createContainer = async (): Promise<void> => {
    const direct = new CosmosClient({ endpoint: `http://127.0.0.1:${backend.port}`, key: REAL_KEY, connectionPolicy: { enableEndpointDiscovery: false } });
    const { database } = await direct.databases.createIfNotExists({ id: 'faults' });
    await database.containers.createIfNotExists({ id: 'c', partitionKey: { paths: ['/pk'] } });
  };

  before(async () => {
    backend = await privateCosmos();
    await backend.start();
    await createContainer();
    dgf = await startDgf({
      roles: [{ match: { user: 'app' }, role: 'admin' }],
      listeners: [
        {
          name: 'cosmos',
          protocol: 'cosmos',
          listen: '127.0.0.1:0',
          upstream: { endpoint: `http://127.0.0.1:${backend.port}`, key: REAL_KEY, maxConnections: 4, connectTimeoutMs: 1000 },
          users: [{ name: 'app', key: APP_KEY }],
        },
      ],
    });
  });

  after(async () => {
    await dgf?.stop();
    await backend?.dispose();
  });

  test('errors while down, writes after, nothing acknowledged missing from the audit', async () => {
    const port = dgf.listener('cosmos').address.port;
    const path = '/dbs/faults/colls/c/docs';
    const write = async (_w: number, id: string): Promise<void> => {
      const date = new Date().toUTCString();
      const res = await request(`http://127.0.0.1:${port}${path}`, {
        method: 'POST',
        headers: {
          'x-ms-date': date,
          'x-ms-version': '2020-07-15',
          authorization: encodeURIComponent(expectedAuthorization(APP_KEY, 'POST', path, date)),
          'x-ms-documentdb-partitionkey': '["p"]',
          'content-type': 'application/json',
        },
        body: JSON.stringify({ id, pk: 'p', v: 1 }),
      });
      const text = await res.body.text();
      if (res.statusCode >= 300) {
        const err = new Error(`${res.statusCode} ${text.slice(0, 160)}`) as Error & { code?: unknown; status?: number };
        err.status = res.statusCode;
        try {
          err.code = (JSON.parse(text) as { code?: unknown }).code;
        } catch {
          err.code = undefined;
        }
        throw err;
      }
    };
    const load = startLoad(WORKERS, write, { hangMs: HANG_MS, pauseMs: 10 });
    await waitFor('load before the stop', () => load.stats.acked.length >= 30);

    const { stats, errorsWhileDown, startingAt } = await restartUnderLoad('cosmos', {
      backend,
      load,
      adminUrl: dgf.adminUrl,
      workers: WORKERS,
      refill: WORKERS * 5,
      waitHealth,
      // The in-memory server forgot its databases.
      afterStart: createContainer,
    });
    console.log('cosmos restart: error kinds', [...new Set(stats.errors.map((e) => `${String(e.code)} ${e.message.replace(/[0-9.:]+/g, 'N').slice(0, 120)}`))]);
    assert.equal(stats.hung, 0, 'no client may hang');
    assert.ok(errorsWhileDown > 0, 'clients saw errors while the upstream was down');
    // After the restart the in-memory server answers for itself until the container exists again.
    for (const e of stats.errors.filter((x) => x.at < startingAt)) {
      assert.ok(e.ms < 5000, `an error took ${e.ms} ms: ${e.message}`);
      // A Cosmos error body (JSON with a code) answered by dgf, not a dropped connection.
      assert.ok(typeof e.code === 'string' && /^5/.test(e.message), `not a Cosmos service error: ${e.message}`);
    }

    await sleep(200);
    const ops = await succeededOps(dgf.auditFile);
    const objects = ops.map((o) => `${o.operation} ${o.object} ${o.statement}`);
    const missing = stats.acked.filter((id) => !objects.some((o) => o.includes(id)));
    if (missing.length > 0) {
      // Objects name the container, not the document: count instead.
      const writes = ops.filter((o) => /create|insert|write|post/i.test(o.operation) && String(o.object).includes('faults')).length;
      assert.ok(writes >= stats.acked.length, `${stats.acked.length} writes acknowledged, ${writes} audited as succeeded (e.g. ${objects.slice(-3).join(' | ')})`);
    }
  });
});
