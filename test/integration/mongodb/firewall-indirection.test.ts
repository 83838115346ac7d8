/**
 * Issue #18 item 5, MongoDB: the firewall sees through indirection. Through a real dgf in front of CongoDB, with the
 * official driver: deleteMany with filters that match every document without being `{}` (the shipped rule
 * deny-destructive names `deletemany-all`), the same through delete commands with several statements, bulkWrite
 * and the bulkWrite command; renameCollection with dropTarget (a drop of the target); collections read or written
 * by $lookup / $unionWith / $graphLookup / $facet / $out / $merge are objects of the command (a rule on an object
 * sees them; masking of what they return). Role `default` (user app, no role mapping) and analyst are subject to
 * deny-destructive; a user policy denies every access to the `secret_*` collections for role default.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MaxKey, MinKey, MongoClient, MongoServerError, type Document } from 'mongodb';
import { direct, startMongoDgf, uniqueName, type MongoDgf } from './helpers.js';

const POLICY = `
rules:
  - id: no-secrets
    match: { role: [default, analyst], objects: ["app.secret_*"] }
    action: deny
    message: "the secret collections are off limits"
`;

const denied = (err: unknown): boolean => {
  assert.ok(err instanceof MongoServerError, String(err));
  assert.equal(err.code, 13, err.message);
  return true;
};

describe('mongodb firewall: indirection', () => {
  let m: MongoDgf;
  let app: MongoClient;
  let analyst: MongoClient;
  let upstream: MongoClient;
  let dir: string;
  const base = uniqueName('ind');
  const secret = `secret_${base}`;
  const created: string[] = [];

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'dgf-mongo-indirection-'));
    writeFileSync(path.join(dir, 'rules.yaml'), POLICY);
    m = await startMongoDgf({ extra: { policies: { dir } } });
    app = new MongoClient(m.url('app'));
    await app.connect();
    analyst = new MongoClient(m.url('analyst'));
    await analyst.connect();
    upstream = direct();
    await upstream.connect();
    await upstream.db('app').collection(secret).insertMany([{ k: 1, code: 'launch' }]);
    await upstream.db('app').collection(`${base}_people`).insertMany([{ k: 1, email: 'ada@example.com' }, { k: 2, email: 'bob@example.com' }]);
    await upstream.db('app').collection(`${base}_orders`).insertMany([{ k: 1, person: 1 }, { k: 2, person: 2 }]);
    created.push(secret, `${base}_people`, `${base}_orders`);
  });

  after(async () => {
    for (const c of created) await upstream.db('app').collection(c).drop().catch(() => undefined);
    await app?.close();
    await analyst?.close();
    await upstream?.close();
    await m?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  let n = 0;
  /** A fresh collection of 5 documents. */
  async function seeded(): Promise<string> {
    const name = `${base}_v${++n}`;
    created.push(name);
    await upstream.db('app').collection(name).insertMany([1, 2, 3, 4, 5].map((k) => ({ k, name: `n${k}`, tag: k % 2 ? 'odd' : 'even' })));
    return name;
  }
  const count = (name: string): Promise<number> => upstream.db('app').collection(name).countDocuments({});

  const alwaysTrue: Array<[string, Document]> = [
    ['{}', {}],
    ['{_id: {$exists: true}}', { _id: { $exists: true } }],
    ['{$or: [{}, {k: 1}]}', { $or: [{}, { k: 1 }] }],
    ['{$expr: true}', { $expr: true }],
    ['{$expr: {$eq: [1, 1]}}', { $expr: { $eq: [1, 1] } }],
    ['{k: {$ne: <impossible>}}', { k: { $ne: 'impossible' } }],
    ["{$where: 'true'}", { $where: 'true' }],
    ['{_id: {$gte: MinKey}}', { _id: { $gte: new MinKey() } }],
    ['{_id: {$lt: MaxKey}}', { _id: { $lt: new MaxKey() } }],
    ['{$and: [{}]}', { $and: [{}] }],
    ['{$nor: [{k: <impossible>}]}', { $nor: [{ k: 'impossible' }] }],
    ['{k: {$nin: [<impossible>]}}', { k: { $nin: ['impossible'] } }],
    ['{k: {$not: {$eq: <impossible>}}}', { k: { $not: { $eq: 'impossible' } } }],
    ["{_id: {$type: 'objectId'}}", { _id: { $type: 'objectId' } }],
    ['{$comment: ...}', { $comment: 'cleanup' }],
    ['{$jsonSchema: {}}', { $jsonSchema: {} }],
    ['{missing: null}', { missing: null }],
    ['{missing: {$in: [null]}}', { missing: { $in: [null] } }],
    ['{missing: {$exists: false}}', { missing: { $exists: false } }],
    ["{name: {$regex: ''}}", { name: { $regex: '' } }],
    ['{name: /.*/}', { name: /.*/ }],
    ['{k: {$gt: -1e308}}', { k: { $gt: -1e308 } }],
    ['{k: {$gte: -1e308, $lte: 1e308}}', { k: { $gte: -1e308, $lte: 1e308 } }],
    ['{k: {$exists: true, $ne: null}}', { k: { $exists: true, $ne: null } }],
    ['{$and: [{k: {$ne: 1}}, {}]}', { $and: [{ k: { $ne: 1 } }, {}] }],
    ['{$or: [{k: {$ne: 1}}, {k: 1}]}', { $or: [{ k: { $ne: 1 } }, { k: 1 }] }],
    ['{$or: [{k: 1}, {tag: {$in: ["odd", "even"]}}, {}]}', { $or: [{ k: 1 }, { tag: { $in: ['odd', 'even'] } }, {}] }],
    ['{k: {$not: {$elemMatch: {x: 1}}}}', { k: { $not: { $elemMatch: { x: 1 } } } }],
    ['{$alwaysTrue: 1}', { $alwaysTrue: 1 }],
    ['{$sampleRate: 1}', { $sampleRate: 1 }],
    ['{k: {$mod: [1, 0]}}', { k: { $mod: [1, 0] } }],
  ];

  for (const [label, filter] of alwaysTrue) {
    test(`deleteMany(${label}) is deletemany-all: refused, nothing deleted`, async () => {
      const c = await seeded();
      await assert.rejects(app.db('app').collection(c).deleteMany(filter), denied);
      assert.equal(await count(c), 5);
    });
  }

  test('delete commands: any statement with limit 0 and a filter dgf cannot prove selective', async () => {
    const c = await seeded();
    await assert.rejects(app.db('app').command({ delete: c, deletes: [{ q: { _id: { $exists: true } }, limit: 0 }] }), denied);
    await assert.rejects(app.db('app').command({ delete: c, deletes: [{ q: { k: 1 }, limit: 0 }, { q: { $expr: true }, limit: 0 }] }), denied);
    await assert.rejects(app.db('app').command({ delete: c, deletes: [{ q: { k: 1 }, limit: 1 }, { q: { k: { $ne: 0 } } }] }), denied, 'limit absent counts as 0');
    assert.equal(await count(c), 5);
  });

  test('bulkWrite through the driver and the bulkWrite command', async () => {
    const c = await seeded();
    await assert.rejects(app.db('app').collection(c).bulkWrite([{ deleteOne: { filter: { k: 1 } } }, { deleteMany: { filter: { $expr: true } } }]), denied);
    await assert.rejects(
      app.db('admin').command({ bulkWrite: 1, ops: [{ delete: 0, filter: { k: { $ne: 0 } }, multi: true }], nsInfo: [{ ns: `app.${c}` }] }),
      denied,
    );
    assert.equal(await count(c), 5);
  });

  test('selective deletes, deleteOne and findOneAndDelete still run', async () => {
    const c = await seeded();
    const col = app.db('app').collection(c);
    assert.equal((await col.deleteMany({ k: 1 })).deletedCount, 1);
    assert.equal((await col.deleteMany({ k: { $in: [2, 3] }, tag: { $ne: 'x' } })).deletedCount, 2);
    assert.equal((await col.deleteOne({})).deletedCount, 1, 'deleteOne removes at most one document: not deletemany-all');
    await col.findOneAndDelete({}).catch(() => undefined); // one document at most (CongoDB may not implement it)
    assert.ok((await count(c)) >= 0);
  });

  test('renameCollection with dropTarget is a drop of the target: refused, the target stays', async () => {
    const src = await seeded();
    const target = await seeded();
    await assert.rejects(app.db('admin').command({ renameCollection: `app.${src}`, to: `app.${target}`, dropTarget: true }), denied);
    await assert.rejects(app.db('app').renameCollection(src, target, { dropTarget: true }), denied);
    assert.equal(await count(target), 5);
    assert.equal(await count(src), 5);
  });

  test('applyOps (raw oplog entries: any write, on any collection) is dynamic code: refused', async () => {
    const c = await seeded();
    await assert.rejects(app.db('admin').command({ applyOps: [{ op: 'd', ns: `app.${c}`, o: { k: 1 } }] }), denied);
    await assert.rejects(app.db('admin').command({ applyOps: [{ op: 'c', ns: 'app.$cmd', o: { drop: c } }] }), denied);
    assert.equal(await count(c), 5);
  });

  const objectAttacks: Array<[string, (orders: string) => Document[]]> = [
    ['$lookup from', () => [{ $lookup: { from: secret, localField: 'k', foreignField: 'k', as: 'x' } }]],
    ['$lookup with a pipeline', () => [{ $lookup: { from: secret, pipeline: [{ $match: {} }], as: 'x' } }]],
    ['$lookup nested in a $lookup pipeline', (orders) => [{ $lookup: { from: orders, pipeline: [{ $lookup: { from: secret, pipeline: [], as: 'y' } }], as: 'x' } }]],
    ['$unionWith a name', () => [{ $unionWith: secret }]],
    ['$unionWith {coll, pipeline}', () => [{ $unionWith: { coll: secret, pipeline: [{ $project: { code: 1 } }] } }]],
    ['$graphLookup from', () => [{ $graphLookup: { from: secret, startWith: '$k', connectFromField: 'k', connectToField: 'k', as: 'x' } }]],
    ['$lookup inside $facet', () => [{ $facet: { a: [{ $lookup: { from: secret, pipeline: [], as: 'x' } }] } }]],
    ['$out to it', () => [{ $match: { k: 0 } }, { $out: secret }]],
    ['$merge into it', () => [{ $match: { k: 0 } }, { $merge: { into: secret } }]],
    ['$merge into {db, coll}', () => [{ $match: { k: 0 } }, { $merge: { into: { db: 'app', coll: secret } } }]],
  ];

  for (const [label, pipeline] of objectAttacks) {
    test(`a rule on a collection sees it through ${label}`, async () => {
      await assert.rejects(app.db('app').collection(`${base}_orders`).aggregate(pipeline(`${base}_orders`)).toArray(), denied);
      assert.equal(await upstream.db('app').collection(secret).countDocuments({}), 1);
    });
  }

  test('the rule on the collection itself (baseline) and the audit names every collection', async () => {
    await assert.rejects(app.db('app').collection(secret).find({}).toArray(), denied);
    const ok = await app.db('app').collection(`${base}_orders`).aggregate([{ $lookup: { from: `${base}_people`, localField: 'person', foreignField: 'k', as: 'p' } }]).toArray();
    assert.equal(ok.length, 2);
  });

  test('masking sees collections joined by $lookup and $unionWith', async () => {
    const joined = await analyst.db('app').collection(`${base}_orders`).aggregate([{ $lookup: { from: `${base}_people`, localField: 'person', foreignField: 'k', as: 'p' } }, { $sort: { k: 1 } }]).toArray();
    for (const d of joined) for (const p of d.p as Document[]) assert.ok(!String(p.email).includes('ada@') && !String(p.email).includes('bob@'), `masked: ${p.email}`);
    const union = await analyst.db('app').collection(`${base}_orders`).aggregate([{ $unionWith: `${base}_people` }]).toArray();
    for (const d of union) if (d.email !== undefined) assert.ok(!String(d.email).startsWith('ada@') && !String(d.email).startsWith('bob@'), `masked: ${d.email}`);
  });
});
