import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeQuery, parseCosmosRequest, signingResource } from '../../../protocols/cosmos/request.js';

const op = (method: string, path: string, headers: Record<string, string> = {}): string => parseCosmosRequest(method, path, headers).operation;

describe('cosmos request classification', () => {
  test('signing resource: feeds sign the parent link, items their own, offers the lower-cased rid', () => {
    assert.deepEqual(signingResource([]), { resourceType: '', resourceLink: '' });
    assert.deepEqual(signingResource(['dbs']), { resourceType: 'dbs', resourceLink: '' });
    assert.deepEqual(signingResource(['dbs', 'Db1']), { resourceType: 'dbs', resourceLink: 'dbs/Db1' });
    assert.deepEqual(signingResource(['dbs', 'Db1', 'colls', 'c', 'docs']), { resourceType: 'docs', resourceLink: 'dbs/Db1/colls/c' });
    assert.deepEqual(signingResource(['dbs', 'Db1', 'colls', 'c', 'docs', 'Id 1']), { resourceType: 'docs', resourceLink: 'dbs/Db1/colls/c/docs/Id 1' });
    assert.deepEqual(signingResource(['offers', 'AbCd']), { resourceType: 'offers', resourceLink: 'abcd' });
  });

  test('path segments are percent-decoded as the SDK signs them', () => {
    const r = parseCosmosRequest('GET', '/dbs/my%20db/colls/c%C3%A9/docs/a%2Fb', {});
    assert.equal(r.resourceLink, 'dbs/my db/colls/cé/docs/a/b');
    assert.deepEqual(r.objects, ['my db/cé']);
  });

  test('every document operation', () => {
    assert.equal(op('GET', '/'), 'read-account');
    assert.equal(op('GET', '/dbs/d/colls/c/docs/x'), 'read');
    assert.equal(op('POST', '/dbs/d/colls/c/docs'), 'create');
    assert.equal(op('POST', '/dbs/d/colls/c/docs', { 'x-ms-documentdb-is-upsert': 'True' }), 'upsert');
    assert.equal(op('PUT', '/dbs/d/colls/c/docs/x'), 'replace');
    assert.equal(op('PATCH', '/dbs/d/colls/c/docs/x'), 'patch');
    assert.equal(op('DELETE', '/dbs/d/colls/c/docs/x'), 'delete');
    assert.equal(op('POST', '/dbs/d/colls/c/docs', { 'x-ms-documentdb-isquery': 'true' }), 'query');
    assert.equal(op('POST', '/dbs/d/colls/c/docs', { 'content-type': 'application/query+json' }), 'query');
    assert.equal(op('POST', '/dbs/d/colls/c/docs', { 'x-ms-cosmos-is-query-plan-request': 'True', 'x-ms-documentdb-isquery': 'True' }), 'query-plan');
    assert.equal(op('POST', '/dbs/d/colls/c/docs', { 'x-ms-cosmos-is-batch-request': 'True' }), 'batch');
    assert.equal(op('GET', '/dbs/d/colls/c/docs', { 'a-im': 'Incremental feed' }), 'change-feed');
    assert.equal(op('GET', '/dbs/d/colls/c/docs'), 'read-feed');
  });

  test('database, container and offer operations carry their kind', () => {
    const del = parseCosmosRequest('DELETE', '/dbs/d', {});
    assert.equal(del.operation, 'delete-database');
    assert.equal(del.kind, 'ddl');
    assert.deepEqual(del.objects, ['d']);
    assert.equal(op('DELETE', '/dbs/d/colls/c'), 'delete-container');
    assert.equal(op('POST', '/dbs'), 'create-database');
    assert.equal(op('POST', '/dbs/d/colls'), 'create-container');
    assert.equal(op('GET', '/dbs/d/colls/c'), 'read-container');
    assert.equal(op('PUT', '/dbs/d/colls/c'), 'replace-container');
    assert.equal(op('GET', '/dbs/d/colls/c/pkranges'), 'read-pkranges');
    assert.equal(op('GET', '/offers/x'), 'read-offer');
    assert.equal(parseCosmosRequest('PUT', '/offers/x', {}).kind, 'admin');
  });

  test('shapes decide masking', () => {
    assert.equal(parseCosmosRequest('GET', '/dbs/d/colls/c/docs/x', {}).shape, 'document');
    assert.equal(parseCosmosRequest('POST', '/dbs/d/colls/c/docs', { 'x-ms-documentdb-isquery': 'True' }).shape, 'feed');
    assert.equal(parseCosmosRequest('POST', '/dbs/d/colls/c/docs', { 'x-ms-cosmos-is-batch-request': 'True' }).shape, 'batch');
    assert.equal(parseCosmosRequest('GET', '/dbs/d/colls/c', {}).shape, 'other');
  });

  test('malformed requests are refused', () => {
    assert.throws(() => parseCosmosRequest('POST', '/dbs/d/colls/c/docs/x', {}), /feed/);
    assert.throws(() => parseCosmosRequest('GET', '/dbs/%E0%A4%A', {}), /percent-encoding/);
    assert.throws(() => parseCosmosRequest('TRACE', '/dbs/d', {}), /not part of/);
    assert.throws(() => parseCosmosRequest('DELETE', '/', {}), /account/);
  });

  test('query literals become placeholders, parameters stay', () => {
    assert.equal(
      normalizeQuery("SELECT * FROM c WHERE c.email = 'a@b.com' AND c.age > 42 AND c.pk = @pk AND c.t1 = \"x\""),
      'SELECT * FROM c WHERE c.email = ? AND c.age > ? AND c.pk = @pk AND c.t1 = ?',
    );
  });
});
