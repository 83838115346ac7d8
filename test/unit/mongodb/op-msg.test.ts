import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { deserialize, serialize } from 'bson';
import { decodeOpMsg, encodeOpMsg, encodeOpMsgWithSequences } from '../../../protocols/mongodb/codec/op-msg.js';
import { decodeOpQuery, decodeOpReply, encodeOpReply } from '../../../protocols/mongodb/codec/op-query.js';
import { compressedRefusal, decodeOpCompressedHeader } from '../../../protocols/mongodb/codec/op-compressed.js';
import { OpMsgFlag } from '../../../protocols/mongodb/codec/constants.js';
import { crc32c } from '../../../protocols/mongodb/codec/crc32c.js';
import { ProtocolError } from '../../../protocols/shared/errors.js';
import { InvalidBsonError } from '../../../protocols/mongodb/codec/bson-view.js';
import { frames, frame } from './fixtures.js';

describe('OP_MSG on captured frames', () => {
  test('every captured OP_MSG decodes to its command and re-encodes to the same bytes', () => {
    const msgs = frames.filter((f) => f.opCode === 2013);
    assert.ok(msgs.length >= 10);
    for (const f of msgs) {
      const m = decodeOpMsg(f.bytes);
      const doc = deserialize(m.body);
      if (f.dir === 'c2s') assert.equal(Object.keys(doc)[0], f.name);
      else assert.ok('ok' in doc);
      assert.equal(m.checksumPresent, false);
      // driver 7 sends insert documents as a kind 1 sequence; everything else in one body
      assert.equal(m.sequences.length, f.dir === 'c2s' && f.name === 'insert' ? 1 : 0, f.name);
      const again = m.sequences.length
        ? encodeOpMsgWithSequences(m.body, m.sequences, m.responseTo, m.flags, m.requestId)
        : encodeOpMsg(m.body, m.responseTo, m.flags, m.requestId);
      assert.equal(again.toString('hex'), f.bytes.toString('hex'), f.name);
    }
  });

  test('the captured insert carries its documents as a document sequence', () => {
    const m = decodeOpMsg(frame('c2s', 'insert'));
    assert.equal(m.sequences[0]!.identifier, 'documents');
    assert.equal(m.sequences[0]!.documents.length, 5);
    assert.equal(deserialize(m.sequences[0]!.documents[0]!).email, 'person0@example.com');
  });

  test('the find reply carries a cursor batch', () => {
    const m = decodeOpMsg(frame('s2c', 'find'));
    const doc = deserialize(m.body) as { cursor: { firstBatch: unknown[]; id: unknown } };
    assert.equal(doc.cursor.firstBatch.length, 2);
  });

  test('body plus document sequences (kind 1), with and without CRC-32C', () => {
    const docs = [serialize({ a: 1 }), serialize({ b: 'two' })];
    for (const withChecksum of [false, true]) {
      const bytes = encodeOpMsgWithSequences(serialize({ insert: 'c', $db: 'app' }), [{ identifier: 'documents', documents: docs }], 0, 0, 7, withChecksum);
      const m = decodeOpMsg(bytes);
      assert.equal(m.checksumPresent, withChecksum);
      assert.equal(m.requestId, 7);
      assert.deepEqual(deserialize(m.body), { insert: 'c', $db: 'app' });
      assert.equal(m.sequences.length, 1);
      assert.equal(m.sequences[0]!.identifier, 'documents');
      assert.deepEqual(m.sequences[0]!.documents.map((d) => deserialize(d)), [{ a: 1 }, { b: 'two' }]);
    }
  });

  test('a wrong checksum is refused', () => {
    const bytes = encodeOpMsgWithSequences(serialize({ ping: 1, $db: 'admin' }), [], 0, 0, 1, true);
    bytes[bytes.length - 1] ^= 0xff;
    assert.throws(() => decodeOpMsg(bytes), /checksum/);
  });

  test('the checksum covers the whole message (CRC-32C check value)', () => {
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
    const bytes = encodeOpMsgWithSequences(serialize({ ping: 1 }), [], 0, 0, 1, true);
    assert.equal(bytes.readUInt32LE(bytes.length - 4), crc32c(bytes, 0, bytes.length - 4));
  });

  test('moreToCome and exhaustAllowed flags are reported', () => {
    const m = decodeOpMsg(encodeOpMsg(serialize({ ping: 1 }), 0, OpMsgFlag.moreToCome | OpMsgFlag.exhaustAllowed));
    assert.equal(m.moreToCome, true);
    assert.equal(m.exhaustAllowed, true);
  });

  test('unknown required flag bits are refused, unknown optional bits ignored', () => {
    assert.throws(() => decodeOpMsg(encodeOpMsg(serialize({ ping: 1 }), 0, 1 << 4)), /required flag/);
    assert.doesNotThrow(() => decodeOpMsg(encodeOpMsg(serialize({ ping: 1 }), 0, 1 << 20)));
  });

  test('malformed messages: no body, two bodies, unknown section kind, lying sizes', () => {
    const body = serialize({ ping: 1 });
    const noBody = encodeOpMsgWithSequences(body, [{ identifier: 'x', documents: [] }], 0);
    noBody[20] = 1; // turn the body section into a sequence marker: sizes no longer fit
    assert.throws(() => decodeOpMsg(noBody), ProtocolError);
    const two = Buffer.concat([encodeOpMsg(body, 0), Buffer.from([0]), Buffer.from(body)]);
    two.writeInt32LE(two.length, 0);
    assert.throws(() => decodeOpMsg(two), /more than one body/);
    const kind = encodeOpMsg(body, 0);
    kind[20] = 7;
    assert.throws(() => decodeOpMsg(kind), /section kind/);
    const lying = encodeOpMsg(body, 0);
    lying.writeInt32LE(1_000_000, 21); // the body document claims a huge length
    assert.throws(() => decodeOpMsg(lying), InvalidBsonError);
  });
});

describe('OP_QUERY handshake and OP_REPLY', () => {
  test('the driver\'s captured isMaster decodes', () => {
    const q = decodeOpQuery(frame('c2s', 'ismaster'));
    assert.equal(q.fullCollectionName, 'admin.$cmd');
    const doc = deserialize(q.query);
    assert.equal(doc.ismaster, 1);
    assert.equal(doc.helloOk, true);
  });

  test('the captured OP_REPLY decodes, and encodeOpReply round-trips', () => {
    const r = decodeOpReply(frame('s2c', 'ismaster'));
    assert.equal(r.numberReturned, 1);
    const doc = deserialize(r.documents[0]!);
    assert.equal(doc.ok, 1);
    const again = decodeOpReply(encodeOpReply(r.documents[0]!, 42));
    assert.equal(again.responseTo, 42);
    assert.deepEqual(again.documents[0], r.documents[0]);
  });
});

describe('OP_COMPRESSED', () => {
  test('its header is read and the refusal names the compressor', () => {
    const b = Buffer.alloc(16 + 9 + 4);
    b.writeInt32LE(b.length, 0);
    b.writeInt32LE(2012, 12);
    b.writeInt32LE(2013, 16);
    b.writeInt32LE(100, 20);
    b[24] = 3;
    assert.deepEqual(decodeOpCompressedHeader(b), { originalOpcode: 2013, uncompressedSize: 100, compressorId: 3 });
    assert.match(compressedRefusal(b).message, /zstd/);
  });
});
