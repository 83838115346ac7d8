import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBlobRequest } from '../../../protocols/blob/request.js';

const accounts = new Set(['analyst', 'app']);
const parse = (method: string, url: string, headers: Record<string, string> = {}, host = '127.0.0.1:10010') => {
  const q = url.indexOf('?');
  return parseBlobRequest(method, host, q < 0 ? url : url.slice(0, q), q < 0 ? '' : url.slice(q + 1), headers, (n) => accounts.has(n));
};

describe('blob request classification', () => {
  test('path-style and host-style addressing', () => {
    const p = parse('GET', '/analyst/photos/2024/a%20b.jpg');
    assert.equal(p.account, 'analyst');
    assert.equal(p.style, 'path');
    assert.equal(p.resourcePath, '/photos/2024/a%20b.jpg');
    assert.equal(p.container, 'photos');
    assert.equal(p.blob, '2024/a b.jpg');
    assert.deepEqual(p.objects, ['photos/2024/a b.jpg']);
    const h = parse('GET', '/photos/a.jpg', {}, 'app.blob.dgf.internal:10010');
    assert.equal(h.account, 'app');
    assert.equal(h.style, 'host');
    assert.equal(h.container, 'photos');
    // An IP or localhost host is never host-style.
    assert.equal(parse('GET', '/app/c?restype=container', {}, 'localhost:10010').style, 'path');
  });

  test('service, container and blob operations', () => {
    const cases: Array<[string, string, Record<string, string>, string, string]> = [
      ['GET', '/app?comp=list', {}, 'list-containers', 'read'],
      ['GET', '/app/?restype=service&comp=properties', {}, 'get-service-properties', 'read'],
      ['PUT', '/app/?restype=service&comp=properties', {}, 'set-service-properties', 'admin'],
      ['PUT', '/app/c?restype=container', {}, 'create-container', 'ddl'],
      ['PUT', '/app/c?restype=container', { 'x-ms-blob-public-access': 'blob' }, 'set-public-access', 'admin'],
      ['PUT', '/app/c?restype=container&comp=acl', { 'x-ms-blob-public-access': 'container' }, 'set-public-access', 'admin'],
      ['PUT', '/app/c?restype=container&comp=acl', {}, 'set-container-acl', 'admin'],
      ['DELETE', '/app/c?restype=container', {}, 'delete-container', 'ddl'],
      ['GET', '/app/c?restype=container&comp=list&prefix=a', {}, 'list-blobs', 'read'],
      ['PUT', '/app/c/b', {}, 'put-blob', 'write'],
      ['PUT', '/app/c/b', { 'x-ms-copy-source': 'http://x/y' }, 'copy-blob', 'write'],
      ['PUT', '/app/c/b?comp=block&blockid=AAAA', {}, 'put-block', 'write'],
      ['PUT', '/app/c/b?comp=blocklist', {}, 'put-block-list', 'write'],
      ['GET', '/app/c/b?comp=blocklist', {}, 'get-block-list', 'read'],
      ['PUT', '/app/c/b?comp=appendblock', {}, 'append-block', 'write'],
      ['GET', '/app/c/b', {}, 'get-blob', 'read'],
      ['HEAD', '/app/c/b', {}, 'get-blob-properties', 'read'],
      ['DELETE', '/app/c/b', {}, 'delete-blob', 'write'],
      ['PUT', '/app/c/b?comp=metadata', {}, 'set-blob-metadata', 'write'],
      ['PUT', '/app/c/b?comp=lease', {}, 'blob-lease', 'write'],
      ['PUT', '/app/c?comp=lease&restype=container', {}, 'container-lease', 'write'],
      ['POST', '/app/?comp=batch', {}, 'batch', 'write'],
      ['POST', '/app/c/b?comp=query', {}, 'query-blob', 'read'],
    ];
    for (const [method, url, headers, operation, kind] of cases) {
      const r = parse(method, url, headers);
      assert.equal(r.operation, operation, `${method} ${url}`);
      assert.equal(r.kind, kind, `${method} ${url}`);
    }
    assert.equal(parse('PUT', '/app/c/b').uploadsContent, true);
    assert.equal(parse('PUT', '/app/c/b?comp=block&blockid=x').uploadsContent, true);
    assert.equal(parse('PUT', '/app/c/b?comp=blocklist').uploadsContent, false);
    assert.equal(parse('GET', '/app/c/b').downloadsContent, true);
  });

  test('malformed URLs are refused', () => {
    assert.throws(() => parse('GET', '/'), /names no account/);
    assert.throws(() => parse('GET', '/app/c'), /restype=container/);
    assert.throws(() => parse('GET', '/app/c/%E0%A4%A'), /percent-encoding/);
    assert.throws(() => parse('PUT', '/app/c/b?comp=nonsense'), /unsupported/);
  });
});
