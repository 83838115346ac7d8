/**
 * A transaction with a command that fails when queued writes nothing (issue #18 item 6): MULTI, SET k v, a SET of
 * the wrong arity, EXEC answers EXECABORT and k is not written, as Redis itself does. RESP2 and RESP3, for a role
 * with masks and one without, and with an unknown command as the failing one. Real Redis 7, raw RESP.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import type { TestDgf } from '../../helpers/dgf.js';
import { PASSWORD, RawClient, direct, resp, startRedisDgf } from './helpers.js';

describe('an aborted transaction writes nothing', () => {
  let dgf: TestDgf;
  let port: number;
  let d: Redis;

  before(async () => {
    ({ dgf, port } = await startRedisDgf());
    d = direct();
  });

  after(async () => {
    d?.disconnect();
    await dgf?.stop();
  });

  async function run(user: string, proto: 2 | 3, failing: string[], key: string): Promise<unknown[]> {
    const c = await RawClient.connect(port);
    try {
      c.send(resp('HELLO', String(proto), 'AUTH', user, PASSWORD));
      await c.waitFrames(1);
      c.send(resp('MULTI') + resp('SET', key, 'written') + resp(...failing) + resp('EXEC'));
      const frames = await c.waitFrames(5);
      return frames.slice(1);
    } finally {
      c.close();
    }
  }

  for (const proto of [2, 3] as const) {
    for (const user of ['analyst', 'admin']) {
      test(`RESP${proto}, ${user}: a wrong-arity command aborts EXEC and nothing is written`, async () => {
        const key = `tx:abort:${proto}:${user}:arity`;
        await d.del(key);
        const [multi, queued, failed, exec] = await run(user, proto, ['SET', 'only-a-key'], key);
        assert.equal(multi, 'OK');
        assert.equal(queued, 'QUEUED');
        assert.match(String((failed as Error).message ?? failed), /wrong number of arguments/);
        assert.match(String((exec as Error).message ?? exec), /^EXECABORT/);
        assert.equal(await d.get(key), null, 'the SET queued before the error did not run');
      });
    }
    test(`RESP${proto}, analyst: an unknown command aborts EXEC and nothing is written`, async () => {
      const key = `tx:abort:${proto}:unknown`;
      await d.del(key);
      const [, , failed, exec] = await run('analyst', proto, ['NOSUCHCOMMAND', 'x'], key);
      assert.match(String((failed as Error).message ?? failed), /unknown command/);
      assert.match(String((exec as Error).message ?? exec), /^EXECABORT/);
      assert.equal(await d.get(key), null);
    });
  }
});
