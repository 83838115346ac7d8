/**
 * The handshake dgf answers itself: hello with saslSupportedMechs and speculativeAuthenticate, SCRAM-SHA-256
 * by default, SCRAM-SHA-1 only when configured, OP_MSG checksums accepted, compression never negotiated.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Binary, deserialize, serialize, type Document } from 'bson';
import { MongoClient } from 'mongodb';
import { MessageFramer } from '../../../protocols/mongodb/codec/framer.js';
import { decodeOpMsg, encodeOpMsg, encodeOpMsgWithSequences } from '../../../protocols/mongodb/codec/op-msg.js';
import { readAudit } from '../../helpers/dgf.js';
import { PASSWORD, startMongoDgf, type MongoDgf } from './helpers.js';

async function roundTrip(port: number, frames: Buffer[], expect = frames.length): Promise<Document[]> {
  const s = net.connect(port, '127.0.0.1');
  const got: Document[] = [];
  const framer = new MessageFramer(1 << 24);
  const done = new Promise<void>((resolve) => {
    s.on('data', (c: Buffer) =>
      framer.push(c, (f) => {
        got.push(deserialize(decodeOpMsg(f).body));
        if (got.length === expect) resolve();
      }),
    );
  });
  await new Promise<void>((r) => s.once('connect', () => r()));
  for (const f of frames) s.write(f);
  await Promise.race([done, new Promise((r) => setTimeout(r, 3000))]);
  s.destroy();
  return got;
}

describe('handshake and authentication', () => {
  let m: MongoDgf;
  let sha1: MongoDgf;

  before(async () => {
    m = await startMongoDgf();
    sha1 = await startMongoDgf({ listener: { options: { authMechanisms: ['SCRAM-SHA-256', 'SCRAM-SHA-1'] } } });
  });

  after(async () => {
    await m.stop();
    await sha1.stop();
  });

  test('hello: saslSupportedMechs for a known user, speculativeAuthenticate answered, no compression', async () => {
    const clientFirst = Buffer.from('n,,n=analyst,r=abcdefghijklmnop');
    const [r] = await roundTrip(m.port, [
      encodeOpMsg(
        serialize({
          hello: 1,
          saslSupportedMechs: 'app.analyst',
          compression: ['zstd', 'zlib', 'snappy'],
          speculativeAuthenticate: { saslStart: 1, mechanism: 'SCRAM-SHA-256', payload: new Binary(clientFirst), db: 'app', options: { skipEmptyExchange: true } },
          $db: 'admin',
        }),
        0,
        0,
        1,
      ),
    ]);
    assert.deepEqual(r!.saslSupportedMechs, ['SCRAM-SHA-256']);
    assert.equal(r!.compression, undefined);
    assert.equal(r!.speculativeAuthenticate.conversationId, 1);
    assert.equal(r!.speculativeAuthenticate.done, false);
    assert.match(Buffer.from((r!.speculativeAuthenticate.payload as Binary).buffer).toString(), /^r=abcdefghijklmnop.+,s=.+,i=15000$/);
  });

  test('the driver authenticates with SCRAM-SHA-256 (speculative) and the login is audited', async () => {
    const c = new MongoClient(m.url('analyst'));
    await c.connect();
    assert.equal((await c.db('admin').command({ ping: 1 })).ok, 1);
    await c.close();
    const auth = (await readAudit(m.dgf.auditFile)).filter((r) => r.operation === 'authenticate' && (r.identity as { user: string }).user === 'analyst');
    assert.ok(auth.length >= 1);
    assert.equal(auth[0]!.statement, 'authenticate SCRAM-SHA-256');
  });

  test('SCRAM-SHA-1 works only where configured', async () => {
    const ok = new MongoClient(`${sha1.url('analyst')}?authMechanism=SCRAM-SHA-1`);
    await ok.connect();
    assert.equal((await ok.db('admin').command({ ping: 1 })).ok, 1);
    await ok.close();
    const refused = new MongoClient(`${m.url('analyst')}?authMechanism=SCRAM-SHA-1`, { serverSelectionTimeoutMS: 2000 });
    await assert.rejects(refused.connect());
    await refused.close();
  });

  test('an OP_MSG with a CRC-32C checksum is accepted; moreToCome gets no reply', async () => {
    const withSum = encodeOpMsgWithSequences(serialize({ hello: 1, $db: 'admin' }), [], 0, 0, 5, true);
    const silent = encodeOpMsg(serialize({ ping: 1, $db: 'admin' }), 0, 2 /* moreToCome */, 6);
    const after = encodeOpMsg(serialize({ ping: 1, $db: 'admin' }), 0, 0, 7);
    const replies = await roundTrip(m.port, [withSum, silent, after], 2);
    assert.equal(replies.length, 2);
    assert.equal(replies[0]!.msg, 'isdbgrid');
    assert.equal(replies[1]!.ok, 1);
  });

  test('users are the listener\'s: the upstream credentials are never asked of the client', async () => {
    const c = new MongoClient(`mongodb://app:${PASSWORD}@127.0.0.1:${m.port}/app`);
    await c.connect();
    assert.ok(Array.isArray(await c.db('app').listCollections().toArray()));
    await c.close();
  });
});
