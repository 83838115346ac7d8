/**
 * Sessions, transactions and change streams through dgf. CongoDB accepts transaction fields but neither
 * isolates nor rolls back (verified: an aborted insert stays) and has no change streams ("unregistered
 * pipeline operator $changeStream"), so these run against a SCRIPTED upstream (scripted-upstream.ts) that
 * answers from MongoDB's documented replies and records what dgf sent.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { MongoClient, Long } from 'mongodb';
import type { Document } from 'bson';
import { startMongoDgf, type MongoDgf } from './helpers.js';
import { startScriptedUpstream, type ScriptedUpstream } from './scripted-upstream.js';

const lsidHex = (cmd: Document): string => Buffer.from((cmd.lsid as { id: { buffer: Uint8Array } }).id.buffer).toString('hex');
const txn = (cmd: Document): number | undefined => (cmd.txnNumber === undefined ? undefined : Number(cmd.txnNumber as Long));

describe('sessions, transactions and change streams (scripted upstream)', () => {
  let up: ScriptedUpstream;
  let m: MongoDgf;
  let analyst: MongoClient;
  let admin: MongoClient;
  const events: Document[] = [];

  before(async () => {
    up = await startScriptedUpstream((cmd) => {
      const name = Object.keys(cmd)[0]!;
      switch (name) {
        case 'insert':
          return { n: (cmd.documents as unknown[]).length, ok: 1 };
        case 'update':
          return { n: 1, nModified: 1, ok: 1 };
        case 'find':
          // A find whose projection renames (`{m: '$email'}`) gets the renamed field, as MongoDB 4.4+ answers it.
          if (cmd.projection && (cmd.projection as Document).m === '$email') {
            return { cursor: { id: Long.fromNumber(0), ns: `${String(cmd.$db)}.${String(cmd.find)}`, firstBatch: [{ m: 'proj@example.com' }] }, ok: 1 };
          }
          return { cursor: { id: Long.fromNumber(0), ns: `${String(cmd.$db)}.${String(cmd.find)}`, firstBatch: [{ _id: 1, email: 'tx@example.com' }] }, ok: 1 };
        case 'commitTransaction':
        case 'abortTransaction':
          return { ok: 1 };
        case 'aggregate':
          // A change stream: an empty first batch, then events on getMore (MongoDB's documented event shape).
          return { cursor: { id: Long.fromNumber(4242), ns: `${String(cmd.$db)}.${String(cmd.aggregate)}`, firstBatch: [], postBatchResumeToken: { _data: '00' } }, ok: 1 };
        case 'getMore': {
          const batch = events.splice(0);
          return { cursor: { id: Long.fromNumber(4242), ns: `app.${String(cmd.collection)}`, nextBatch: batch, postBatchResumeToken: { _data: `0${batch.length}` } }, ok: 1 };
        }
        case 'findAndModify':
          return { lastErrorObject: { n: 1, updatedExisting: true }, value: { _id: 9, email: 'fam@example.com', contact: { email: 'c@example.org' }, qty: 3 }, ok: 1 };
        case 'killCursors':
          return { cursorsKilled: cmd.cursors, cursorsNotFound: [], cursorsAlive: [], cursorsUnknown: [], ok: 1 };
        default:
          return undefined;
      }
    });
    m = await startMongoDgf({ upstreamUrl: up.url });
    analyst = new MongoClient(m.url('analyst'));
    admin = new MongoClient(m.url('admin'));
    await analyst.connect();
    await admin.connect();
  });

  after(async () => {
    await analyst.close();
    await admin.close();
    await m.stop();
    await up.close();
  });

  test('a transaction: startTransaction/txnNumber/autocommit reach the upstream on one upstream session, then commitTransaction', async () => {
    const from = up.commands.length;
    const session = admin.startSession();
    session.startTransaction();
    const c = admin.db('app').collection('orders');
    await c.insertOne({ item: 'a' }, { session });
    await c.updateOne({ item: 'a' }, { $set: { qty: 2 } }, { session });
    await session.commitTransaction();
    await session.endSession();
    const sent = up.commands.slice(from).filter((x) => ['insert', 'update', 'commitTransaction'].includes(Object.keys(x)[0]!));
    assert.deepEqual(sent.map((x) => Object.keys(x)[0]), ['insert', 'update', 'commitTransaction']);
    const [ins, upd, commit] = sent as [Document, Document, Document];
    assert.equal(ins.startTransaction, true);
    assert.equal(ins.autocommit, false);
    assert.equal(upd.startTransaction, undefined);
    assert.equal(upd.autocommit, false);
    assert.equal(commit.autocommit, false);
    assert.equal(commit.$db, 'admin');
    // one upstream session and one txnNumber for the whole transaction
    assert.equal(lsidHex(upd), lsidHex(ins));
    assert.equal(lsidHex(commit), lsidHex(ins));
    assert.equal(txn(upd), txn(ins));
    assert.equal(txn(commit), txn(ins));
  });

  test('an aborted transaction sends abortTransaction, and a new one gets a new txnNumber on the same session', async () => {
    const from = up.commands.length;
    const session = admin.startSession();
    const c = admin.db('app').collection('orders');
    session.startTransaction();
    await c.insertOne({ item: 'b' }, { session });
    await session.abortTransaction();
    session.startTransaction();
    await c.insertOne({ item: 'c' }, { session });
    await session.commitTransaction();
    await session.endSession();
    const sent = up.commands.slice(from).filter((x) => ['insert', 'abortTransaction', 'commitTransaction'].includes(Object.keys(x)[0]!));
    assert.deepEqual(sent.map((x) => Object.keys(x)[0]), ['insert', 'abortTransaction', 'insert', 'commitTransaction']);
    assert.equal(lsidHex(sent[2]!), lsidHex(sent[0]!));
    assert.ok(txn(sent[2]!)! > txn(sent[0]!)!);
    assert.equal(sent[2]!.startTransaction, true);
  });

  test('sessions: each client session maps to its own upstream session; the proxy never forwards the client lsid', async () => {
    const from = up.commands.length;
    const s1 = admin.startSession();
    const s2 = admin.startSession();
    const c = admin.db('app').collection('people');
    await c.find({}, { session: s1 }).toArray();
    await c.find({}, { session: s2 }).toArray();
    await c.find({}, { session: s1 }).toArray();
    const finds = up.commands.slice(from).filter((x) => 'find' in x);
    assert.equal(finds.length, 3);
    assert.equal(lsidHex(finds[0]!), lsidHex(finds[2]!));
    assert.notEqual(lsidHex(finds[0]!), lsidHex(finds[1]!));
    const clientLsid = Buffer.from(s1.id!.id.buffer).toString('hex');
    assert.notEqual(lsidHex(finds[0]!), clientLsid);
    await s1.endSession();
    await s2.endSession();
  });

  test('retryable writes carry a txnNumber upstream', async () => {
    const from = up.commands.length;
    await admin.db('app').collection('orders').insertOne({ item: 'r' });
    const ins = up.commands.slice(from).find((x) => 'insert' in x)!;
    assert.ok(txn(ins)! >= 1);
    assert.ok(ins.lsid);
  });

  test('find replies from the upstream are masked for the analyst', async () => {
    const docs = await analyst.db('app').collection('people').find({}).toArray();
    assert.equal(docs[0]!.email, 't***@example.com');
  });

  test('a find projection that renames (`{m: "$email"}`) is masked like its source', async () => {
    const d = await analyst.db('app').collection('people').findOne({}, { projection: { _id: 0, m: '$email' } });
    assert.equal(d?.m, 'p***@example.com');
    const clear = await admin.db('app').collection('people').findOne({}, { projection: { _id: 0, m: '$email' } });
    assert.equal(clear?.m, 'proj@example.com');
  });

  test('findAndModify returns its document masked for the analyst, clear for the admin (MongoDB reply shape)', async () => {
    const masked = await analyst.db('app').collection('people').findOneAndUpdate({ _id: 9 } as never, { $inc: { qty: 1 } }, { returnDocument: 'after' });
    assert.equal(masked?.email, 'f***@example.com');
    assert.equal(masked?.contact.email, 'c***@example.org');
    assert.equal(masked?.qty, 3);
    const clear = await admin.db('app').collection('people').findOneAndUpdate({ _id: 9 } as never, { $inc: { qty: 1 } }, { returnDocument: 'after' });
    assert.equal(clear?.email, 'fam@example.com');
  });

  test('a change stream: events arrive through getMore and fullDocument is masked for the analyst', async () => {
    const stream = analyst.db('app').collection('people').watch();
    events.push({
      _id: { _data: '01' },
      operationType: 'insert',
      clusterTime: new (await import('bson')).Timestamp({ t: 1, i: 1 }),
      ns: { db: 'app', coll: 'people' },
      documentKey: { _id: 7 },
      fullDocument: { _id: 7, name: 'Zoe', email: 'zoe@example.com', contact: { phone: '+14155552671' } },
    });
    events.push({
      _id: { _data: '02' },
      operationType: 'update',
      ns: { db: 'app', coll: 'people' },
      documentKey: { _id: 7 },
      updateDescription: { updatedFields: { email: 'zoe.new@example.com', 'contact.city': 'Nice' }, removedFields: [], truncatedArrays: [] },
    });
    const ev = (await stream.next()) as Document;
    assert.equal(ev.operationType, 'insert');
    assert.equal(ev.fullDocument.name, 'Zoe');
    assert.equal(ev.fullDocument.email, 'z***@example.com');
    assert.notEqual(ev.fullDocument.contact.phone, '+14155552671');
    const upd = (await stream.next()) as Document;
    assert.equal(upd.operationType, 'update');
    assert.equal(upd.updateDescription.updatedFields.email, 'z***@example.com');
    assert.equal(upd.updateDescription.updatedFields['contact.city'], 'Nice');
    await stream.close();
    const agg = up.commands.find((x) => 'aggregate' in x)!;
    assert.deepEqual(Object.keys((agg.pipeline as Document[])[0]!), ['$changeStream']);
  });
});
