/**
 * Cosmos backpressure: a client that stops reading (then reads one byte a second) a query page of ~12 MB. A
 * Cosmos result is paged and dgf holds at most one page per request (bounded by maxResponseBytes, default the
 * listener's maxMessageBytes), and asks for the next page only when the client does, so a slow reader costs one
 * page of memory however large the whole result; other clients keep their rate. A private cosmosdb-server
 * serves it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CosmosClient } from '@azure/cosmos';
import { request } from 'undici';
import { startDgf, type TestDgf } from '../../helpers/dgf.js';
import { privateCosmos, type PrivateBackend } from '../../helpers/backends.js';
import { RssSampler, SlowSocket, mb, rate } from '../../helpers/slow-client.js';
import { expectedAuthorization } from '../cosmos/verifying-upstream.js';

const key = (s: string): string => Buffer.from(s.padEnd(32, '#')).toString('base64');
const REAL_KEY = key('the-real-account-key');
const APP_KEY = key('app-key');
const DOCS = 60;
const DOC_BYTES = 200 * 1024;

function signed(method: string, path: string): Record<string, string> {
  const date = new Date().toUTCString();
  return { 'x-ms-date': date, 'x-ms-version': '2020-07-15', authorization: encodeURIComponent(expectedAuthorization(APP_KEY, method, path, date)) };
}

describe('backpressure: cosmos', () => {
  let backend: PrivateBackend;
  let dgf: TestDgf;
  let port: number;

  before(async () => {
    backend = await privateCosmos();
    await backend.start();
    const direct = new CosmosClient({ endpoint: `http://127.0.0.1:${backend.port}`, key: REAL_KEY, connectionPolicy: { enableEndpointDiscovery: false } });
    const { database } = await direct.databases.createIfNotExists({ id: 'bp' });
    const { container } = await database.containers.createIfNotExists({ id: 'c', partitionKey: { paths: ['/pk'] } });
    const filler = 'y'.repeat(DOC_BYTES);
    for (let i = 0; i < DOCS; i++) await container.items.create({ id: `d${i}`, pk: 'p', body: filler });
    await container.items.create({ id: 'small', pk: 'p', v: 1 });
    dgf = await startDgf({
      roles: [{ match: { user: 'app' }, role: 'admin' }],
      policies: { packs: ['default'] },
      listeners: [
        {
          name: 'cosmos',
          protocol: 'cosmos',
          listen: '127.0.0.1:0',
          upstream: { endpoint: `http://127.0.0.1:${backend.port}`, key: REAL_KEY, maxConnections: 4 },
          users: [{ name: 'app', key: APP_KEY }],
        },
      ],
    });
    port = dgf.listener('cosmos').address.port;
  });

  after(async () => {
    await dgf?.stop();
    await backend?.dispose();
  });

  test('a slow reader of a ~12 MB page: one page held, memory bounded, others keep their rate', async () => {
    const small = '/dbs/bp/colls/c/docs/small';
    const read = async (): Promise<void> => {
      const res = await request(`http://127.0.0.1:${port}${small}`, { headers: { ...signed('GET', small), 'x-ms-documentdb-partitionkey': '["p"]' } });
      await res.body.text();
      assert.equal(res.statusCode, 200);
    };
    const othersRate = (ms: number): Promise<number> => rate(read, ms, 2);
    await othersRate(1000); // warm-up
    const baseline = await othersRate(1500);

    const docs = '/dbs/bp/colls/c/docs';
    const body = JSON.stringify({ query: 'SELECT * FROM c', parameters: [] });
    const headers = {
      ...signed('POST', docs),
      'x-ms-documentdb-isquery': 'true',
      'content-type': 'application/query+json',
      'x-ms-documentdb-query-enablecrosspartition': 'true',
      'x-ms-max-item-count': '1000',
      'content-length': String(Buffer.byteLength(body)),
    };
    const slow = await SlowSocket.connect(port);
    const rss = new RssSampler();
    slow.becomeSlow();
    slow.write(`POST ${docs} HTTP/1.1\r\nHost: 127.0.0.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n${body}`);
    const during = await othersRate(4000);
    rss.stop();
    const closed = slow.closed;
    const head = (slow.socket.read(64) as Buffer | null)?.toString('latin1') ?? '';
    slow.destroy();
    console.log(`cosmos: others ${baseline.toFixed(0)} -> ${during.toFixed(0)} req/s, RSS +${mb(rss.growthMb)} while ~${Math.round((DOCS * DOC_BYTES) / 1048576)} MB were due, slow client read ${slow.trickled} B`);
    assert.equal(closed, false, 'the slow client must not be disconnected');
    assert.match(head, /1\.1 200 OK/); // the first bytes went to the trickle
    assert.ok(rss.growthMb < 200, `RSS grew ${mb(rss.growthMb)}`);
    assert.ok(during >= baseline * 0.5, `others slowed from ${baseline} to ${during} req/s`);
  });
});
