/**
 * @azure/cosmos through dgf, endpoint discovery on, against cosmosdb-server (127.0.0.1:8081) behind a
 * pass-through that verifies every request's signature with the REAL key.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { ChangeFeedStartFrom, CosmosClient, type Container } from '@azure/cosmos';
import { request } from 'undici';
import { readAudit, startDgf, type TestDgf } from '../../helpers/dgf.js';
import { expectedAuthorization, startVerifyingUpstream, type VerifyingUpstream } from './verifying-upstream.js';

const key = (s: string): string => Buffer.from(s.padEnd(32, '#')).toString('base64');
const REAL_KEY = key('the-real-account-key');
const USERS = [
  { name: 'admin', key: key('admin-key') },
  { name: 'analyst', key: key('analyst-key') },
  { name: 'dpo', key: key('dpo-key') },
];

describe('cosmos: @azure/cosmos through dgf', () => {
  let dgf: TestDgf;
  let upstream: VerifyingUpstream;
  let endpoint: string;
  const dbId = `dgf-${randomUUID().slice(0, 8)}`;
  const client = (user: string, k?: string): CosmosClient =>
    new CosmosClient({ endpoint, key: k ?? USERS.find((u) => u.name === user)!.key });
  let adminContainer: Container;

  before(async () => {
    upstream = await startVerifyingUpstream(REAL_KEY);
    dgf = await startDgf({
      roles: [
        { match: { user: 'analyst' }, role: 'analyst' },
        { match: { user: 'dpo' }, role: 'dpo' },
        { match: { user: 'admin' }, role: 'admin' },
      ],
      listeners: [
        { name: 'cosmos', protocol: 'cosmos', listen: '127.0.0.1:0', upstream: { endpoint: upstream.url, key: REAL_KEY }, users: USERS },
        {
          name: 'cosmos-tls',
          protocol: 'cosmos',
          listen: '127.0.0.1:0',
          upstream: { endpoint: 'https://127.0.0.1:8081', key: REAL_KEY, insecureSkipVerify: true },
          users: USERS,
        },
      ],
    });
    endpoint = `http://127.0.0.1:${dgf.listener('cosmos').address.port}`;
    const admin = client('admin');
    const { database } = await admin.databases.createIfNotExists({ id: dbId });
    const { container } = await database.containers.createIfNotExists({ id: 'people', partitionKey: { paths: ['/pk'] } });
    adminContainer = container;
    for (let i = 0; i < 7; i++) {
      await container.items.upsert({
        id: `p${i}`,
        pk: 'eu',
        name: `Person ${i}`,
        email: `person${i}@example.com`,
        ssn: `123-45-678${i}`,
        note: `reach me at +1 415 555 01${10 + i}`,
        visits: i,
      });
    }
  });

  after(async () => {
    await client('admin').database(dbId).delete().catch(() => undefined);
    await dgf?.stop();
    await upstream?.close();
  });

  test('endpoint discovery keeps the SDK on dgf: the account document advertises dgf', async () => {
    const account = await client('analyst').getDatabaseAccount();
    const locations = [...account.resource!.writableLocations, ...account.resource!.readableLocations];
    assert.ok(locations.length > 0);
    for (const l of locations) assert.equal(l.databaseAccountEndpoint, `${endpoint}/`);
  });

  test('admin (exempt) reads a document in clear; analyst reads it masked, types preserved', async () => {
    const clear = (await adminContainer.item('p1', 'eu').read()).resource!;
    assert.equal(clear.email, 'person1@example.com');
    assert.equal(clear.ssn, '123-45-6781');
    const masked = (await client('analyst').database(dbId).container('people').item('p1', 'eu').read()).resource!;
    assert.equal(masked.id, 'p1');
    assert.equal(masked.visits, 1);
    assert.notEqual(masked.email, 'person1@example.com');
    assert.match(masked.email as string, /^p\*+@example\.com$/);
    assert.equal(masked.ssn, '***-**-6781');
    assert.ok(!(masked.note as string).includes('555 0111'), masked.note as string);
  });

  test('dpo sees personal data in clear', async () => {
    const doc = (await client('dpo').database(dbId).container('people').item('p2', 'eu').read()).resource!;
    assert.equal(doc.email, 'person2@example.com');
  });

  test('parameterized query with continuation pages: every page masked for analyst', async () => {
    const it = client('analyst')
      .database(dbId)
      .container('people')
      .items.query(
        { query: 'SELECT * FROM c WHERE c.pk = @pk AND c.visits >= @min', parameters: [{ name: '@pk', value: 'eu' }, { name: '@min', value: 0 }] },
        { maxItemCount: 2 },
      );
    let pages = 0;
    const docs: Array<Record<string, unknown>> = [];
    while (it.hasMoreResults()) {
      const page = await it.fetchNext();
      if (page.resources.length === 0) continue;
      pages++;
      docs.push(...(page.resources as Array<Record<string, unknown>>));
    }
    assert.ok(pages >= 4, `expected several pages, got ${pages}`);
    assert.equal(docs.length, 7);
    for (const d of docs) assert.match(d.email as string, /^p\*+@example\.com$/);
    const audit = await readAudit(dgf.auditFile);
    const q = audit.filter((r) => r.operation === 'query' && r.role === 'analyst');
    assert.ok(q.length >= pages);
    assert.ok(q.every((r) => (r.statement as string).includes('@pk') && !(r.statement as string).includes('eu')));
    assert.ok(q.some((r) => (r.masked as Record<string, number>)['pii.email']! > 0));
  });

  test('SELECT VALUE scalars are masked, aggregates pass', async () => {
    const c = client('analyst').database(dbId).container('people');
    const emails = (await c.items.query('SELECT VALUE c.email FROM c').fetchAll()).resources as string[];
    assert.equal(emails.length, 7);
    for (const e of emails) assert.match(e, /^p\*+@example\.com$/);
    const count = (await c.items.query('SELECT VALUE COUNT(1) FROM c').fetchAll()).resources;
    assert.deepEqual(count, [7]);
    const clear = (await client('dpo').database(dbId).container('people').items.query('SELECT VALUE c.email FROM c').fetchAll()).resources;
    assert.ok(clear.includes('person3@example.com'));
  });

  test('change feed pages are masked for analyst', async () => {
    const c = client('analyst').database(dbId).container('people');
    const iterator = c.items.getChangeFeedIterator({ changeFeedStartFrom: ChangeFeedStartFrom.Beginning() });
    const page = await iterator.readNext();
    assert.equal(page.statusCode, 200);
    assert.ok(page.result.length >= 7);
    for (const d of page.result as unknown as Array<Record<string, unknown>>) assert.match(d.email as string, /^p\*+@example\.com$/);
    const audit = await readAudit(dgf.auditFile);
    assert.ok(audit.some((r) => r.operation === 'change-feed' && r.role === 'analyst' && (r.masked as Record<string, number>)['pii.email']! >= 7));
  });

  test('batch responses are masked', async () => {
    const c = client('analyst').database(dbId).container('people');
    // cosmosdb-server's batch handler needs a partition key inside each operation, so the test upserts.
    const res = await c.items.batch(
      [{ operationType: 'Upsert', partitionKey: 'eu', resourceBody: { id: 'b1', pk: 'eu', email: 'batch.person@example.com' } }],
      'eu',
    );
    const body = res.result![0]!.resourceBody as Record<string, unknown>;
    assert.equal(body.id, 'b1');
    assert.match(body.email as string, /^b\*+@example\.com$/);
  });

  test('patch answers are masked and the patched path is classified', async () => {
    const c = client('analyst').database(dbId).container('people');
    const { resource } = await c.item('p6', 'eu').patch([{ op: 'set', path: '/backup_email', value: 'backup6@example.com' }]);
    assert.match(resource!.email as string, /^p\*+@example\.com$/);
    assert.match(resource!.backup_email as string, /^b\*+@example\.com$/);
    const audit = await readAudit(dgf.auditFile);
    const rec = audit.find((r) => r.operation === 'patch');
    assert.ok(rec && (rec.labels as string[]).includes('pii.email'));
  });

  test('written documents are classified: labels in the audit record and the inventory', async () => {
    await client('analyst').database(dbId).container('people').items.create({ id: 'w1', pk: 'eu', contact_email: 'w@example.org' });
    const audit = await readAudit(dgf.auditFile);
    const rec = audit.find((r) => r.operation === 'create' && r.role === 'analyst');
    assert.ok(rec);
    assert.ok((rec.labels as string[]).includes('pii.email'));
    assert.equal(typeof (rec.extra as Record<string, unknown>).requestCharge, 'number');
    const inv = (await (await fetch(`${dgf.adminUrl}/api/v1/inventory`)).json()) as unknown;
    assert.ok(JSON.stringify(inv).includes('contact_email'));
  });

  test('deleting a database or container is denied to non-admin roles with the rule message', async () => {
    await assert.rejects(client('analyst').database(dbId).container('people').delete(), (err: { code?: number; message: string }) => {
      assert.equal(err.code, 403);
      assert.match(err.message, /not allowed for this role/);
      return true;
    });
    await assert.rejects(client('dpo').database(dbId).delete(), (err: { code?: number }) => err.code === 403);
  });

  test('a wrong key is refused with 401 and a Cosmos-style JSON error', async () => {
    await assert.rejects(client('analyst', key('not-a-key')).database(dbId).container('people').item('p1', 'eu').read(), (err: { code?: number }) => {
      assert.equal(err.code, 401);
      return true;
    });
  });

  test('a stale x-ms-date and a resource token are refused with 401', async () => {
    const path = `/dbs/${dbId}/colls/people/docs/p1`;
    const stale = new Date(Date.now() - 20 * 60 * 1000).toUTCString();
    const analystKey = USERS[1]!.key;
    const res = await request(`${endpoint}${path}`, {
      headers: {
        'x-ms-date': stale,
        'x-ms-version': '2020-07-15',
        'x-ms-documentdb-partitionkey': '["eu"]',
        authorization: encodeURIComponent(expectedAuthorization(analystKey, 'GET', path, stale)),
      },
    });
    assert.equal(res.statusCode, 401);
    const body = (await res.body.json()) as { code: string; message: string };
    assert.equal(body.code, 'Unauthorized');
    assert.match(body.message, /15 minutes/);

    const now = new Date().toUTCString();
    const tokenRes = await request(`${endpoint}${path}`, {
      headers: { 'x-ms-date': now, authorization: encodeURIComponent('type=resource&ver=1.0&sig=abc') },
    });
    assert.equal(tokenRes.statusCode, 401);
    assert.match(((await tokenRes.body.json()) as { message: string }).message, /resource tokens/);
  });

  test('the upstream received only valid signatures made with the real key, never a client key', async () => {
    assert.ok(upstream.seen.length > 20);
    const bad = upstream.seen.filter((s) => !s.valid);
    assert.deepEqual(bad, []);
    const clientSigs = new Set(USERS.map((u) => u.key));
    assert.ok(upstream.seen.every((s) => !clientSigs.has(s.authorization)));
  });

  test('TLS upstream (cosmosdb-server over HTTPS) works through the second listener', async () => {
    const c = new CosmosClient({ endpoint: `http://127.0.0.1:${dgf.listener('cosmos-tls').address.port}`, key: USERS[1]!.key });
    const doc = (await c.database(dbId).container('people').item('p5', 'eu').read()).resource!;
    assert.match(doc.email as string, /^p\*+@example\.com$/);
    const health = await dgf.listener('cosmos-tls').checkUpstream();
    assert.equal(health.status, 'up');
  });
});
