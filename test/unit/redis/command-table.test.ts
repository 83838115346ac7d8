import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { extractKeys, lookupCommand, tableVersion } from '../../../protocols/redis/command-table.js';

const keys = (...argv: string[]): string[] => {
  const args = argv.map((a) => Buffer.from(a));
  const info = lookupCommand(argv[0]!.toLowerCase(), args[1]);
  assert.ok(info, `${argv[0]} is in the table`);
  return extractKeys(info.spec, args).map(String);
};

describe('command table generated from Redis COMMAND INFO/DOCS', () => {
  test('was generated from a real Redis 7', () => {
    assert.match(tableVersion, /^7\./);
  });

  test('key positions from key specs: index, keyword, keynum, ranges with steps', () => {
    assert.deepEqual(keys('GET', 'a'), ['a']);
    assert.deepEqual(keys('MSET', 'a', '1', 'b', '2'), ['a', 'b']);
    assert.deepEqual(keys('MGET', 'a', 'b', 'c'), ['a', 'b', 'c']);
    assert.deepEqual(keys('BLPOP', 'a', 'b', '0'), ['a', 'b']);
    assert.deepEqual(keys('XREAD', 'COUNT', '2', 'STREAMS', 's1', 's2', '0', '0'), ['s1', 's2']);
    assert.deepEqual(keys('EVAL', 'return 1', '2', 'k1', 'k2', 'arg'), ['k1', 'k2']);
    assert.deepEqual(keys('ZUNIONSTORE', 'dst', '2', 'z1', 'z2'), ['dst', 'z1', 'z2']);
    assert.deepEqual(keys('LMOVE', 'src', 'dst', 'LEFT', 'RIGHT'), ['src', 'dst']);
    assert.deepEqual(keys('OBJECT', 'ENCODING', 'k'), ['k']);
  });

  test('kinds from ACL categories and flags from the server', () => {
    assert.equal(lookupCommand('get', undefined)!.spec.kind, 'read');
    assert.equal(lookupCommand('set', undefined)!.spec.kind, 'write');
    assert.equal(lookupCommand('flushall', undefined)!.spec.kind, 'admin');
    assert.equal(lookupCommand('config', Buffer.from('get'))!.name, 'config');
    assert.equal(lookupCommand('set', undefined)!.denyOom, true);
    assert.equal(lookupCommand('del', undefined)!.denyOom, false);
    assert.equal(lookupCommand('blpop', undefined)!.blocking, true);
    assert.equal(lookupCommand('nosuchcommand', undefined), undefined);
  });
});
