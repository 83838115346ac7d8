/**
 * MongoDB backpressure: a client that stops reading (then reads one byte a second) a find batch of up to 40 MB. A
 * MongoDB result comes in batches the client asks for (find, then getMore); dgf forwards one command at a time
 * per client connection and holds at most that command's reply (<= maxMessageSizeBytes, 48 MB), so a slow reader
 * costs one batch of memory however large the whole result; other clients keep their rate. A private CongoDB
 * serves it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { serialize } from 'bson';
import { MongoClient } from 'mongodb';
import { startDgf, type TestDgf } from '../../helpers/dgf.js';
import { privateCongo, type PrivateBackend } from '../../helpers/backends.js';
import { RssSampler, SlowSocket, mb, rate } from '../../helpers/slow-client.js';

const DOCS = 40;
const DOC_BYTES = 1024 * 1024;

function opMsg(doc: Record<string, unknown>, requestId: number): Buffer {
  const body = serialize(doc);
  const head = Buffer.alloc(21);
  head.writeInt32LE(21 + body.length, 0);
  head.writeInt32LE(requestId, 4);
  head.writeInt32LE(0, 8);
  head.writeInt32LE(2013, 12);
  head.writeUInt32LE(0, 16);
  head[20] = 0;
  return Buffer.concat([head, body]);
}

describe('backpressure: mongodb', () => {
  let backend: PrivateBackend;
  let dgf: TestDgf;
  let client: MongoClient;

  before(async () => {
    backend = await privateCongo();
    await backend.start();
    const direct = new MongoClient(`mongodb://127.0.0.1:${backend.port}/?directConnection=true`);
    const filler = 'z'.repeat(DOC_BYTES - 100);
    const big = direct.db('app').collection('big');
    for (let i = 0; i < DOCS; i++) await big.insertOne({ i, body: filler });
    await direct.db('app').collection('small').insertOne({ v: 1 });
    await direct.close();
    dgf = await startDgf({
      roles: [{ match: { user: 'app' }, role: 'admin' }],
      policies: { packs: ['default'] },
      listeners: [
        {
          name: 'mongo',
          protocol: 'mongodb',
          listen: '127.0.0.1:0',
          auth: 'trust',
          upstream: { url: `mongodb://127.0.0.1:${backend.port}/?directConnection=true`, maxConnections: 4 },
        },
      ],
    });
    client = new MongoClient(`mongodb://127.0.0.1:${dgf.listener('mongo').address.port}/app?directConnection=true`, { maxPoolSize: 2 });
  });

  after(async () => {
    await client?.close();
    await dgf?.stop();
    await backend?.dispose();
  });

  test('a slow reader of a ~40 MB batch: one batch held, memory bounded, others keep their rate', async () => {
    const small = client.db('app').collection('small');
    const othersRate = (ms: number): Promise<number> => rate(() => small.findOne({}), ms, 2);
    await othersRate(1000); // warm-up
    const baseline = await othersRate(1500);

    const slow = await SlowSocket.connect(dgf.listener('mongo').address.port);
    const rss = new RssSampler();
    slow.becomeSlow();
    slow.write(opMsg({ find: 'big', filter: {}, batchSize: DOCS, $db: 'app' }, 1));
    const during = await othersRate(4000);
    rss.stop();
    const closed = slow.closed;
    // What dgf sent is an OP_MSG reply as big as the batch; the trickle took the first bytes of its header.
    const rest = slow.socket.read(16 - slow.trickled) as Buffer | null;
    slow.destroy();
    const header = rest ? Buffer.concat([Buffer.alloc(slow.trickled), rest]) : Buffer.alloc(16);
    console.log(`mongodb: others ${baseline.toFixed(0)} -> ${during.toFixed(0)} req/s, RSS +${mb(rss.growthMb)} while ~${(DOCS * DOC_BYTES) / 1048576} MB were due, slow client read ${slow.trickled} B`);
    assert.equal(closed, false, 'the slow client must not be disconnected');
    assert.equal(header.readInt32LE(12), 2013, 'an OP_MSG reply');
    // (Its length field lost its first bytes to the trickle; CongoDB, like MongoDB, may cap a first batch at 16 MB.)
    assert.ok(rss.growthMb < 200, `RSS grew ${mb(rss.growthMb)}`);
    assert.ok(during >= baseline * 0.5, `others slowed from ${baseline} to ${during} req/s`);
  });
});
