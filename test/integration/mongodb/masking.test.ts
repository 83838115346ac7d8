/**
 * Masking and firewall through dgf with the shipped policy packs, against CongoDB: the analyst sees
 * classified fields masked (top level, nested, arrays, renamed by $project, across getMore batches), the
 * exempt roles see them clear, destructive and server-side JavaScript commands are denied with code 13.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { MongoClient, MongoServerError, type Document } from 'mongodb';
import { readAudit } from '../../helpers/dgf.js';
import { direct, startMongoDgf, uniqueName, type MongoDgf } from './helpers.js';

const people = Array.from({ length: 25 }, (_, i) => ({
  k: i,
  name: `Person ${i}`,
  email: `person${i}@example.com`,
  contact: { phone: '+14155552671', email: `p${i}@example.org`, city: 'Lyon' },
  cards: ['4111111111111111'],
  notes: [{ ssn: '123-45-6789', text: 'ok' }],
}));

describe('masking and firewall (CongoDB upstream, shipped packs)', () => {
  let m: MongoDgf;
  let analyst: MongoClient;
  let dpo: MongoClient;
  let admin: MongoClient;
  let upstream: MongoClient;
  const coll = uniqueName('mask');

  before(async () => {
    m = await startMongoDgf();
    upstream = direct();
    await upstream.connect();
    await upstream.db('app').collection(coll).insertMany(people.map((p) => ({ ...p })));
    analyst = new MongoClient(m.url('analyst'));
    dpo = new MongoClient(m.url('dpo'));
    admin = new MongoClient(m.url('admin'));
    await Promise.all([analyst.connect(), dpo.connect(), admin.connect()]);
  });

  after(async () => {
    await upstream.db('app').collection(coll).drop().catch(() => undefined);
    await upstream.db('app').collection(`${coll}_copy`).drop().catch(() => undefined);
    await Promise.all([analyst.close(), dpo.close(), admin.close(), upstream.close()]);
    await m.stop();
  });

  test('top-level, nested and array fields are masked for the analyst', async () => {
    const d = (await analyst.db('app').collection(coll).findOne({ k: 3 }))!;
    assert.equal(d.name, 'Person 3');
    assert.equal(d.email, 'p***@example.com');
    assert.equal(d.contact.email, 'p***@example.org');
    assert.notEqual(d.contact.phone, '+14155552671');
    assert.equal(d.contact.city, 'Lyon');
    assert.equal(d.cards[0], '************1111');
    assert.notEqual(d.notes[0].ssn, '123-45-6789');
    assert.equal(d.notes[0].text, 'ok');
    assert.equal(typeof d.k, 'number');
  });

  test('classified fields seen in results reach the live inventory (once per result shape)', async () => {
    await analyst.db('app').collection(coll).find({}).toArray();
    const inv = (await (await fetch(`${m.dgf.adminUrl}/api/v1/inventory`)).json()) as unknown;
    const text = JSON.stringify(inv);
    assert.match(text, new RegExp(`app\\.${coll}`));
    assert.match(text, /contact\.email/);
    assert.match(text, /pii\.email/);
  });

  test('the exempt roles see clear values (admin: everything; dpo: personal data)', async () => {
    const a = (await admin.db('app').collection(coll).findOne({ k: 3 }))!;
    assert.equal(a.email, 'person3@example.com');
    assert.equal(a.contact.phone, '+14155552671');
    const d = (await dpo.db('app').collection(coll).findOne({ k: 3 }))!;
    assert.equal(d.email, 'person3@example.com');
  });

  test('$project renames stay masked across getMore batches', async () => {
    const cursor = analyst
      .db('app')
      .collection(coll)
      .aggregate([{ $sort: { k: 1 } }, { $project: { _id: 0, k: 1, mail: '$email', tel: '$contact.phone', label: { $concat: ['$name', ' <', '$email', '>'] } } }], { batchSize: 4 });
    const rows: Document[] = await cursor.toArray();
    assert.equal(rows.length, 25);
    for (const r of rows) {
      assert.match(r.mail as string, /^p\*\*\*@example\.com$/);
      assert.notEqual(r.tel, '+14155552671');
      assert.doesNotMatch(r.label as string, /person\d+@example\.com/);
    }
    const audit = await readAudit(m.dgf.auditFile);
    const getMores = audit.filter((r) => r.operation === 'getmore' && r.role === 'analyst' && r.object === `app.${coll}`);
    assert.ok(getMores.length >= 6, `getMores audited: ${getMores.length}`);
    assert.ok(getMores.some((r) => ((r.masked as Record<string, number>)['pii.email'] ?? 0) > 0));
  });

  test('a find with an expression projection never returns the clear value', async () => {
    // CongoDB ignores expression projections (it returns the whole document); the rename itself is tested
    // against the scripted upstream in transactions.test.ts. Here: whatever comes back is masked.
    const d = (await analyst.db('app').collection(coll).findOne({ k: 1 }, { projection: { _id: 0, m: '$email' } })) as Document | null;
    assert.ok(d);
    assert.doesNotMatch(JSON.stringify(d), /person1@example\.com/);
  });

  test('distinct values are masked', async () => {
    const emails = await analyst.db('app').collection(coll).distinct('email');
    assert.equal(emails.length, 25);
    for (const e of emails) assert.match(e as string, /^p\*\*\*@example\.com$/);
  });

  test('a denied drop: code 13 with the rule message, and the collection is still there upstream', async () => {
    await assert.rejects(analyst.db('app').collection(coll).drop(), (err: unknown) => {
      assert.ok(err instanceof MongoServerError);
      assert.equal(err.code, 13);
      assert.equal(err.codeName, 'Unauthorized');
      assert.equal(err.message, 'destructive statements are not allowed for this role');
      return true;
    });
    assert.equal(await upstream.db('app').collection(coll).countDocuments({}), 25);
    const rec = (await readAudit(m.dgf.auditFile)).filter((r) => r.operation === 'drop').at(-1)!;
    assert.equal(rec.decision, 'deny');
  });

  test('deleteMany({}) and dropDatabase are denied; a filtered delete is not', async () => {
    await assert.rejects(analyst.db('app').collection(coll).deleteMany({}), { code: 13 });
    await assert.rejects(analyst.db('app').dropDatabase(), { code: 13 });
    assert.equal(await upstream.db('app').collection(coll).countDocuments({}), 25);
    const r = await analyst.db('app').collection(coll).deleteMany({ k: 999 });
    assert.equal(r.deletedCount, 0);
  });

  test('$where, $function and mapReduce are denied for the analyst', async () => {
    await assert.rejects(analyst.db('app').collection(coll).find({ $where: 'this.k > 1' }).toArray(), { code: 13, message: 'server-side JavaScript is not allowed for this role' });
    await assert.rejects(
      analyst.db('app').collection(coll).aggregate([{ $addFields: { x: { $function: { body: 'function() { return 1 }', args: [], lang: 'js' } } } }]).toArray(),
      { code: 13 },
    );
    await assert.rejects(analyst.db('app').command({ mapReduce: coll, map: 'function() {}', reduce: 'function() {}', out: { inline: 1 } }), { code: 13 });
  });

  test('$out of classified data is refused for the analyst and nothing is written', async () => {
    await assert.rejects(analyst.db('app').collection(coll).aggregate([{ $match: {} }, { $out: `${coll}_copy` }]).toArray(), (err: unknown) => {
      assert.ok(err instanceof MongoServerError);
      assert.equal(err.code, 13);
      assert.match(err.message, /\$out is not allowed for role analyst/);
      return true;
    });
    const names = (await upstream.db('app').listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name);
    assert.ok(!names.includes(`${coll}_copy`));
  });

  test('writes of the analyst still work (no classified read-back) and are audited without values', async () => {
    await analyst.db('app').collection(coll).updateOne({ k: 24 }, { $set: { email: 'new24@example.com' } });
    const back = await upstream.db('app').collection(coll).findOne({ k: 24 });
    assert.equal(back?.email, 'new24@example.com');
    const text = JSON.stringify(await readAudit(m.dgf.auditFile));
    assert.doesNotMatch(text, /new24@example\.com|person\d+@example\.com/);
  });
});
