/**
 * The official `mongodb` driver 7 through dgf, connection string `mongodb://user:pw@127.0.0.1:<port>/app`
 * with no options (no directConnection), against CongoDB. Each capability in its own test.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { MongoClient, type Collection, type Document } from 'mongodb';
import { readAudit } from '../../helpers/dgf.js';
import { direct, startMongoDgf, uniqueName, type MongoDgf } from './helpers.js';

describe('mongodb driver through dgf (CongoDB upstream)', () => {
  let m: MongoDgf;
  let admin: MongoClient;
  let upstream: MongoClient;
  const coll = uniqueName('crud');

  before(async () => {
    m = await startMongoDgf();
    admin = new MongoClient(m.url('admin'));
    await admin.connect();
    upstream = direct();
    await upstream.connect();
  });

  after(async () => {
    await upstream.db('app').collection(coll).drop().catch(() => undefined);
    for (const c of ['cursor', 'bulk', 'agg', 'sess']) await upstream.db('app').collection(`${coll}_${c}`).drop().catch(() => undefined);
    await admin.close();
    await upstream.close();
    await m.stop();
  });

  test('the driver sees one mongos and never the upstream address', async () => {
    const hello = await admin.db('admin').command({ hello: 1 });
    assert.equal(hello.msg, 'isdbgrid');
    assert.equal(hello.hosts, undefined);
    assert.equal(hello.maxWireVersion, 21); // CongoDB's, learned through the driver
    assert.equal(hello.compression, undefined);
    const desc = admin.options.hosts.map((h) => h.toString());
    assert.deepEqual(desc, [`127.0.0.1:${m.port}`]);
  });

  // CongoDB turns numeric `_id`s into ObjectIds (MongoDB keeps them), so documents are keyed by `k` here.
  test('CRUD: insert, find, update, replace, delete, count', async () => {
    const c: Collection<Document> = admin.db('app').collection(coll);
    const ins = await c.insertOne({ k: 1, name: 'Ada', email: 'ada@example.com', n: 1 });
    assert.equal(ins.acknowledged, true);
    await c.insertMany([{ k: 2, name: 'Bob', n: 2 }, { k: 3, name: 'Cy', n: 3 }]);
    const ada = await c.findOne({ k: 1 });
    assert.equal(ada?.name, 'Ada');
    assert.equal(String(ada?._id), String(ins.insertedId));
    const up = await c.updateOne({ k: 2 }, { $set: { n: 20 } });
    assert.equal(up.modifiedCount, 1);
    const rep = await c.replaceOne({ k: 3 }, { k: 3, name: 'Cyd', n: 30 });
    assert.equal(rep.modifiedCount, 1);
    assert.equal(await c.countDocuments({ n: { $gte: 20 } }), 2);
    const del = await c.deleteOne({ k: 1 });
    assert.equal(del.deletedCount, 1);
    // the writes really reached the upstream
    const seen = await upstream.db('app').collection(coll).find({}).sort({ k: 1 }).toArray();
    assert.deepEqual(seen.map((d) => [d.k, d.n]), [[2, 20], [3, 30]]);
  });

  test('bulk writes: ordered and unordered bulkWrite, insertMany of 500', async () => {
    const c = admin.db('app').collection(`${coll}_bulk`);
    const docs = Array.from({ length: 500 }, (_, i) => ({ k: i, v: i }));
    assert.equal((await c.insertMany(docs)).insertedCount, 500);
    const r = await c.bulkWrite(
      [
        { insertOne: { document: { k: 1000, v: 1 } } },
        { updateMany: { filter: { v: { $lt: 10 } }, update: { $set: { small: true } } } },
        { deleteOne: { filter: { k: 499 } } },
        { replaceOne: { filter: { k: 498 }, replacement: { k: 498, v: -1 } } },
      ],
      { ordered: true },
    );
    assert.equal(r.insertedCount, 1);
    assert.equal(r.modifiedCount, 12); // 11 updated by updateMany + 1 replaced
    assert.equal(r.deletedCount, 1);
    const u = await c.bulkWrite([{ updateOne: { filter: { k: 5 }, update: { $inc: { v: 100 } } } }, { deleteMany: { filter: { v: -1 } } }], { ordered: false });
    assert.equal(u.modifiedCount, 1);
    assert.equal(u.deletedCount, 1);
    assert.equal(await upstream.db('app').collection(`${coll}_bulk`).countDocuments({}), 499);
    assert.equal((await upstream.db('app').collection(`${coll}_bulk`).findOne({ k: 5 }))?.v, 105);
  });

  test('a cursor with batchSize 7 over 100 documents needs many getMores, all answered', async () => {
    const c = admin.db('app').collection(`${coll}_cursor`);
    await c.insertMany(Array.from({ length: 100 }, (_, i) => ({ i })));
    const before = (await readAudit(m.dgf.auditFile)).filter((r) => r.operation === 'getmore').length;
    const seen: number[] = [];
    for await (const d of c.find({}, { batchSize: 7 }).sort({ i: 1 })) seen.push(d.i as number);
    assert.deepEqual(seen, Array.from({ length: 100 }, (_, i) => i));
    const getMores = (await readAudit(m.dgf.auditFile)).filter((r) => r.operation === 'getmore').length - before;
    assert.ok(getMores >= 14, `expected >= 14 getMores, audit shows ${getMores}`);
    // an abandoned cursor is killed through dgf on the server that owns it
    const cur = c.find({}, { batchSize: 5 });
    await cur.next();
    await cur.close();
  });

  test('aggregation with renames: $match, $project rename, $addFields, $sort', async () => {
    const c = admin.db('app').collection(`${coll}_agg`);
    await c.insertMany([
      { name: 'Ann', email: 'ann@example.com', score: 3 },
      { name: 'Ben', email: 'ben@example.com', score: 5 },
    ]);
    const out = await c
      .aggregate([{ $match: { score: { $gte: 1 } } }, { $project: { _id: 0, who: '$name', mail: '$email', score: 1 } }, { $addFields: { double: { $multiply: ['$score', 2] } } }, { $sort: { score: -1 } }])
      .toArray();
    assert.deepEqual(out, [
      { who: 'Ben', mail: 'ben@example.com', score: 5, double: 10 },
      { who: 'Ann', mail: 'ann@example.com', score: 3, double: 6 },
    ]);
  });

  test('sessions: an explicit session runs reads and writes through dgf', async () => {
    const c = admin.db('app').collection(`${coll}_sess`);
    const session = admin.startSession();
    try {
      await c.insertOne({ s: 1 }, { session });
      await c.updateOne({ s: 1 }, { $set: { t: 2 } }, { session });
      const got = await c.find({ s: 1 }, { session }).toArray();
      assert.equal(got[0]?.t, 2);
    } finally {
      await session.endSession();
    }
  });

  // countDocuments runs as an aggregate command
  test('metrics: queries by operation and the upstream pool are exported', async () => {
    await admin.db('app').collection(coll).countDocuments({});
    const text = await (await fetch(`${m.dgf.adminUrl}/metrics`)).text();
    assert.match(text, /dgf_queries_total\{[^}]*protocol="mongodb"[^}]*operation="aggregate"[^}]*\} \d+/);
    assert.match(text, /dgf_upstream_connections\{listener="mongo",state="(active|idle)"\} \d+/);
    assert.match(text, /dgf_client_connections\{listener="mongo",protocol="mongodb"\} [1-9]/);
  });

  test('audit: one record per command, statements without values', async () => {
    await admin.db('app').collection(coll).find({ name: 'Secret Name' }).toArray();
    const records = await readAudit(m.dgf.auditFile);
    const find = records.filter((r) => r.operation === 'find' && r.object === `app.${coll}`).at(-1)!;
    assert.equal(find.statement, `find app.${coll} {name: ?}`);
    assert.equal(find.decision, 'allow');
    assert.doesNotMatch(JSON.stringify(records), /Secret Name|ada@example\.com/);
  });
});
