/**
 * The masking guarantee for Cosmos DB, attacked: a masked role (analyst) tries to read classified values through
 * every projection form of Cosmos SQL, through the real @azure/cosmos SDK and dgf, against cosmosdb-server. Each
 * attempt must return no clear value (compared with what the same request returns on the direct connection) or be
 * refused with 403. Forms cosmosdb-server does not run (DISTINCT, GROUP BY, OFFSET LIMIT, IIF, StringToArray, ...)
 * are checked on the tracer's decision in test/unit/cosmos/lineage.test.ts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { ChangeFeedStartFrom, type Container, type SqlQuerySpec } from '@azure/cosmos';
import { Agent, request } from 'undici';
import { findLeak, secretsOf, startFixture, statusOf, type Fixture } from './masking-fixture.js';

interface Attempt {
  family: string;
  name: string;
  /** A query (text or spec), or a function of a container returning the answer. */
  run: string | SqlQuerySpec | ((c: Container) => Promise<unknown>);
  /** The direct connection's answer shows a secret (false for inference-only forms). Default true. */
  directLeaks?: boolean;
  /** Must be refused (403) rather than masked. */
  refused?: boolean;
}

const q = (family: string, query: string | SqlQuerySpec, extra: Partial<Attempt> = {}): Attempt => ({
  family,
  name: typeof query === 'string' ? query : query.query,
  run: query,
  ...extra,
});

const ATTEMPTS: Attempt[] = [
  // aliases
  q('alias', 'SELECT c.diagnosis AS d FROM c'),
  q('alias', 'SELECT c.full_name AS label FROM c'),
  q('alias', 'SELECT c["diagnosis"] AS x FROM c'),
  q('alias', 'SELECT c.contact.email AS city FROM c'),
  q('alias', 'SELECT r.ssn AS id2, r.id FROM root r'),
  // SELECT VALUE
  q('value', 'SELECT VALUE c.full_name FROM c'),
  q('value', 'SELECT VALUE c.diagnosis FROM c'),
  q('value', 'SELECT VALUE c.contact FROM c'),
  q('value', 'SELECT VALUE c FROM c'),
  q('value', 'SELECT VALUE c.tags FROM c'),
  // object and array constructors
  q('constructor', 'SELECT VALUE {"x": c.diagnosis} FROM c'),
  q('constructor', 'SELECT {"a": {"b": c.full_name}} AS o FROM c'),
  q('constructor', 'SELECT VALUE [c.ssn, c.diagnosis] FROM c'),
  q('constructor', 'SELECT [c.full_name, {"k": c.contact}] AS arr FROM c'),
  // built-in functions
  q('function', "SELECT VALUE CONCAT(c.full_name, '') FROM c"),
  q('function', 'SELECT VALUE UPPER(c.diagnosis) FROM c'),
  q('function', 'SELECT LOWER(c.full_name) AS n FROM c'),
  q('function', 'SELECT VALUE SUBSTRING(c.diagnosis, 1, 100) FROM c'),
  q('function', 'SELECT VALUE LEFT(c.ssn, 11) FROM c'),
  q('function', 'SELECT VALUE RIGHT(c.full_name, 30) FROM c'),
  q('function', "SELECT VALUE REPLACE(c.ssn, '-', '') FROM c"),
  q('function', 'SELECT VALUE REVERSE(c.diagnosis) FROM c'),
  q('function', 'SELECT VALUE TOSTRING(c) FROM c'),
  q('function', 'SELECT TOSTRING(c.contact) AS s FROM c'),
  q('function', 'SELECT VALUE TRIM(c.full_name) FROM c'),
  q('function', 'SELECT VALUE CONCAT(c.city, c.diagnosis) FROM c'),
  q('function', "SELECT VALUE c.full_name || '' FROM c"),
  q('function', 'SELECT VALUE ARRAY_SLICE(c.tags, 0, 1) FROM c'),
  q('function', 'SELECT VALUE ARRAY_CONCAT(c.tags, []) FROM c'),
  // coalesce and ternary
  q('conditional', 'SELECT VALUE c.nothing ?? c.diagnosis FROM c'),
  q('conditional', "SELECT VALUE (c.n >= 0 ? c.full_name : 'x') FROM c"),
  q('conditional', 'SELECT (c.n >= 0 ? c.diagnosis : c.city) AS city FROM c'),
  // JOIN
  q('join', 'SELECT t.diagnosis FROM c JOIN t IN c.tags'),
  q('join', 'SELECT VALUE t FROM c JOIN t IN c.tags'),
  q('join', 'SELECT t.diagnosis AS label, c.city FROM c JOIN t IN c.tags'),
  q('join', 'SELECT VALUE t.diagnosis FROM t IN c.tags'),
  q('join', 'SELECT c.id, t AS x FROM c JOIN t IN c.tags'),
  // subqueries, EXISTS, ARRAY()
  q('subquery', 'SELECT VALUE (SELECT VALUE c.diagnosis) FROM c'),
  q('subquery', 'SELECT (SELECT VALUE LOWER(c.full_name)) AS first FROM c'),
  q('subquery', 'SELECT VALUE ARRAY(SELECT VALUE t.diagnosis FROM t IN c.tags) FROM c'),
  q('subquery', 'SELECT ARRAY(SELECT t.diagnosis AS z FROM t IN c.tags) AS arr FROM c'),
  q('subquery', 'SELECT VALUE {"inner": (SELECT c.diagnosis AS d)} FROM c'),
  q('subquery', "SELECT c.id, EXISTS(SELECT VALUE t FROM t IN c.tags WHERE STARTSWITH(t.diagnosis, 'Comorbid')) AS e FROM c", { directLeaks: false }),
  // aggregates
  q('aggregate', 'SELECT VALUE MAX(c.diagnosis) FROM c'),
  q('aggregate', 'SELECT VALUE MIN(c.full_name) FROM c'),
  // ORDER BY (cross-partition), the SDK's rewrite sent by hand, TOP
  q('order-by', 'SELECT c.full_name FROM c ORDER BY c.diagnosis'),
  q('order-by', 'SELECT c._rid, [{"item": c.diagnosis}] AS orderByItems, c AS payload FROM c WHERE true ORDER BY c.diagnosis'),
  q('order-by', 'SELECT TOP 2 c.full_name, c.n FROM c ORDER BY c.n'),
  // SELECT * and unaliased identifiers, array indexes, parameters
  q('star', 'SELECT * FROM c'),
  q('star', 'SELECT c FROM c'),
  q('star', 'SELECT c.tags[0].diagnosis FROM c'),
  q('star', 'SELECT c.tags[1] AS t FROM c'),
  q('star', { query: 'SELECT VALUE c[@f] FROM c', parameters: [{ name: '@f', value: 'diagnosis' }] }),
  q('star', { query: 'SELECT c[@f] AS safe FROM c', parameters: [{ name: '@f', value: 'full_name' }] }),
  q('star', 'SELECT c["diagnosis"] FROM c'),
  q('star', 'SELECT UPPER(c.pk), c.id, UPPER(c.diagnosis) FROM c'),
  q('star', 'SELECT c.id, c.diagnosis AS id FROM c'),
  q('star', 'SELECT COUNT(1), MAX(c.full_name) FROM c'),
  q('star', 'SELECT * FROM c JOIN t IN c.tags', { refused: true, directLeaks: false }),
  // point reads, read feed, change feed, partition-scoped query
  { family: 'point-read', name: 'item().read()', run: async (c) => (await c.item('p0', 'north').read()).resource },
  { family: 'point-read', name: 'readAll()', run: async (c) => (await c.items.readAll().fetchAll()).resources },
  {
    family: 'point-read',
    name: 'change feed',
    run: async (c) => (await c.items.getChangeFeedIterator({ changeFeedStartFrom: ChangeFeedStartFrom.Beginning() }).readNext()).result,
  },
  {
    family: 'point-read',
    name: 'query with partitionKey',
    run: async (c) => (await c.items.query('SELECT VALUE c.diagnosis FROM c', { partitionKey: 'south' }).fetchAll()).resources,
  },
  {
    family: 'order-by',
    name: 'continuation tokens of ORDER BY c.diagnosis, page by page (decoded)',
    run: async (c) => {
      const it = c.items.query('SELECT c.id FROM c ORDER BY c.diagnosis', { maxItemCount: 1 });
      const seen: unknown[] = [];
      while (it.hasMoreResults()) {
        const page = await it.fetchNext();
        const token = page.continuationToken ?? '';
        seen.push(page.resources, token, ...token.split(/[#:"]/).map((p) => Buffer.from(p, 'base64').toString('latin1')));
      }
      return seen;
    },
  },
  {
    family: 'order-by',
    name: 'a query sent as a query-plan request (raw REST)',
    run: async (c) => rawQuery(c, 'SELECT c.diagnosis AS d FROM c', { 'x-ms-cosmos-is-query-plan-request': 'True' }),
  },
  // UDFs and stored procedures
  q('udf', 'SELECT VALUE udf.echo(c.diagnosis) FROM c', { refused: true }),
  q('udf', "SELECT c.id FROM c WHERE udf.echo(c.diagnosis) = 'x'", { refused: true, directLeaks: false }),
  {
    family: 'udf',
    name: 'stored procedure execute',
    run: async (c) => (await c.scripts.storedProcedure('dump').execute('north', [])).resource,
    refused: true,
    directLeaks: false,
  },
  {
    family: 'udf',
    name: 'post-trigger on a write',
    run: async (c) =>
      (await c.items.upsert({ id: 'own-1', pk: 'north', city: 'x' }, { postTriggerInclude: ['echoAll'] })).resource,
    refused: true,
    directLeaks: false,
  },
];

/**
 * A query POSTed by hand, signed with the container client's key (an attacker needs no SDK): the answer's body,
 * or an error carrying the status as the SDK's errors do.
 */
async function rawQuery(c: Container, query: string, extra: Record<string, string>): Promise<unknown> {
  const { endpoint, key } = (c.database.client as unknown as { clientContext: { cosmosClientOptions: { endpoint: string; key: string } } })
    .clientContext.cosmosClientOptions;
  const link = `dbs/${c.database.id}/colls/${c.id}`;
  const date = new Date().toUTCString();
  const text = `post\ndocs\n${link}\n${date.toLowerCase()}\n\n`;
  const sig = createHmac('sha256', Buffer.from(key, 'base64')).update(text).digest('base64');
  const res = await request(`${endpoint.replace(/\/$/, '')}/${link}/docs`, {
    method: 'POST',
    headers: {
      authorization: encodeURIComponent(`type=master&ver=1.0&sig=${sig}`),
      'x-ms-date': date,
      'x-ms-version': '2020-07-15',
      'content-type': 'application/query+json',
      'x-ms-documentdb-isquery': 'True',
      'x-ms-documentdb-query-enablecrosspartition': 'True',
      ...extra,
    },
    body: JSON.stringify({ query, parameters: [] }),
    ...(endpoint.startsWith('https:') ? { dispatcher: new Agent({ connect: { rejectUnauthorized: false } }) } : {}),
  });
  const body = (await res.body.json()) as { message?: string };
  if (res.statusCode >= 400) throw Object.assign(new Error(body.message ?? ''), { code: res.statusCode, body });
  return body;
}

async function answer(c: Container, a: Attempt): Promise<unknown> {
  if (typeof a.run === 'function') return a.run(c);
  return (await c.items.query(a.run).fetchAll()).resources;
}

describe('cosmos leak-proof: a masked role tries every projection form', () => {
  let fx: Fixture;
  let secrets: string[];
  const leaks: string[] = [];

  before(async () => {
    fx = await startFixture();
    secrets = secretsOf(fx.docs);
    await fx.direct.scripts.userDefinedFunctions.create({ id: 'echo', body: 'function echo(x) { return x; }' }).catch(() => undefined);
  });

  after(async () => {
    if (leaks.length > 0) console.log(`cosmos leak-proof: ${leaks.length} leaks:\n  ${leaks.join('\n  ')}`);
    await fx?.stop();
  });

  test(`at least 40 attempts (${ATTEMPTS.length})`, () => {
    assert.ok(ATTEMPTS.length >= 40);
  });

  for (const a of ATTEMPTS) {
    test(`[${a.family}] ${a.name}`, async () => {
      if (a.directLeaks !== false) {
        const direct = await answer(fx.direct, a);
        assert.ok(findLeak(direct, secrets) !== null, `the direct answer should show a secret: ${JSON.stringify(direct).slice(0, 200)}`);
      }
      const r = await statusOf(answer(fx.asAnalyst, a));
      if (r.status !== null) {
        assert.equal(r.status, 403, `refused with 403, not ${r.status}: ${r.message}`);
        const leak = findLeak(r.message, secrets);
        assert.equal(leak, null, `the error message leaks ${leak}`);
        return;
      }
      const leak = findLeak(r.value, secrets);
      if (leak !== null) leaks.push(`[${a.family}] ${a.name}: ${leak}`);
      assert.equal(a.refused, undefined, `expected a refusal, got ${JSON.stringify(r.value).slice(0, 200)}`);
      assert.equal(leak, null, `leaked ${leak}: ${JSON.stringify(r.value).slice(0, 300)}`);
    });
  }

  test('a refusal is a Cosmos-style 403 body naming what could not be traced or is not allowed', async () => {
    const res = await fx.asAnalyst.items.query('SELECT VALUE udf.echo(c.diagnosis) FROM c').fetchAll().catch((e: unknown) => e);
    const e = res as { code?: number; body?: { code?: string; message?: string } };
    assert.equal(e.code, 403);
    assert.equal(e.body?.code, 'Forbidden');
    assert.match(e.body?.message ?? '', /udf\.echo/);
  });

  test('a continuation token dgf did not seal (or altered) is refused with 400', async () => {
    const r = await statusOf(rawQuery(fx.asAnalyst, 'SELECT c.id FROM c', { 'x-ms-continuation': 'dgf1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' }));
    assert.equal(r.status, 400);
  });

  test('conflict feeds are refused for the masked role', async () => {
    const r = await statusOf(fx.asAnalyst.conflicts.readAll().fetchAll());
    assert.equal(r.status, 403);
  });

  test('the exempt role (admin) still reads everything in clear through dgf', async () => {
    const rows = (await fx.asAdmin.items.query('SELECT c.diagnosis AS d FROM c WHERE IS_DEFINED(c.diagnosis)').fetchAll()).resources as Array<{ d: string }>;
    assert.deepEqual(rows.map((r) => r.d).sort(), fx.docs.map((d) => d.diagnosis).sort());
  });
});
