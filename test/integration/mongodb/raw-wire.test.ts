/**
 * Forwarding checked value for value against CongoDB: a kind 0 insert (documents inside the command body, as
 * `db.command()`, older drivers and mongosh send it) and a kind 1 insert (a document sequence, as driver 7's
 * insertMany sends it) both reach the upstream with every BSON type intact. And a trust listener: anonymous
 * clients get in, and the packs' ISO-001 (operations need an authenticated identity) refuses their commands.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { deserialize, serialize, Int32, Long, Double, Decimal128, type Document } from 'bson';
import { MongoClient } from 'mongodb';
import { MessageFramer } from '../../../protocols/mongodb/codec/framer.js';
import { decodeOpMsg, encodeOpMsg } from '../../../protocols/mongodb/codec/op-msg.js';
import { direct, startMongoDgf, uniqueName, type MongoDgf } from './helpers.js';

async function send(port: number, frame: Buffer): Promise<Document> {
  const s = net.connect(port, '127.0.0.1');
  const framer = new MessageFramer(1 << 24);
  const reply = new Promise<Document>((resolve) => s.on('data', (c: Buffer) => framer.push(c, (f) => resolve(deserialize(decodeOpMsg(f).body)))));
  await new Promise<void>((r) => s.once('connect', () => r()));
  s.write(frame);
  const out = await reply;
  s.destroy();
  return out;
}

describe('BSON types survive forwarding (CongoDB)', () => {
  let m: MongoDgf;
  let admin: MongoClient;
  let up: MongoClient;
  const coll = uniqueName('raw');
  // CongoDB stores numbers as JS numbers, so an integral double would come back as int32: 2.5 stays a double.
  const doc = (k: number): Document => ({ k: new Int32(k), big: Long.fromString('9007199254740993'), d: new Double(2.5), dec: Decimal128.fromString('1.10'), when: new Date(Date.UTC(2024, 1, 2)), s: 'text' });

  before(async () => {
    m = await startMongoDgf();
    admin = new MongoClient(m.url('admin'), { promoteValues: false });
    await admin.connect();
    up = direct();
    await up.connect();
  });

  after(async () => {
    await up.db('app').collection(coll).drop().catch(() => undefined);
    await Promise.all([up.close(), admin.close()]);
    await m.stop();
  });

  test('kind 0 (db.command) and kind 1 (insertMany) inserts keep int32, int64, double, decimal128 and date', async () => {
    const r0 = await admin.db('app').command({ insert: coll, documents: [doc(1)] });
    assert.equal(Number(r0.n), 1);
    await admin.db('app').collection(coll).insertMany([doc(2), doc(3)]);
    const got = await up.db('app').collection(coll).find({}, { promoteValues: false, promoteLongs: false }).sort({ k: 1 }).toArray();
    assert.equal(got.length, 3);
    // the driver's BSON classes come from bson's CommonJS build, these from its ES build: compare by _bsontype
    const type = (v: unknown): string => (v as { _bsontype?: string })._bsontype ?? typeof v;
    for (const g of got) {
      assert.equal(type(g.k), 'Int32');
      assert.equal(type(g.big), 'Long');
      assert.equal(g.big.toString(), '9007199254740993');
      assert.equal(type(g.d), 'Double');
      assert.equal(type(g.dec), 'Decimal128');
      assert.equal(g.dec.toString(), '1.10');
      assert.equal((g.when as Date).toISOString(), '2024-02-02T00:00:00.000Z');
    }
  });
});

describe('trust listener (loopback, no users)', () => {
  let m: MongoDgf;

  before(async () => {
    m = await startMongoDgf({ listener: { users: [], auth: 'trust' } });
  });

  after(async () => {
    await m.stop();
  });

  test('an anonymous client gets through the handshake; ISO-001 refuses its commands for lack of an identity', async () => {
    const hello = await send(m.port, encodeOpMsg(serialize({ hello: 1, $db: 'admin' }), 0, 0, 1));
    assert.equal(hello.msg, 'isdbgrid');
    const r = await send(m.port, encodeOpMsg(serialize({ find: 'x', filter: {}, $db: 'app' }), 0, 0, 2));
    assert.equal(r.code, 13);
    assert.match(String(r.errmsg), /ISO-001: this operation requires an authenticated identity/);
  });
});
