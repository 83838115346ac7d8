/**
 * Property-based tests of the Cosmos DB request parser: random methods, paths (percent-encoding garbage, dot
 * segments, deep paths) and headers give a classification or a CosmosRequestError, nothing else; well-formed
 * resource paths round-trip through pathSegments and signingResource; normalizeQuery stays linear.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { CosmosRequestError, normalizeQuery, parseCosmosRequest, pathSegments, signingResource } from '../../../protocols/cosmos/request.js';
import { check, onlyErrors } from './fuzz-kit.js';

const SEED = 0x434f; // 'CO'

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'get', 'TRACE', ''];
const TYPES = ['dbs', 'colls', 'docs', 'offers', 'sprocs', 'pkranges', 'users', 'triggers', 'udfs', 'attachments', 'unknown'];
const id = fc.string({ minLength: 1, maxLength: 12 }).filter((s) => s !== '.' && s !== '..');
const segment = fc.oneof(fc.constantFrom(...TYPES), id.map(encodeURIComponent), fc.constantFrom('%', '%zz', '%E0%A4%A', '.', '..', '', '%2F', '%00'));
const pathArb = fc.array(segment, { maxLength: 8 }).map((segs) => `/${segs.join('/')}`);
const headerArb = fc.dictionary(
  fc.constantFrom('x-ms-documentdb-isquery', 'content-type', 'x-ms-cosmos-is-batch-request', 'x-ms-documentdb-is-upsert', 'a-im', 'x-ms-cosmos-is-query-plan-request'),
  fc.oneof(fc.constantFrom('true', 'True', 'false', 'Incremental Feed', 'application/query+json'), fc.string({ maxLength: 10 }), fc.array(fc.string({ maxLength: 5 }), { maxLength: 2 })),
);

describe('fuzz: cosmos request parser', () => {
  test('random requests: a classification or CosmosRequestError, never anything else', () => {
    check(
      fc.property(fc.constantFrom(...METHODS), fc.oneof(pathArb, fc.string({ maxLength: 60 })), headerArb, (method, path, headers) => {
        const err = onlyErrors(() => {
          const r = parseCosmosRequest(method, path, headers);
          assert.equal(typeof r.operation, 'string');
          assert.ok(['read', 'write', 'ddl', 'admin'].includes(r.kind), r.kind);
          if (r.database !== null && r.container !== null) assert.deepEqual(r.objects, [`${r.database}/${r.container}`]);
        }, CosmosRequestError);
        if (err === null) assert.doesNotThrow(() => pathSegments(path));
      }),
      SEED,
      3000,
    );
  });

  test('round trip: encoded resource ids come back decoded, and the signed link covers them', () => {
    check(
      fc.property(id, id, id, (db, coll, doc) => {
        const path = `/dbs/${encodeURIComponent(db)}/colls/${encodeURIComponent(coll)}/docs/${encodeURIComponent(doc)}`;
        assert.deepEqual(pathSegments(path), ['dbs', db, 'colls', coll, 'docs', doc]);
        const r = parseCosmosRequest('GET', path, {});
        assert.deepEqual([r.operation, r.database, r.container, r.shape], ['read', db, coll, 'document']);
        assert.deepEqual(signingResource(r.segments), { resourceType: 'docs', resourceLink: `dbs/${db}/colls/${coll}/docs/${doc}` });
        const feed = parseCosmosRequest('POST', `/dbs/${encodeURIComponent(db)}/colls/${encodeURIComponent(coll)}/docs`, { 'x-ms-documentdb-isquery': 'True' });
        assert.deepEqual([feed.operation, feed.objects], ['query', [`${db}/${coll}`]]);
      }),
      SEED + 1,
      500,
    );
  });

  test('normalizeQuery: never throws and stays fast on hostile text (no catastrophic backtracking)', () => {
    check(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.constantFrom("'", '"', '\\', '1', 'e', '-', '.').chain((c) => fc.nat(20_000).map((n) => c.repeat(n)))), (q) => {
        const t = process.hrtime.bigint();
        const out = normalizeQuery(q);
        assert.ok(out.length <= 4096);
        assert.ok(Number(process.hrtime.bigint() - t) < 200e6, `normalizeQuery took too long on ${q.length} chars`);
      }),
      SEED + 2,
      300,
    );
  });
});
