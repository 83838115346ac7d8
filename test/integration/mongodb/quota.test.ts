/**
 * Free-tier quota (atlas-m0 preset: 512 MB storage, 100 connections), with the limits lowered so CongoDB's
 * small data set exceeds them: storage comes from dbStats polls; over it writes get Atlas' own error
 * (code 8000, AtlasError, "you are over your space quota") and reads are served.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { deserialize, serialize } from 'bson';
import { MongoClient, MongoServerError } from 'mongodb';
import { MessageFramer } from '../../../protocols/mongodb/codec/framer.js';
import { decodeOpMsg, encodeOpMsg } from '../../../protocols/mongodb/codec/op-msg.js';
import { direct, startMongoDgf, uniqueName, type MongoDgf } from './helpers.js';

describe('storage quota from dbStats', () => {
  let m: MongoDgf;
  let client: MongoClient;
  const coll = uniqueName('quota');

  before(async () => {
    const up = direct();
    await up.connect();
    await up.db('app').collection(coll).insertMany(Array.from({ length: 20 }, (_, i) => ({ i, pad: 'x'.repeat(200) })));
    await up.close();
    m = await startMongoDgf({ listener: { quota: { preset: 'atlas-m0', limits: { storageBytes: 1024 } }, options: { storagePollMs: 100 } } });
    client = new MongoClient(m.url('app'));
    await client.connect();
  });

  after(async () => {
    const up = direct();
    await up.connect();
    await up.db('app').collection(coll).drop().catch(() => undefined);
    await up.close();
    await client.close();
    await m.stop();
  });

  test('over the storage quota: inserts answered like Atlas, reads still served, usage reported', async () => {
    await new Promise((r) => setTimeout(r, 400)); // at least one poll
    await assert.rejects(client.db('app').collection(coll).insertOne({ more: 1 }), (err: unknown) => {
      assert.ok(err instanceof MongoServerError);
      assert.equal(err.code, 8000);
      assert.equal(err.codeName, 'AtlasError');
      assert.match(err.message, /^you are over your space quota, using \d+ MB of 1 MB$/);
      return true;
    });
    assert.equal(await client.db('app').collection(coll).countDocuments({}), 20);
    const usage = (await (await fetch(`${m.dgf.adminUrl}/api/v1/monitoring/usage`)).json()) as unknown;
    assert.match(JSON.stringify(usage), /storage/);
  });
});

describe('connection quota', () => {
  let m: MongoDgf;

  before(async () => {
    m = await startMongoDgf({ listener: { quota: { preset: 'atlas-m0', limits: { connections: 3 } } } });
  });

  after(async () => {
    await m.stop();
  });

  test('the client connection beyond the limit gets an error and is closed; the others are served', async () => {
    const sockets: net.Socket[] = [];
    const replies: Array<Array<Record<string, unknown>>> = [];
    for (let i = 0; i < 4; i++) {
      const s = net.connect(m.port, '127.0.0.1');
      const got: Array<Record<string, unknown>> = [];
      const framer = new MessageFramer(1 << 20);
      s.on('data', (c: Buffer) => framer.push(c, (f) => got.push(deserialize(decodeOpMsg(f).body))));
      s.on('error', () => undefined);
      await new Promise<void>((r) => s.once('connect', () => r()));
      sockets.push(s);
      replies.push(got);
    }
    await new Promise((r) => setTimeout(r, 100));
    for (const s of sockets) s.write(encodeOpMsg(serialize({ hello: 1, $db: 'admin' }), 0, 0, 1));
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(replies.slice(0, 3).map((r) => r[0]?.ok), [1, 1, 1]);
    assert.equal(replies[3]![0]?.code, 8000);
    assert.match(String(replies[3]![0]?.errmsg), /connection limit of 3/);
    for (const s of sockets) s.destroy();
  });
});
