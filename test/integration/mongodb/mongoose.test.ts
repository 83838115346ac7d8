/**
 * Mongoose 9 through dgf with the plain connection string `mongodb://user:pw@127.0.0.1:<port>/app`.
 * CRUD, bulk, cursors, aggregation and sessions against CongoDB; the transaction against the scripted
 * upstream (CongoDB neither isolates nor rolls back transactions).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import mongoose, { Schema, type Connection } from 'mongoose';
import { Long } from 'bson';
import { direct, startMongoDgf, uniqueName, type MongoDgf } from './helpers.js';
import { startScriptedUpstream, type ScriptedUpstream } from './scripted-upstream.js';

const personSchema = new Schema({
  k: Number,
  name: String,
  email: String,
  contact: { phone: String, city: String },
  tags: [String],
});

describe('mongoose through dgf', () => {
  let m: MongoDgf;
  let adminConn: Connection;
  let analystConn: Connection;
  const coll = uniqueName('mongoose');

  before(async () => {
    m = await startMongoDgf();
    adminConn = await mongoose.createConnection(m.url('admin')).asPromise();
    analystConn = await mongoose.createConnection(m.url('analyst')).asPromise();
  });

  after(async () => {
    const up = direct();
    await up.connect();
    await up.db('app').collection(coll).drop().catch(() => undefined);
    await up.close();
    await adminConn.close();
    await analystConn.close();
    await m.stop();
  });

  test('CRUD with a model', async () => {
    const Person = adminConn.model('Person', personSchema, coll);
    const p = await Person.create({ k: 1, name: 'Ada', email: 'ada@example.com', contact: { phone: '+14155552671', city: 'Paris' } });
    assert.ok(p._id);
    const found = await Person.findById(p._id).lean();
    assert.equal(found?.email, 'ada@example.com');
    await Person.updateOne({ _id: p._id }, { $set: { 'contact.city': 'Lyon' } });
    assert.equal((await Person.findOne({ k: 1 }).lean())?.contact?.city, 'Lyon');
    const doc = await Person.findOneAndUpdate({ k: 1 }, { $set: { name: 'Ada L.' } }, { new: true }).lean();
    // CongoDB answers findAndModify with value null; MongoDB returns the document
    if (doc) assert.equal(doc.name, 'Ada L.');
    assert.equal((await Person.findOne({ k: 1 }).lean())?.name, 'Ada L.');
    await Person.deleteOne({ k: 1 });
    assert.equal(await Person.countDocuments({ k: 1 }), 0);
  });

  test('bulk: insertMany and bulkWrite', async () => {
    const Person = adminConn.model('PersonBulk', personSchema, coll);
    await Person.insertMany(Array.from({ length: 60 }, (_, i) => ({ k: 100 + i, name: `P${i}`, email: `p${i}@example.com`, tags: ['x'] })));
    const r = await Person.bulkWrite([
      { updateMany: { filter: { k: { $gte: 150 } }, update: { $set: { name: 'late' } } } },
      { deleteOne: { filter: { k: 100 } } },
      { insertOne: { document: { k: 999, name: 'Z', email: 'z@example.com' } } },
    ]);
    assert.equal(r.modifiedCount, 10);
    assert.equal(r.deletedCount, 1);
    assert.equal(r.insertedCount, 1);
    assert.equal(await Person.countDocuments({ k: { $gte: 100 } }), 60);
  });

  test('a cursor with batchSize 4 streams every document (many getMores), masked for the analyst', async () => {
    const Person = analystConn.model('PersonCursor', personSchema, coll);
    let n = 0;
    for await (const d of Person.find({ k: { $gte: 100, $lt: 200 } }).sort({ k: 1 }).batchSize(4).lean().cursor()) {
      n++;
      assert.match(String(d.email), /^p\*\*\*@example\.com$/);
    }
    assert.equal(n, 59);
  });

  test('aggregation with a $project rename is masked like its source', async () => {
    const Person = analystConn.model('PersonAgg', personSchema, coll);
    const rows = await Person.aggregate<{ who: string; mail: string }>([{ $match: { k: { $gte: 101, $lte: 103 } } }, { $sort: { k: 1 } }, { $project: { _id: 0, who: '$name', mail: '$email' } }]);
    assert.deepEqual(rows.map((r) => r.who), ['P1', 'P2', 'P3']);
    for (const r of rows) assert.match(r.mail, /^p\*\*\*@example\.com$/);
    const Admin = adminConn.model('PersonAggAdmin', personSchema, coll);
    const clear = await Admin.aggregate<{ mail: string }>([{ $match: { k: 101 } }, { $project: { _id: 0, mail: '$email' } }]);
    assert.equal(clear[0]!.mail, 'p1@example.com');
  });

  test('sessions: model operations inside an explicit session', async () => {
    const Person = adminConn.model('PersonSession', personSchema, coll);
    const session = await adminConn.startSession();
    try {
      await Person.create([{ k: 5000, name: 'S' }], { session });
      assert.equal((await Person.findOne({ k: 5000 }).session(session).lean())?.name, 'S');
    } finally {
      await session.endSession();
    }
  });
});

describe('mongoose transaction through dgf (scripted upstream)', () => {
  let up: ScriptedUpstream;
  let m: MongoDgf;
  let conn: Connection;

  before(async () => {
    up = await startScriptedUpstream((cmd) => {
      const name = Object.keys(cmd)[0]!;
      if (name === 'insert') return { n: (cmd.documents as unknown[]).length, ok: 1 };
      if (name === 'update') return { n: 1, nModified: 1, ok: 1 };
      if (name === 'commitTransaction') return { ok: 1 };
      if (name === 'find') return { cursor: { id: Long.fromNumber(0), ns: `app.${String(cmd.find)}`, firstBatch: [] }, ok: 1 };
      return undefined;
    });
    m = await startMongoDgf({ upstreamUrl: up.url });
    conn = await mongoose.createConnection(m.url('admin')).asPromise();
  });

  after(async () => {
    await conn.close();
    await m.stop();
    await up.close();
  });

  test('connection.transaction(): both writes and the commit reach the upstream in one transaction', async () => {
    const Order = conn.model('Order', new Schema({ item: String, qty: Number }), 'orders');
    const from = up.commands.length;
    await conn.transaction(async (session) => {
      await Order.create([{ item: 'a', qty: 1 }], { session });
      await Order.updateOne({ item: 'a' }, { $inc: { qty: 1 } }, { session });
    });
    const sent = up.commands.slice(from).filter((c) => ['insert', 'update', 'commitTransaction'].includes(Object.keys(c)[0]!));
    assert.deepEqual(sent.map((c) => Object.keys(c)[0]), ['insert', 'update', 'commitTransaction']);
    assert.equal(sent[0]!.startTransaction, true);
    for (const c of sent) assert.equal(c.autocommit, false);
    assert.equal(String(sent[2]!.txnNumber), String(sent[0]!.txnNumber));
  });
});
