/**
 * The masking guarantee must not cost a masked role (analyst) its ordinary work: each operation through dgf returns
 * what the direct connection returns, masked where it must be. The reference for "masked" is the analyst's point
 * read of each document (the document masking by path: each classified field with its label's own mask).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Container, SqlQuerySpec } from '@azure/cosmos';
import { startFixture, statusOf, type Fixture } from './masking-fixture.js';

type Doc = Record<string, unknown>;
const SYSTEM = ['_rid', '_self', '_etag', '_ts', '_attachments', '_lsn'];
const strip = (d: Doc): Doc => Object.fromEntries(Object.entries(d).filter(([k]) => !SYSTEM.includes(k)));
const byId = (a: Doc, b: Doc): number => String(a.id).localeCompare(String(b.id));

describe('cosmos masked utility: ordinary work of a masked role', () => {
  let fx: Fixture;
  /** id -> the analyst's point read (system properties removed). */
  const masked = new Map<string, Doc>();

  const all = async (c: Container, query: string | SqlQuerySpec): Promise<unknown[]> => (await c.items.query(query).fetchAll()).resources;
  const same = async (query: string | SqlQuerySpec): Promise<unknown[]> => {
    const direct = await all(fx.direct, query);
    const through = await all(fx.asAnalyst, query);
    assert.deepEqual(through, direct);
    return through;
  };

  before(async () => {
    fx = await startFixture();
    for (const d of fx.docs) masked.set(d.id, strip((await fx.asAnalyst.item(d.id, d.pk).read<Doc>()).resource!));
  });

  after(async () => {
    await fx?.stop();
  });

  test('point read: unclassified fields as stored, classified ones with their label mask', async () => {
    const d = fx.docs[1]!;
    const m = masked.get(d.id)!;
    assert.equal(m.city, d.city);
    assert.equal(m.n, d.n);
    assert.equal(m.full_name, 'B****** *******');
    assert.equal(m.diagnosis, '[REDACTED]');
    assert.notEqual(m.ssn, d.ssn);
    assert.deepEqual((m.contact as Doc).city, d.contact.city);
  });

  test('SELECT * returns each document as the point read masks it', async () => {
    const rows = ((await all(fx.asAnalyst, 'SELECT * FROM c')) as Doc[]).map(strip).sort(byId);
    assert.deepEqual(rows, [...masked.values()].sort(byId));
  });

  test('unclassified projections equal the direct answer', async () => {
    await same('SELECT c.id, c.city, c.n FROM c');
  });

  test('a filter on a classified field runs (predicates are not outputs)', async () => {
    const rows = await same("SELECT VALUE c.city FROM c WHERE c.diagnosis = 'Sarcoidosis'");
    assert.deepEqual(rows, ['Porto']);
  });

  test('a parameterized filter on a classified field', async () => {
    const rows = await same({ query: 'SELECT c.id FROM c WHERE c.ssn = @s', parameters: [{ name: '@s', value: '987-65-4303' }] });
    assert.deepEqual(rows, [{ id: 'p3' }]);
  });

  test('COUNT with a predicate on a classified field', async () => {
    assert.deepEqual(await same("SELECT VALUE COUNT(1) FROM c WHERE STARTSWITH(c.full_name, 'Z')"), [1]);
  });

  test('SUM of an unclassified field', async () => {
    assert.deepEqual(await same('SELECT VALUE SUM(c.n) FROM c'), [15]);
  });

  test('existence and type tests of classified fields are answered', async () => {
    await same('SELECT c.id, IS_DEFINED(c.ssn) AS has, IS_STRING(c.diagnosis) AS s FROM c');
  });

  test('functions of unclassified fields are computed as usual', async () => {
    await same("SELECT c.id, c.n * 2 AS dbl, UPPER(c.city) AS city, CONCAT(c.id, '-', c.pk) AS k FROM c");
  });

  test('JOIN over an array, unclassified members', async () => {
    await same('SELECT c.id, t.label FROM c JOIN t IN c.tags');
  });

  test('plain projection of a classified field gets its label mask, aliased or not', async () => {
    const rows = (await all(fx.asAnalyst, 'SELECT c.id, c.full_name, c.diagnosis AS d, c.ssn AS s FROM c')) as Doc[];
    assert.equal(rows.length, fx.docs.length);
    for (const r of rows) {
      const m = masked.get(String(r.id))!;
      assert.deepEqual(r, { id: m.id, full_name: m.full_name, d: m.diagnosis, s: m.ssn });
    }
  });

  test('SELECT VALUE of a classified field and of a sub-object: the label masks', async () => {
    const names = (await all(fx.asAnalyst, 'SELECT VALUE c.full_name FROM c')) as string[];
    assert.deepEqual(names.sort(), [...masked.values()].map((m) => m.full_name as string).sort());
    const contacts = (await all(fx.asAnalyst, 'SELECT VALUE c.contact FROM c')) as Doc[];
    const want = [...masked.values()].map((m) => m.contact as Doc);
    assert.deepEqual(contacts.map((c) => JSON.stringify(c)).sort(), want.map((c) => JSON.stringify(c)).sort());
  });

  test('an object constructor keeps each member its own treatment', async () => {
    const rows = (await all(fx.asAnalyst, 'SELECT VALUE {"id": c.id, "name": c.full_name, "city": c.city} FROM c')) as Doc[];
    for (const r of rows) {
      const m = masked.get(String(r.id))!;
      assert.deepEqual(r, { id: m.id, name: m.full_name, city: m.city });
    }
  });

  test('cross-partition ORDER BY (also on a classified field) returns the direct order', async () => {
    await same('SELECT c.id FROM c ORDER BY c.n DESC');
    const direct = ((await all(fx.direct, 'SELECT c.id FROM c ORDER BY c.diagnosis')) as Doc[]).map((r) => r.id);
    const through = ((await all(fx.asAnalyst, 'SELECT c.id FROM c ORDER BY c.diagnosis')) as Doc[]).map((r) => r.id);
    assert.deepEqual(through, direct);
  });

  test("the SDK's ORDER BY rewrite: orderByItems with the label mask, payload as the point read", async () => {
    const rows = (await all(
      fx.asAnalyst,
      'SELECT c._rid, [{"item": c.full_name}] AS orderByItems, c AS payload FROM c WHERE true ORDER BY c.full_name',
    )) as Array<{ orderByItems: Array<{ item: unknown }>; payload: Doc }>;
    assert.equal(rows.length, fx.docs.length);
    for (const r of rows) {
      const m = masked.get(String(r.payload.id))!;
      assert.deepEqual(strip(r.payload), m);
      assert.deepEqual(r.orderByItems, [{ item: m.full_name }]);
    }
  });

  test('TOP with ORDER BY on unclassified fields', async () => {
    await same('SELECT TOP 3 c.id, c.city FROM c ORDER BY c.id');
  });

  test('feed iteration with continuations: every page as direct', async () => {
    const pages = async (c: Container): Promise<unknown[][]> => {
      const it = c.items.query('SELECT c.id, c.city FROM c', { maxItemCount: 2 });
      const out: unknown[][] = [];
      while (it.hasMoreResults()) {
        const page = await it.fetchNext();
        if (page.resources.length > 0) out.push(page.resources);
      }
      return out;
    };
    const through = await pages(fx.asAnalyst);
    assert.ok(through.length >= 3);
    assert.deepEqual(through, await pages(fx.direct));
  });

  test('readAll with small pages: each document as the point read masks it', async () => {
    const rows = ((await fx.asAnalyst.items.readAll<Doc>({ maxItemCount: 2 }).fetchAll()).resources as Doc[])
      .filter((d) => masked.has(String(d.id)))
      .map(strip)
      .sort(byId);
    assert.deepEqual(rows, [...masked.values()].sort(byId));
  });

  test('upsert and replace of its own document, read back as written', async () => {
    const doc = { id: 'mine-1', pk: 'north', city: 'Coimbra', n: 100, note: 'own document' };
    const created = (await fx.asAnalyst.items.upsert(doc)).resource!;
    assert.deepEqual(strip(created as Doc), doc);
    const replaced = (await fx.asAnalyst.item('mine-1', 'north').replace({ ...doc, city: 'Aveiro' })).resource!;
    assert.equal(replaced.city, 'Aveiro');
    const direct = (await fx.direct.item('mine-1', 'north').read<Doc>()).resource!;
    assert.deepEqual(strip(direct), { ...doc, city: 'Aveiro' });
    const back = (await fx.asAnalyst.item('mine-1', 'north').read<Doc>()).resource!;
    assert.deepEqual(strip(back), strip(direct));
    await fx.asAnalyst.item('mine-1', 'north').delete();
  });

  test('GROUP BY on an unclassified field is traced and forwarded, not refused: the same answer as direct', async () => {
    const query = 'SELECT c.pk, COUNT(1) AS n FROM c GROUP BY c.pk';
    const direct = await statusOf(all(fx.direct, query));
    const through = await statusOf(all(fx.asAnalyst, query));
    assert.notEqual(through.status, 403, through.message);
    // cosmosdb-server has no GROUP BY: both answer its 400; a real account answers the groups on both.
    assert.equal(through.status, direct.status);
    assert.deepEqual(through.value, direct.value);
  });
});
