/**
 * Captures real MongoDB wire bytes for the codec tests: a relay between the official driver and the
 * CongoDB backend (127.0.0.1:57017, `bash scripts/backends.sh start`) records every frame in both
 * directions, and the first frame of each kind is written to test/fixtures/mongodb/exchange.json as hex.
 *   npx tsx scripts/capture-mongo-fixtures.ts
 */
import net from 'node:net';
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { deserialize } from 'bson';
import { MongoClient } from 'mongodb';
import { MessageFramer } from '../protocols/mongodb/codec/framer.js';
import { decodeOpMsg } from '../protocols/mongodb/codec/op-msg.js';
import { decodeOpQuery, decodeOpReply } from '../protocols/mongodb/codec/op-query.js';

const UPSTREAM = { host: '127.0.0.1', port: 57017 };
const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.join(here, '..', 'test', 'fixtures', 'mongodb');

interface Captured {
  /** c2s: driver to server; s2c: server to driver. */
  dir: 'c2s' | 's2c';
  opCode: number;
  /** The command name (requests) or the request's command name (replies). */
  name: string;
  hex: string;
}

const frames: Captured[] = [];
const pendingNames = new Map<number, string>();

function nameOf(frame: Buffer, dir: 'c2s' | 's2c'): string {
  const opCode = frame.readInt32LE(12);
  if (dir === 'c2s') {
    const requestId = frame.readInt32LE(4);
    let name = '?';
    if (opCode === 2013) name = Object.keys(deserialize(decodeOpMsg(frame).body))[0] ?? '?';
    else if (opCode === 2004) name = Object.keys(deserialize(decodeOpQuery(frame).query))[0] ?? '?';
    pendingNames.set(requestId, name);
    return name;
  }
  const responseTo = frame.readInt32LE(8);
  const name = pendingNames.get(responseTo) ?? '?';
  if (opCode === 1) decodeOpReply(frame);
  return name;
}

const relay = net.createServer((client) => {
  const server = net.connect(UPSTREAM);
  const up = new MessageFramer(48_000_000);
  const down = new MessageFramer(48_000_000);
  client.on('data', (chunk: Buffer) => {
    up.push(chunk, (f) => frames.push({ dir: 'c2s', opCode: f.readInt32LE(12), name: nameOf(f, 'c2s'), hex: f.toString('hex') }));
    server.write(chunk);
  });
  server.on('data', (chunk: Buffer) => {
    down.push(chunk, (f) => frames.push({ dir: 's2c', opCode: f.readInt32LE(12), name: nameOf(f, 's2c'), hex: f.toString('hex') }));
    client.write(chunk);
  });
  client.on('close', () => server.destroy());
  server.on('close', () => client.destroy());
  client.on('error', () => server.destroy());
  server.on('error', () => client.destroy());
});

await new Promise<void>((r) => relay.listen(0, '127.0.0.1', () => r()));
const port = (relay.address() as net.AddressInfo).port;
const driver = new MongoClient(`mongodb://127.0.0.1:${port}/?directConnection=true`, { monitorCommands: false });
await driver.connect();
const coll = driver.db('fixtures').collection('people');
await coll.deleteMany({});
await coll.insertMany(
  Array.from({ length: 5 }, (_, i) => ({
    _id: i + 1,
    name: `Person ${i}`,
    email: `person${i}@example.com`,
    contact: { phone: `+1415555${String(1000 + i)}`, email: `p${i}@example.org` },
    cards: ['4111111111111111'],
    age: 30 + i,
    balance: 10.5 * i,
    joined: new Date(Date.UTC(2020, i, 1)),
  })),
);
await coll.find({ age: { $gte: 30 } }, { batchSize: 2 }).toArray();
await coll.aggregate([{ $project: { mail: '$email', name: 1 } }]).toArray();
await coll.updateOne({ _id: 1 }, { $set: { age: 40 } });
await coll.findOneAndUpdate({ _id: 2 }, { $set: { age: 41 } }, { returnDocument: 'after' });
await coll.distinct('email');
await coll.deleteOne({ _id: 5 });
await driver.db('admin').command({ ping: 1 });
await coll.drop(); // leave the shared backend as it was
await driver.close();
relay.close();

// The first frame of each (direction, name, opcode); hello/isMaster keep their first of each opcode.
const seen = new Set<string>();
const kept = frames.filter((f) => {
  const key = `${f.dir}:${f.name}:${f.opCode}`;
  if (seen.has(key)) return false;
  seen.add(key);
  return true;
});
mkdirSync(out, { recursive: true });
writeFileSync(
  path.join(out, 'exchange.json'),
  `${JSON.stringify({ source: 'mongodb driver 7 <-> CongoDB (127.0.0.1:57017), captured by scripts/capture-mongo-fixtures.ts', frames: kept }, null, 1)}\n`,
);
console.log(`wrote ${kept.length} frames: ${kept.map((f) => `${f.dir}:${f.name}`).join(', ')}`);
