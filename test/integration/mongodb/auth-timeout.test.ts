/**
 * No open doors before authentication (issue #18 item 4), MongoDB listener: authentication must finish within the
 * listener's `authTimeoutMs` (default 10 s), and no message before it may exceed 64 KiB (hello, saslStart and
 * saslContinue are a few hundred bytes); either breach is answered with an error reply and the connection is
 * closed. A client that authenticates keeps its connection past the timeout, and is then held to
 * `maxMessageBytes` only; with `auth: trust` nothing of this applies.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { deserialize, serialize, type Document } from 'bson';
import { MongoClient } from 'mongodb';
import { MessageFramer } from '../../../protocols/mongodb/codec/framer.js';
import { decodeOpMsg, encodeOpMsg } from '../../../protocols/mongodb/codec/op-msg.js';
import { startMongoDgf, uniqueName, type MongoDgf } from './helpers.js';

/** A raw connection: sends `frames`, collects replies until the server closes (or `ms` pass). */
function raw(port: number, frames: Buffer[], ms = 5000): Promise<{ replies: Document[]; closed: boolean; after: number }> {
  return new Promise((resolve) => {
    const started = Date.now();
    const s = net.connect(port, '127.0.0.1');
    const replies: Document[] = [];
    const framer = new MessageFramer(1 << 24);
    s.on('connect', () => {
      for (const f of frames) s.write(f);
    });
    s.on('data', (c: Buffer) => framer.push(c, (f) => replies.push(deserialize(decodeOpMsg(f).body))));
    s.on('error', () => undefined);
    const timer = setTimeout(() => {
      s.destroy();
      resolve({ replies, closed: false, after: Date.now() - started });
    }, ms);
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ replies, closed: true, after: Date.now() - started });
    });
  });
}

const hello = (requestId: number, extra: Document = {}): Buffer => encodeOpMsg(serialize({ hello: 1, $db: 'admin', ...extra }), requestId, 0);

describe('MongoDB: authentication timeout and limits before authentication', () => {
  let m: MongoDgf;

  before(async () => {
    m = await startMongoDgf({ listener: { authTimeoutMs: 400 } });
  });

  after(async () => {
    await m?.stop();
  });

  test('a silent client is answered an error and disconnected after authTimeoutMs', async () => {
    const r = await raw(m.port, []);
    assert.equal(r.closed, true);
    assert.ok(r.after >= 300, `closed after ${r.after} ms`);
    assert.equal(r.replies.length, 1);
    assert.equal(r.replies[0]!.ok, 0);
    assert.match(String(r.replies[0]!.errmsg), /authentication did not complete within 400 ms/);
  });

  test('a client that only says hello (and pings) is disconnected too', async () => {
    const r = await raw(m.port, [hello(1), encodeOpMsg(serialize({ ping: 1, $db: 'admin' }), 2, 0)]);
    assert.equal(r.closed, true);
    assert.equal(r.replies[0]!.isWritablePrimary, true);
    assert.equal(r.replies.at(-1)!.ok, 0);
    assert.match(String(r.replies.at(-1)!.errmsg), /authentication did not complete/);
  });

  test('a message over 64 KiB before authentication: error reply, closed at once', async () => {
    const big = hello(7, { client: { application: { name: 'x' }, padding: 'p'.repeat(100 * 1024) } });
    const r = await raw(m.port, [big]);
    assert.equal(r.closed, true);
    assert.ok(r.after < 300, `closed after ${r.after} ms`);
    assert.equal(r.replies.length, 1);
    assert.equal(r.replies[0]!.ok, 0);
    assert.match(String(r.replies[0]!.errmsg), /before authentication/);
  });

  test('only the header is needed: a length announcing 10 MB is refused before the body arrives', async () => {
    const header = Buffer.alloc(16);
    header.writeInt32LE(10 * 1024 * 1024, 0);
    header.writeInt32LE(9, 4);
    header.writeInt32LE(2013, 12);
    const r = await raw(m.port, [header]);
    assert.equal(r.closed, true);
    assert.ok(r.after < 300, `closed after ${r.after} ms`);
    assert.match(String(r.replies[0]?.errmsg), /before authentication/);
  });

  test('the official driver authenticates, keeps its connection past the timeout, and may send large documents', async () => {
    const client = new MongoClient(m.url('admin'), { maxPoolSize: 1, serverSelectionTimeoutMS: 5000 });
    await client.connect();
    try {
      const coll = client.db('app').collection(uniqueName('preauth'));
      await new Promise((r) => setTimeout(r, 700));
      const doc = { k: 1, blob: 'b'.repeat(200 * 1024) };
      await coll.insertOne(doc);
      const back = await coll.findOne({ k: 1 });
      assert.equal((back?.blob as string).length, 200 * 1024);
      await coll.drop();
    } finally {
      await client.close();
    }
  });
});

describe('MongoDB: auth trust has no pre-authentication limits', () => {
  let m: MongoDgf;

  before(async () => {
    m = await startMongoDgf({ listener: { auth: 'trust', users: [], authTimeoutMs: 300 } });
  });

  after(async () => {
    await m?.stop();
  });

  test('a large hello passes and the connection stays open past authTimeoutMs', async () => {
    const big = hello(3, { client: { application: { name: 'x' } }, padding: 'p'.repeat(100 * 1024) });
    const r = await raw(m.port, [big], 800);
    assert.equal(r.closed, false);
    assert.equal(r.replies[0]!.isWritablePrimary, true);
  });
});
