/**
 * Property-based tests of the MongoDB wire codecs: MessageFramer, OP_MSG (body, document sequences, CRC-32C),
 * OP_QUERY/OP_REPLY, OP_COMPRESSED and the lazy BSON iterator and cursor-reply reader. Random and mutated frames
 * in random chunkings: the same frames as one-shot framing, only ProtocolError (InvalidBsonError is one), no
 * allocation for a declared 2^31 length, and encode -> decode round trips against the `bson` package.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { serialize, deserialize, type Document } from 'bson';
import { MessageFramer } from '../../../protocols/mongodb/codec/framer.js';
import { decodeOpMsg, encodeOpMsg, encodeOpMsgWithSequences } from '../../../protocols/mongodb/codec/op-msg.js';
import { decodeOpQuery, decodeOpReply, encodeOpReply } from '../../../protocols/mongodb/codec/op-query.js';
import { compressedRefusal, decodeOpCompressedHeader } from '../../../protocols/mongodb/codec/op-compressed.js';
import { BsonIterator, BsonType, documentEnd, findElement, firstElementName } from '../../../protocols/mongodb/codec/bson-view.js';
import { readCursorInfo } from '../../../protocols/mongodb/codec/reply.js';
import { readHeader, writeHeader } from '../../../protocols/mongodb/codec/header.js';
import { OpCode } from '../../../protocols/mongodb/codec/constants.js';
import { ProtocolError } from '../../../protocols/shared/errors.js';
import { bytesArb, check, cutsArb, largestAllocation, LYING_LENGTHS, mutate, mutationsArb, onlyErrors, splitAt } from './fuzz-kit.js';

const SEED = 0x4d4f; // 'MO'
const MAX = 64 * 1024;

function frameAll(chunks: readonly Buffer[]): { frames: string[]; error: string | null } {
  const f = new MessageFramer(MAX);
  const frames: string[] = [];
  const err = onlyErrors(() => {
    for (const c of chunks) {
      f.push(c, (frame) => frames.push(frame.toString('hex')));
      assert.ok(f.buffered <= MAX);
    }
  }, ProtocolError);
  return { frames, error: err ? err.message : null };
}

function rawFrame(opCode: number, body: Uint8Array): Buffer {
  const out = Buffer.alloc(16 + body.length);
  writeHeader(out, out.length, 7, 0, opCode);
  out.set(body, 16);
  return out;
}

const key = fc.stringMatching(/^[a-zA-Z_$][a-zA-Z0-9_.]{0,10}$/);
const { doc: docArb } = fc.letrec<{ doc: Document; value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.string({ maxLength: 20 }),
    fc.integer(),
    fc.double({ noNaN: true }),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    tie('doc'),
  ),
  doc: fc.dictionary(key, tie('value'), { maxKeys: 5 }) as fc.Arbitrary<Document>,
}));
const bsonArb = docArb.map((d) => Buffer.from(serialize(d)));

/** Walk a document with BsonIterator and rebuild it as plain JS, to compare with `bson`'s own decoding. */
function walk(buf: Uint8Array, start: number, asArray: boolean): unknown {
  const it = new BsonIterator().reset(buf, start);
  const out: Record<string, unknown> = {};
  const arr: unknown[] = [];
  while (it.next()) {
    let v: unknown;
    switch (it.type) {
      case BsonType.string:
        v = it.stringValue();
        break;
      case BsonType.int32:
      case BsonType.double:
        v = it.numberValue();
        break;
      case BsonType.int64:
        v = Number(it.bigintValue());
        break;
      case BsonType.bool:
        v = it.numberValue() === 1;
        break;
      case BsonType.null:
        v = null;
        break;
      case BsonType.object:
        v = walk(buf, it.valueStart, false);
        break;
      case BsonType.array:
        v = walk(buf, it.valueStart, true);
        break;
      default:
        v = `type ${it.type}`;
    }
    if (asArray) arr.push(v);
    else out[it.name()] = v;
  }
  return asArray ? arr : out;
}

describe('fuzz: mongodb MessageFramer', () => {
  test('valid frame streams: every chunking yields the frames one-shot framing yields', () => {
    check(
      fc.property(fc.array(fc.tuple(fc.constantFrom(...Object.values(OpCode)), bytesArb), { maxLength: 10 }), cutsArb, (specs, cuts) => {
        const frames = specs.map(([op, body]) => rawFrame(op, body));
        const whole = Buffer.concat(frames);
        const one = frameAll([whole]);
        assert.deepEqual(one, { frames: frames.map((f) => f.toString('hex')), error: null });
        assert.deepEqual(frameAll(splitAt(whole, cuts)), one);
      }),
      SEED,
      400,
    );
  });

  test('mutated streams: only ProtocolError, chunking never changes the outcome, 2^31 lengths allocate nothing', () => {
    const valid = fc.oneof(
      fc.array(bsonArb, { minLength: 1, maxLength: 3 }).map((docs) => Buffer.concat(docs.map((d) => encodeOpMsg(d, 0)))),
      bytesArb.map((b) => Buffer.from(b)),
    );
    check(
      fc.property(valid, mutationsArb, cutsArb, (v, mutations, cuts) => {
        const input = mutate(v, mutations);
        let one: ReturnType<typeof frameAll> | null = null;
        const largest = largestAllocation(() => {
          one = frameAll([input]);
          assert.deepEqual(frameAll(splitAt(input, cuts)), one);
        });
        assert.ok(largest <= MAX + input.length, `allocated ${largest}`);
        for (const f of one!.frames) {
          const frame = Buffer.from(f, 'hex');
          onlyErrors(() => decodeOpMsg(frame), ProtocolError);
          onlyErrors(() => decodeOpQuery(frame), ProtocolError);
          onlyErrors(() => compressedRefusal(frame), ProtocolError);
        }
      }),
      SEED + 1,
      800,
    );
  });

  test('declared lengths of 2^31 and below the header are refused at once', () => {
    for (const len of LYING_LENGTHS) {
      const head = Buffer.alloc(16);
      head.writeUInt32LE(len >>> 0, 0);
      for (const cut of [1, 3, 4, 15]) {
        const largest = largestAllocation(() => frameAll(splitAt(head, [cut])));
        assert.ok(largest < 1024, `${len}: allocated ${largest}`);
      }
    }
  });
});

describe('fuzz: mongodb OP_MSG, OP_QUERY, OP_COMPRESSED', () => {
  test('round trip: encodeOpMsgWithSequences -> decodeOpMsg, with and without checksum', () => {
    const seqArb = fc.array(fc.record({ identifier: key, documents: fc.array(bsonArb, { maxLength: 3 }) }), { maxLength: 3 });
    check(
      fc.property(bsonArb, seqArb, fc.boolean(), fc.integer(), fc.constantFrom(0, 2, 1 << 16), (body, seqs, withChecksum, responseTo, flags) => {
        const frame = encodeOpMsgWithSequences(body, seqs, responseTo | 0, flags, 42, withChecksum);
        const m = decodeOpMsg(frame);
        assert.deepEqual(Buffer.from(m.body), body);
        assert.deepEqual(
          m.sequences.map((s) => ({ identifier: s.identifier, documents: s.documents.map((d) => Buffer.from(d)) })),
          seqs.map((s) => ({ identifier: s.identifier, documents: s.documents })),
        );
        assert.equal(m.checksumPresent, withChecksum);
        assert.equal(m.moreToCome, (flags & 2) !== 0);
        assert.equal(m.responseTo, responseTo | 0);
        assert.equal(readHeader(frame).messageLength, frame.length);
      }),
      SEED + 2,
      300,
    );
  });

  test('round trip: OP_QUERY built by hand, OP_REPLY by the encoder, OP_COMPRESSED header', () => {
    check(
      fc.property(key, bsonArb, fc.integer(), fc.integer(), fc.integer({ min: 0, max: 255 }), (ns, query, skip, ret, compressor) => {
        const body = Buffer.concat([Buffer.alloc(4), Buffer.from(`${ns}\0`), Buffer.alloc(8), query]);
        body.writeInt32LE(skip | 0, 4 + ns.length + 1);
        body.writeInt32LE(ret | 0, 4 + ns.length + 5);
        const q = decodeOpQuery(rawFrame(OpCode.OP_QUERY, body));
        assert.deepEqual([q.fullCollectionName, q.numberToSkip, q.numberToReturn, Buffer.from(q.query)], [ns, skip | 0, ret | 0, query]);
        const r = decodeOpReply(encodeOpReply(query, 9));
        assert.deepEqual([r.responseTo, r.numberReturned, Buffer.from(r.documents[0]!)], [9, 1, query]);
        const c = Buffer.alloc(9);
        c.writeInt32LE(OpCode.OP_MSG, 0);
        c.writeInt32LE(query.length, 4);
        c[8] = compressor;
        assert.deepEqual(decodeOpCompressedHeader(rawFrame(OpCode.OP_COMPRESSED, c)), {
          originalOpcode: OpCode.OP_MSG,
          uncompressedSize: query.length,
          compressorId: compressor,
        });
        assert.equal(compressedRefusal(rawFrame(OpCode.OP_COMPRESSED, c)).fatal, false);
      }),
      SEED + 3,
      300,
    );
  });

  test('mutated OP_MSG/OP_QUERY/OP_COMPRESSED frames: only ProtocolError', () => {
    const valid = fc.oneof(
      fc.tuple(bsonArb, fc.array(bsonArb, { maxLength: 2 }), fc.boolean()).map(([b, docs, c]) => encodeOpMsgWithSequences(b, [{ identifier: 'documents', documents: docs }], 0, 0, 1, c)),
      fc.tuple(key, bsonArb).map(([ns, q]) => rawFrame(OpCode.OP_QUERY, Buffer.concat([Buffer.alloc(4), Buffer.from(`${ns}\0`), Buffer.alloc(8), q]))),
      bytesArb.map((b) => rawFrame(OpCode.OP_COMPRESSED, b)),
    );
    check(
      fc.property(valid, mutationsArb, (v, mutations) => {
        const frame = mutate(v, mutations);
        if (frame.length < 16) return;
        onlyErrors(() => decodeOpMsg(frame), ProtocolError);
        onlyErrors(() => decodeOpQuery(frame), ProtocolError);
        onlyErrors(() => decodeOpCompressedHeader(frame), ProtocolError);
      }),
      SEED + 4,
      1500,
    );
  });
});

describe('fuzz: mongodb BSON views', () => {
  test('round trip: BsonIterator reads what bson.serialize wrote', () => {
    check(
      fc.property(docArb, (doc) => {
        const bytes = serialize(doc);
        const expected = deserialize(bytes, { promoteValues: true, promoteLongs: true });
        assert.deepEqual(walk(bytes, 0, false), JSON.parse(JSON.stringify(expected)));
        assert.equal(documentEnd(bytes, 0), bytes.length);
        const first = Object.keys(doc)[0];
        assert.equal(firstElementName(bytes), first ?? null);
        if (first !== undefined) assert.ok(findElement(bytes, 0, first));
      }),
      SEED + 5,
      400,
    );
  });

  test('mutated BSON and cursor replies: only ProtocolError from the iterator and readCursorInfo', () => {
    const reply = fc.array(bsonArb, { maxLength: 3 }).map((batch) =>
      Buffer.from(serialize({ cursor: { id: 0, ns: 'app.people', firstBatch: batch.map((b) => deserialize(b)) }, ok: 1 })),
    );
    check(
      fc.property(fc.oneof(bsonArb, reply, bytesArb.map((b) => Buffer.from(b))), mutationsArb, (v, mutations) => {
        const bytes = mutate(v, mutations);
        onlyErrors(() => walk(bytes, 0, false), ProtocolError);
        onlyErrors(() => readCursorInfo(bytes), ProtocolError);
      }),
      SEED + 6,
      1500,
    );
  });

  test('regression shapes: lying string, binary, code-with-scope and document lengths stay InvalidBSON', () => {
    for (const type of [0x02, 0x03, 0x04, 0x05, 0x0b, 0x0c, 0x0d, 0x0f]) {
      for (const len of LYING_LENGTHS) {
        const doc = Buffer.alloc(32);
        doc.writeInt32LE(32, 0);
        doc[4] = type;
        doc[5] = 0x61;
        doc[6] = 0;
        doc.writeUInt32LE(len >>> 0, 7);
        assert.ok(largestAllocation(() => onlyErrors(() => walk(doc, 0, false), ProtocolError)) < 1024);
      }
    }
  });
});
