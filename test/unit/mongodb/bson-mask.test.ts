import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { deserialize, serialize, Int32, Long, Double, Decimal128, Binary, ObjectId } from 'bson';
import { PolicyStore, MaskTally, type CompiledPolicy } from '../../../src/policy/index.js';
import { BsonIterator, InvalidBsonError, documentEnd } from '../../../protocols/mongodb/codec/bson-view.js';
import { maskBsonDocument, UnmaskableDocumentError } from '../../../protocols/mongodb/codec/bson-mask.js';
import { maskCursorReply, maskDistinctReply, maskValueReply, readCursorInfo } from '../../../protocols/mongodb/codec/reply.js';
import { decodeOpMsg } from '../../../protocols/mongodb/codec/op-msg.js';
import { ShapePlanner } from '../../../protocols/mongodb/masking.js';
import { analyzePipeline } from '../../../protocols/mongodb/pipeline.js';
import { frames, frame } from './fixtures.js';

let policy: CompiledPolicy;
before(async () => {
  policy = (await PolicyStore.load({ hashKey: 'unit-test-key' })).current();
});

function planner(role: string, pipeline?: unknown[], stats?: MaskTally): ShapePlanner {
  const p = new ShapePlanner(() => policy, policy, role, 'app.people', pipeline ? analyzePipeline(pipeline) : null);
  p.refresh(stats);
  return p;
}

const raw = { promoteValues: false, promoteLongs: false } as const;

describe('BsonIterator', () => {
  test('walks every captured document like bson.deserialize', () => {
    for (const f of frames.filter((x) => x.opCode === 2013)) {
      const body = decodeOpMsg(f.bytes).body;
      const names: string[] = [];
      const it = new BsonIterator().reset(body, 0);
      while (it.next()) names.push(it.name());
      assert.deepEqual(names, Object.keys(deserialize(body)), f.name);
    }
  });

  test('reads the cursor id and namespace of the captured find and getMore replies', () => {
    const find = readCursorInfo(decodeOpMsg(frame('s2c', 'find')).body)!;
    assert.notEqual(find.id, 0n);
    assert.equal(find.ns, 'fixtures.people');
    assert.equal(find.count, 2);
    assert.equal(readCursorInfo(decodeOpMsg(frame('s2c', 'getMore')).body)!.ns, 'fixtures.people');
  });

  test('lying lengths fail with InvalidBSON, never read past the end', () => {
    const good = Buffer.from(serialize({ s: 'hello', d: { x: 1 }, a: [1, 2] }));
    for (let i = 0; i < good.length; i++) {
      for (const v of [0x00, 0x7f, 0xff]) {
        const bad = Buffer.from(good);
        bad[i] = v;
        try {
          const it = new BsonIterator().reset(bad, 0);
          while (it.next()) {
            if (it.type === 3 || it.type === 4) documentEnd(bad, it.valueStart, it.valueEnd);
          }
        } catch (err) {
          assert.ok(err instanceof InvalidBsonError, `byte ${i}=${v}: ${String(err)}`);
        }
      }
    }
  });

  test('random bytes never crash the walker with anything but InvalidBSON', () => {
    let seed = 7;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
    for (let n = 0; n < 2000; n++) {
      const len = 5 + (rnd() % 60);
      const b = Buffer.alloc(len);
      for (let i = 0; i < len; i++) b[i] = rnd();
      b.writeInt32LE(len, 0);
      b[len - 1] = 0;
      try {
        maskBsonDocument(b, 0, planner('analyst'));
      } catch (err) {
        assert.ok(err instanceof InvalidBsonError, String(err));
      }
    }
  });
});

describe('maskBsonDocument', () => {
  const doc = {
    _id: new ObjectId('6b051e821981478982b397c1'),
    name: 'Alice',
    email: 'alice@example.com',
    contact: { email: 'a@b.org', phone: '+14155552671', city: 'Paris' },
    cards: ['4111111111111111', '5500005555555559'],
    people: [{ email: 'x@y.com' }, { email: 'z@w.com', note: 'card 4111111111111111 on file' }],
    age: new Int32(41),
    balance: new Double(10.5),
    big: Long.fromNumber(12345678901),
    dec: Decimal128.fromString('1.50'),
    ssn: '123-45-6789',
    blob: new Binary(Buffer.from('abc')),
  };
  const bytes = Buffer.from(serialize(doc));

  test('top-level, nested and array fields are masked for the analyst; types are kept', () => {
    const tally = new MaskTally();
    const out = maskBsonDocument(bytes, 0, planner('analyst', undefined, tally));
    assert.ok(out);
    const m = deserialize(out, raw);
    assert.equal(m.email, 'a***@example.com');
    assert.equal(m.contact.email, 'a***@b.org');
    assert.notEqual(m.contact.phone, '+14155552671');
    assert.equal(m.contact.city, 'Paris');
    assert.equal(m.cards[0], '************1111');
    assert.equal(m.people[0].email, 'x***@y.com');
    assert.doesNotMatch(m.people[1].note, /4111111111111111/);
    assert.notEqual(m.ssn, '123-45-6789');
    assert.equal(m.name, 'Alice');
    // untouched values keep their exact BSON types and values
    assert.ok(m.age instanceof Int32 && m.age.value === 41);
    assert.ok(m.balance instanceof Double);
    assert.ok(m.big instanceof Long);
    assert.ok(m.dec instanceof Decimal128);
    assert.equal(m._id.toHexString(), '6b051e821981478982b397c1');
    assert.ok((tally.maskedCounts()['pii.email'] ?? 0) >= 4);
    // the result is valid BSON of the declared length
    assert.equal(out.readInt32LE(0), out.length);
  });

  test('the exempt role sees everything clear and gets the original bytes (null)', () => {
    assert.equal(maskBsonDocument(bytes, 0, planner('admin')), null);
  });

  test('an unclassified document is not re-encoded', () => {
    assert.equal(maskBsonDocument(Buffer.from(serialize({ a: 1, b: 'plain', c: { d: true } })), 0, planner('analyst')), null);
  });

  test('a classified subdocument masks every value under it, whatever the inner names', () => {
    const b = Buffer.from(serialize({ address: { line1: '1 Main Street', extra: { code: 'B12' }, floor: new Int32(3) }, other: { line1: '1 Main Street' } }));
    const m = deserialize(maskBsonDocument(b, 0, planner('analyst'))!, raw);
    assert.notEqual(m.address.line1, '1 Main Street');
    assert.notEqual(m.address.extra.code, 'B12');
    assert.ok(m.address.floor instanceof Int32);
    assert.equal(m.other.line1, '1 Main Street');
  });

  test('a $group output computed from classified inputs is masked like them, in every batch', () => {
    const p = planner('analyst', [{ $group: { _id: '$contact.email', phones: { $push: '$phone' }, n: { $sum: 1 } } }]);
    for (let batch = 0; batch < 3; batch++) {
      const b = Buffer.from(serialize({ _id: `u${batch}@example.com`, phones: ['+14155552671', '+14155552672'], n: new Int32(2) }));
      const m = deserialize(maskBsonDocument(b, 0, p)!, raw);
      assert.equal(m._id, 'u***@example.com');
      for (const ph of m.phones) assert.doesNotMatch(ph, /^\+1415555267\d$/);
      assert.equal(m.n.value, 2);
    }
  });

  test('classified non-string values keep their BSON type', () => {
    const b = Buffer.from(serialize({ date_of_birth: new Date(Date.UTC(1980, 4, 17)), salary: new Int32(50000), card_number: Long.fromString('4111111111111111') }));
    const out = maskBsonDocument(b, 0, planner('analyst'));
    const types: number[] = [];
    const it = new BsonIterator().reset(out ?? b, 0);
    while (it.next()) types.push(it.type);
    assert.deepEqual(types, [0x09, 0x10, 0x12]);
  });
});

describe('replies', () => {
  test('the captured find reply is masked in its cursor batch, rows counted', () => {
    const body = decodeOpMsg(frame('s2c', 'find')).body;
    let rows = 0;
    const out = maskCursorReply(body, planner('analyst'), () => rows++);
    assert.ok(out);
    assert.equal(rows, 2);
    const d = deserialize(out) as { cursor: { firstBatch: Array<{ email: string; contact: { email: string } }>; id: unknown; ns: string }; ok: number };
    assert.equal(d.ok, 1);
    assert.equal(d.cursor.ns, 'fixtures.people');
    for (const x of d.cursor.firstBatch) {
      assert.match(x.email, /^p\*\*\*@example\.com$/);
      assert.match(x.contact.email, /\*\*\*@example\.org$/);
    }
    assert.equal(readCursorInfo(out)!.id, readCursorInfo(body)!.id);
  });

  test('the captured aggregate reply: the $project rename `mail` is masked as its source `email`', () => {
    const body = decodeOpMsg(frame('s2c', 'aggregate')).body;
    const out = maskCursorReply(body, planner('analyst', [{ $project: { mail: '$email', name: 1 } }]));
    const d = deserialize(out!) as { cursor: { firstBatch: Array<{ mail: string }> } };
    assert.ok(d.cursor.firstBatch.length > 0);
    for (const x of d.cursor.firstBatch) assert.match(x.mail, /^p\*\*\*@example\.com$/);
  });

  test('the captured getMore reply is masked the same way', () => {
    const body = decodeOpMsg(frame('s2c', 'getMore')).body;
    const d = deserialize(maskCursorReply(body, planner('analyst'))!) as { cursor: { nextBatch: Array<{ email: string }> } };
    for (const x of d.cursor.nextBatch) assert.match(x.email, /\*\*\*@example\.com$/);
  });

  test('findAndModify value and the captured distinct values are masked', () => {
    // CongoDB answered the captured findAndModify with `value: null` (MongoDB returns the document), so the
    // reply is built here in MongoDB's documented shape.
    assert.equal(maskValueReply(decodeOpMsg(frame('s2c', 'findAndModify')).body, planner('analyst')), null);
    const reply = serialize({ lastErrorObject: { n: 1, updatedExisting: true }, value: { _id: 2, email: 'person1@example.com', age: 41 }, ok: 1 });
    const fam = deserialize(maskValueReply(reply, planner('analyst'))!) as { value: { email: string; age: number } };
    assert.match(fam.value.email, /\*\*\*@example\.com$/);
    assert.equal(fam.value.age, 41);
    const dist = deserialize(maskDistinctReply(decodeOpMsg(frame('s2c', 'distinct')).body, planner('analyst'), 'email')!) as { values: string[] };
    assert.ok(dist.values.length > 0);
    for (const v of dist.values) assert.match(v, /\*\*\*@example\.com$/);
  });

  test('the admin role leaves every captured reply untouched', () => {
    for (const name of ['find', 'getMore', 'aggregate']) assert.equal(maskCursorReply(decodeOpMsg(frame('s2c', name)).body, planner('admin')), null);
  });
});

describe('value scanning on bytes', () => {
  // Strings of every kind a detector looks for, and look-alikes, with multi-byte characters around them.
  const values = [
    'Customer prefers delivery in the morning; reviewed after the March migration.',
    'Rue de la République 12, 69002 Lyon — café',
    'write to alice@example.com today',
    'card 4111 1111 1111 1111 on file',
    'ssn 078-05-1120 (verified)',
    'logged in from 192.168.1.20 at 10:00',
    'from 2001:db8::8a2e:370:7334 too',
    'call +44 20 7946 0958 — merci',
    'key ' + 'AK' + 'IAIOSFODNN7EXAMPLE' + ' leaked',
    'iban FR14 2004 1010 0505 0001 3M02 606 ok',
    'born 3 March 1975 in Lyon',
    'order 1234 of 2024',
    'short',
    'é',
    '',
  ];

  test('every string leaf is masked exactly as the policy masks that value (nested, arrays, non-ASCII)', () => {
    const doc = {
      note: values[0],
      comments: values,
      nested: { deep: { list: values.map((v, i) => ({ i: new Int32(i), text: v })) } },
    };
    const bytes = Buffer.from(serialize(doc));
    const tally = new MaskTally();
    const out = maskBsonDocument(bytes, 0, planner('analyst', undefined, tally));
    assert.ok(out);
    assert.equal(out.readInt32LE(0), out.length);
    const m = deserialize(out) as { note: string; comments: string[]; nested: { deep: { list: Array<{ i: number; text: string }> } } };
    const expect = (path: string, v: string): unknown => policy.fieldPlan('analyst', { name: path, object: 'app.people', type: 'text' }).apply(v);
    assert.equal(m.note, expect('note', values[0]!));
    values.forEach((v, i) => {
      assert.equal(m.comments[i], expect('comments', v), v);
      assert.equal(m.nested.deep.list[i]!.text, expect('nested.deep.list.text', v), v);
      assert.equal(m.nested.deep.list[i]!.i, i);
    });
    // the test is only meaningful if some values were masked and some were not
    assert.notEqual(m.comments[2], values[2]);
    assert.equal(m.comments[0], values[0]);
    assert.equal(m.comments[1], values[1]);
  });

  test('the exempt role still gets the original bytes', () => {
    const bytes = Buffer.from(serialize({ comments: values }));
    assert.equal(maskBsonDocument(bytes, 0, planner('admin')), null);
  });
});

describe('nesting beyond MongoDB limit', () => {
  test('a document nested deeper than 100 levels is refused for a masked role, never passed clear', () => {
    let doc: Record<string, unknown> = { email: 'deep@example.com' };
    for (let i = 0; i < 120; i++) doc = { level: doc };
    const bytes = Buffer.from(serialize(doc));
    assert.throws(() => maskBsonDocument(bytes, 0, planner('analyst')), UnmaskableDocumentError);
  });
});
