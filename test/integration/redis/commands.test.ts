import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import { readAudit, type TestDgf } from '../../helpers/dgf.js';
import { PASSWORD, RawClient, client, direct, resp, startRedisDgf } from './helpers.js';

const NS = `cmd-${process.pid}`;

describe('connection-state commands, firewall details and the memory quota', () => {
  let dgf: TestDgf;
  let port: number;
  let up: Redis;

  before(async () => {
    ({ dgf, port } = await startRedisDgf({ options: { memoryPollMs: 100 } }));
    up = direct();
    await up.set(`${NS}:user:1:email`, 'frank@example.com');
    await up.hset(`${NS}:h`, 'email', 'gina@example.com', 'n', '1');
    await up.zadd(`${NS}:z`, 1, 'hank@example.com', 2, 'plain');
    await up.xadd(`${NS}:s`, '1-1', 'email', 'ivy@example.com', 'kind', 'signup');
    await up.select(3);
    await up.set(`${NS}:db3`, 'in db 3 jack@example.com');
    await up.select(0);
  });

  after(async () => {
    await up.del(`${NS}:user:1:email`, `${NS}:h`, `${NS}:z`, `${NS}:s`, `${NS}:list`, `${NS}:w`, `${NS}:quota`);
    await up.select(3);
    await up.del(`${NS}:db3`);
    await up.select(0);
    up.disconnect();
    await dgf.stop();
  });

  test('HELLO 3 with AUTH and SETNAME, CLIENT SETNAME/GETNAME/ID, RESET and QUIT', async () => {
    const raw = await RawClient.connect(port);
    raw.send(resp('HELLO', '3', 'AUTH', 'analyst', PASSWORD, 'SETNAME', 'my-app') + resp('CLIENT', 'GETNAME') + resp('GET', `${NS}:user:1:email`));
    let f = await raw.waitFrames(3);
    const hello = new Map(f[0] as Array<[string, unknown]>);
    assert.equal(hello.get('proto'), 3);
    assert.equal(hello.get('server'), 'redis');
    assert.equal(f[1], 'my-app');
    assert.equal(f[2], 'f***@example.com');
    raw.send(resp('RESET') + resp('HELLO') + resp('QUIT'));
    f = await raw.waitFrames(6);
    assert.equal(f[3], 'RESET');
    assert.equal(new Map((f[4] as unknown[]).reduce<Array<[unknown, unknown]>>((acc, v, i, a) => (i % 2 ? acc : [...acc, [v, a[i + 1]]]), [])).get('proto'), 2);
    assert.equal(f[5], 'OK');
    assert.ok(await raw.waitClose());
  });

  test('SELECT moves the client to a dedicated connection and back', async () => {
    const r = client(port, 'analyst');
    try {
      await r.select(3);
      assert.equal(await r.get(`${NS}:db3`), 'in db 3 j***@example.com');
      await r.select(0);
      assert.equal(await r.get(`${NS}:db3`), null);
    } finally {
      r.disconnect();
    }
  });

  test('masks sorted-set members (not scores), stream values by field name, and XREAD BLOCK waits on its own connection', async () => {
    for (const protocol of [2, 3]) {
      const r = client(port, 'analyst', { protocol } as never);
      try {
        // RESP3 answers member/score pairs (ioredis gives the doubles as strings); RESP2 a flat list.
        assert.deepEqual(
          await r.call('ZRANGE', `${NS}:z`, '0', '-1', 'WITHSCORES'),
          protocol === 3 ? [['h***@example.com', '1'], ['plain', '2']] : ['h***@example.com', '1', 'plain', '2'],
        );
        const entries = await r.xrange(`${NS}:s`, '-', '+');
        assert.deepEqual(entries, [['1-1', ['email', 'i***@example.com', 'kind', 'signup']]]);
        const blocked = r.xread('BLOCK', 2000, 'STREAMS', `${NS}:s`, '$');
        await new Promise((res) => setTimeout(res, 50));
        const id = await up.xadd(`${NS}:s`, '*', 'email', 'kim@example.com');
        const got = (await blocked) as Array<[string, Array<[string, string[]]>]>;
        assert.deepEqual(got[0]![1][0], [id, ['email', 'k***@example.com']]);
        await up.xdel(`${NS}:s`, id!);
      } finally {
        r.disconnect();
      }
    }
  });

  test('a refused command inside MULTI aborts EXEC like a queueing error does', async () => {
    const r = client(port, 'analyst');
    try {
      const res = await r.multi().set(`${NS}:w`, '1').flushall().exec().catch((e: Error) => e);
      assert.match(String(res), /EXECABORT/);
      assert.equal(await up.exists(`${NS}:w`), 0, 'nothing of the transaction ran');
    } finally {
      r.disconnect();
    }
  });

  test('unknown commands are refused for masked roles (fail closed); arity errors are answered locally', async () => {
    const raw = await RawClient.connect(port);
    raw.send(resp('AUTH', 'analyst', PASSWORD) + resp('NOSUCHCMD', 'x') + resp('GET') + resp('KEYS', '*'));
    const f = await raw.waitFrames(4);
    raw.close();
    assert.match(String(f[1]), /unknown command 'nosuchcmd'/);
    assert.match(String(f[2]), /wrong number of arguments for 'get'/);
    assert.match(String(f[3]), /NOPERM server administration commands are not allowed/);
  });

  test('WAIT and BLPOP are answered; the audit has one record per command with key names', async () => {
    const r = client(port, 'service');
    try {
      assert.equal(await r.wait(0, 10), 0);
      const p = r.blpop(`${NS}:list`, 2);
      await new Promise((res) => setTimeout(res, 50));
      await up.rpush(`${NS}:list`, 'lucy@example.com');
      assert.deepEqual(await p, [`${NS}:list`, 'lucy@example.com']);
    } finally {
      r.disconnect();
    }
    // The outcome record is written with the next intents or within fsyncMs (nobody waits for it): poll for it.
    let found = false;
    for (let i = 0; i < 50 && !found; i++) {
      found = (await readAudit(dgf.auditFile)).some((x) => x['statement'] === `BLPOP ${NS}:list` && x['operation'] === 'blpop');
      if (!found) await new Promise((res) => setTimeout(res, 20));
    }
    assert.ok(found);
  });

  test('over the memory quota writes get -OOM and reads still work', async () => {
    const tiny = await startRedisDgf(
      { name: 'tiny', quota: { preset: 'redis-cloud-free', limits: { memoryBytes: 1024 } }, options: { memoryPollMs: 50 } },
    );
    const r = client(tiny.port, 'service');
    try {
      await new Promise((res) => setTimeout(res, 150));
      await assert.rejects(r.set(`${NS}:quota`, 'x'), /^ReplyError: OOM command not allowed when used memory > quota/);
      assert.equal(await r.get(`${NS}:user:1:email`), 'frank@example.com');
      assert.equal(await r.del(`${NS}:quota`), 0, 'DEL frees memory and is allowed');
      const usage = (await (await fetch(`${tiny.dgf.adminUrl}/api/v1/monitoring/usage`)).json()) as unknown;
      assert.match(JSON.stringify(usage), /"memory"/);
    } finally {
      r.disconnect();
      await tiny.dgf.stop();
    }
  });
});
