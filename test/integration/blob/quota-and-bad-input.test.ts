/**
 * Blob quotas (monthly transactions, storage) answered 403 with x-ms-error-code, and uploads that misbehave
 * (stall, overflow the storage quota) refused for that client only.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { randomUUID } from 'node:crypto';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { startDgf, type TestDgf } from '../../helpers/dgf.js';
import { signBlobRequest } from '../../../protocols/blob/signing.js';

const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
const APP_KEY = Buffer.from('app-key'.padEnd(32, '#')).toString('base64');
const upstream = { url: 'http://127.0.0.1:10000/devstoreaccount1', account: 'devstoreaccount1', key: AZURITE_KEY };

function raw(port: number, head: string, body: Buffer | null, holdOpenMs: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let reply = '';
    socket.on('data', (d: Buffer) => (reply += d.toString('latin1')));
    socket.on('close', () => resolve(reply));
    socket.on('error', () => resolve(reply));
    socket.write(head);
    if (body) socket.write(body);
    setTimeout(() => socket.destroy(), holdOpenMs).unref();
  });
}

describe('blob: quotas and bad input', () => {
  let dgf: TestDgf;
  const container = `dgf-q-${randomUUID().slice(0, 8)}`;
  const client = (name: string): BlobServiceClient =>
    new BlobServiceClient(`http://127.0.0.1:${dgf.listener(name).address.port}/app`, new StorageSharedKeyCredential('app', APP_KEY));

  before(async () => {
    dgf = await startDgf({
      roles: [{ match: { user: 'app' }, role: 'admin' }],
      listeners: [
        {
          name: 'tx',
          protocol: 'blob',
          listen: '127.0.0.1:0',
          upstream,
          users: [{ name: 'app', key: APP_KEY }],
          quota: { preset: 'blob-free', limits: { transactionsPerMonth: 4 } },
          options: { scanStorageOnStart: false },
        },
        {
          name: 'storage',
          protocol: 'blob',
          listen: '127.0.0.1:0',
          upstream,
          users: [{ name: 'app', key: APP_KEY }],
          quota: { preset: 'blob-free', limits: { storageBytes: 1024 * 1024 } },
          options: { scanStorageOnStart: false, bodyIdleTimeoutMs: 400 },
        },
      ],
    });
  });

  after(async () => {
    await client('storage').getContainerClient(container).deleteIfExists().catch(() => undefined);
    await dgf?.stop();
  });

  test('the monthly transaction quota answers 403 TransactionQuotaExceeded once spent', async () => {
    const svc = client('tx');
    const c = svc.getContainerClient(`${container}-tx`);
    await c.create();
    await c.getBlockBlobClient('a.txt').upload('a', 1);
    await c.getProperties();
    await c.delete();
    await assert.rejects(c.getProperties(), (err: { statusCode?: number; code?: string; message: string }) => {
      assert.equal(err.statusCode, 403);
      assert.equal(err.code, 'TransactionQuotaExceeded');
      assert.match(err.message, /transaction quota exceeded: 4 of 4/);
      return true;
    });
  });

  test('an upload past the storage quota is cut off with 413, later writes get 403 StorageQuotaExceeded', async () => {
    const c = client('storage').getContainerClient(container);
    await c.create();
    await c.getBlockBlobClient('fits.bin').upload(Buffer.alloc(600 * 1024), 600 * 1024);
    await assert.rejects(c.getBlockBlobClient('too-big.bin').upload(Buffer.alloc(600 * 1024), 600 * 1024), (err: { statusCode?: number }) => {
      assert.equal(err.statusCode, 413);
      return true;
    });
    // Exactly what is left: the account is then full.
    const rest = 1024 * 1024 - 600 * 1024;
    await c.getBlockBlobClient('fits-2.bin').upload(Buffer.alloc(rest), rest);
    await assert.rejects(c.getBlockBlobClient('more.bin').upload('x', 1), (err: { statusCode?: number; code?: string }) => {
      assert.equal(err.statusCode, 403);
      assert.equal(err.code, 'StorageQuotaExceeded');
      return true;
    });
    // Deleting frees the quota again; reads were never refused.
    await c.getBlobClient('fits.bin').delete();
    await c.getBlockBlobClient('more.bin').upload('x', 1);
    assert.equal((await c.getBlobClient('fits-2.bin').getProperties()).contentLength, rest);
  });

  test('an upload that stalls is answered 408 and the connection closed; other clients are unaffected', async () => {
    const port = dgf.listener('storage').address.port;
    const path = `/app/${container}/stalled.txt`;
    const headers: Record<string, string> = {
      'x-ms-date': new Date().toUTCString(),
      'x-ms-version': '2021-12-02',
      'x-ms-blob-type': 'BlockBlob',
      'content-length': '1000',
    };
    const authorization = signBlobRequest('SharedKey', 'app', Buffer.from(APP_KEY, 'base64'), { method: 'PUT', path, query: '', headers });
    const head = `PUT ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${Object.entries({ ...headers, authorization })
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('')}\r\n`;
    const [reply] = await Promise.all([
      raw(port, head, Buffer.from('only a few bytes'), 5000),
      client('storage').getContainerClient(container).getProperties(),
    ]);
    assert.match(reply, /^HTTP\/1\.1 408/);
    assert.match(reply, /x-ms-error-code: OperationTimedOut/i);
  });

  test('a non-HTTP byte stream gets 400', async () => {
    const reply = await raw(dgf.listener('storage').address.port, '\x00\x01\x02 not http at all\r\n\r\n', null, 2000);
    assert.match(reply, /^HTTP\/1\.1 400/);
  });
});
