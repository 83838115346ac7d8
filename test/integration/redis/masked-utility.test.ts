/**
 * What the masking guarantee leaves a masked role (`analyst`): ordinary operations on unclassified data return what
 * a direct connection to Redis returns, in RESP2 and RESP3, and classified values come back masked where they must.
 * The commands dgf answers itself from the masked value (GETRANGE, STRLEN, GETBIT, BITCOUNT, BITPOS, BITFIELD_RO,
 * LCS, HVALS, SORT ... GET) are compared with Redis' own answers on unclassified data, argument edge cases included.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import type { TestDgf } from '../../helpers/dgf.js';
import { PASSWORD, UPSTREAM_PORT, client, direct, startRedisDgf } from './helpers.js';

const run = promisify(execFile);
const NS = `util-${process.pid}`;

const K = {
  counter: `${NS}:counter`,
  text: `${NS}:motd`,
  text2: `${NS}:motd2`,
  bits: `${NS}:bitmap`,
  bits2: `${NS}:bitmap2`,
  bits3: `${NS}:bitmap3`,
  user: `${NS}:user:1`,
  email: `${NS}:user:1:email`,
  list: `${NS}:queue`,
  set: `${NS}:tags`,
  zset: `${NS}:scores`,
  stream: `${NS}:events`,
  ids: `${NS}:ids`,
  copy: `${NS}:copy`,
  moved: `${NS}:moved`,
  union: `${NS}:union`,
  missing: `${NS}:missing`,
};

async function seed(up: Redis): Promise<void> {
  await up.del(...Object.values(K), `${NS}:weight_1`, `${NS}:weight_2`, `${NS}:weight_3`, `${NS}:label_1`, `${NS}:label_2`, `${NS}:label_3`);
  await up.set(K.counter, '41');
  await up.set(K.text, 'The quick brown fox jumps over the lazy dog');
  await up.set(K.text2, 'A lazy brown dog sleeps over the quick fox');
  await up.set(K.bits, Buffer.from([0x00, 0xff, 0xf0, 0x0f, 0x81, 0x00, 0x7e]));
  await up.set(K.bits2, Buffer.from([0x00, 0xff, 0xf0, 0x0f, 0x81, 0x00, 0x7e]));
  await up.set(K.bits3, Buffer.from([0x00, 0xff, 0xf0, 0x0f, 0x81, 0x00, 0x7e]));
  await up.hset(K.user, 'city', 'Lyon', 'plan', 'gold', 'visits', '12', 'ssn', '123-45-6789', 'email', 'zoe.k@example.com');
  await up.set(K.email, 'zoe.k@example.com');
  await up.rpush(K.list, 'a', 'b', 'c', 'd');
  await up.sadd(K.set, 'red', 'green', 'blue');
  await up.zadd(K.zset, 1, 'one', 2.5, 'two', 3, 'three');
  await up.xadd(K.stream, '1-1', 'kind', 'login', 'city', 'Lyon');
  await up.xadd(K.stream, '1-2', 'kind', 'logout', 'city', 'Paris');
  await up.rpush(K.ids, '3', '1', '2');
  for (const i of [1, 2, 3]) {
    await up.set(`${NS}:weight_${i}`, String(10 - i));
    await up.set(`${NS}:label_${i}`, `label ${i}`);
  }
}

for (const protocol of [2, 3] as const) {
  describe(`masked utility: ordinary operations of a masked role through RESP${protocol}`, () => {
    let dgf: TestDgf;
    let port: number;
    let up: Redis;
    /** Straight to Redis, in the same protocol, to compare with. */
    let d: Redis;
    let r: Redis;
    const clients: Redis[] = [];
    const as = (user: string): Redis => {
      const c = client(port, user, { protocol, retryStrategy: () => null } as never);
      clients.push(c);
      return c;
    };
    /** The same command through dgf as the analyst and straight to Redis: equal replies (errors compared by text). */
    const same = async (...args: (string | number)[]): Promise<unknown> => {
      const [name, ...rest] = args.map(String) as [string, ...string[]];
      const got = await r.call(name, ...rest).catch((e: Error) => `error: ${e.message}`);
      const want = await d.call(name, ...rest).catch((e: Error) => `error: ${e.message}`);
      assert.deepEqual(got, want, `${args.join(' ')}`);
      return got;
    };

    before(async () => {
      ({ dgf, port } = await startRedisDgf());
      up = direct();
      await seed(up);
      d = new Redis({ port: UPSTREAM_PORT, host: '127.0.0.1', maxRetriesPerRequest: 0, protocol } as never);
      d.on('error', () => undefined);
      r = as('analyst');
    });

    after(async () => {
      for (const c of clients) c.disconnect();
      await up.del(...Object.values(K), `${NS}:weight_1`, `${NS}:weight_2`, `${NS}:weight_3`, `${NS}:label_1`, `${NS}:label_2`, `${NS}:label_3`);
      up.disconnect();
      d.disconnect();
      await dgf.stop();
    });

    test('GET / SET / INCR / INCRBY / DECR of unclassified keys', async () => {
      assert.equal(await r.get(K.text), await d.get(K.text));
      assert.equal(await r.set(`${NS}:fresh`, 'v1'), 'OK');
      assert.equal(await d.get(`${NS}:fresh`), 'v1');
      assert.equal(await r.incr(K.counter), 42);
      assert.equal(await r.incrby(K.counter, 8), 50);
      assert.equal(await r.decr(K.counter), 49);
      assert.equal(await d.get(K.counter), '49');
      await up.del(`${NS}:fresh`);
    });

    test('HGET / HMGET / HINCRBY of unclassified fields; classified fields masked', async () => {
      assert.equal(await r.hget(K.user, 'city'), 'Lyon');
      assert.deepEqual(await r.hmget(K.user, 'plan', 'city'), ['gold', 'Lyon']);
      assert.equal(await r.hincrby(K.user, 'visits', 1), 13);
      assert.equal(await r.call('HINCRBYFLOAT', K.user, 'visits', '0.5'), '13.5');
      assert.equal(await r.hget(K.user, 'ssn'), '***-**-6789');
      assert.equal(await r.hget(K.user, 'email'), 'z***@example.com');
    });

    test('HGETALL and HVALS: the same masked values, in the hash\'s order', async () => {
      const all = (await r.call('HGETALL', K.user)) as unknown;
      const flat: string[] = Array.isArray(all) ? (all as string[]) : Object.entries(all as Record<string, string>).flat();
      const pairs = new Map<string, string>();
      for (let i = 0; i + 1 < flat.length; i += 2) pairs.set(flat[i]!, flat[i + 1]!);
      assert.equal(pairs.get('city'), 'Lyon');
      assert.equal(pairs.get('ssn'), '***-**-6789');
      const vals = (await r.call('HVALS', K.user)) as string[];
      const keys = (await r.call('HKEYS', K.user)) as string[];
      assert.deepEqual(keys, await d.call('HKEYS', K.user));
      assert.deepEqual(vals, keys.map((k) => pairs.get(k)));
      assert.equal(await r.call('HSTRLEN', K.user, 'city'), 4);
    });

    test('LRANGE / LINDEX / LLEN of a plain list', async () => {
      await same('LRANGE', K.list, 0, -1);
      await same('LRANGE', K.list, 1, 2);
      await same('LINDEX', K.list, -1);
      await same('LLEN', K.list);
    });

    test('SMEMBERS / SISMEMBER / SCARD of a plain set', async () => {
      assert.deepEqual(((await r.smembers(K.set)) as string[]).sort(), ((await d.smembers(K.set)) as string[]).sort());
      await same('SISMEMBER', K.set, 'red');
      await same('SCARD', K.set);
    });

    test('ZRANGE (WITHSCORES) / ZSCORE / ZRANK of a plain sorted set', async () => {
      await same('ZRANGE', K.zset, 0, -1, 'WITHSCORES');
      await same('ZRANGEBYSCORE', K.zset, 2, '+inf');
      await same('ZSCORE', K.zset, 'two');
      await same('ZRANK', K.zset, 'three');
    });

    test('EXISTS / TTL / PTTL / TYPE / EXPIRE', async () => {
      await same('EXISTS', K.text, K.missing, K.list);
      await same('TTL', K.text);
      await same('TYPE', K.zset);
      await same('TYPE', K.stream);
      assert.equal(await r.expire(K.text2, 1000), 1);
      assert.ok((await r.ttl(K.text2)) > 990);
    });

    test('SCAN of key names returns the same names as Redis', async () => {
      const scanAll = async (c: Redis): Promise<string[]> => {
        const out: string[] = [];
        let cursor = '0';
        do {
          const [next, keys] = (await c.scan(cursor, 'MATCH', `${NS}:*`, 'COUNT', 1000)) as [string, string[]];
          out.push(...keys);
          cursor = next;
        } while (cursor !== '0');
        return out.sort();
      };
      assert.deepEqual(await scanAll(r), await scanAll(d));
    });

    test('pub/sub on a plain channel delivers the message as published', async () => {
      const sub = as('analyst');
      const got: string[] = [];
      sub.on('message', (ch: string, msg: string) => got.push(ch, msg));
      await sub.subscribe(`${NS}:news`);
      await as('admin').publish(`${NS}:news`, 'release 7.2 is out');
      const deadline = Date.now() + 2000;
      while (got.length < 2 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
      assert.deepEqual(got, [`${NS}:news`, 'release 7.2 is out']);
    });

    test('MULTI/EXEC of ordinary commands (and of commands dgf computes) answers as Redis', async () => {
      const res = await r.multi().set(`${NS}:tx`, 'abcdef').get(`${NS}:tx`).getrange(`${NS}:tx`, 1, 3).strlen(`${NS}:tx`).call('HVALS', K.user).incr(`${NS}:txn`).exec();
      assert.deepEqual(res!.slice(0, 4), [
        [null, 'OK'],
        [null, 'abcdef'],
        [null, 'bcd'],
        [null, 6],
      ]);
      assert.deepEqual(res![4]![1], await r.call('HVALS', K.user));
      assert.deepEqual(res![5], [null, 1]);
      await up.del(`${NS}:tx`, `${NS}:txn`);
    });

    test('pipelines of GET / SET / INCR / GETRANGE', async () => {
      const res = await r.pipeline().set(`${NS}:p`, 'hello world').get(`${NS}:p`).getrange(`${NS}:p`, -5, -1).incr(`${NS}:pn`).get(K.email).exec();
      assert.deepEqual(res, [
        [null, 'OK'],
        [null, 'hello world'],
        [null, 'world'],
        [null, 1],
        [null, 'z***@example.com'],
      ]);
      await up.del(`${NS}:p`, `${NS}:pn`);
    });

    test('GETRANGE / SUBSTR of unclassified text at every kind of range, as Redis answers', async () => {
      for (const [s, e] of [[0, 3], [4, 8], [-3, -1], [-100, 5], [10, 5], [-1, -5], [0, -1], [40, 100], [100, 200], [0, 0], [-2, 1000]]) {
        await same('GETRANGE', K.text, s!, e!);
      }
      await same('SUBSTR', K.text, 4, 8);
      await same('GETRANGE', K.missing, 0, 5);
      await same('GETRANGE', K.list, 0, 5);
      await same('GETRANGE', K.text, 'x', 5);
    });

    test('STRLEN: the stored length for unclassified names, the masked length for classified ones', async () => {
      await same('STRLEN', K.text);
      await same('STRLEN', K.missing);
      assert.equal(await r.strlen(K.email), Buffer.byteLength((await r.get(K.email))!));
    });

    test('GETBIT / BITCOUNT / BITPOS / BITFIELD_RO of an unclassified bitmap, as Redis answers', async () => {
      for (const off of [0, 7, 8, 9, 15, 20, 28, 32, 39, 55, 56, 1000]) await same('GETBIT', K.bits, off);
      await same('BITCOUNT', K.bits);
      for (const [s, e, unit] of [[0, -1], [1, 2], [-2, -1], [-1, -2], [2, 100], [0, 0, 'BIT'], [5, 30, 'BIT'], [-10, -1, 'BIT'], [3, 3, 'BYTE'], [9, 2, 'BIT']] as const) {
        await same('BITCOUNT', K.bits, s, e, ...(unit ? [unit] : []));
      }
      await same('BITCOUNT', K.bits, 0, 1, 'NIBBLE');
      await same('BITCOUNT', K.missing);
      for (const args of [[1], [0], [1, 2], [0, 1], [1, 2, 3], [0, 1, 1], [1, 5, 30, 'BIT'], [0, 8, 15, 'BIT'], [0, 12, 20, 'BIT'], [1, -1], [0, -1, -1, 'BYTE'], [1, 6, 6], [0, 40, 50, 'BIT']] as const) {
        await same('BITPOS', K.bits, ...args);
      }
      await same('BITPOS', K.missing, 1);
      await same('BITPOS', K.missing, 0);
      await same('BITPOS', K.bits, 2);
      await same('BITFIELD_RO', K.bits, 'GET', 'u8', 8, 'GET', 'i8', 8, 'GET', 'u4', 16, 'GET', 'i5', 30, 'GET', 'u16', '#1', 'GET', 'i64', 0, 'GET', 'u63', 1, 'GET', 'u8', 500);
      await same('BITFIELD_RO', K.bits, 'GET', 'u64', 0);
      await same('BITFIELD', K.bits, 'GET', 'u8', 0, 'GET', 'i3', 11);
      await same('BITFIELD_RO', K.missing, 'GET', 'u8', 0);
      await same('GETBIT', K.list, 0);
    });

    test('SETBIT of an unclassified bitmap answers the old bit as Redis does (and writes it)', async () => {
      // The analyst writes bits2 through dgf, Redis is asked the same of bits3 directly: same answers, same bytes.
      for (const [off, v] of [[0, 1], [9, 0], [9, 0], [20, 1], [63, 1], [100, 1], [8, 1]] as const) {
        assert.equal(await r.setbit(K.bits2, off, v), await d.setbit(K.bits3, off, v), `SETBIT ${off} ${v}`);
      }
      assert.deepEqual(await up.getBuffer(K.bits2), await up.getBuffer(K.bits3));
      assert.equal(await r.setbit(`${NS}:fresh-bits`, 7, 1), await d.setbit(`${NS}:fresh-bits2`, 7, 1));
      assert.deepEqual(await up.getBuffer(`${NS}:fresh-bits`), await up.getBuffer(`${NS}:fresh-bits2`));
      await up.del(`${NS}:fresh-bits`, `${NS}:fresh-bits2`);
      assert.match(String(await r.setbit(K.bits2, -1, 1).catch((e: Error) => e.message)), /bit offset is not an integer or out of range/);
      assert.match(String(await r.call('SETBIT', K.bits2, 1, 2).catch((e: Error) => e.message)), /bit is not an integer or out of range/);
      assert.match(String(await r.call('SETBIT', K.list, 1, 1).catch((e: Error) => e.message)), /^WRONGTYPE/);
    });

    test('LCS of unclassified strings (subsequence, LEN, IDX with MINMATCHLEN and WITHMATCHLEN), as Redis answers', async () => {
      await same('LCS', K.text, K.text2);
      await same('LCS', K.text, K.text2, 'LEN');
      await same('LCS', K.text, K.text2, 'IDX');
      await same('LCS', K.text, K.text2, 'IDX', 'MINMATCHLEN', 4, 'WITHMATCHLEN');
      await same('LCS', K.text, K.missing);
      await same('LCS', K.text, K.text2, 'IDX', 'LEN');
    });

    test('SORT ... BY / GET of unclassified keys, as Redis answers; GET of classified values masked', async () => {
      await same('SORT', K.ids);
      await same('SORT', K.ids, 'BY', `${NS}:weight_*`, 'GET', '#', 'GET', `${NS}:label_*`);
      await same('SORT', K.ids, 'LIMIT', 0, 2, 'GET', `${NS}:label_*`, 'DESC');
      await same('SORT_RO', K.ids, 'BY', 'nosort', 'GET', `${NS}:user:*->city`);
      assert.deepEqual(await r.call('SORT', K.ids, 'BY', 'nosort', 'GET', `${NS}:user:*->ssn`), [null, '***-**-6789', null]);
    });

    test('streams: XRANGE / XREAD / XINFO STREAM of unclassified fields, as Redis answers', async () => {
      await same('XRANGE', K.stream, '-', '+');
      await same('XREAD', 'STREAMS', K.stream, '0');
      const info = async (c: Redis): Promise<string> => JSON.stringify(await c.call('XINFO', 'STREAM', K.stream));
      assert.equal(await info(r), await info(d));
    });

    test('copies between unclassified names (COPY, RENAME, LMOVE, SUNIONSTORE) work', async () => {
      assert.equal(await r.call('COPY', K.text, K.copy), 1);
      assert.equal(await d.get(K.copy), await d.get(K.text));
      assert.equal(await r.rename(K.copy, K.moved), 'OK');
      assert.equal(await r.lmove(K.list, K.union, 'LEFT', 'RIGHT'), 'a');
      assert.equal(await r.call('SUNIONSTORE', `${NS}:union2`, K.set), 3);
      await up.del(`${NS}:union2`);
      await up.rpush(K.list, 'a');
    });

    test('redis-cli in RESP2 and RESP3: GET, HGETALL, GETRANGE', async () => {
      const cli = async (...args: string[]): Promise<string> =>
        (await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), '--user', 'analyst', '--pass', PASSWORD, '--no-auth-warning', ...(protocol === 3 ? ['-3'] : []), ...args])).stdout.trim();
      assert.equal(await cli('GET', K.text), 'The quick brown fox jumps over the lazy dog');
      assert.equal(await cli('GETRANGE', K.text, '4', '8'), 'quick');
      assert.match(await cli('HGETALL', K.user), /city\s+Lyon/);
      assert.match(await cli('HGETALL', K.user), /\*\*\*-\*\*-6789/);
    });
  });
}
