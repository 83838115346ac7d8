/**
 * The Cosmos SQL tracer's decisions, on the queries dgf would forward, including forms cosmosdb-server does not run
 * (DISTINCT, GROUP BY, OFFSET LIMIT, IIF, StringToArray, FROM subqueries), and the masking of answers by the traced
 * shape with the shipped policy packs.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PolicyStore, MaskTally, type CompiledPolicy } from '../../../src/policy/index.js';
import { stripClauses, traceQuery, type Shape } from '../../../protocols/cosmos/lineage.js';
import { maskQueryPage } from '../../../protocols/cosmos/masking.js';
import { parseCosmosRequest } from '../../../protocols/cosmos/request.js';

const doc = (...path: string[]): Shape => ({ k: 'doc', path });
const props = (s: Shape): Record<string, Shape> => {
  assert.equal(s.k, 'object');
  return Object.fromEntries((s as { props: ReadonlyMap<string, Shape> }).props);
};

describe('cosmos lineage: the tracer on the parse tree', () => {
  test('aliases and SELECT VALUE are plain document paths', () => {
    assert.deepEqual(props(traceQuery('SELECT c.diagnosis AS d, c.id FROM c').item), { d: doc('diagnosis'), id: doc('id') });
    assert.deepEqual(props(traceQuery('SELECT c["diagnosis"], UPPER(c.id) FROM c').item), { diagnosis: doc('diagnosis'), $1: { k: 'derived', sources: [['id']], untraced: false } });
    assert.deepEqual(traceQuery('SELECT VALUE c.full_name FROM c').item, doc('full_name'));
    assert.deepEqual(traceQuery('SELECT VALUE r["ssn"] FROM root r').item, doc('ssn'));
    assert.deepEqual(traceQuery('SELECT VALUE c[@f] FROM c', [{ name: '@f', value: 'email' }]).item, doc('email'));
  });

  test('DISTINCT, GROUP BY and OFFSET LIMIT (missing from the grammar) do not change lineage', () => {
    assert.deepEqual(props(traceQuery('SELECT DISTINCT c.diagnosis FROM c').item), { diagnosis: doc('diagnosis') });
    assert.deepEqual(traceQuery('SELECT DISTINCT VALUE c.full_name FROM c').item, doc('full_name'));
    const g = traceQuery('SELECT c.pk, COUNT(1) AS n FROM c WHERE c.n > 1 GROUP BY c.pk ORDER BY c.pk');
    assert.equal(g.unknown, null);
    assert.deepEqual(props(g.item), { pk: doc('pk'), n: { k: 'const' } });
    assert.deepEqual(traceQuery('SELECT * FROM c ORDER BY c.n OFFSET 1 LIMIT 2').item, doc());
    assert.deepEqual(traceQuery('SELECT * FROM c OFFSET @o LIMIT @l').item, doc());
    const strings = stripClauses("SELECT VALUE 'GROUP BY x' FROM c -- GROUP BY y");
    assert.deepEqual(strings?.groupBy, []);
  });

  test('a UDF anywhere (projection, WHERE, GROUP BY key, subquery) is listed for refusal', () => {
    assert.deepEqual(traceQuery('SELECT VALUE udf.echo(c.ssn) FROM c').udfs, ['udf.echo']);
    assert.deepEqual(traceQuery("SELECT c.id FROM c WHERE udf.f(c.ssn) = 'x'").udfs, ['udf.f']);
    assert.deepEqual(traceQuery('SELECT COUNT(1) AS n FROM c GROUP BY udf.g(c.ssn)').udfs, ['udf.g']);
    assert.deepEqual(traceQuery('SELECT VALUE EXISTS(SELECT VALUE udf.h(t) FROM t IN c.tags) FROM c').udfs, ['udf.h']);
  });

  test('functions: string and math functions derive, TOSTRING of a document part is untraced, MIN/MAX select', () => {
    assert.deepEqual(traceQuery('SELECT VALUE UPPER(c.full_name) FROM c').item, { k: 'derived', sources: [['full_name']], untraced: false });
    assert.deepEqual(traceQuery('SELECT VALUE StringToArray(c.diagnosis) FROM c').item, { k: 'derived', sources: [['diagnosis']], untraced: false });
    assert.deepEqual(traceQuery('SELECT VALUE TOSTRING(c.contact) FROM c').item, { k: 'derived', sources: [['contact']], untraced: true });
    assert.deepEqual(traceQuery('SELECT VALUE MAX(c.ssn) FROM c').item, doc('ssn'));
    assert.deepEqual(traceQuery('SELECT VALUE COUNT(c.ssn) FROM c').item, { k: 'const' });
    assert.deepEqual(traceQuery("SELECT VALUE STARTSWITH(c.ssn, '9') FROM c").item, { k: 'const' });
  });

  test('IIF, ternary and ?? carry both candidates and every read of the test', () => {
    const iif = traceQuery("SELECT VALUE IIF(c.n > 1, c.diagnosis, 'x') FROM c").item;
    assert.equal(iif.k, 'alt');
    const t = traceQuery("SELECT VALUE (STARTSWITH(c.ssn, '9') ? 'a' : 'b') FROM c").item;
    assert.equal(t.k, 'alt');
    assert.ok((t as { cond: ReadonlyArray<readonly string[]> }).cond.some((p) => p.join('.') === 'ssn'));
  });

  test('JOIN, FROM ... IN, FROM subqueries, ARRAY() and scalar subqueries keep paths', () => {
    assert.deepEqual(props(traceQuery('SELECT t.diagnosis FROM c JOIN t IN c.tags').item), { diagnosis: doc('tags', 'diagnosis') });
    assert.deepEqual(traceQuery('SELECT VALUE t.diagnosis FROM t IN c.tags').item, doc('tags', 'diagnosis'));
    assert.deepEqual(props(traceQuery('SELECT x.d FROM (SELECT c.diagnosis AS d FROM c) x').item), { d: doc('diagnosis') });
    assert.deepEqual(traceQuery('SELECT VALUE ARRAY(SELECT VALUE t.label FROM t IN c.tags) FROM c').item, { k: 'list', elem: doc('tags', 'label') });
    assert.deepEqual(traceQuery('SELECT VALUE (SELECT VALUE c.ssn) FROM c').item, doc('ssn'));
  });

  test('what cannot be traced is unknown: an unknown function, an unbound name, a text the parser rejects', () => {
    assert.match(traceQuery('SELECT VALUE MYSTERY(c.ssn) FROM c').unknown ?? '', /MYSTERY/);
    assert.match(traceQuery('SELECT VALUE x.ssn FROM c').unknown ?? '', /"x"/);
    assert.match(traceQuery('SELECT c.ssn FROM c WHERE').unknown ?? '', /cannot parse/);
    assert.match(traceQuery("SELECT 'unterminated FROM c").unknown ?? '', /cannot parse/);
    assert.match(traceQuery('SELECT VALUE c.ssn FROM c JOIN c IN c.tags').unknown ?? '', /bound twice/);
    assert.match(traceQuery('SELECT * FROM c JOIN t IN c.tags').unknown ?? '', /SELECT \*/);
  });

  test('stored procedure execution is its own operation', () => {
    const r = parseCosmosRequest('POST', '/dbs/d/colls/c/sprocs/dump', {});
    assert.equal(r.operation, 'execute-stored-procedure');
  });
});

describe('cosmos lineage: answers masked by the traced shape', () => {
  let policy: CompiledPolicy;
  let maskPolicy: CompiledPolicy;
  before(async () => {
    policy = (await PolicyStore.load({ hashKey: 'unit-test-key' })).current();
    const dir = mkdtempSync(path.join(tmpdir(), 'dgf-cosmos-lineage-'));
    writeFileSync(path.join(dir, 'lineage.yaml'), 'onUnknownLineage: mask\n');
    maskPolicy = (await PolicyStore.load({ hashKey: 'unit-test-key', dir })).current();
  });

  const run = (p: CompiledPolicy, query: string, docs: unknown[], role = 'analyst'): unknown[] => {
    const out = maskQueryPage({ _rid: 'r', Documents: docs, _count: docs.length }, traceQuery(query).item, p, role, new MaskTally(), 'db/c');
    return (out.body as { Documents: unknown[] }).Documents;
  };

  test('DISTINCT of a classified field: its label mask; GROUP BY counts pass', () => {
    assert.deepEqual(run(policy, 'SELECT DISTINCT VALUE c.diagnosis FROM c', ['Sarcoidosis']), ['[REDACTED]']);
    assert.deepEqual(run(policy, 'SELECT c.pk, COUNT(1) AS n FROM c GROUP BY c.pk', [{ pk: 'north', n: 3 }]), [{ pk: 'north', n: 3 }]);
    assert.deepEqual(run(policy, 'SELECT VALUE c.full_name FROM c OFFSET 0 LIMIT 1', ['Zelda Quarrington']), ['Z**** ***********']);
  });

  test('IIF / StringToArray / derived numbers get the derived mask; the exempt role sees them', () => {
    assert.deepEqual(run(policy, "SELECT VALUE IIF(c.n > 1, c.diagnosis, 'x') FROM c", ['Sarcoidosis']), ['[REDACTED]']);
    assert.deepEqual(run(policy, 'SELECT VALUE StringToArray(c.diagnosis) FROM c', [['a', 'b']]), ['[REDACTED]']);
    assert.deepEqual(run(policy, "SELECT VALUE LENGTH(c.ssn) FROM c", [11]), [null]);
    assert.deepEqual(run(policy, "SELECT VALUE IIF(c.n > 1, c.diagnosis, 'x') FROM c", ['Sarcoidosis'], 'admin'), ['Sarcoidosis']);
  });

  test("the SDK's ORDER BY rewrite: orderByItems with the label mask, payload by document paths", () => {
    const q = 'SELECT c._rid, [{"item": c.full_name}] AS orderByItems, c AS payload FROM c WHERE true ORDER BY c.full_name';
    const [row] = run(policy, q, [{ _rid: 'x', orderByItems: [{ item: 'Zelda Quarrington' }], payload: { id: 'p0', full_name: 'Zelda Quarrington', city: 'Faro' } }]) as Array<Record<string, unknown>>;
    assert.deepEqual(row, { _rid: 'x', orderByItems: [{ item: 'Z**** ***********' }], payload: { id: 'p0', full_name: 'Z**** ***********', city: 'Faro' } });
  });

  test('a ?? of an unclassified and a classified field is masked unless both show the value alike', () => {
    assert.deepEqual(run(policy, 'SELECT VALUE c.city ?? c.diagnosis FROM c', ['Sarcoidosis']), ['[REDACTED]']);
    assert.deepEqual(run(policy, 'SELECT VALUE c.city ?? c.town FROM c', ['Faro']), ['Faro']);
  });

  test('onUnknownLineage: mask masks an untraceable output whole', () => {
    assert.deepEqual(run(maskPolicy, 'SELECT VALUE MYSTERY(c.city) FROM c', ['Faro']), ['[REDACTED]']);
    assert.equal(maskPolicy.onUnknownLineage('analyst'), 'mask');
    assert.equal(policy.onUnknownLineage('analyst'), 'deny');
  });
});
