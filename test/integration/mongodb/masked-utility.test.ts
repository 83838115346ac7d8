/**
 * Issue #16, "Must show" (MongoDB): the masking guarantee must not cost the masked role its ordinary work. Ordinary
 * operations of `analyst` through dgf (official driver, CongoDB upstream) return what the direct connection returns,
 * with exactly the classified values masked, each with its own label's mask (a plain reference or rename keeps the
 * format-preserving mask), and every unclassified value unchanged.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MongoClient, type Collection, type Document } from 'mongodb';
import { PolicyStore, type CompiledPolicy } from '../../../src/policy/index.js';
import { TEST_HASH_KEY } from '../../helpers/dgf.js';
import { direct, startMongoDgf, uniqueName, type MongoDgf } from './helpers.js';
import { PEOPLE, seedPeople } from './leak-fixtures.js';

/** Drop `_id` (CongoDB assigns ObjectIds; they are not what these tests compare). */
const noId = (d: Document): Document => {
  const { _id: _ignored, ...rest } = d;
  return rest;
};

describe('masked utility: ordinary operations of a masked role (MongoDB, CongoDB upstream)', () => {
  let m: MongoDgf;
  let analyst: MongoClient;
  let upstream: MongoClient;
  let policy: CompiledPolicy;
  let mine: Collection;
  let theirs: Collection;
  const coll = uniqueName('util');

  /** What `analyst` must see of `value` under the field `path` (the label's own mask). */
  const masked = (path: string, value: unknown): unknown => policy.fieldPlan('analyst', { name: path, type: 'text' }).apply(value);

  before(async () => {
    m = await startMongoDgf();
    upstream = direct();
    await upstream.connect();
    await seedPeople(upstream.db('app'), coll);
    analyst = new MongoClient(m.url('analyst'));
    await analyst.connect();
    mine = analyst.db('app').collection(coll);
    theirs = upstream.db('app').collection(coll);
    policy = (await PolicyStore.load({ hashKey: TEST_HASH_KEY })).current();
  });

  after(async () => {
    await theirs?.drop().catch(() => undefined);
    await Promise.all([analyst?.close(), upstream?.close()]);
    await m?.stop();
  });

  test('find with a filter on a classified field: the document, its classified fields masked', async () => {
    const got = await mine.find({ email: PEOPLE[2]!.email }).toArray();
    const want = await theirs.find({ email: PEOPLE[2]!.email }).toArray();
    assert.equal(got.length, 1);
    assert.equal(want.length, 1);
    const g = got[0]!;
    const w = want[0]!;
    for (const f of ['k', 'name', 'dept', 'age', 'tags']) assert.deepEqual(g[f], w[f], f);
    assert.equal(g.contact.city, w.contact.city);
    assert.equal(g.email, masked('email', w.email));
    assert.equal(g.ssn, masked('ssn', w.ssn));
    assert.equal(g.card_number, masked('card_number', w.card_number));
    assert.equal(g.diagnosis, masked('diagnosis', w.diagnosis));
    assert.equal(g.full_name, masked('full_name', w.full_name));
    assert.equal(g.contact.email, masked('contact.email', w.contact.email));
    assert.notEqual(g.email, w.email);
  });

  test('find with a regex filter on a classified field and a projection of unclassified ones: identical', async () => {
    const q = { diagnosis: { $regex: '^(Chronic|Celiac)' } };
    const got = await mine.find(q, { projection: { _id: 0, k: 1, dept: 1, age: 1 } }).sort({ k: 1 }).toArray();
    const want = await theirs.find(q, { projection: { _id: 0, k: 1, dept: 1, age: 1 } }).sort({ k: 1 }).toArray();
    assert.equal(got.length, 2);
    assert.deepEqual(got, want);
  });

  test('counts, with filters on classified fields: identical', async () => {
    for (const q of [{}, { ssn: { $exists: true } }, { diagnosis: { $regex: 'itis' } }, { 'contact.city': 'Lyon' }]) {
      assert.equal(await mine.countDocuments(q), await theirs.countDocuments(q), JSON.stringify(q));
    }
    assert.equal(await mine.estimatedDocumentCount(), await theirs.estimatedDocumentCount());
  });

  test('$group by an unclassified field with $sum and $count: identical', async () => {
    const p = [{ $group: { _id: '$dept', n: { $sum: 1 }, years: { $sum: '$age' }, oldest: { $max: '$age' } } }, { $sort: { _id: 1 } }];
    assert.deepEqual(await mine.aggregate(p).toArray(), await theirs.aggregate(p).toArray());
    const c = [{ $match: { dept: 'ops' } }, { $count: 'total' }];
    assert.deepEqual(await mine.aggregate(c).toArray(), await theirs.aggregate(c).toArray());
  });

  test('$match on classified fields + $project of unclassified ones: identical', async () => {
    const p = [{ $match: { ssn: { $regex: '^[1-4]' }, diagnosis: { $ne: null } } }, { $project: { _id: 0, k: 1, name: 1, city: '$contact.city' } }, { $sort: { k: 1 } }];
    const got = await mine.aggregate(p).toArray();
    assert.ok(got.length > 0);
    assert.deepEqual(got, await theirs.aggregate(p).toArray());
  });

  test('a plain projection of classified fields: each masked with its own label', async () => {
    const p = [{ $project: { _id: 0, k: 1, email: 1, ssn: 1, diagnosis: 1, dob: 1 } }, { $sort: { k: 1 } }];
    const got = await mine.aggregate(p).toArray();
    const want = await theirs.aggregate(p).toArray();
    assert.equal(got.length, want.length);
    got.forEach((g, i) => {
      const w = want[i]!;
      assert.equal(g.k, w.k);
      assert.equal(g.email, masked('email', w.email));
      assert.equal(g.ssn, masked('ssn', w.ssn));
      assert.equal(g.diagnosis, masked('diagnosis', w.diagnosis));
      assert.equal(g.dob, masked('dob', w.dob));
      assert.match(String(g.ssn), /6789$|4321$|7890$|9876$|1098$|2345$/);
    });
  });

  test('a rename of a classified field keeps its label mask; a $push of one too', async () => {
    const p = [{ $sort: { k: 1 } }, { $project: { _id: 0, k: 1, mail: '$email', phone: '$phone' } }];
    const got = await mine.aggregate(p).toArray();
    const want = await theirs.aggregate(p).toArray();
    got.forEach((g, i) => {
      assert.equal(g.mail, masked('email', want[i]!.mail));
      assert.equal(g.phone, masked('phone', want[i]!.phone));
    });
    const grouped = await mine.aggregate([{ $group: { _id: '$dept', mails: { $push: '$email' } } }, { $sort: { _id: 1 } }]).toArray();
    const groupedDirect = await theirs.aggregate([{ $group: { _id: '$dept', mails: { $push: '$email' } } }, { $sort: { _id: 1 } }]).toArray();
    grouped.forEach((g, i) => assert.deepEqual(g.mails, (groupedDirect[i]!.mails as string[]).map((e) => masked('email', e))));
  });

  test('sort, skip and limit: identical', async () => {
    const got = await mine.find({}, { projection: { _id: 0, k: 1, age: 1 } }).sort({ age: -1 }).skip(1).limit(3).toArray();
    const want = await theirs.find({}, { projection: { _id: 0, k: 1, age: 1 } }).sort({ age: -1 }).skip(1).limit(3).toArray();
    assert.equal(got.length, 3);
    assert.deepEqual(got, want);
  });

  test('a cursor read in batches of 2 (getMore): every batch masked alike', async () => {
    const got = await mine.find({}, { batchSize: 2 }).sort({ k: 1 }).toArray();
    const want = await theirs.find({}).sort({ k: 1 }).toArray();
    assert.equal(got.length, want.length);
    got.forEach((g, i) => {
      const w = want[i]!;
      assert.equal(g.k, w.k);
      assert.equal(g.dept, w.dept);
      assert.equal(g.email, masked('email', w.email));
      assert.equal(g.medication, masked('medication', w.medication));
    });
    const agg = await mine.aggregate([{ $sort: { k: 1 } }, { $project: { _id: 0, k: 1, age: 1 } }], { batchSize: 2 }).toArray();
    assert.deepEqual(agg, await theirs.aggregate([{ $sort: { k: 1 } }, { $project: { _id: 0, k: 1, age: 1 } }]).toArray());
  });

  test('insert and update of its own document: written as sent, read back masked where classified', async () => {
    const doc = { k: 100, name: 'Zed', dept: 'sales', age: 29, email: 'zed.own@example.com', tags: ['new'] };
    await mine.insertOne({ ...doc });
    const stored = await theirs.findOne({ k: 100 });
    assert.equal(stored?.email, doc.email);
    await mine.updateOne({ k: 100 }, { $set: { dept: 'lab' }, $inc: { age: 1 } });
    const after = await theirs.findOne({ k: 100 });
    assert.equal(after?.dept, 'lab');
    assert.equal(after?.age, 30);
    const mineBack = await mine.findOne({ k: 100 });
    assert.equal(mineBack?.dept, 'lab');
    assert.equal(mineBack?.email, masked('email', doc.email));
    const fam = await mine.findOneAndUpdate({ k: 100 }, { $set: { age: 31 } }, { returnDocument: 'after' });
    assert.equal(fam?.age, 31);
    assert.equal(fam?.email, masked('email', doc.email));
    const del = await mine.deleteOne({ k: 100 });
    assert.equal(del.deletedCount, 1);
    assert.equal(await theirs.countDocuments({ k: 100 }), 0);
  });

  test('$lookup on keys selecting unclassified fields: identical', async () => {
    const p = [
      { $lookup: { from: coll, localField: 'dept', foreignField: 'dept', as: 'mates' } },
      { $project: { _id: 0, k: 1, mates: '$mates.k', cities: '$mates.contact.city' } },
      { $sort: { k: 1 } },
    ];
    const got = await mine.aggregate(p).toArray();
    assert.equal(got.length, PEOPLE.length);
    assert.deepEqual(got, await theirs.aggregate(p).toArray());
  });

  test('distinct: an unclassified field identical, a classified one masked', async () => {
    assert.deepEqual((await mine.distinct('dept')).sort(), (await theirs.distinct('dept')).sort());
    const ssn = await mine.distinct('ssn');
    const want = (await theirs.distinct('ssn')).map((v) => masked('ssn', v));
    assert.deepEqual([...ssn].sort(), [...want].sort());
  });

  test('computed fields from unclassified ones ($add, $toUpper, $concat, $cond): identical', async () => {
    const p = [
      { $sort: { k: 1 } },
      { $project: { _id: 0, k: 1, next: { $add: ['$age', 1] }, D: { $toUpper: '$dept' }, tag: { $concat: ['$name', '@', '$contact.city'] }, senior: { $cond: [{ $gte: ['$age', 40] }, 'yes', 'no'] } } },
    ];
    assert.deepEqual(await mine.aggregate(p).toArray(), await theirs.aggregate(p).toArray());
  });

  test('$sortByCount, $bucket and $facet of unclassified fields: identical', async () => {
    const p1 = [{ $sortByCount: '$dept' }, { $sort: { _id: 1 } }];
    assert.deepEqual(await mine.aggregate(p1).toArray(), await theirs.aggregate(p1).toArray());
    const p2 = [{ $bucket: { groupBy: '$age', boundaries: [0, 30, 45, 100], default: 'other', output: { n: { $sum: 1 } } } }];
    assert.deepEqual(await mine.aggregate(p2).toArray(), await theirs.aggregate(p2).toArray());
    const p3 = [{ $facet: { byCity: [{ $group: { _id: '$contact.city', n: { $sum: 1 } } }, { $sort: { _id: 1 } }], total: [{ $count: 'n' }] } }];
    assert.deepEqual(await mine.aggregate(p3).toArray(), await theirs.aggregate(p3).toArray());
  });

  test('$setWindowFields rank and running sum over unclassified fields: identical', async () => {
    const p = [
      { $setWindowFields: { partitionBy: '$dept', sortBy: { age: 1 }, output: { r: { $rank: {} }, running: { $sum: '$age', window: { documents: ['unbounded', 'current'] } } } } },
      { $project: { _id: 0, k: 1, dept: 1, r: 1, running: 1 } },
      { $sort: { k: 1 } },
    ];
    assert.deepEqual(await mine.aggregate(p).toArray(), await theirs.aggregate(p).toArray());
  });

  test('$unwind of an unclassified array and $group: identical', async () => {
    const p = [{ $unwind: '$tags' }, { $group: { _id: '$tags', n: { $sum: 1 } } }, { $sort: { _id: 1 } }];
    assert.deepEqual(await mine.aggregate(p).toArray(), await theirs.aggregate(p).toArray());
  });

  test('a nested document and an array of subdocuments: masked by path, the rest identical', async () => {
    const got = await mine.find({ k: 1 }, { projection: { _id: 0, contact: 1, visits: 1 } }).toArray();
    const want = await theirs.find({ k: 1 }, { projection: { _id: 0, contact: 1, visits: 1 } }).toArray();
    const g = got[0]!;
    const w = want[0]!;
    assert.equal(g.contact.city, w.contact.city);
    assert.equal(g.contact.email, masked('contact.email', w.contact.email));
    assert.equal(g.visits[0].room, w.visits[0].room);
    assert.equal(g.visits[0].diagnosis, masked('visits.diagnosis', w.visits[0].diagnosis));
    assert.deepEqual(noId(g), noId({ ...w, contact: g.contact, visits: g.visits }));
  });

  test('comparisons of classified fields in a projection ($eq, $in, $gt: booleans) are answered', async () => {
    const p = [{ $sort: { k: 1 } }, { $project: { _id: 0, k: 1, isLyon: { $eq: ['$contact.city', 'Lyon'] }, hasSsn: { $gt: ['$ssn', null] } } }];
    assert.deepEqual(await mine.aggregate(p).toArray(), await theirs.aggregate(p).toArray());
  });
});
