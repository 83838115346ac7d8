/**
 * Azurite stopped and restarted under load (a private instance, never the shared one on 10000): while it is
 * down clients get Blob service errors (HTTP 5xx with an x-ms-error-code) promptly, none hangs, /health goes
 * degraded; after the restart uploads succeed again, /health is healthy, and every acknowledged upload has its
 * audit record.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { startDgf, type TestDgf } from '../../helpers/dgf.js';
import { privateAzurite, waitHealth, type PrivateBackend } from '../../helpers/backends.js';
import { sleep, startLoad, succeededOps, waitFor, restartUnderLoad } from '../../helpers/fault-load.js';

const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
const APP_KEY = Buffer.from('app-key'.padEnd(32, '#')).toString('base64');
const WORKERS = 4;
const HANG_MS = 8000;
const CONTAINER = 'faults';

describe('faults: azurite restart under load', () => {
  let backend: PrivateBackend;
  let dgf: TestDgf;

  const createContainer = async (): Promise<void> => {
    const direct = new BlobServiceClient(`http://127.0.0.1:${backend.port}/devstoreaccount1`, new StorageSharedKeyCredential('devstoreaccount1', AZURITE_KEY));
    await direct.getContainerClient(CONTAINER).createIfNotExists();
  };

  before(async () => {
    backend = await privateAzurite();
    await backend.start();
    await createContainer();
    dgf = await startDgf({
      roles: [{ match: { user: 'app' }, role: 'admin' }],
      listeners: [
        {
          name: 'blob',
          protocol: 'blob',
          listen: '127.0.0.1:0',
          upstream: { url: `http://127.0.0.1:${backend.port}/devstoreaccount1`, account: 'devstoreaccount1', key: AZURITE_KEY, maxConnections: 4, connectTimeoutMs: 1000 },
          users: [{ name: 'app', key: APP_KEY }],
          options: { scanStorageOnStart: false },
        },
      ],
    });
  });

  after(async () => {
    await dgf?.stop();
    await backend?.dispose();
  });

  test('errors while down, uploads after, nothing acknowledged missing from the audit', async () => {
    const port = dgf.listener('blob').address.port;
    const client = new BlobServiceClient(`http://127.0.0.1:${port}/app`, new StorageSharedKeyCredential('app', APP_KEY), { retryOptions: { maxTries: 1 } });
    const container = client.getContainerClient(CONTAINER);
    const body = Buffer.from('x'.repeat(256));
    const load = startLoad(WORKERS, (_w, id) => container.getBlockBlobClient(`${id}.txt`).upload(body, body.length), { hangMs: HANG_MS, pauseMs: 10 });
    await waitFor('load before the stop', () => load.stats.acked.length >= 30);

    const { stats, errorsWhileDown, startingAt } = await restartUnderLoad('blob', {
      backend,
      load,
      adminUrl: dgf.adminUrl,
      workers: WORKERS,
      refill: WORKERS * 5,
      waitHealth,
      // In-memory Azurite forgot its containers.
      afterStart: createContainer,
    });
    console.log('blob restart: error kinds', [...new Set(stats.errors.map((e) => `${String(e.code)} ${e.message.split('\n')[0]!.replace(/[0-9.:]+$/, '')}`))]);
    assert.equal(stats.hung, 0, 'no client may hang');
    assert.ok(errorsWhileDown > 0, 'clients saw errors while the upstream was down');
    // After the restart the in-memory Azurite answers for itself (ContainerNotFound) until the container exists again.
    const whileDown = stats.errors.filter((e) => e.at < startingAt);
    for (const e of whileDown) {
      assert.ok(e.ms < 5000, `an error took ${e.ms} ms: ${e.message}`);
      // A storage service error answered by dgf (x-ms-error-code), not a dropped connection.
      assert.ok(typeof e.code === 'string' && e.code.length > 0 && !/^E[A-Z]+$/.test(e.code), `not a Blob service error: ${String(e.code)} ${e.message}`);
    }

    await sleep(200);
    const ops = await succeededOps(dgf.auditFile);
    const audited = new Set(ops.map((o) => `${o.operation} ${o.object}`));
    const objects = [...new Set(ops.map((o) => `${o.operation} ${o.object}`))].slice(0, 3);
    const missing = stats.acked.filter((id) => ![...audited].some((a) => a.endsWith(`/${id}.txt`)));
    assert.deepEqual(missing.slice(0, 10), [], `${missing.length} acknowledged uploads have no audit record of their success (audited e.g. ${objects.join(', ')})`);
  });
});
