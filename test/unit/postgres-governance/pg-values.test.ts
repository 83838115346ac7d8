import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { codecFor, decodeNumeric, encodeNumeric, logicalTypeOf, numericText, TypeOid } from '../../../protocols/postgres/governance/pg-values.js';
import {
  DATE_SEND,
  JSONB_A1,
  NUMERIC_SEND,
  NUMERIC_SPECIAL,
  TIMESTAMP_1999_12_31_23_59_59,
  TIMESTAMPTZ_2024_02_29_12_34_56_789,
  UUID_SEND,
} from '../../fixtures/postgres-governance/binary-values.js';

const hex = (h: string): Buffer => Buffer.from(h, 'hex');
const decode = (oid: number, format: number, b: Buffer): unknown => codecFor(oid, format).decode(b, 0, b.length);
const encode = (oid: number, format: number, v: unknown): string | null => {
  const out = codecFor(oid, format).encode(v);
  return out === null ? null : format === 1 ? out.toString('hex') : out.toString('utf8');
};

describe('logical types of type OIDs', () => {
  test('maps the types masks distinguish; everything else is text', () => {
    assert.deepEqual(
      [21, 23, 20, 26, 1700, 700, 701, 16, 1082, 1114, 1184, 2950, 114, 3802, 17, 25, 1043, 1042, 19, 705, 869, 1009].map(logicalTypeOf),
      ['integer', 'integer', 'integer', 'integer', 'numeric', 'numeric', 'numeric', 'boolean', 'date', 'timestamp', 'timestamp', 'uuid', 'json', 'json', 'bytes', 'text', 'text', 'text', 'text', 'text', 'text', 'text'],
    );
  });
});

describe('binary numeric', () => {
  test('decodes what PostgreSQL sends, byte for byte', () => {
    for (const [text, bytes] of [...NUMERIC_SEND, ...NUMERIC_SPECIAL]) assert.equal(decodeNumeric(hex(bytes), 0), text, bytes);
  });

  test('encodes exactly as numeric_send does', () => {
    for (const [text, bytes] of NUMERIC_SEND) assert.equal(encodeNumeric(text).toString('hex'), bytes, text);
  });

  test('special values keep their sign word', () => {
    for (const [text, bytes] of NUMERIC_SPECIAL) assert.equal(encodeNumeric(text).readUInt16BE(4), hex(bytes).readUInt16BE(4), text);
  });

  test('round-trips many decimals', () => {
    for (const v of ['0.5', '-123.456', '1', '99999.9999', '10000.00', '0.000000001', '-0.0001', '5000000000000000000000000.25']) {
      assert.equal(decodeNumeric(encodeNumeric(v), 0), v);
    }
  });

  test('mask answers as numbers, exponents and bigints become canonical decimals', () => {
    assert.equal(numericText(1200), '1200');
    assert.equal(numericText(1.5e3), '1500');
    assert.equal(numericText('1.5e-3'), '0.0015');
    assert.equal(numericText('-.5'), '-0.5');
    assert.equal(numericText(12n), '12');
    assert.equal(numericText('abc'), null);
    assert.equal(encode(TypeOid.numeric, 1, 1200), '000100000000000004b0');
  });
});

describe('integers keep their width', () => {
  test('int2/int4/int8/oid binary', () => {
    assert.equal(decode(TypeOid.int4, 1, hex('0000002a')), 42);
    assert.equal(decode(TypeOid.int8, 1, hex('ffffffffffffffff')), -1n);
    assert.equal(decode(TypeOid.int2, 1, hex('8000')), -32768);
    assert.equal(decode(TypeOid.oid, 1, hex('ffffffff')), 4294967295);
    assert.equal(encode(TypeOid.int4, 1, 7), '00000007');
    assert.equal(encode(TypeOid.int2, 1, '-2'), 'fffe');
    assert.equal(encode(TypeOid.int8, 1, 5n), '0000000000000005');
    assert.equal(encode(TypeOid.int8, 1, '9223372036854775807'), '7fffffffffffffff');
  });

  test('a masked value that does not fit the column becomes NULL, never corrupt bytes', () => {
    assert.equal(encode(TypeOid.int2, 1, 70000), null);
    assert.equal(encode(TypeOid.int4, 1, '2147483648'), null);
    assert.equal(encode(TypeOid.int4, 0, 'twelve'), null);
    assert.equal(encode(TypeOid.int4, 0, 2147483647), '2147483647');
  });
});

describe('dates and timestamps', () => {
  test('binary date: int32 days since 2000-01-01', () => {
    for (const [text, bytes] of DATE_SEND) {
      assert.equal(decode(TypeOid.date, 1, hex(bytes)), text);
      assert.equal(encode(TypeOid.date, 1, text), bytes);
    }
    assert.equal(encode(TypeOid.date, 1, new Date(Date.UTC(1991, 9, 15))), 'fffff448');
    assert.equal(encode(TypeOid.date, 1, 'not a date'), null);
  });

  test('text date', () => {
    assert.equal(encode(TypeOid.date, 0, '1991-01-01'), '1991-01-01');
    assert.equal(encode(TypeOid.date, 0, new Date(Date.UTC(1991, 0, 1))), '1991-01-01');
    assert.equal(encode(TypeOid.date, 0, 'January'), null);
  });

  test('binary timestamp(tz): int64 microseconds since 2000-01-01', () => {
    const d = decode(TypeOid.timestamptz, 1, hex(TIMESTAMPTZ_2024_02_29_12_34_56_789)) as Date;
    assert.equal(d.toISOString(), '2024-02-29T12:34:56.789Z');
    assert.equal(encode(TypeOid.timestamptz, 1, d), TIMESTAMPTZ_2024_02_29_12_34_56_789);
    assert.equal(encode(TypeOid.timestamp, 1, '1999-12-31 23:59:59'), TIMESTAMP_1999_12_31_23_59_59);
    assert.equal(encode(TypeOid.timestamptz, 1, '2024-02-29 12:34:56.789+00'), TIMESTAMPTZ_2024_02_29_12_34_56_789);
    assert.equal(decode(TypeOid.timestamp, 1, hex('7fffffffffffffff')), 'infinity');
  });

  test('text timestamps from a Date', () => {
    assert.equal(encode(TypeOid.timestamptz, 0, new Date(Date.UTC(2024, 0, 1))), '2024-01-01 00:00:00.000+00');
    assert.equal(encode(TypeOid.timestamp, 0, new Date(Date.UTC(2024, 0, 1))), '2024-01-01 00:00:00.000');
  });
});

describe('uuid, json, jsonb, bool, bytea, text', () => {
  test('uuid is 16 bytes in binary', () => {
    assert.equal(decode(TypeOid.uuid, 1, hex(UUID_SEND[1])), UUID_SEND[0]);
    assert.equal(encode(TypeOid.uuid, 1, UUID_SEND[0]), UUID_SEND[1]);
    assert.equal(encode(TypeOid.uuid, 1, 'xxxx'), null);
  });

  test('jsonb binary is a version byte and the JSON text', () => {
    assert.equal(decode(TypeOid.jsonb, 1, hex(JSONB_A1)), '{"a": 1}');
    assert.equal(encode(TypeOid.jsonb, 1, '{"a": 1}'), JSONB_A1);
    assert.equal(encode(TypeOid.jsonb, 1, { a: 1 }), Buffer.concat([Buffer.from([1]), Buffer.from('{"a":1}')]).toString('hex'));
    assert.equal(encode(TypeOid.json, 0, '{oops'), null);
    assert.equal(encode(TypeOid.json, 1, '[1,2]'), Buffer.from('[1,2]').toString('hex'));
  });

  test('bool is one byte in binary, t/f in text', () => {
    assert.equal(decode(TypeOid.bool, 1, hex('01')), true);
    assert.equal(encode(TypeOid.bool, 1, false), '00');
    assert.equal(encode(TypeOid.bool, 0, true), 't');
  });

  test('bytea: raw in binary, \\x hex in text', () => {
    assert.deepEqual(decode(TypeOid.bytea, 0, Buffer.from('\\x0102ff')), hex('0102ff'));
    assert.equal(encode(TypeOid.bytea, 0, hex('00ff')), '\\x00ff');
    assert.equal(encode(TypeOid.bytea, 1, hex('00ff')), '00ff');
  });

  test('text-like types are UTF-8 in both formats; other binary types cannot be decoded', () => {
    assert.equal(decode(TypeOid.varchar, 1, Buffer.from('héllo')), 'héllo');
    assert.equal(encode(TypeOid.text, 1, 'a***@example.com'), Buffer.from('a***@example.com').toString('hex'));
    assert.equal(codecFor(869 /* inet */, 1).decodable, false);
    assert.equal(codecFor(3904 /* int4range */, 1).decodable, false);
    // Text form of a type with its own syntax: readable for scanning, but a changed value becomes NULL.
    assert.equal(decode(869, 0, Buffer.from('10.0.0.1')), '10.0.0.1');
    assert.equal(encode(869, 0, '***'), null);
    // Arrays of text are masked element by element.
    assert.equal(typeof codecFor(1009, 0).maskElements, 'function');
    assert.equal(typeof codecFor(1015, 1).maskElements, 'function');
  });
});
