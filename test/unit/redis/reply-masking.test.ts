import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { PolicyStore, type CompiledPolicy } from '../../../src/policy/index.js';
import { classificationName, maskPush, maskReply, type MaskTarget } from '../../../protocols/redis/reply-masking.js';
import { decodeFrame, toJs } from '../../../protocols/redis/codec/decode.js';
import { extractKeys, lookupCommand } from '../../../protocols/redis/command-table.js';

let policy: CompiledPolicy;

function target(...argv: string[]): MaskTarget {
  const args = argv.map((a) => Buffer.from(a));
  const info = lookupCommand(argv[0]!.toLowerCase(), args[1])!;
  return { name: info.name, shape: info.spec.reply, args, keys: extractKeys(info.spec, args) };
}

function mask(frame: string, t: MaskTarget, role = 'analyst', resp3 = false): unknown {
  const buf = Buffer.from(frame);
  const out = maskReply(buf, t, { policy, role, stats: undefined }, resp3);
  return toJs(out, decodeFrame(out));
}

const bulk = (s: string): string => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
const arr = (...items: string[]): string => `*${items.length}\r\n${items.join('')}`;

describe('reply masking by shape', () => {
  before(async () => {
    policy = (await PolicyStore.load({ hashKey: 'unit-test-key-0123456789abcdef' })).current();
  });

  test('GET: a classified key is masked, a clear role sees the value, the same bytes come back when nothing changes', () => {
    assert.equal(mask(bulk('ann@example.com'), target('GET', 'user:42:email')), 'a***@example.com');
    assert.equal(mask(bulk('ann@example.com'), target('GET', 'user:42:email'), 'admin'), 'ann@example.com');
    const plain = Buffer.from(bulk('nothing to see'));
    assert.equal(maskReply(plain, target('GET', 'misc'), { policy, role: 'analyst', stats: undefined }, false), plain);
  });

  test('free text: a card number inside a value is masked in place', () => {
    assert.equal(mask(bulk('paid with 4111 1111 1111 1111 ok'), target('GET', 'note:1')), 'paid with **** **** **** 1111 ok');
  });

  test('HGETALL by field name, RESP2 flat and RESP3 map', () => {
    const flat = arr(bulk('ssn'), bulk('123-45-6789'), bulk('city'), bulk('Paris'));
    assert.deepEqual(mask(flat, target('HGETALL', 'customer:1')), ['ssn', '***-**-6789', 'city', 'Paris']);
    const map = `%2\r\n${bulk('ssn')}${bulk('123-45-6789')}${bulk('city')}${bulk('Paris')}`;
    assert.deepEqual(mask(map, target('HGETALL', 'customer:1'), 'analyst', true), [
      ['ssn', '***-**-6789'],
      ['city', 'Paris'],
    ]);
  });

  test('HMGET aligns values with field arguments; MGET with keys', () => {
    assert.deepEqual(mask(arr(bulk('Paris'), bulk('123-45-6789'), '$-1\r\n'), target('HMGET', 'c:1', 'city', 'ssn', 'x')), [
      'Paris',
      '***-**-6789',
      null,
    ]);
    assert.deepEqual(mask(arr(bulk('a@b.example.com'), bulk('x')), target('MGET', 'u:1:email', 'u:1:name')), ['a***@b.example.com', 'x']);
  });

  test('ZRANGE WITHSCORES masks members, never scores (RESP2 flat pairs)', () => {
    assert.deepEqual(mask(arr(bulk('bob@example.com'), bulk('4111111111111111')), target('ZRANGE', 'z', '0', '-1', 'WITHSCORES')), [
      'b***@example.com',
      '4111111111111111',
    ]);
  });

  test('SCAN key names are left as names; SSCAN members are values', () => {
    assert.deepEqual(mask(arr(bulk('0'), arr(bulk('user:ann@example.com'))), target('SCAN', '0')), ['0', ['user:ann@example.com']]);
    assert.deepEqual(mask(arr(bulk('0'), arr(bulk('ann@example.com'))), target('SSCAN', 's', '0')), ['0', ['a***@example.com']]);
  });

  test('BLPOP: the key element is a name, the popped value is masked under that key', () => {
    assert.deepEqual(mask(arr(bulk('q:email'), bulk('ann@example.com')), target('BLPOP', 'q:email', '0')), ['q:email', 'a***@example.com']);
  });

  test('XRANGE values are classified by stream field name', () => {
    const entries = arr(arr(bulk('1-1'), arr(bulk('ssn'), bulk('123-45-6789'), bulk('kind'), bulk('x'))));
    assert.deepEqual(mask(entries, target('XRANGE', 's', '-', '+')), [['1-1', ['ssn', '***-**-6789', 'kind', 'x']]]);
  });

  test('SORT ... GET patterns classify each returned value', () => {
    const t = target('SORT', 'ids', 'GET', '#', 'GET', 'user:*:email');
    assert.deepEqual(mask(arr(bulk('1'), bulk('ann@example.com')), t), ['1', 'a***@example.com']);
  });

  test('EXEC applies each queued command\'s shape', () => {
    const t: MaskTarget = { ...target('EXEC'), tx: [target('GET', 'user:1:email'), target('SET', 'k', 'v'), target('HGET', 'c:1', 'ssn')] };
    assert.deepEqual(mask(arr(bulk('ann@example.com'), '+OK\r\n', bulk('123-45-6789')), t), ['a***@example.com', 'OK', '***-**-6789']);
  });

  test('pub/sub messages are masked by channel and value; confirmations pass', () => {
    const msg = Buffer.from(`>3\r\n${bulk('message')}${bulk('events')}${bulk('to ann@example.com')}`);
    const out = maskPush(msg, { policy, role: 'analyst', stats: undefined });
    assert.deepEqual(toJs(out, decodeFrame(out)), ['message', 'events', 'to a***@example.com']);
    const conf = Buffer.from(arr(bulk('subscribe'), bulk('events'), ':1\r\n'));
    assert.equal(maskPush(conf, { policy, role: 'analyst', stats: undefined }), conf);
  });

  test('a masked reply keeps its RESP types (verbatim strings keep their format)', () => {
    const verb = Buffer.from('=19\r\ntxt:ann@example.com\r\n');
    const out = maskReply(verb, target('GET', 'x'), { policy, role: 'analyst', stats: undefined }, true);
    assert.equal(out.toString(), '=20\r\ntxt:a***@example.com\r\n');
  });

  test('classificationName maps id segments to 0 and leaves words alone', () => {
    assert.equal(classificationName('user:42:email'), 'user:0:email');
    assert.equal(classificationName('42'), '0');
    assert.equal(classificationName('order:7:line:12'), 'order:0:line:0');
    assert.equal(classificationName('user:a42:email'), 'user:a42:email');
    assert.equal(classificationName('plain'), 'plain');
    assert.equal(classificationName('a::1'), 'a::0');
  });
});
