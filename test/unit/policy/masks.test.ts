import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Keyring, MASK_METHODS, REDACTED, detokenize, maskValue, type LogicalType, type MaskSpec } from '../../../src/policy/index.js';
import { luhnValid } from '../../../src/policy/detectors/checksums.js';

const KEY = 'test-key';
const keys = new Keyring(KEY);
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const INT4_MAX = 2147483647;

/** Sample inputs per logical type, in every JS form types.ts allows. */
const SAMPLES: Record<LogicalType, unknown[]> = {
  text: ['alice@example.com', 'Alice Johnson', '4111 1111 1111 1111', ''],
  integer: [42, -1234567, 2147483647, 9007199254740991, 123456789012345678n, '314159', '-27'],
  numeric: [3.14, 1234.5, -0.25, '1234.50', '-99.999', '7'],
  boolean: [true, false, 't', 'f', 'true'],
  date: [new Date(Date.UTC(1980, 4, 17)), '1980-05-17'],
  timestamp: [new Date('2024-03-05T10:11:12.123Z'), '2024-03-05T10:11:12.123Z', '2024-03-05 10:11:12.123+01'],
  uuid: ['7c9e6679-7425-40de-944b-e07fc1f90ae7', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'],
  json: [{ email: 'a@b.co', n: 5, ok: true, list: [1, 'x'], nested: { z: null } }, '{"a":"secret","b":[1,2]}', ['x', 2], 'not json'],
  bytes: [Buffer.from('hello world'), new Uint8Array([1, 2, 3, 4, 5, 6])],
};

function validFor(type: LogicalType, input: unknown, out: unknown, method: string): void {
  const ctx = `${method} ${type} ${String(input)} -> ${String(out)}`;
  if (out === null) {
    assert.equal(method, 'null', `only the null method may return null: ${ctx}`);
    return;
  }
  switch (type) {
    case 'text':
      assert.equal(typeof out, 'string', ctx);
      break;
    case 'integer':
      assert.equal(typeof out, typeof input, ctx);
      if (typeof out === 'number') {
        assert.ok(Number.isSafeInteger(out), ctx);
        if (Math.abs(input as number) <= INT4_MAX) assert.ok(Math.abs(out) <= INT4_MAX, `int4 kept: ${ctx}`);
      }
      if (typeof out === 'string') assert.match(out, /^-?\d+$/, ctx);
      if (typeof out === 'bigint') assert.ok(out < 2n ** 63n && out >= -(2n ** 63n), ctx);
      break;
    case 'numeric':
      assert.equal(typeof out, typeof input, ctx);
      if (typeof out === 'number') assert.ok(Number.isFinite(out), ctx);
      else assert.match(out as string, /^-?\d+(\.\d*)?$/, ctx);
      break;
    case 'boolean':
      assert.equal(typeof out, typeof input, ctx);
      if (typeof out === 'string') assert.ok(['t', 'f', 'true', 'false'].includes(out), ctx);
      break;
    case 'date':
    case 'timestamp':
      if (input instanceof Date) {
        assert.ok(out instanceof Date && !Number.isNaN(out.getTime()), ctx);
      } else {
        assert.equal(typeof out, 'string', ctx);
        assert.match(out as string, type === 'date' ? /^\d{4}-\d{2}-\d{2}$/ : /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}/, ctx);
        assert.ok(!Number.isNaN(Date.parse((out as string).slice(0, 10))), ctx);
      }
      break;
    case 'uuid':
      assert.match(out as string, UUID_RE, ctx);
      break;
    case 'json':
      if (typeof input === 'string') {
        assert.equal(typeof out, 'string', ctx);
        if (input.startsWith('{')) JSON.parse(out as string);
      } else {
        assert.equal(Array.isArray(out), Array.isArray(input), ctx);
        JSON.stringify(out);
        if (!Array.isArray(input)) assert.deepEqual(Object.keys(out as object), Object.keys(input as object), ctx);
      }
      break;
    case 'bytes':
      assert.ok(out instanceof Uint8Array, ctx);
      assert.equal(Buffer.isBuffer(out), Buffer.isBuffer(input), ctx);
      break;
  }
}

for (const method of MASK_METHODS) {
  for (const type of Object.keys(SAMPLES) as LogicalType[]) {
    test(`${method} x ${type}: type-preserving, deterministic, null passes`, () => {
      const spec: MaskSpec = { method, ...(method === 'generalize' && type === 'date' ? { granularity: 'year' as const } : {}) };
      assert.equal(maskValue(spec, null, type, keys), null);
      for (const input of SAMPLES[type]) {
        const out = maskValue(spec, input, type, keys);
        validFor(type, input, out, method);
        assert.deepEqual(maskValue(spec, input, type, keys), out, `deterministic: ${method} ${type}`);
      }
    });
  }
}

test('redact: constants of the type', () => {
  assert.equal(maskValue({ method: 'redact' }, 'secret', 'text', keys), REDACTED);
  assert.equal(maskValue({ method: 'redact' }, 42, 'integer', keys), 0);
  assert.equal(maskValue({ method: 'redact' }, 42n, 'integer', keys), 0n);
  assert.equal(maskValue({ method: 'redact' }, '42', 'integer', keys), '0');
  assert.equal(maskValue({ method: 'redact' }, '12.50', 'numeric', keys), '0.00');
  assert.equal(maskValue({ method: 'redact' }, true, 'boolean', keys), false);
  assert.equal(maskValue({ method: 'redact' }, '1980-05-17', 'date', keys), '1970-01-01');
  assert.equal(maskValue({ method: 'redact' }, '7c9e6679-7425-40de-944b-e07fc1f90ae7', 'uuid', keys), '00000000-0000-0000-0000-000000000000');
  assert.deepEqual(maskValue({ method: 'redact' }, Buffer.from('abc'), 'bytes', keys), Buffer.alloc(3));
  assert.deepEqual(maskValue({ method: 'redact' }, { a: 'x', b: 3 }, 'json', keys), { a: REDACTED, b: 0 });
});

test('partial, last4 and email', () => {
  assert.equal(maskValue({ method: 'last4' }, '4111 1111 1111 1111', 'text', keys), '**** **** **** 1111');
  assert.equal(maskValue({ method: 'partial', keep: { first: 2, last: 2 } }, 'ABCDEFGH', 'text', keys), 'AB****GH');
  assert.equal(maskValue({ method: 'partial', keep: { first: 1, last: 0 } }, 'Alice', 'text', keys), 'A****');
  assert.equal(maskValue({ method: 'partial' }, 'ab', 'text', keys), '**'); // too short to reveal anything
  assert.equal(maskValue({ method: 'email' }, 'alice@example.com', 'text', keys), 'a***@example.com');
  assert.equal(maskValue({ method: 'last4' }, 123456789, 'integer', keys), 6789);
});

test('hash: keyed HMAC, deterministic, int4 kept for int4 inputs', () => {
  const a = maskValue({ method: 'hash' }, 'alice@example.com', 'text', keys);
  assert.equal(a, maskValue({ method: 'hash' }, 'alice@example.com', 'text', new Keyring(KEY)));
  assert.notEqual(a, maskValue({ method: 'hash' }, 'alice@example.com', 'text', new Keyring('other')));
  const n = maskValue({ method: 'hash' }, 42, 'integer', keys) as number;
  assert.ok(Number.isInteger(n) && n >= 0 && n <= INT4_MAX);
  assert.equal(maskValue({ method: 'hash' }, '42', 'integer', keys), String(n), 'text and binary forms hash alike (joinable)');
});

test('tokenize: format-preserving and reversible only with the key', () => {
  const text = 'Alice-42 Smith';
  const t = maskValue({ method: 'tokenize' }, text, 'text', keys) as string;
  assert.notEqual(t, text);
  assert.equal(t.length, text.length);
  assert.match(t, /^[A-Z][a-z]{4}-\d\d [A-Z][a-z]{4}$/);
  assert.equal(detokenize(t, 'text', KEY), text);
  assert.notEqual(detokenize(t, 'text', 'wrong key'), text);
  const roundTrips: [unknown, LogicalType][] = [
    [987654321, 'integer'],
    [2147483647, 'integer'],
    [-5, 'integer'],
    [123456789012345678n, 'integer'],
    ['00042', 'text'],
    ['31337', 'integer'],
    [12.75, 'numeric'],
    ['1234.50', 'numeric'],
    [true, 'boolean'],
    ['1980-05-17', 'date'],
    [new Date('2024-03-05T10:11:12.123Z'), 'timestamp'],
    ['2024-03-05 10:11:12+00', 'timestamp'],
    ['7c9e6679-7425-40de-944b-e07fc1f90ae7', 'uuid'],
    [Buffer.from('hello'), 'bytes'],
    ['4111 1111 1111 1111', 'text'],
  ];
  for (const [v, type] of roundTrips) {
    const tok = maskValue({ method: 'tokenize' }, v, type, keys);
    assert.deepEqual(detokenize(tok, type, KEY), v, `${type} ${String(v)} -> ${String(tok)}`);
  }
  const big = maskValue({ method: 'tokenize' }, 2147483647, 'integer', keys) as number;
  assert.ok(big <= INT4_MAX && String(big).length === 10);
});

test('generalize: dates to month/year, numbers to ranges', () => {
  assert.equal(maskValue({ method: 'generalize' }, '1980-05-17', 'date', keys), '1980-05-01');
  assert.equal(maskValue({ method: 'generalize', granularity: 'year' }, '1980-05-17', 'date', keys), '1980-01-01');
  assert.deepEqual(maskValue({ method: 'generalize', granularity: 'year' }, new Date(Date.UTC(1980, 4, 17)), 'date', keys), new Date(Date.UTC(1980, 0, 1)));
  assert.equal(maskValue({ method: 'generalize', granularity: 'month' }, '2024-03-05T10:11:12Z', 'timestamp', keys), '2024-03-01T00:00:00Z');
  assert.equal(maskValue({ method: 'generalize' }, 37, 'integer', keys), 30);
  assert.equal(maskValue({ method: 'generalize', bucket: 1000 }, 52340.5, 'numeric', keys), 52000);
  assert.equal(maskValue({ method: 'generalize' }, '37', 'text', keys), '30-39');
});

test('fake: realistic values of the same kind', () => {
  const email = maskValue({ method: 'fake', kind: 'pii.email' }, 'alice@corp.io', 'text', keys) as string;
  assert.match(email, /^[a-z]+\.[a-z]+\d*@example\.(com|org|net)$/);
  const card = maskValue({ method: 'fake', kind: 'financial.card' }, '4111 1111 1111 1111', 'text', keys) as string;
  assert.match(card, /^\d{4} \d{4} \d{4} \d{4}$/);
  assert.ok(luhnValid(card.replace(/ /g, '')));
  assert.notEqual(card, '4111 1111 1111 1111');
  const ssn = maskValue({ method: 'fake', kind: 'pii.ssn' }, '123-45-6789', 'text', keys) as string;
  assert.match(ssn, /^\d{3}-\d{2}-\d{4}$/);
  const name = maskValue({ method: 'fake', kind: 'pii.first_name' }, 'Alice', 'text', keys) as string;
  assert.match(name, /^[A-Z][a-z]+$/);
  const phone = maskValue({ method: 'fake', kind: 'pii.phone' }, '+44 20 7946 0958', 'text', keys) as string;
  assert.match(phone, /^\+\d\d \d\d \d{4} \d{4}$/);
  assert.equal(maskValue({ method: 'fake', kind: 'pii.email' }, 'alice@corp.io', 'text', keys), email, 'deterministic');
});
