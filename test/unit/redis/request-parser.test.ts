import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { RequestParser, splitInline, type CommandSink } from '../../../protocols/redis/codec/request-parser.js';
import { command } from '../../../protocols/redis/codec/encode.js';
import { splits } from './resp-fixtures.js';

interface Parsed {
  args: string[];
  raw: string | null;
  size: number;
}

function parse(chunks: Buffer[], max?: number): Parsed[] {
  const p = new RequestParser(max);
  const out: Parsed[] = [];
  const sink: CommandSink = {
    onCommand(args, raw, size) {
      out.push({ args: args.map((a) => a.toString('latin1')), raw: raw ? Buffer.concat(raw).toString('latin1') : null, size });
    },
  };
  for (const c of chunks) p.push(c, sink);
  return out;
}

const multibulk = [
  command(['SET', 'user:42:email', 'ann@example.com']),
  command(['GET', 'user:42:email']),
  command(['SET', 'bin', Buffer.from('a\r\nb\x00\xff', 'latin1')]),
  command(['SET', 'empty', '']),
  command(['MSET', 'k1', 'v1', 'k2', 'x'.repeat(300)]),
];

describe('RequestParser', () => {
  const stream = Buffer.concat([
    ...multibulk,
    Buffer.from('PING\r\n'),
    Buffer.from('set "a b" \'c\\\'d\' "\\x41\\n"\n'),
    Buffer.from('*0\r\n'),
    Buffer.from('\r\n'),
    multibulk[1]!,
  ]);
  const expected: Parsed[] = [
    ...multibulk.map((m) => ({ args: [] as string[], raw: m.toString('latin1'), size: m.length })),
    { args: ['PING'], raw: null, size: 6 },
    { args: ['set', 'a b', "c'd", 'A\n'], raw: null, size: 26 },
    { args: [], raw: multibulk[1]!.toString('latin1'), size: multibulk[1]!.length },
  ];
  expected[0]!.args = ['SET', 'user:42:email', 'ann@example.com'];
  expected[1]!.args = ['GET', 'user:42:email'];
  expected[2]!.args = ['SET', 'bin', 'a\r\nb\x00\xff'];
  expected[3]!.args = ['SET', 'empty', ''];
  expected[4]!.args = ['MSET', 'k1', 'v1', 'k2', 'x'.repeat(300)];
  expected[7]!.args = ['GET', 'user:42:email'];

  test('parses multibulk and inline commands identically for every split', () => {
    for (const { how, chunks } of splits(stream)) {
      assert.deepEqual(parse(chunks), expected, how);
    }
  });

  test('keeps raw spans as zero-copy views when a command lies in one chunk', () => {
    const p = new RequestParser();
    const chunk = Buffer.concat(multibulk.slice(0, 2));
    const raws: Buffer[][] = [];
    p.push(chunk, { onCommand: (_a, raw) => raws.push(raw!) });
    assert.equal(raws[0]!.length, 1);
    assert.equal(raws[0]![0]!.buffer, chunk.buffer, 'a view of the input, not a copy');
  });

  const bad: Array<[string, string | Buffer, RegExp]> = [
    ['bulk length 2^40', '*1\r\n$1099511627776\r\n', /invalid bulk length/],
    ['negative bulk length', '*1\r\n$-1\r\n', /invalid bulk length/],
    ['non-bulk inside multibulk', '*1\r\n+OK\r\n', /expected '\$'/],
    ['garbage length', '*x\r\n', /invalid multibulk length/],
    ['huge multibulk count', '*99999999\r\n', /invalid multibulk length/],
    ['unbalanced quotes', 'set "abc\r\n', /unbalanced quotes/],
  ];
  for (const [name, input, re] of bad) {
    test(`rejects ${name} at every split`, () => {
      for (const { how, chunks } of splits(Buffer.from(input as string, 'latin1'))) {
        assert.throws(() => parse(chunks, 1 << 20), re, how);
      }
    });
  }

  test('a command over maxCommandBytes is refused before its body is buffered', () => {
    assert.throws(() => parse([Buffer.from('*2\r\n$3\r\nSET\r\n$2000\r\n')], 1000), /invalid bulk length/);
    assert.throws(() => parse([Buffer.from('*3\r\n$3\r\nSET\r\n$990\r\n'), Buffer.alloc(990, 120)], 1000), /exceeds the limit/);
  });

  test('an unterminated multibulk waits without emitting and without growing beyond the limit', () => {
    const p = new RequestParser(1 << 16);
    let n = 0;
    p.push(Buffer.from('*3\r\n$3\r\nSET\r\n$1\r\nk\r\n'), { onCommand: () => n++ });
    assert.equal(n, 0);
    assert.equal(p.idle, false);
  });

  test('an inline line over 64 KiB is refused', () => {
    assert.throws(() => parse([Buffer.alloc(70 * 1024, 97)]), /too big inline request/);
  });

  test('splitInline follows sdssplitargs', () => {
    assert.deepEqual(splitInline(Buffer.from('  get   "x y"  ')).map(String), ['get', 'x y']);
    assert.deepEqual(splitInline(Buffer.from('')).map(String), []);
  });
});
