import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import type { Redis } from 'ioredis';
import { readAudit } from '../../helpers/dgf.js';
import type { TestDgf } from '../../helpers/dgf.js';
import { PASSWORD, RawClient, client, direct, resp, startRedisDgf } from './helpers.js';

const NS = `ioredis-${process.pid}`;
const EMAIL_KEY = `${NS}:user:42:email`;
const HASH_KEY = `${NS}:customer:7`;
const LIST_KEY = `${NS}:contacts`;
const NOTE_KEY = `${NS}:note:1`;

for (const protocol of [3, 2] as const) {
  describe(`ioredis@6 with RESP${protocol} through dgf`, () => {
    let dgf: TestDgf;
    let port: number;
    let up: Redis;
    const clients: Redis[] = [];
    const as = (user: string): Redis => {
      const c = client(port, user, { protocol } as never);
      clients.push(c);
      return c;
    };

    before(async () => {
      ({ dgf, port } = await startRedisDgf());
      up = direct();
      await up.del(EMAIL_KEY, HASH_KEY, LIST_KEY, NOTE_KEY);
      await up.set(EMAIL_KEY, 'ann@example.com');
      await up.hset(HASH_KEY, 'ssn', '123-45-6789', 'name', 'Ann Smith', 'city', 'Lyon');
      await up.rpush(LIST_KEY, 'bob@example.org', 'no pii here', 'call +1 415 555 0132');
      await up.set(NOTE_KEY, 'please charge 4111 1111 1111 1111 tomorrow');
    });

    after(async () => {
      for (const c of clients) c.disconnect();
      await up.del(EMAIL_KEY, HASH_KEY, LIST_KEY, NOTE_KEY);
      up.disconnect();
      await dgf.stop();
    });

    test('masks a classified key, a hash field, list members and a card inside free text for the analyst', async () => {
      const r = as('analyst');
      assert.equal(await r.get(EMAIL_KEY), 'a***@example.com');
      const h = await r.hgetall(HASH_KEY);
      assert.equal(h['ssn'], '***-**-6789');
      assert.equal(h['name'], 'Ann Smith');
      assert.equal(await r.hget(HASH_KEY, 'ssn'), '***-**-6789');
      assert.deepEqual(await r.hmget(HASH_KEY, 'city', 'ssn'), ['Lyon', '***-**-6789']);
      const list = await r.lrange(LIST_KEY, 0, -1);
      assert.equal(list[0], 'b***@example.org');
      assert.equal(list[1], 'no pii here');
      assert.notEqual(list[2], 'call +1 415 555 0132');
      assert.equal(await r.get(NOTE_KEY), 'please charge **** **** **** 1111 tomorrow');
      assert.deepEqual(await r.mget(EMAIL_KEY, NOTE_KEY, `${NS}:missing`), [
        'a***@example.com',
        'please charge **** **** **** 1111 tomorrow',
        null,
      ]);
    });

    test('masks inside EXEC and pipelines, replies in request order', async () => {
      const r = as('analyst');
      const res = await r.multi().get(EMAIL_KEY).hget(HASH_KEY, 'ssn').lrange(LIST_KEY, 0, 0).exec();
      assert.deepEqual(res, [
        [null, 'a***@example.com'],
        [null, '***-**-6789'],
        [null, ['b***@example.org']],
      ]);
      const p = await r.pipeline().set(`${NS}:plain`, 'v1').get(`${NS}:plain`).get(EMAIL_KEY).del(`${NS}:plain`).exec();
      assert.deepEqual(p, [
        [null, 'OK'],
        [null, 'v1'],
        [null, 'a***@example.com'],
        [null, 1],
      ]);
    });

    test('masks pub/sub messages by channel and by value', async () => {
      const sub = as('analyst');
      const got: Array<[string, string]> = [];
      sub.on('message', (ch: string, msg: string) => got.push([ch, msg]));
      await sub.subscribe(`${NS}:events`);
      const pub = as('admin');
      await pub.publish(`${NS}:events`, 'new signup ann@example.com card 4111 1111 1111 1111');
      await pub.publish(`${NS}:events`, 'plain message');
      const deadline = Date.now() + 3000;
      while (got.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(got, [
        [`${NS}:events`, 'new signup a***@example.com card **** **** **** 1111'],
        [`${NS}:events`, 'plain message'],
      ]);
      await sub.unsubscribe();
      // Back to normal commands on the same connection.
      assert.equal(await sub.get(EMAIL_KEY), 'a***@example.com');
    });

    test('the exempt roles see clear values (dpo for PII, admin for everything)', async () => {
      const dpo = as('dpo');
      assert.equal(await dpo.get(EMAIL_KEY), 'ann@example.com');
      assert.equal(await dpo.hget(HASH_KEY, 'ssn'), '123-45-6789');
      const admin = as('admin');
      assert.equal(await admin.get(NOTE_KEY), 'please charge 4111 1111 1111 1111 tomorrow');
      assert.deepEqual(await admin.lrange(LIST_KEY, 0, -1), ['bob@example.org', 'no pii here', 'call +1 415 555 0132']);
    });

    test('FLUSHALL and CONFIG are refused with -NOPERM and nothing is flushed', async () => {
      const r = as('analyst');
      await assert.rejects(r.flushall(), /^ReplyError: NOPERM destructive statements are not allowed for this role/);
      await assert.rejects(r.config('GET', 'maxmemory'), /NOPERM/);
      await assert.rejects(r.call('FLUSHDB'), /NOPERM/);
      assert.equal(await up.get(EMAIL_KEY), 'ann@example.com', 'still there upstream');
      assert.ok((await up.dbsize()) > 0);
    });

    test('audit records name commands and keys with labels, never values', async () => {
      const r = as('analyst');
      await r.get(EMAIL_KEY);
      await new Promise((res) => setTimeout(res, 50));
      const records = await readAudit(dgf.auditFile);
      const get = records.find((x) => x['statement'] === `GET ${EMAIL_KEY}`);
      assert.ok(get, 'a record for GET with the key name');
      assert.equal(get['operation'], 'get');
      assert.ok((get['labels'] as string[]).includes('pii.email'));
      assert.deepEqual(get['masked'], { 'pii.email': 1 });
      const flush = records.find((x) => x['operation'] === 'flushall');
      assert.equal(flush?.['decision'], 'deny');
      const pipeline = records.find((x) => x['operation'] === 'pipeline');
      assert.ok(pipeline && Array.isArray(pipeline['entries']) && (pipeline['entries'] as unknown[]).length >= 2);
      // The batch record names its distinct commands; each entry names its command's keys.
      const entries = pipeline['entries'] as Array<Record<string, unknown>>;
      assert.match(String(pipeline['statement']), new RegExp(`^PIPELINE ${entries.length}: [A-Z]+( [A-Z]+)*$`));
      // Compact entries: a statement that is only the command and its key ("GET k") is left out, as are empty fields.
      for (const e of entries) {
        const statement = 'statement' in e ? String(e['statement']) : `${String(e['operation']).toUpperCase()} ${String(e['object'])}`;
        assert.ok(statement.toLowerCase().startsWith(String(e['operation'])), JSON.stringify(e));
        assert.ok(!('error' in e) || e['error'] !== null, JSON.stringify(e));
        assert.ok(!('labels' in e) || (e['labels'] as unknown[]).length > 0, JSON.stringify(e));
      }
      const allEntries = records.filter((x) => x['operation'] === 'pipeline').flatMap((x) => x['entries'] as Array<Record<string, unknown>>);
      const emailGet = allEntries.find((e) => e['operation'] === 'get' && e['object'] === EMAIL_KEY);
      assert.ok(emailGet && !('statement' in emailGet), JSON.stringify(emailGet));
      assert.deepEqual(emailGet['labels'], ['pii.email']);
      const text = await readFile(dgf.auditFile, 'utf8');
      for (const secret of ['ann@example.com', '123-45-6789', '4111 1111 1111 1111', 'bob@example.org']) {
        assert.ok(!text.includes(secret), `audit file must not contain ${secret}`);
      }
    });

    test('wrong password is refused and unauthenticated commands get NOAUTH', async () => {
      const raw = await RawClient.connect(port);
      raw.send(resp('GET', EMAIL_KEY) + resp('AUTH', 'analyst', 'nope') + resp('AUTH', 'nobody', PASSWORD));
      const frames = await raw.waitFrames(3);
      raw.close();
      assert.match(String(frames[0]), /^Error: NOAUTH Authentication required/);
      assert.match(String(frames[1]), /^Error: WRONGPASS/);
      assert.match(String(frames[2]), /^Error: WRONGPASS/);
    });
  });
}
