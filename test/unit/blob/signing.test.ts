import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import {
  blobStringToSign,
  canonicalHeaders,
  canonicalResource,
  canonicalResourceLite,
  parseBlobAuthorization,
  signBlobRequest,
  verifyBlobSignature,
  type SignableRequest,
} from '../../../protocols/blob/signing.js';

const KEY = Buffer.from('the-dgf-issued-key-for-analyst!!');

describe('blob Shared Key signing', () => {
  test('canonicalized headers and resource', () => {
    assert.equal(
      canonicalHeaders({ 'x-ms-version': '2021-12-02', 'x-ms-date': 'D', 'content-type': 'x', 'x-ms-meta-a': '  two   words ' }),
      'x-ms-date:D\nx-ms-meta-a:two words\nx-ms-version:2021-12-02\n',
    );
    assert.equal(canonicalResource('acct', '/c/b%20c', 'comp=list&Restype=container&include=metadata&include=deleted'), '/acct/c/b%20c\ncomp:list\ninclude:deleted,metadata\nrestype:container');
    assert.equal(canonicalResourceLite('acct', '/c', 'restype=container&comp=list'), '/acct/c?comp=list');
  });

  test('Shared Key string to sign: empty content-length for 0, Lite keeps four fields', () => {
    const req: SignableRequest = { method: 'put', path: '/acct/c', query: 'restype=container', headers: { 'content-length': '0', 'x-ms-date': 'D' } };
    assert.equal(blobStringToSign('SharedKey', 'acct', req), 'PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:D\n/acct/acct/c\nrestype:container');
    assert.equal(blobStringToSign('SharedKeyLite', 'acct', req), 'PUT\n\n\n\nx-ms-date:D\n/acct/acct/c');
  });

  test('authorization header parsing', () => {
    assert.deepEqual(parseBlobAuthorization('SharedKey acct:abc+/='), { scheme: 'SharedKey', account: 'acct', signature: 'abc+/=' });
    assert.equal(parseBlobAuthorization('SharedKeyLite a:b')!.scheme, 'SharedKeyLite');
    assert.equal(parseBlobAuthorization('Bearer eyJ'), null);
    assert.equal(parseBlobAuthorization('SharedKey nocolon'), null);
  });

  describe('signatures made by @azure/storage-blob verify (captured on loopback) and re-sign for another account', () => {
    const captured: SignableRequest[] = [];
    let server: http.Server;
    let url: string;
    before(async () => {
      server = http.createServer((req, res) => {
        const headers: Record<string, string> = {};
        for (let i = 0; i < req.rawHeaders.length; i += 2) headers[req.rawHeaders[i]!.toLowerCase()] = req.rawHeaders[i + 1]!;
        const q = req.url!.indexOf('?');
        captured.push({ method: req.method!, path: q < 0 ? req.url! : req.url!.slice(0, q), query: q < 0 ? '' : req.url!.slice(q + 1), headers });
        req.resume();
        req.on('end', () => {
          res.writeHead(201, { 'content-length': '0', 'x-ms-request-id': '1', etag: '"e"', 'last-modified': new Date().toUTCString() });
          res.end();
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/analyst`;
    });
    after(() => new Promise<void>((r) => server.close(() => r())));

    test('container create, upload with metadata and content headers, block staging', async () => {
      const svc = new BlobServiceClient(url, new StorageSharedKeyCredential('analyst', KEY.toString('base64')));
      const c = svc.getContainerClient('my-container');
      await c.create({ metadata: { team: 'a b' } }).catch(() => undefined);
      await c
        .getBlockBlobClient('dir/ä file.txt')
        .upload('hello', 5, { metadata: { Owner: 'x' }, blobHTTPHeaders: { blobContentType: 'text/plain', blobContentLanguage: 'en', blobContentEncoding: 'identity' } })
        .catch(() => undefined);
      await c.getBlockBlobClient('b').stageBlock(Buffer.from('blk').toString('base64'), 'abc', 3).catch(() => undefined);
      assert.ok(captured.length >= 3);
      for (const req of captured) {
        const auth = parseBlobAuthorization(req.headers.authorization)!;
        assert.equal(auth.account, 'analyst');
        assert.ok(verifyBlobSignature(auth, KEY, req), `${req.method} ${req.path}?${req.query}`);
        assert.equal(verifyBlobSignature(auth, Buffer.from('another key'), req), null);
        assert.equal(verifyBlobSignature(auth, KEY, { ...req, path: `${req.path}x` }), null);
        // Re-signing for the real account yields what the service verifies for that account and path.
        const upstream = { ...req, path: req.path.replace('/analyst', '/devstoreaccount1') };
        const resigned = parseBlobAuthorization(signBlobRequest('SharedKey', 'devstoreaccount1', KEY, upstream))!;
        assert.ok(verifyBlobSignature(resigned, KEY, upstream));
      }
    });
  });
});
