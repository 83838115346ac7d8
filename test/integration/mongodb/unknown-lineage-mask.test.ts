/**
 * `onUnknownLineage: mask` through dgf (CongoDB upstream): an output dgf cannot trace is answered with the derived
 * mask (redacted whole) instead of refused, for the role the policy names; field names, traced outputs and the
 * other roles are as usual; what can never be masked afterwards (server-side JavaScript, $out, an untraceable write)
 * is still refused. A policy directory of the test's own on top of the shipped packs.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MongoClient, type Document } from 'mongodb';
import { REDACTED } from '../../../src/policy/index.js';
import { direct, startMongoDgf, uniqueName, type MongoDgf } from './helpers.js';
import { PEOPLE, seedPeople } from './leak-fixtures.js';

describe('onUnknownLineage: mask (MongoDB)', () => {
  let m: MongoDgf;
  let dir: string;
  let analyst: MongoClient;
  let admin: MongoClient;
  let upstream: MongoClient;
  const coll = uniqueName('unkmask');

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'dgf-mongo-unknown-mask-'));
    await writeFile(path.join(dir, 'lineage.yaml'), 'onUnknownLineage: { default: deny, analyst: mask }\n');
    m = await startMongoDgf({ extra: { policies: { dir } } });
    upstream = direct();
    await upstream.connect();
    await seedPeople(upstream.db('app'), coll);
    analyst = new MongoClient(m.url('analyst'));
    admin = new MongoClient(m.url('admin'));
    await Promise.all([analyst.connect(), admin.connect()]);
  });

  after(async () => {
    await upstream?.db('app').collection(coll).drop().catch(() => undefined);
    await Promise.all([analyst?.close(), admin?.close(), upstream?.close()]);
    await m?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('analyst: the untraceable values are redacted, their names and the traced fields as usual', async () => {
    const rows = await analyst
      .db('app')
      .collection(coll)
      .aggregate([{ $match: { k: 1 } }, { $project: { _id: 0, k: 1, mail: '$email', x: { $objectToArray: '$$ROOT' } } }])
      .toArray();
    assert.equal(rows.length, 1);
    const r = rows[0]!;
    assert.equal(r.k, 1);
    assert.equal(r.mail, 'a***@example.com');
    const pairs = r.x as Array<{ k: string; v: unknown }>;
    assert.ok(pairs.some((p) => p.k === 'ssn'));
    for (const p of pairs) if (typeof p.v === 'string') assert.equal(p.v, REDACTED, p.k);
    assert.doesNotMatch(JSON.stringify(r), new RegExp(String(PEOPLE[0]!.ssn)));
  });

  test('admin (no masks) gets the clear values through the same pipeline', async () => {
    const rows = await admin.db('app').collection(coll).aggregate([{ $match: { k: 1 } }, { $project: { x: { $objectToArray: '$$ROOT' } } }]).toArray();
    const pairs = rows[0]!.x as Array<{ k: string; v: unknown }>;
    assert.equal(pairs.find((p) => p.k === 'ssn')?.v, PEOPLE[0]!.ssn);
  });

  test('still refused: JavaScript, $out, and a write dgf cannot trace', async () => {
    const c = analyst.db('app').collection(coll);
    await assert.rejects(c.aggregate([{ $project: { x: { $function: { body: 'function(s) { return s }', args: ['$ssn'], lang: 'js' } } } }]).toArray(), { code: 13 });
    await assert.rejects(c.aggregate([{ $match: {} }, { $out: `${coll}_copy` }]).toArray(), { code: 13 });
    await assert.rejects(c.updateMany({}, { $rename: { diagnosis: 'remark' } }), { code: 13 });
    const doc = (await upstream.db('app').collection(coll).findOne({ k: 1 })) as Document;
    assert.equal(doc.diagnosis, PEOPLE[0]!.diagnosis);
  });
});
