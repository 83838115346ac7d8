/**
 * Property-based tests of the Blob Storage request parser: random verbs, hosts, paths and queries give a
 * classification or a BlobRequestError, nothing else; path-style and host-style URLs round-trip the account,
 * container and blob name; dot segments are always refused.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BlobRequestError, locateAccount, parseBlobRequest } from '../../../protocols/blob/request.js';
import { check, onlyErrors } from './fuzz-kit.js';

const SEED = 0x424c; // 'BL'

const METHODS = ['GET', 'PUT', 'HEAD', 'DELETE', 'POST', 'OPTIONS', 'patch', ''];
const COMPS = ['list', 'properties', 'metadata', 'acl', 'lease', 'block', 'blocklist', 'appendblock', 'page', 'tags', 'batch', 'undelete', 'copy', 'query', 'weird'];
const isAccount = (name: string): boolean => name === 'acct' || name === 'devstoreaccount1';
const seg = fc.oneof(
  fc.string({ minLength: 1, maxLength: 10 }).map(encodeURIComponent),
  fc.constantFrom('.', '..', '%', '%zz', '%2e%2E', '', 'a%2Fb', '%00'),
);
const pathArb = fc.array(seg, { maxLength: 6 }).map((s) => `/${s.join('/')}`);
const queryArb = fc.oneof(
  fc.tuple(fc.option(fc.constantFrom(...COMPS)), fc.option(fc.constantFrom('container', 'service', 'account', 'x'))).map(([c, r]) =>
    [c !== null ? `comp=${c}` : '', r !== null ? `restype=${r}` : ''].filter(Boolean).join('&'),
  ),
  fc.string({ maxLength: 30 }),
  fc.constantFrom('comp=%', 'restype=%zz', '&&&', '=', 'COMP=LIST'),
);
const hostArb = fc.option(fc.oneof(fc.constantFrom('127.0.0.1:10010', 'localhost', 'acct.blob.example.com', '[::1]:10010', 'other.example'), fc.string({ maxLength: 20 })), { nil: undefined });
const headersArb = fc.dictionary(fc.constantFrom('x-ms-copy-source', 'x-ms-blob-public-access', 'x-other'), fc.oneof(fc.string({ maxLength: 8 }), fc.array(fc.string({ maxLength: 4 }), { maxLength: 2 })));

describe('fuzz: blob request parser', () => {
  test('random requests: a classification or BlobRequestError, never anything else', () => {
    check(
      fc.property(fc.constantFrom(...METHODS), hostArb, fc.oneof(pathArb, fc.string({ maxLength: 40 })), queryArb, headersArb, (m, host, path, query, headers) => {
        onlyErrors(() => {
          const r = parseBlobRequest(m, host, path, query, headers, isAccount);
          assert.ok(['read', 'write', 'ddl', 'admin'].includes(r.kind));
          if (r.blob !== null) assert.ok(!r.blob.split('/').some((s) => s === '.' || s === '..'));
        }, BlobRequestError);
      }),
      SEED,
      3000,
    );
  });

  test('round trip: path-style and host-style URLs give back account, container and blob', () => {
    const name = fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !s.split('/').some((x) => x === '.' || x === '..') && !s.startsWith('/'));
    check(
      fc.property(fc.stringMatching(/^[a-z0-9]{3,12}$/), fc.stringMatching(/^[a-z0-9-]{3,20}$/), name, (account, container, blob) => {
        const encoded = blob.split('/').map(encodeURIComponent).join('/');
        const p = parseBlobRequest('GET', '127.0.0.1:10010', `/${account}/${container}/${encoded}`, '', {}, isAccount);
        assert.deepEqual([p.account, p.style, p.container, p.blob, p.operation], [account, 'path', container, blob, 'get-blob']);
        const h = parseBlobRequest('PUT', 'acct.blob.example.com', `/${container}/${encoded}`, 'comp=block&blockid=AAAA', {}, isAccount);
        assert.deepEqual([h.account, h.style, h.container, h.blob, h.operation, h.uploadsContent], ['acct', 'host', container, blob, 'put-block', true]);
        assert.deepEqual(locateAccount(undefined, `/${account}`, isAccount), { account, style: 'path', resourcePath: '/' });
      }),
      SEED + 1,
      500,
    );
  });
});
