import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { PolicyStore, MaskTally, type CompiledPolicy } from '../../../src/policy/index.js';
import { rewriteAccount } from '../../../protocols/cosmos/account.js';
import { maskCosmosBody } from '../../../protocols/cosmos/masking.js';

describe('cosmos account document rewrite', () => {
  test('locations and absolute upstream URLs point at dgf; other fields untouched', () => {
    const doc = {
      id: 'acct',
      _dbs: '//dbs/',
      writableLocations: [{ name: 'West', databaseAccountEndpoint: 'https://acct-westus.documents.azure.com:443/' }],
      readableLocations: [{ name: 'East', databaseAccountEndpoint: 'https://acct-eastus.documents.azure.com:443/' }],
      media: 'https://acct.documents.azure.com/media/',
      queryEngineConfiguration: '{"maxSqlQueryInputLength":262144}',
    };
    const out = rewriteAccount(doc, 'http://127.0.0.1:8082', ['https://acct.documents.azure.com']) as typeof doc;
    assert.equal(out.writableLocations[0]!.databaseAccountEndpoint, 'http://127.0.0.1:8082/');
    assert.equal(out.readableLocations[0]!.databaseAccountEndpoint, 'http://127.0.0.1:8082/');
    assert.equal(out.media, 'http://127.0.0.1:8082/media/');
    assert.equal(out._dbs, '//dbs/');
    assert.equal(out.queryEngineConfiguration, doc.queryEngineConfiguration);
  });
});

describe('cosmos response masking by shape', () => {
  let policy: CompiledPolicy;
  before(async () => {
    policy = (await PolicyStore.load({ hashKey: 'unit-test-key' })).current();
  });

  test('a document: masked by path and value, types and system properties kept; same object when clear', () => {
    const doc = { id: 'a', _rid: 'r', _etag: '"e"', email: 'ann@example.com', age: 41, nested: { phone: '+1 415 555 0134' } };
    const tally = new MaskTally();
    const out = maskCosmosBody('document', doc, policy, 'analyst', tally, 'db/c');
    const masked = out.body as typeof doc;
    assert.equal(out.rows, 1);
    assert.notEqual(masked.email, doc.email);
    assert.equal(masked.age, 41);
    assert.equal(masked._etag, '"e"');
    assert.notEqual(masked.nested.phone, doc.nested.phone);
    const clear = maskCosmosBody('document', doc, policy, 'admin', new MaskTally(), 'db/c');
    assert.equal(clear.body, doc);
  });

  test('a feed page: documents, SELECT VALUE scalars and aggregates', () => {
    const page = { _rid: 'r', Documents: [{ id: '1', email: 'a@example.com' }, 'b@example.com', 42, null], _count: 4 };
    const out = maskCosmosBody('feed', page, policy, 'analyst', new MaskTally(), 'db/c');
    const docs = (out.body as typeof page).Documents;
    assert.equal(out.rows, 4);
    assert.notEqual((docs[0] as { email: string }).email, 'a@example.com');
    assert.notEqual(docs[1], 'b@example.com');
    assert.equal(typeof docs[1], 'string');
    assert.equal(docs[2], 42);
    assert.equal(docs[3], null);
    assert.equal((out.body as typeof page)._count, 4);
    const nothing = { _rid: 'r', Documents: [1, 2], _count: 2 };
    assert.equal(maskCosmosBody('feed', nothing, policy, 'analyst', new MaskTally(), 'db/c').body, nothing);
  });

  test('a batch answer: each resourceBody', () => {
    const batch = [{ statusCode: 200, resourceBody: { id: '1', ssn: '123-45-6789' } }, { statusCode: 404 }];
    const out = maskCosmosBody('batch', batch, policy, 'analyst', new MaskTally(), 'db/c');
    const first = (out.body as typeof batch)[0]!.resourceBody!;
    assert.equal(first.ssn, '***-**-6789');
    assert.equal(out.rows, 2);
  });
});
