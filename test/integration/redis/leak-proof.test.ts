/**
 * The masking guarantee, attacked (issue 16, Redis): a masked role (`analyst`: e-mails, SSNs, names, diagnoses,
 * salaries masked) tries to read classified values through every command family an attacker fluent in Redis would
 * use, in RESP2 and RESP3, through ioredis, raw RESP and redis-cli: whole-reply commands that classify by the wrong
 * name (HVALS, XINFO STREAM FULL, SORT ... GET), windows at every offset reassembled (GETRANGE, SUBSTR, LCS),
 * bit-level reads reassembled into bytes (GETBIT, BITFIELD, BITPOS, BITCOUNT, SETBIT), integers of classified
 * values (INCRBY 0, HINCRBY 0, ZSCORE), copies into unclassified names (COPY, RENAME, SORT STORE, *STORE, LMOVE,
 * BITOP ...), serializations and server introspection (DUMP, RESTORE, OBJECT, DEBUG, MONITOR, SLOWLOG, CLIENT LIST,
 * LATENCY), scripts and functions, pub/sub by channel and by value, MULTI/EXEC and pipelines around them.
 *
 * An attempt passes when what it gets back (reassembled where it reads windows or bits) holds none of the clear
 * values read directly from Redis, or when it is refused with a Redis error. Every attempt is its own test, so the
 * runner's output is the record of which attempts leak.
 */
import { test, describe, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { Redis } from 'ioredis';
import type { TestDgf } from '../../helpers/dgf.js';
import { PASSWORD, RawClient, client, direct, resp, startRedisDgf } from './helpers.js';

const run = promisify(execFile);
const NS = `leak-${process.pid}`;

// Classified data, by key name, hash field or stream field.
const EMAIL = 'annabel.quist@example.com';
const SSN = '123-45-6789';
const FULL_NAME = 'Annabel Quisterhoff';
const DIAGNOSIS = 'Chronic obstructive pulmonary disease';
const DIAGNOSIS_2 = 'Type 2 diabetes mellitus with neuropathy';
const SALARY = '87345';
const CARD_NOTE = 'please charge 4111 1111 1111 1111 tomorrow';

/**
 * What must never come back: the parts of the clear values that the labels' masks hide (the e-mail mask keeps the
 * first letter and the domain, last4 keeps the last four digits, the name mask keeps the first letter).
 */
const SECRETS = [
  'nnabel.quist',
  'annabel.q',
  '123-45',
  '12345',
  'uisterhoff',
  'nnabel Q',
  'obstructive',
  'pulmonary',
  'diabetes',
  'neuropathy',
  SALARY,
  '4111 1111 1111',
  '411111111111',
];

const K = {
  email: `${NS}:user:1:email`,
  ssn: `${NS}:user:1:ssn`,
  name: `${NS}:user:1:full_name`,
  diagnosis: `${NS}:patient:1:diagnosis`,
  salary: `${NS}:user:1:salary`,
  note: `${NS}:note:1`,
  user: `${NS}:user:1`,
  visits: `${NS}:visits`,
  ids: `${NS}:ids`,
  keynames: `${NS}:keynames`,
  emailList: `${NS}:contact:email`,
  emailSet: `${NS}:members:email`,
  emailZset: `${NS}:ranked:email`,
  salaryZset: `${NS}:ranking:salary`,
  homes: `${NS}:geo:home_address`,
  plain: `${NS}:plain`,
  plain2: `${NS}:plain2`,
  probe: `${NS}:probe`,
};

async function seed(up: Redis): Promise<void> {
  await up.del(...Object.values(K));
  await up.set(K.email, EMAIL);
  await up.set(K.ssn, SSN);
  await up.set(K.name, FULL_NAME);
  await up.set(K.diagnosis, DIAGNOSIS);
  await up.set(K.salary, SALARY);
  await up.set(K.note, CARD_NOTE);
  await up.hset(K.user, 'full_name', FULL_NAME, 'email', EMAIL, 'ssn', SSN, 'diagnosis', DIAGNOSIS_2, 'salary', SALARY, 'city', 'Lyon');
  await up.xadd(K.visits, '1-1', 'patient', 'p1', 'diagnosis', DIAGNOSIS, 'email', EMAIL);
  await up.xadd(K.visits, '1-2', 'patient', 'p2', 'diagnosis', DIAGNOSIS_2, 'ssn', SSN);
  await up.xgroup('CREATE', K.visits, 'g', '0');
  await up.rpush(K.ids, '1');
  await up.rpush(K.keynames, K.email, K.diagnosis, K.ssn);
  await up.rpush(K.emailList, EMAIL, 'bo@example.org');
  await up.sadd(K.emailSet, EMAIL);
  await up.zadd(K.emailZset, 1, EMAIL);
  await up.zadd(K.salaryZset, Number(SALARY), 'annabel');
  await up.geoadd(K.homes, 2.3522219, 48.856614, 'annabel');
}

/** Every string and number in a reply, flattened (Buffers read as UTF-8 and latin1). */
function strings(v: unknown, out: string[] = []): string[] {
  if (v === null || v === undefined) return out;
  if (Buffer.isBuffer(v)) {
    out.push(v.toString('utf8'), v.toString('latin1'));
  } else if (Array.isArray(v)) {
    for (const x of v) strings(x, out);
  } else if (v instanceof Map) {
    for (const [k, x] of v) strings([k, x], out);
  } else if (v instanceof Set) {
    for (const x of v) strings(x, out);
  } else if (v instanceof Error) {
    out.push(v.message);
  } else if (typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) strings([k, x], out);
  } else {
    out.push(String(v));
  }
  return out;
}

/** The secrets found in a reply (normalized: strings flattened; digits-only copies too, so `123 45` is caught). */
function leaked(v: unknown): string[] {
  const all = strings(v);
  const text = all.join('\u0000');
  const digits = all.map((s) => s.replace(/\D/g, '')).join('\u0000');
  return SECRETS.filter((s) => text.includes(s) || (/^\d+$/.test(s) && digits.includes(s)));
}

/** Bytes from bits (most significant first, as Redis numbers them), for bit-level reads. */
function bytesFromBits(bits: number[]): Buffer {
  const out = Buffer.alloc(Math.ceil(bits.length / 8));
  bits.forEach((b, i) => {
    if (b) out[i >> 3]! |= 0x80 >> (i & 7);
  });
  return out;
}

type Outcome = { kind: 'refused'; error: string } | { kind: 'answered'; value: unknown };

async function attempt(f: () => Promise<unknown>): Promise<Outcome> {
  try {
    return { kind: 'answered', value: await f() };
  } catch (err) {
    return { kind: 'refused', error: (err as Error).message };
  }
}

/** What each attempt got (printed at the end of each protocol's run: the record of this suite). */
const record: string[] = [];

/** The attempt holds no clear value: refused with a Redis error, or answered without any secret. */
function assertNoLeak(o: Outcome, what: string): void {
  const found = o.kind === 'refused' ? leaked(o.error) : leaked(o.value);
  record.push(`${found.length > 0 ? 'LEAK' : o.kind === 'refused' ? 'refused' : 'no clear value'}: ${what}${o.kind === 'refused' ? ` (${o.error.slice(0, 90)})` : ''}`);
  if (o.kind === 'refused') {
    assert.deepEqual(leaked(o.error), [], `${what}: the error echoes a clear value: ${o.error}`);
    assert.match(o.error, /^(NOPERM|EXECABORT|ERR|WRONGTYPE)/, `${what}: refused with a Redis error`);
    return;
  }
  assert.deepEqual(leaked(o.value), [], `${what} leaks: ${JSON.stringify(strings(o.value)).slice(0, 400)}`);
}

for (const protocol of [2, 3] as const) {
  describe(`leak-proof: a masked role attacks through RESP${protocol}`, () => {
    let dgf: TestDgf;
    let port: number;
    let up: Redis;
    let r: Redis;
    let admin: Redis;
    const clients: Redis[] = [];
    const as = (user: string): Redis => {
      const c = client(port, user, { protocol, retryStrategy: () => null } as never);
      clients.push(c);
      return c;
    };
    const cli = async (...args: string[]): Promise<string> => {
      const flags = protocol === 3 ? ['-3'] : [];
      const res = await run('redis-cli', ['-h', '127.0.0.1', '-p', String(port), '--user', 'analyst', '--pass', PASSWORD, '--no-auth-warning', ...flags, ...args]).catch(
        (e: { stdout?: string; message: string }) => ({ stdout: e.stdout ?? e.message }),
      );
      return res.stdout;
    };
    /** A raw RESP connection as the analyst (HELLO 3 when protocol 3), returning the reply frames' bytes as text. */
    const raw = async (...commands: string[][]): Promise<string> => {
      const c = await RawClient.connect(port);
      c.send(resp('HELLO', String(protocol), 'AUTH', 'analyst', PASSWORD) + commands.map((a) => resp(...a)).join(''));
      await c.waitFrames(commands.length + 1);
      c.close();
      return c.frames
        .slice(1)
        .map((f) => f.toString('latin1'))
        .join('\n');
    };
    const call = (...args: (string | number)[]): Promise<unknown> => r.call(String(args[0]), ...args.slice(1).map(String));

    before(async () => {
      ({ dgf, port } = await startRedisDgf());
      up = direct();
      await seed(up);
      r = as('analyst');
      admin = as('admin');
    });

    beforeEach(async () => {
      // Attacks write (SETBIT, RENAME, GETDEL ...): every attempt starts from the same data.
      await seed(up);
    });

    after(async () => {
      if (process.env.LEAK_RECORD) console.log(`RESP${protocol}:\n  ${record.splice(0).join('\n  ')}`);
      for (const c of clients) c.disconnect();
      await up.del(...Object.values(K));
      await up.call('FUNCTION', 'DELETE', `leak_${process.pid}`).catch(() => undefined);
      await up.select(1);
      await up.del(K.email);
      await up.select(0);
      up.disconnect();
      await dgf.stop();
    });

    // ---- hashes: field-level classification whatever the command -------------------------------------------

    test('the analyst really sees these values masked (control)', async () => {
      assert.equal(await r.get(K.email), 'a***@example.com');
      assert.equal(await r.hget(K.user, 'diagnosis'), '[REDACTED]');
      assert.notEqual(await r.hget(K.user, 'ssn'), SSN);
      assert.equal(await up.get(K.email), EMAIL);
    });

    test('HVALS of a hash with classified fields', async () => {
      assertNoLeak(await attempt(() => call('HVALS', K.user)), 'HVALS');
    });

    test('HGETALL', async () => {
      assertNoLeak(await attempt(() => call('HGETALL', K.user)), 'HGETALL');
    });

    test('HMGET of every classified field', async () => {
      assertNoLeak(await attempt(() => call('HMGET', K.user, 'diagnosis', 'ssn', 'full_name', 'email', 'salary')), 'HMGET');
    });

    test('HRANDFIELD WITHVALUES (positive and negative counts)', async () => {
      assertNoLeak(await attempt(() => call('HRANDFIELD', K.user, 6, 'WITHVALUES')), 'HRANDFIELD 6');
      assertNoLeak(await attempt(() => call('HRANDFIELD', K.user, -20, 'WITHVALUES')), 'HRANDFIELD -20');
    });

    test('HSCAN', async () => {
      assertNoLeak(await attempt(() => call('HSCAN', K.user, 0, 'COUNT', 100)), 'HSCAN');
      assertNoLeak(await attempt(() => call('HSCAN', K.user, 0, 'MATCH', 'd*')), 'HSCAN MATCH');
    });

    test('HINCRBY / HINCRBYFLOAT 0 of a classified numeric field', async () => {
      assertNoLeak(await attempt(() => call('HINCRBYFLOAT', K.user, 'salary', 0)), 'HINCRBYFLOAT');
      assertNoLeak(await attempt(() => call('HINCRBY', K.user, 'salary', 0)), 'HINCRBY');
    });

    test('HSTRLEN of a classified field answers the masked length, not the clear one', async () => {
      const o = await attempt(() => call('HSTRLEN', K.user, 'diagnosis'));
      if (o.kind === 'answered') assert.equal(o.value, Buffer.byteLength((await r.hget(K.user, 'diagnosis'))!));
    });

    // ---- SORT ... GET ---------------------------------------------------------------------------------------

    test('SORT ... GET <key>->field of a classified hash field', async () => {
      assertNoLeak(await attempt(() => call('SORT', K.ids, 'BY', 'nosort', 'GET', `${NS}:user:*->diagnosis`, 'GET', `${NS}:user:*->ssn`)), 'SORT GET ->');
    });

    test('SORT_RO ... GET # GET <pattern> of classified keys', async () => {
      assertNoLeak(await attempt(() => call('SORT_RO', K.ids, 'BY', 'nosort', 'GET', '#', 'GET', `${NS}:user:*:email`, 'GET', `${NS}:user:*->full_name`)), 'SORT_RO');
    });

    test('SORT of a list of key names ... GET * (the values of the keys it names)', async () => {
      assertNoLeak(await attempt(() => call('SORT', K.keynames, 'BY', 'nosort', 'GET', '*')), 'SORT GET *');
      assertNoLeak(await attempt(() => call('SORT', K.keynames, 'ALPHA', 'GET', '#', 'GET', '*')), 'SORT ALPHA GET # GET *');
    });

    // ---- streams --------------------------------------------------------------------------------------------

    test('XRANGE / XREVRANGE of a stream with classified fields', async () => {
      assertNoLeak(await attempt(() => call('XRANGE', K.visits, '-', '+')), 'XRANGE');
      assertNoLeak(await attempt(() => call('XREVRANGE', K.visits, '+', '-', 'COUNT', 5)), 'XREVRANGE');
    });

    test('XREAD', async () => {
      assertNoLeak(await attempt(() => call('XREAD', 'COUNT', 10, 'STREAMS', K.visits, '0')), 'XREAD');
    });

    test('XREADGROUP and XAUTOCLAIM', async () => {
      assertNoLeak(await attempt(() => call('XREADGROUP', 'GROUP', 'g', 'c1', 'COUNT', 10, 'STREAMS', K.visits, '>')), 'XREADGROUP');
      assertNoLeak(await attempt(() => call('XAUTOCLAIM', K.visits, 'g', 'c2', 0, '0-0')), 'XAUTOCLAIM');
      assertNoLeak(await attempt(() => call('XCLAIM', K.visits, 'g', 'c3', 0, '1-1', '1-2')), 'XCLAIM');
    });

    test('XINFO STREAM FULL', async () => {
      await up.xreadgroup('GROUP', 'g', 'c0', 'COUNT', 1, 'STREAMS', K.visits, '>');
      assertNoLeak(await attempt(() => call('XINFO', 'STREAM', K.visits, 'FULL')), 'XINFO STREAM FULL');
    });

    test('XINFO STREAM (first-entry, last-entry)', async () => {
      assertNoLeak(await attempt(() => call('XINFO', 'STREAM', K.visits)), 'XINFO STREAM');
    });

    // ---- windows, reassembled -------------------------------------------------------------------------------

    test('GETRANGE of an e-mail at every offset, one byte at a time, reassembled', async () => {
      let whole = '';
      for (let i = 0; i < EMAIL.length + 2; i++) {
        const o = await attempt(() => r.getrange(K.email, i, i));
        if (o.kind === 'refused') return assertNoLeak(o, 'GETRANGE');
        whole += String(o.value);
      }
      assertNoLeak({ kind: 'answered', value: whole }, `GETRANGE windows reassembled (${whole})`);
    });

    test('GETRANGE key 1 100 and windows at successive offsets (the issue\'s attack)', async () => {
      const got: string[] = [];
      for (let i = 0; i < EMAIL.length; i++) got.push(String(await r.getrange(K.email, i, 100).catch((e: Error) => e.message)));
      // Rebuild: the first character of each window.
      assertNoLeak({ kind: 'answered', value: [got.map((w) => w[0] ?? '').join(''), got] }, 'GETRANGE i 100');
    });

    test('SUBSTR (and negative offsets) of an SSN and a name, reassembled', async () => {
      for (const key of [K.ssn, K.name]) {
        let whole = '';
        for (let i = -20; i < 0; i++) whole += String(await call('SUBSTR', key, i, i).catch((e: Error) => e.message));
        assertNoLeak({ kind: 'answered', value: whole }, `SUBSTR ${key}`);
      }
    });

    test('GETRANGE of free text holding a card number (classified by value), 4-byte windows reassembled', async () => {
      let whole = '';
      for (let i = 0; i < CARD_NOTE.length; i += 4) whole += String(await r.getrange(K.note, i, i + 3).catch((e: Error) => e.message));
      assertNoLeak({ kind: 'answered', value: whole }, 'GETRANGE note');
    });

    test('LCS with a known string (the value itself, and an alphabet)', async () => {
      await r.set(K.probe, EMAIL);
      assertNoLeak(await attempt(() => call('LCS', K.email, K.probe)), 'LCS guess');
      assertNoLeak(await attempt(() => call('LCS', K.email, K.probe, 'IDX', 'WITHMATCHLEN')), 'LCS IDX');
      await r.set(K.probe, '0123456789-'.repeat(11));
      assertNoLeak(await attempt(() => call('LCS', K.ssn, K.probe)), 'LCS digits');
      await r.set(K.probe, 'abcdefghijklmnopqrstuvwxyz'.repeat(8));
      const o = await attempt(() => call('LCS', K.diagnosis, K.probe));
      assertNoLeak(o, 'LCS alphabet');
      if (o.kind === 'answered') assert.ok(!String(o.value).includes('hronicbstructive'), String(o.value));
    });

    // ---- bits -----------------------------------------------------------------------------------------------

    const bitLength = Buffer.byteLength(EMAIL) * 8;

    test('GETBIT at every bit of an e-mail, reassembled', async () => {
      const bits: number[] = [];
      for (let i = 0; i < bitLength; i++) {
        const o = await attempt(() => r.getbit(K.email, i));
        if (o.kind === 'refused') return assertNoLeak(o, 'GETBIT');
        bits.push(Number(o.value));
      }
      assertNoLeak({ kind: 'answered', value: bytesFromBits(bits) }, 'GETBIT reassembled');
    });

    test('BITFIELD_RO GET u8 at every byte of an e-mail (the issue\'s attack)', async () => {
      const args: (string | number)[] = [];
      for (let i = 0; i < Buffer.byteLength(EMAIL); i++) args.push('GET', 'u8', i * 8);
      const o = await attempt(() => call('BITFIELD_RO', K.email, ...args));
      if (o.kind === 'refused') return assertNoLeak(o, 'BITFIELD_RO');
      assertNoLeak({ kind: 'answered', value: Buffer.from(o.value as number[]) }, 'BITFIELD_RO bytes');
    });

    test('BITFIELD GET i64 / u8 of an SSN (write form, reads only)', async () => {
      const o = await attempt(() => call('BITFIELD', K.ssn, 'GET', 'u8', '#0', 'GET', 'u8', '#1', 'GET', 'u8', '#2', 'GET', 'u8', '#4', 'GET', 'u8', '#5', 'GET', 'i64', 0));
      if (o.kind === 'refused') return assertNoLeak(o, 'BITFIELD');
      assertNoLeak({ kind: 'answered', value: Buffer.from((o.value as number[]).slice(0, 5)) }, 'BITFIELD bytes');
    });

    test('BITPOS on one-bit ranges, reassembled', async () => {
      const bits: number[] = [];
      for (let i = 0; i < Buffer.byteLength(SSN) * 8; i++) {
        const o = await attempt(() => call('BITPOS', K.ssn, 1, i, i, 'BIT'));
        if (o.kind === 'refused') return assertNoLeak(o, 'BITPOS');
        bits.push(Number(o.value) === i ? 1 : 0);
      }
      assertNoLeak({ kind: 'answered', value: bytesFromBits(bits) }, 'BITPOS reassembled');
    });

    test('BITCOUNT on one-bit ranges of a diagnosis, reassembled', async () => {
      const bits: number[] = [];
      for (let i = 0; i < Buffer.byteLength(DIAGNOSIS) * 8; i++) {
        const o = await attempt(() => call('BITCOUNT', K.diagnosis, i, i, 'BIT'));
        if (o.kind === 'refused') return assertNoLeak(o, 'BITCOUNT');
        bits.push(Number(o.value));
      }
      assertNoLeak({ kind: 'answered', value: bytesFromBits(bits) }, 'BITCOUNT reassembled');
    });

    test('BITCOUNT per bit of free text holding a card number (classified by value), reassembled', async () => {
      const bits: number[] = [];
      for (let i = 0; i < Buffer.byteLength(CARD_NOTE) * 8; i++) {
        const o = await attempt(() => call('BITCOUNT', K.note, i, i, 'BIT'));
        if (o.kind === 'refused') return assertNoLeak(o, 'BITCOUNT note');
        bits.push(Number(o.value));
      }
      assertNoLeak({ kind: 'answered', value: bytesFromBits(bits) }, 'BITCOUNT note reassembled');
    });

    test('SETBIT answers the old bit: set and restore every bit of an SSN, reassembled', async () => {
      const bits: number[] = [];
      for (let i = 0; i < Buffer.byteLength(SSN) * 8; i++) {
        const o = await attempt(() => r.setbit(K.ssn, i, 0));
        if (o.kind === 'refused') return assertNoLeak(o, 'SETBIT');
        bits.push(Number(o.value));
        await r.setbit(K.ssn, i, Number(o.value));
      }
      assertNoLeak({ kind: 'answered', value: bytesFromBits(bits) }, 'SETBIT reassembled');
    });

    test('SETBIT answers the old bit of free text holding a card number', async () => {
      const bits: number[] = [];
      const from = CARD_NOTE.indexOf('4111') * 8;
      for (let i = from; i < from + 19 * 8; i++) {
        const o = await attempt(() => r.setbit(K.note, i, 0));
        if (o.kind === 'refused') return assertNoLeak(o, 'SETBIT note');
        bits.push(Number(o.value));
        await r.setbit(K.note, i, Number(o.value));
      }
      assertNoLeak({ kind: 'answered', value: bytesFromBits(bits) }, 'SETBIT note reassembled');
    });

    test('STRLEN of a classified key answers the masked length (decided: a length is of the value the role sees)', async () => {
      const o = await attempt(() => r.strlen(K.diagnosis));
      if (o.kind === 'answered') assert.equal(o.value, Buffer.byteLength((await r.get(K.diagnosis))!));
    });

    // ---- integers of classified values ------------------------------------------------------------------------

    test('INCRBY 0 / DECRBY 0 / INCRBYFLOAT 0 of a classified number', async () => {
      assertNoLeak(await attempt(() => r.incrby(K.salary, 0)), 'INCRBY');
      assertNoLeak(await attempt(() => r.decrby(K.salary, 0)), 'DECRBY');
      assertNoLeak(await attempt(() => call('INCRBYFLOAT', K.salary, 0)), 'INCRBYFLOAT');
    });

    test('ZSCORE / ZMSCORE / ZRANGE WITHSCORES / ZINCRBY 0 of a sorted set classified by name (salary scores)', async () => {
      assertNoLeak(await attempt(() => call('ZSCORE', K.salaryZset, 'annabel')), 'ZSCORE');
      assertNoLeak(await attempt(() => call('ZMSCORE', K.salaryZset, 'annabel')), 'ZMSCORE');
      assertNoLeak(await attempt(() => call('ZRANGE', K.salaryZset, 0, -1, 'WITHSCORES')), 'ZRANGE WITHSCORES');
      assertNoLeak(await attempt(() => call('ZINCRBY', K.salaryZset, 0, 'annabel')), 'ZINCRBY');
      assertNoLeak(await attempt(() => call('ZPOPMIN', K.salaryZset)), 'ZPOPMIN');
    });

    test('GEOPOS / GEOSEARCH WITHCOORD of a geo set classified by name (home addresses)', async () => {
      const strip = (v: unknown): string[] => strings(v).map((s) => s.slice(0, 6));
      const o1 = await attempt(() => call('GEOPOS', K.homes, 'annabel'));
      if (o1.kind === 'answered') assert.ok(!strip(o1.value).some((s) => s.startsWith('2.3522') || s.startsWith('48.856')), JSON.stringify(o1.value));
      const o2 = await attempt(() => call('GEOSEARCH', K.homes, 'FROMLONLAT', 2.35, 48.85, 'BYRADIUS', 10, 'km', 'WITHCOORD'));
      if (o2.kind === 'answered') assert.ok(!strip(o2.value).some((s) => s.startsWith('2.3522') || s.startsWith('48.856')), JSON.stringify(o2.value));
    });

    // ---- copies into unclassified names ---------------------------------------------------------------------

    /** After a copy attempt, what the analyst reads back under the unclassified names. */
    const readBack = async (): Promise<unknown[]> => {
      const out: unknown[] = [];
      for (const k of [K.plain, K.plain2]) {
        const type = await up.type(k);
        if (type === 'string') out.push(await r.get(k));
        else if (type === 'list') out.push(await r.lrange(k, 0, -1));
        else if (type === 'set') out.push(await r.smembers(k));
        else if (type === 'zset') out.push(await r.zrange(k, '0', '-1'));
        else if (type === 'hash') out.push(await r.hgetall(k));
        else if (type === 'stream') out.push(await r.xrange(k, '-', '+'));
      }
      return out;
    };

    const copies: Array<[string, () => Promise<unknown>]> = [
      ['COPY', () => call('COPY', K.email, K.plain)],
      ['COPY of a hash (its fields keep their names)', () => call('COPY', K.user, K.plain)],
      ['RENAME', () => call('RENAME', K.ssn, K.plain)],
      ['RENAMENX', () => call('RENAMENX', K.name, K.plain)],
      ['SORT ... STORE', () => call('SORT', K.emailList, 'ALPHA', 'STORE', K.plain)],
      ['SORT ... GET * STORE', () => call('SORT', K.keynames, 'BY', 'nosort', 'GET', '*', 'STORE', K.plain)],
      ['SUNIONSTORE', () => call('SUNIONSTORE', K.plain, K.emailSet)],
      ['SINTERSTORE / SDIFFSTORE', async () => [await call('SINTERSTORE', K.plain, K.emailSet, K.emailSet).catch((e: Error) => e), await call('SDIFFSTORE', K.plain2, K.emailSet).catch((e: Error) => e)]],
      ['ZUNIONSTORE', () => call('ZUNIONSTORE', K.plain, 1, K.emailZset)],
      ['ZRANGESTORE', () => call('ZRANGESTORE', K.plain, K.emailZset, 0, -1)],
      ['LMOVE', () => call('LMOVE', K.emailList, K.plain, 'LEFT', 'LEFT')],
      ['RPOPLPUSH', () => call('RPOPLPUSH', K.emailList, K.plain)],
      ['SMOVE', () => call('SMOVE', K.emailSet, K.plain, EMAIL)],
      ['BITOP OR', () => call('BITOP', 'OR', K.plain, K.email)],
      ['GETDEL then SET what came back', async () => {
        const got = await r.getdel(K.email);
        await r.set(K.plain, got ?? '');
        return got;
      }],
      ['GEOSEARCHSTORE', () => call('GEOSEARCHSTORE', K.plain, K.emailZset, 'FROMLONLAT', 0, 0, 'BYRADIUS', 20000, 'km')],
    ];
    for (const [name, f] of copies) {
      test(`copy into an unclassified name: ${name}`, async () => {
        const o = await attempt(f);
        assertNoLeak(o, name);
        assertNoLeak({ kind: 'answered', value: await readBack() }, `${name}, read back`);
      });
    }

    test('MOVE to another database, then read it there', async () => {
      const o = await attempt(() => call('MOVE', K.email, 1));
      assertNoLeak(o, 'MOVE');
      const r1 = as('analyst');
      await r1.select(1);
      assertNoLeak(await attempt(() => r1.get(K.email)), 'GET in db 1');
      await up.select(1);
      await up.del(K.email);
      await up.select(0);
    });

    test('DUMP (the serialized value) and RESTORE of a payload into an unclassified name', async () => {
      const o = await attempt(() => r.callBuffer('DUMP', K.email));
      assertNoLeak(o, 'DUMP');
      const payload = (await up.dumpBuffer(K.email))!;
      const o2 = await attempt(() => r.call('RESTORE', K.plain, '0', payload));
      assertNoLeak(o2, 'RESTORE');
      assertNoLeak({ kind: 'answered', value: await readBack() }, 'RESTORE read back');
    });

    // ---- server introspection -------------------------------------------------------------------------------

    test('OBJECT ENCODING / FREQ / IDLETIME / REFCOUNT of a classified key', async () => {
      for (const sub of ['ENCODING', 'IDLETIME', 'REFCOUNT']) assertNoLeak(await attempt(() => call('OBJECT', sub, K.email)), `OBJECT ${sub}`);
    });

    test('DEBUG OBJECT / DEBUG DIGEST-VALUE / MEMORY USAGE', async () => {
      assertNoLeak(await attempt(() => call('DEBUG', 'OBJECT', K.email)), 'DEBUG OBJECT');
      assertNoLeak(await attempt(() => call('DEBUG', 'DIGEST-VALUE', K.email)), 'DEBUG DIGEST-VALUE');
      assertNoLeak(await attempt(() => call('MEMORY', 'USAGE', K.email)), 'MEMORY USAGE');
    });

    test('MONITOR while another client writes classified values', async () => {
      const m = as('analyst');
      const seen: string[] = [];
      const o = await attempt(async () => {
        const mon = await m.monitor();
        mon.on('monitor', (_t: string, args: string[]) => seen.push(...args));
        await admin.set(K.plain, EMAIL);
        await new Promise((res) => setTimeout(res, 200));
        mon.disconnect();
        return seen;
      });
      assertNoLeak(o, 'MONITOR');
    });

    test('SLOWLOG GET after another client wrote classified values', async () => {
      const before = await up.config('GET', 'slowlog-log-slower-than');
      await up.config('SET', 'slowlog-log-slower-than', '0');
      try {
        await admin.set(K.plain, EMAIL);
        assertNoLeak(await attempt(() => call('SLOWLOG', 'GET', 128)), 'SLOWLOG GET');
      } finally {
        await up.config('SET', 'slowlog-log-slower-than', (before as string[])[1]!);
      }
    });

    test('CLIENT LIST / CLIENT INFO / LATENCY LATEST / LATENCY DOCTOR', async () => {
      for (const args of [['CLIENT', 'LIST'], ['CLIENT', 'INFO'], ['LATENCY', 'LATEST'], ['LATENCY', 'DOCTOR'], ['LATENCY', 'HISTORY', 'command']]) {
        assertNoLeak(await attempt(() => call(...args)), args.join(' '));
      }
    });

    // ---- scripts and functions ------------------------------------------------------------------------------

    test('EVAL / EVAL_RO reading a classified key (declared, and named in ARGV)', async () => {
      assertNoLeak(await attempt(() => call('EVAL', "return redis.call('GET', KEYS[1])", 1, K.email)), 'EVAL KEYS');
      assertNoLeak(await attempt(() => call('EVAL', "return redis.call('GET', ARGV[1])", 0, K.email)), 'EVAL ARGV');
      assertNoLeak(await attempt(() => call('EVAL_RO', "return redis.call('HVALS', ARGV[1])", 0, K.user)), 'EVAL_RO');
    });

    test('EVALSHA / EVALSHA_RO of a script loaded by another role, and SCRIPT LOAD', async () => {
      const sha = (await up.script('LOAD', "return redis.call('GET', ARGV[1])")) as string;
      assertNoLeak(await attempt(() => call('EVALSHA', sha, 0, K.ssn)), 'EVALSHA');
      assertNoLeak(await attempt(() => call('EVALSHA_RO', sha, 0, K.ssn)), 'EVALSHA_RO');
      assertNoLeak(await attempt(() => call('SCRIPT', 'LOAD', "return redis.call('GET', ARGV[1])")), 'SCRIPT LOAD');
    });

    test('FCALL / FCALL_RO of a function loaded by another role, and FUNCTION LOAD', async () => {
      const lib = `#!lua name=leak_${process.pid}\nredis.register_function{function_name='leak_get_${process.pid}', callback=function(keys, args) return redis.call('GET', args[1]) end, flags={'no-writes'}}`;
      await up.call('FUNCTION', 'LOAD', 'REPLACE', lib);
      assertNoLeak(await attempt(() => call('FCALL_RO', `leak_get_${process.pid}`, 0, K.diagnosis)), 'FCALL_RO');
      assertNoLeak(await attempt(() => call('FCALL', `leak_get_${process.pid}`, 0, K.diagnosis)), 'FCALL');
      assertNoLeak(await attempt(() => call('FUNCTION', 'LOAD', 'REPLACE', lib)), 'FUNCTION LOAD');
      assertNoLeak(await attempt(() => call('FUNCTION', 'LIST', 'WITHCODE')), 'FUNCTION LIST');
    });

    // ---- pub/sub --------------------------------------------------------------------------------------------

    const listen = async (subscribe: (s: Redis) => Promise<unknown>, publish: () => Promise<unknown>): Promise<string[]> => {
      const s = as('analyst');
      const got: string[] = [];
      s.on('message', (ch: string, msg: string) => got.push(ch, msg));
      s.on('pmessage', (_p: string, ch: string, msg: string) => got.push(ch, msg));
      s.on('smessage', (ch: string, msg: string) => got.push(ch, msg));
      await subscribe(s);
      await publish();
      const deadline = Date.now() + 2000;
      while (got.length < 2 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
      s.disconnect();
      return got;
    };

    test('pub/sub: a channel classified by name', async () => {
      const got = await listen((s) => s.subscribe(`${NS}:patient:1:diagnosis`), () => admin.publish(`${NS}:patient:1:diagnosis`, DIAGNOSIS));
      assert.equal(got.length, 2, 'the message is delivered');
      assertNoLeak({ kind: 'answered', value: got }, 'SUBSCRIBE classified channel');
    });

    test('pub/sub: a plain channel carrying classified values (by value) and by pattern', async () => {
      const got = await listen((s) => s.subscribe(`${NS}:events`), () => admin.publish(`${NS}:events`, `signup ${EMAIL} paid with 4111 1111 1111 1111`));
      assertNoLeak({ kind: 'answered', value: got }, 'SUBSCRIBE by value');
      const got2 = await listen((s) => s.psubscribe(`${NS}:*`), () => admin.publish(`${NS}:user:1:ssn`, SSN));
      assert.equal(got2.length, 2);
      assertNoLeak({ kind: 'answered', value: got2 }, 'PSUBSCRIBE classified channel');
    });

    test('pub/sub: shard channels (SSUBSCRIBE), raw RESP', async () => {
      const c = await RawClient.connect(port);
      c.send(resp('HELLO', String(protocol), 'AUTH', 'analyst', PASSWORD) + resp('SSUBSCRIBE', `${NS}:user:1:full_name`));
      await c.waitFrames(2);
      await admin.call('SPUBLISH', `${NS}:user:1:full_name`, FULL_NAME);
      await c.waitFrames(3);
      c.close();
      assert.equal(c.frames.length, 3, 'the message is delivered');
      assertNoLeak({ kind: 'answered', value: c.frames.map((f) => f.toString('latin1')) }, 'SSUBSCRIBE');
    });

    // ---- MULTI/EXEC and pipelines around the attacks --------------------------------------------------------

    test('MULTI/EXEC wrapping each attack', async () => {
      const res = await attempt(() =>
        r
          .multi()
          .call('HVALS', K.user)
          .call('HGETALL', K.user)
          .getrange(K.email, 1, 100)
          .call('XINFO', 'STREAM', K.visits, 'FULL')
          .call('SORT', K.ids, 'BY', 'nosort', 'GET', `${NS}:user:*->diagnosis`)
          .call('SORT', K.keynames, 'BY', 'nosort', 'GET', '*')
          .strlen(K.diagnosis)
          .call('LCS', K.email, K.email)
          .exec(),
      );
      assertNoLeak(res, 'MULTI/EXEC of reads');
      for (const [name, args] of [
        ['BITFIELD_RO', ['BITFIELD_RO', K.email, 'GET', 'u8', 8, 'GET', 'u8', 16]],
        ['GETBIT', ['GETBIT', K.email, 9]],
        ['EVAL', ['EVAL', "return redis.call('GET', ARGV[1])", 0, K.email]],
        ['FCALL_RO', ['FCALL_RO', `leak_get_${process.pid}`, 0, K.email]],
        ['COPY', ['COPY', K.email, K.plain]],
        ['DUMP', ['DUMP', K.email]],
        ['INCRBY', ['INCRBY', K.salary, 0]],
      ] as const) {
        const o = await attempt(() =>
          r
            .multi()
            .call(...(args as unknown as [string, ...string[]]))
            .exec(),
        );
        assertNoLeak(o, `MULTI ${name}`);
        assertNoLeak({ kind: 'answered', value: await readBack() }, `MULTI ${name} read back`);
      }
    });

    test('pipelines of windows and whole-value reads', async () => {
      const p = r.pipeline();
      for (let i = 0; i < EMAIL.length; i++) p.getrange(K.email, i, i);
      p.call('HVALS', K.user);
      p.call('XRANGE', K.visits, '-', '+');
      for (let i = 0; i < 16; i++) p.getbit(K.ssn, i);
      const res = (await p.exec())!;
      const windows = res.slice(0, EMAIL.length).map(([, v]) => String(v ?? '')).join('');
      assertNoLeak({ kind: 'answered', value: [windows, res.slice(EMAIL.length, EMAIL.length + 2)] }, 'pipeline');
    });

    // ---- raw RESP (maps, sets, pushes as bytes) and redis-cli -----------------------------------------------

    test('raw RESP frames (maps and sets in RESP3) of hash, stream and set reads', async () => {
      const text = await raw(
        ['HGETALL', K.user],
        ['HVALS', K.user],
        ['HRANDFIELD', K.user, '-10', 'WITHVALUES'],
        ['XINFO', 'STREAM', K.visits, 'FULL'],
        ['XREAD', 'STREAMS', K.visits, '0'],
        ['SMEMBERS', K.emailSet],
        ['ZRANGE', K.emailZset, '0', '-1', 'WITHSCORES'],
        ['SORT', K.keynames, 'BY', 'nosort', 'GET', '*'],
      );
      assertNoLeak({ kind: 'answered', value: text }, 'raw frames');
    });

    test('raw RESP: pub/sub pushes of a classified channel', async () => {
      const c = await RawClient.connect(port);
      c.send(resp('HELLO', String(protocol), 'AUTH', 'analyst', PASSWORD) + resp('SUBSCRIBE', `${NS}:user:1:email`));
      await c.waitFrames(2);
      await admin.publish(`${NS}:user:1:email`, EMAIL);
      await c.waitFrames(3);
      c.close();
      assert.equal(c.frames.length, 3);
      assertNoLeak({ kind: 'answered', value: c.frames.map((f) => f.toString('latin1')) }, 'raw push');
    });

    test('redis-cli: HVALS, GETRANGE, XINFO STREAM FULL, BITFIELD_RO, SORT GET, EVAL', async () => {
      const outs = [
        await cli('HVALS', K.user),
        await cli('GETRANGE', K.email, '1', '100'),
        await cli('XINFO', 'STREAM', K.visits, 'FULL'),
        await cli('BITFIELD_RO', K.ssn, 'GET', 'u8', '0', 'GET', 'u8', '8', 'GET', 'u8', '16'),
        await cli('SORT', K.ids, 'BY', 'nosort', 'GET', `${NS}:user:*->diagnosis`),
        await cli('EVAL', "return redis.call('GET', ARGV[1])", '0', K.diagnosis),
        await cli('DUMP', K.diagnosis),
      ];
      assertNoLeak({ kind: 'answered', value: outs }, 'redis-cli');
      // BITFIELD_RO's integers are bytes: 49 50 51 would be "123".
      assert.ok(!/^49\n50\n51/m.test(outs[3]!), outs[3]);
    });
  });
}
