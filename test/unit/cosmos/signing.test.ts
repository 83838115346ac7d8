import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CosmosClient } from '@azure/cosmos';
import {
  authorizationHeader,
  computeSignature,
  dateIsFresh,
  findSigner,
  parseAuthorization,
  stringToSign,
} from '../../../protocols/cosmos/signing.js';
import { createHmac } from 'node:crypto';
import { parseCosmosRequest } from '../../../protocols/cosmos/request.js';

describe('cosmos master-key signatures', () => {
  test('the string to sign lower-cases verb, type and date but keeps the link as is', () => {
    assert.equal(stringToSign('GET', 'DBS', 'dbs/ToDoList', 'Thu, 27 Apr 2017 00:51:12 GMT'), 'get\ndbs\ndbs/ToDoList\nthu, 27 apr 2017 00:51:12 gmt\n\n');
    const key = Buffer.from('dsZQi3KtZmCv1ljt3VNWNm7sQUF1y5rJfC6kv5JiwvW0EndXdDku/dkKBp8/ufDToSxL', 'base64');
    const expected = createHmac('sha256', key).update('get\ndbs\ndbs/ToDoList\nthu, 27 apr 2017 00:51:12 gmt\n\n').digest('base64');
    assert.equal(computeSignature(key, 'GET', 'dbs', 'dbs/ToDoList', 'Thu, 27 Apr 2017 00:51:12 GMT'), expected);
    assert.equal(decodeURIComponent(authorizationHeader(key, 'GET', 'dbs', 'dbs/ToDoList', 'Thu, 27 Apr 2017 00:51:12 GMT')), `type=master&ver=1.0&sig=${expected}`);
    assert.notEqual(computeSignature(key, 'GET', 'dbs', 'dbs/todolist', 'Thu, 27 Apr 2017 00:51:12 GMT'), expected);
  });

  test('authorization header parsing', () => {
    assert.deepEqual(parseAuthorization(encodeURIComponent('type=master&ver=1.0&sig=a+b/c=')), { type: 'master', version: '1.0', signature: 'a+b/c=' });
    assert.equal(parseAuthorization('type=resource&ver=1.0&sig=x')!.type, 'resource');
    assert.equal(parseAuthorization('garbage'), null);
    assert.equal(parseAuthorization('%E0%A4%A'), null);
    assert.equal(parseAuthorization(undefined), null);
  });

  test('dates within 15 minutes are fresh', () => {
    const now = Date.parse('Thu, 27 Apr 2017 00:51:12 GMT');
    assert.ok(dateIsFresh('Thu, 27 Apr 2017 01:05:00 GMT', now));
    assert.ok(!dateIsFresh('Thu, 27 Apr 2017 01:07:00 GMT', now));
    assert.ok(!dateIsFresh('not a date', now));
  });

  describe('signatures made by @azure/cosmos itself verify (captured from the SDK on loopback)', () => {
    const sdkKey = Buffer.from('a key the sdk holds, 32 bytes!!!').toString('base64');
    const captured: Array<{ method: string; url: string; auth: string; date: string; headers: http.IncomingHttpHeaders }> = [];
    let server: http.Server;
    let endpoint: string;
    before(async () => {
      server = http.createServer((req, res) => {
        captured.push({ method: req.method!, url: req.url!, auth: String(req.headers.authorization), date: String(req.headers['x-ms-date']), headers: req.headers });
        req.resume();
        req.on('end', () => {
          const body = req.url === '/' ? { writableLocations: [{ name: 'x', databaseAccountEndpoint: `${endpoint}/` }], readableLocations: [{ name: 'x', databaseAccountEndpoint: `${endpoint}/` }] } : { id: 'x', _rid: 'r' };
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(body));
        });
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(() => new Promise<void>((r) => server.close(() => r())));

    test('ids with spaces, unicode and reserved characters', async () => {
      const client = new CosmosClient({ endpoint, key: sdkKey });
      await client.database('my db').read();
      await client.database('db').container('cé+1').item('id with space', 'pk').read().catch(() => undefined);
      await client.database('db').container('c').items.create({ id: 'n' }).catch(() => undefined);
      assert.ok(captured.length >= 4);
      const keys = [{ user: 'sdk', key: Buffer.from(sdkKey, 'base64') }, { user: 'other', key: Buffer.from('other-key-other-key-other-key-!!') }];
      for (const c of captured) {
        const path = c.url.split('?')[0]!;
        const parsed = parseCosmosRequest(c.method, path, c.headers);
        const auth = parseAuthorization(c.auth)!;
        const signer = findSigner(keys, auth.signature, c.method, parsed.resourceType, [parsed.resourceLink], c.date);
        assert.equal(signer?.user, 'sdk', `${c.method} ${c.url}`);
        // A signature for another verb, resource or date never verifies.
        assert.equal(findSigner(keys, auth.signature, c.method === 'GET' ? 'DELETE' : 'GET', parsed.resourceType, [parsed.resourceLink], c.date), null);
        assert.equal(findSigner(keys, auth.signature, c.method, parsed.resourceType, [`${parsed.resourceLink}x`], c.date), null);
      }
    });
  });
});
