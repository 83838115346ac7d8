import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import type { TestDgf } from '../../helpers/dgf.js';
import { client, direct, startRedisDgf, upstreamConnections } from './helpers.js';

const NS = `mux-${process.pid}`;

describe('upstream multiplexing', () => {
  let dgf: TestDgf;
  let port: number;
  let up: Redis;

  before(async () => {
    // Own listener name: CLIENT LIST upstream is counted by connection name, and other suites may run alongside.
    ({ dgf, port } = await startRedisDgf({ name: 'mux' }));
    up = direct();
  });

  after(async () => {
    const keys = await up.keys(`${NS}:*`);
    if (keys.length > 0) await up.del(...keys);
    up.disconnect();
    await dgf.stop();
  });

  test('200 clients pipelining share a few upstream connections; MULTI/EXEC and BLPOP get dedicated ones', async (t) => {
    const clients = Array.from({ length: 200 }, (_, i) => client(port, i % 2 ? 'service' : 'analyst', { protocol: i % 4 === 0 ? 3 : 2 } as never));
    await Promise.all(clients.map((c) => c.ping()));
    let maxSeen = 0;
    const sampler = setInterval(() => {
      upstreamConnections(up, 'mux').then((n) => (maxSeen = Math.max(maxSeen, n)), () => undefined);
    }, 20);

    // A blocked BLPOP holds a dedicated connection while everyone else goes on.
    const blocker = client(port, 'service');
    const popped = blocker.blpop(`${NS}:queue`, 10);
    const tx = client(port, 'service');
    await tx.watch(`${NS}:watched`);
    const txResult = tx.multi().set(`${NS}:watched`, 'x').incr(`${NS}:txcount`).exec();

    const rounds = await Promise.all(
      clients.map(async (c, i) => {
        const p = c.pipeline();
        for (let j = 0; j < 20; j++) p.set(`${NS}:k:${i}:${j}`, `v${j}`).get(`${NS}:k:${i}:${j}`);
        const res = (await p.exec())!;
        for (let j = 0; j < 20; j++) assert.equal(res[j * 2 + 1]![1], `v${j}`, `client ${i} reply ${j} in order`);
        return res.length;
      }),
    );
    assert.equal(rounds.reduce((a, b) => a + b, 0), 200 * 40);
    assert.deepEqual(await txResult, [
      [null, 'OK'],
      [null, 1],
    ]);
    // The blocked client is still waiting; unblock it from another client.
    await clients[1]!.lpush(`${NS}:queue`, 'job-1');
    assert.deepEqual(await popped, [`${NS}:queue`, 'job-1']);
    clearInterval(sampler);
    const now = await upstreamConnections(up, 'mux');
    maxSeen = Math.max(maxSeen, now);
    assert.ok(maxSeen <= 30, `never above the redis-cloud-free limit (saw ${maxSeen})`);
    assert.ok(maxSeen <= 12, `200 clients used a small shared set (saw ${maxSeen})`);
    t.diagnostic(`upstream connections seen at most: ${maxSeen}`);
    for (const c of [...clients, blocker, tx]) c.disconnect();
  });

  test('beyond the connection limit a client waits, then gets -ERR max connections', async () => {
    const small = await startRedisDgf({ name: 'small', upstream: { url: 'redis://127.0.0.1:56379', maxConnections: 3 }, poolTimeoutMs: 300, options: { sharedConnections: 1 } });
    // RESP2 clients: the shared RESP2 connection opened at start serves them all (1 shared + 2 dedicated = 3).
    const a = client(small.port, 'service', { protocol: 2 } as never);
    const b = client(small.port, 'service', { protocol: 2 } as never);
    const c = client(small.port, 'service', { protocol: 2 } as never);
    const other = client(small.port, 'service', { protocol: 2 } as never);
    try {
      await Promise.all([a.ping(), b.ping(), c.ping(), other.ping()]);
      const pa = a.blpop(`${NS}:never-a`, 2);
      const pb = b.blpop(`${NS}:never-b`, 2);
      await new Promise((r) => setTimeout(r, 100));
      const started = Date.now();
      await assert.rejects(c.blpop(`${NS}:never-c`, 1), /ERR max connections: all 3 upstream connections are in use/);
      assert.ok(Date.now() - started >= 250, 'waited for poolTimeoutMs first');
      // Stateless commands still flow over the shared connection meanwhile.
      assert.equal(await other.ping(), 'PONG');
      assert.equal(await upstreamConnections(up, 'small'), 3);
      assert.deepEqual(await Promise.all([pa, pb]), [null, null]);
    } finally {
      for (const x of [a, b, c, other]) x.disconnect();
      await small.dgf.stop();
    }
  });
});
