import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createClient } from 'redis';
import type { Redis } from 'ioredis';
import type { TestDgf } from '../../helpers/dgf.js';
import { PASSWORD, direct, startRedisDgf } from './helpers.js';

const NS = `node-redis-${process.pid}`;

describe('node-redis (redis v5) through dgf', () => {
  let dgf: TestDgf;
  let port: number;
  let up: Redis;

  before(async () => {
    ({ dgf, port } = await startRedisDgf());
    up = direct();
    await up.set(`${NS}:user:1:email`, 'carol@example.com');
    await up.hset(`${NS}:patient:1`, 'ssn', '078-05-1120', 'ward', 'B');
    await up.rpush(`${NS}:notes`, 'card 5555 5555 5555 4444 on file');
  });

  after(async () => {
    await up.del(`${NS}:user:1:email`, `${NS}:patient:1`, `${NS}:notes`, `${NS}:counter`);
    up.disconnect();
    await dgf.stop();
  });

  for (const RESP of [2, 3] as const) {
    test(`RESP${RESP}: reads are masked, writes work, transactions and FLUSHALL behave`, async () => {
      const c = createClient({ url: `redis://analyst:${PASSWORD}@127.0.0.1:${port}`, RESP });
      c.on('error', () => undefined);
      await c.connect();
      try {
        assert.equal(await c.get(`${NS}:user:1:email`), 'c***@example.com');
        const h = await c.hGetAll(`${NS}:patient:1`);
        assert.equal(h['ssn'], '***-**-1120');
        assert.equal(h['ward'], 'B');
        assert.deepEqual(await c.lRange(`${NS}:notes`, 0, -1), ['card **** **** **** 4444 on file']);
        assert.equal(await c.incr(`${NS}:counter`), 1);
        assert.equal(await c.del(`${NS}:counter`), 1);
        const tx = await c.multi().get(`${NS}:user:1:email`).hGet(`${NS}:patient:1`, 'ssn').exec();
        assert.deepEqual(tx, ['c***@example.com', '***-**-1120']);
        await assert.rejects(c.flushAll(), /NOPERM/);
        assert.equal(await up.exists(`${NS}:user:1:email`), 1);
        // Auto-pipelined burst keeps request order.
        const many = await Promise.all(Array.from({ length: 50 }, (_, i) => c.echo(`m${i}`)));
        assert.deepEqual(many, Array.from({ length: 50 }, (_, i) => `m${i}`));
      } finally {
        c.destroy();
      }
    });
  }

  test('pub/sub messages are masked for node-redis subscribers', async () => {
    const sub = createClient({ url: `redis://analyst:${PASSWORD}@127.0.0.1:${port}` });
    const pub = createClient({ url: `redis://admin:${PASSWORD}@127.0.0.1:${port}` });
    sub.on('error', () => undefined);
    pub.on('error', () => undefined);
    await sub.connect();
    await pub.connect();
    try {
      const got: string[] = [];
      await sub.subscribe(`${NS}:chan`, (m) => void got.push(m));
      await pub.publish(`${NS}:chan`, 'contact dave@example.com');
      const deadline = Date.now() + 3000;
      while (got.length < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.deepEqual(got, ['contact d***@example.com']);
      await sub.unsubscribe(`${NS}:chan`);
    } finally {
      sub.destroy();
      pub.destroy();
    }
  });
});
