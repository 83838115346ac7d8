/**
 * Garbage from one client: that client gets an error reply in MongoDB's format and/or a close; other
 * clients keep working; memory held is bounded by what was actually received.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { deserialize, serialize } from 'bson';
import { MongoClient } from 'mongodb';
import { MessageFramer } from '../../../protocols/mongodb/codec/framer.js';
import { decodeOpMsg, encodeOpMsg } from '../../../protocols/mongodb/codec/op-msg.js';
import { startMongoDgf, type MongoDgf } from './helpers.js';

interface Outcome {
  replies: Array<Record<string, unknown>>;
  closed: boolean;
}

/** Send raw bytes; collect OP_MSG replies until the server closes or `waitMs` passes. */
async function exchange(port: number, bytes: Buffer[], waitMs = 1500, endAfter = false): Promise<Outcome> {
  const socket = net.connect(port, '127.0.0.1');
  const out: Outcome = { replies: [], closed: false };
  const framer = new MessageFramer(64 * 1024 * 1024);
  socket.on('data', (c: Buffer) => framer.push(c, (f) => out.replies.push(deserialize(decodeOpMsg(f).body))));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  await new Promise<void>((r) => socket.once('connect', () => r()));
  for (const b of bytes) socket.write(b);
  if (endAfter) socket.end();
  const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), waitMs));
  out.closed = (await Promise.race([closed.then(() => 'closed' as const), timer])) === 'closed';
  socket.destroy();
  return out;
}

function header(length: number, opCode: number, requestId = 9): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt32LE(length >>> 0, 0);
  b.writeInt32LE(requestId, 4);
  b.writeInt32LE(opCode, 12);
  return b;
}

const hello = (): Buffer => encodeOpMsg(serialize({ hello: 1, $db: 'admin' }), 0, 0, 77);

describe('bad input', () => {
  let m: MongoDgf;
  let bystander: MongoClient;

  before(async () => {
    m = await startMongoDgf();
    bystander = new MongoClient(m.url('admin'));
    await bystander.connect();
  });

  after(async () => {
    await bystander.close();
    await m.stop();
  });

  const bystanderWorks = async (): Promise<void> => {
    const r = await bystander.db('admin').command({ ping: 1 });
    assert.equal(r.ok, 1);
    await bystander.db('app').collection('bad_input_probe').countDocuments({});
  };

  test('random bytes: the connection is closed, others unaffected', async () => {
    let seed = 12345;
    const rnd = Buffer.alloc(4096);
    for (let i = 0; i < rnd.length; i++) rnd[i] = (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
    const o = await exchange(m.port, [rnd], 3000, true);
    assert.equal(o.closed, true);
    await bystanderWorks();
  });

  test('messageLength of 2 GB: an error reply addressed to the request, then close, nothing allocated', async () => {
    const o = await exchange(m.port, [header(0x80000000, 2013, 31)]);
    assert.equal(o.closed, true);
    assert.equal(o.replies.length, 1);
    assert.equal(o.replies[0]!.ok, 0);
    assert.match(String(o.replies[0]!.errmsg), /exceeds the limit/);
    await bystanderWorks();
  });

  test('messageLength below 16: error reply and close', async () => {
    const o = await exchange(m.port, [header(8, 2013)]);
    assert.equal(o.closed, true);
    assert.match(String(o.replies[0]?.errmsg), /smaller than the 16-byte header/);
    await bystanderWorks();
  });

  test('a BSON document whose lengths lie: InvalidBSON error reply, the connection stays usable', async () => {
    const lying = encodeOpMsg(serialize({ find: 'x', filter: { a: 'bbbb' }, $db: 'app' }), 0, 0, 5);
    lying.writeInt32LE(4096, 21); // the body claims 4 KB inside a 70-byte message
    const inner = encodeOpMsg(serialize({ find: 'x', filter: { a: 'bbbb' }, $db: 'app' }), 0, 0, 6);
    inner.writeInt32LE(200, 21 + 4 + 1 + 5 + 2 + 1 + 6 + 1 + 4 + 5); // an inner string length that overruns
    const o = await exchange(m.port, [lying, hello()], 1500);
    assert.equal(o.closed, false);
    assert.equal(o.replies.length, 2);
    assert.equal(o.replies[0]!.code, 22);
    assert.equal(o.replies[0]!.codeName, 'InvalidBSON');
    assert.equal(o.replies[1]!.msg, 'isdbgrid');
    const o2 = await exchange(m.port, [inner, hello()], 1500);
    assert.equal(o2.replies[0]!.ok, 0);
    assert.equal(o2.replies.at(-1)!.msg, 'isdbgrid');
    await bystanderWorks();
  });

  test('an unknown opcode: error reply and close', async () => {
    const b = Buffer.concat([header(16 + 8, 9999, 44), Buffer.alloc(8)]);
    const o = await exchange(m.port, [b]);
    assert.equal(o.closed, true);
    assert.match(String(o.replies[0]?.errmsg), /unsupported opcode 9999/);
    await bystanderWorks();
  });

  test('OP_COMPRESSED (never negotiated): a clear error naming the compressor, then close', async () => {
    const body = Buffer.alloc(9 + 4);
    body.writeInt32LE(2013, 0);
    body.writeInt32LE(40, 4);
    body[8] = 2; // zlib
    const o = await exchange(m.port, [Buffer.concat([header(16 + body.length, 2012, 45), body])]);
    assert.equal(o.closed, true);
    assert.match(String(o.replies[0]?.errmsg), /OP_COMPRESSED \(zlib\) is not supported/);
    await bystanderWorks();
  });

  test('commands before authentication are refused with code 13; a bad password fails with code 18', async () => {
    const o = await exchange(m.port, [encodeOpMsg(serialize({ find: 'x', $db: 'app' }), 0, 0, 3)]);
    assert.equal(o.replies[0]!.code, 13);
    const bad = new MongoClient(m.url('admin').replace('dgf-test-pw', 'wrong'), { serverSelectionTimeoutMS: 2000 });
    await assert.rejects(bad.connect(), (e: Error & { code?: number }) => /Authentication failed/.test(e.message));
    await bad.close();
  });

  test('memory is bounded by bytes received: 40 clients announcing 16 MB frames hold almost nothing', async () => {
    global.gc?.();
    const before = process.memoryUsage().arrayBuffers;
    const sockets: net.Socket[] = [];
    for (let i = 0; i < 40; i++) {
      const s = net.connect(m.port, '127.0.0.1');
      s.on('error', () => undefined);
      await new Promise<void>((r) => s.once('connect', () => r()));
      s.write(Buffer.concat([header(16 * 1024 * 1024 - 1, 2013), Buffer.alloc(100)]));
      sockets.push(s);
    }
    await new Promise((r) => setTimeout(r, 300));
    const grown = process.memoryUsage().arrayBuffers - before;
    assert.ok(grown < 8 * 1024 * 1024, `array buffers grew by ${grown} bytes`);
    await bystanderWorks();
    for (const s of sockets) s.destroy();
  });
});
