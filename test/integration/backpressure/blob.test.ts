/**
 * Blob backpressure: a client that stops reading (then reads one byte a second) a 300 MB download. dgf stops
 * reading the upstream response while the client's socket is full (pipeBody), so its memory stays bounded and
 * other clients keep their rate. A private Azurite serves it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { startDgf, type TestDgf } from '../../helpers/dgf.js';
import { privateAzurite, type PrivateBackend } from '../../helpers/backends.js';
import { RssSampler, SlowSocket, mb, rate } from '../../helpers/slow-client.js';
import { signBlobRequest } from '../../../protocols/blob/signing.js';

const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
const APP_KEY = Buffer.from('app-key'.padEnd(32, '#')).toString('base64');
const SIZE = 300 * 1024 * 1024;

describe('backpressure: blob', () => {
  let backend: PrivateBackend;
  let dgf: TestDgf;
  let port: number;

  before(async () => {
    backend = await privateAzurite();
    await backend.start();
    const direct = new BlobServiceClient(`http://127.0.0.1:${backend.port}/devstoreaccount1`, new StorageSharedKeyCredential('devstoreaccount1', AZURITE_KEY));
    const c = direct.getContainerClient('bpc');
    await c.create();
    const chunk = Buffer.alloc(4 * 1024 * 1024, 'b');
    let sent = 0;
    const source = new Readable({
      read() {
        if (sent >= SIZE) this.push(null);
        else {
          sent += chunk.length;
          this.push(chunk);
        }
      },
    });
    await c.getBlockBlobClient('big.bin').uploadStream(source, 8 * 1024 * 1024, 2);
    await c.getBlockBlobClient('small.txt').upload('s', 1);
    dgf = await startDgf({
      roles: [{ match: { user: 'app' }, role: 'admin' }],
      policies: { packs: ['default'] },
      listeners: [
        {
          name: 'blob',
          protocol: 'blob',
          listen: '127.0.0.1:0',
          upstream: { url: `http://127.0.0.1:${backend.port}/devstoreaccount1`, account: 'devstoreaccount1', key: AZURITE_KEY, maxConnections: 4 },
          users: [{ name: 'app', key: APP_KEY }],
          options: { scanStorageOnStart: false },
        },
      ],
    });
    port = dgf.listener('blob').address.port;
  });

  after(async () => {
    await dgf?.stop();
    await backend?.dispose();
  });

  test('a slow reader of a 300 MB blob: upstream reads paused, memory bounded, others keep their rate', async () => {
    const client = new BlobServiceClient(`http://127.0.0.1:${port}/app`, new StorageSharedKeyCredential('app', APP_KEY), { retryOptions: { maxTries: 1 } });
    const small = client.getContainerClient('bpc').getBlobClient('small.txt');
    const othersRate = (ms: number): Promise<number> => rate(() => small.getProperties(), ms, 2);
    await othersRate(1000); // warm-up
    const baseline = await othersRate(1500);

    const path = '/app/bpc/big.bin';
    const headers: Record<string, string> = { 'x-ms-date': new Date().toUTCString(), 'x-ms-version': '2021-12-02' };
    const authorization = signBlobRequest('SharedKey', 'app', Buffer.from(APP_KEY, 'base64'), { method: 'GET', path, query: '', headers });
    const slow = await SlowSocket.connect(port);
    const rss = new RssSampler();
    slow.becomeSlow();
    slow.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${Object.entries({ ...headers, authorization }).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`);
    const during = await othersRate(4000);
    rss.stop();
    const closed = slow.closed;
    const head = (slow.socket.read(64) as Buffer | null)?.toString('latin1') ?? '';
    slow.destroy();
    console.log(`blob: others ${baseline.toFixed(0)} -> ${during.toFixed(0)} req/s, RSS +${mb(rss.growthMb)} while ${SIZE / 1048576} MB were due, slow client read ${slow.trickled} B`);
    assert.equal(closed, false, 'the slow client must not be disconnected');
    assert.match(head, /1\.1 200 OK/); // the first bytes went to the trickle
    assert.ok(rss.growthMb < 200, `RSS grew ${mb(rss.growthMb)}`);
    assert.ok(during >= baseline * 0.5, `others slowed from ${baseline} to ${during} req/s`);
  });
});
