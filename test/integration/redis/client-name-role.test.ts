/**
 * A role is resolved at login (issue #18 item 4, part): a role mapping on the client-chosen name (CLIENT SETNAME)
 * applies when the name is given with the login (HELLO ... AUTH ... SETNAME), never to a live connection renaming
 * itself. Real Redis 7, raw RESP.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Redis } from 'ioredis';
import type { TestDgf } from '../../helpers/dgf.js';
import { PASSWORD, RawClient, direct, resp, startRedisDgf } from './helpers.js';

const KEY = 'user:9001:email';
const EMAIL = 'grace.hopper@example.com';

describe('CLIENT SETNAME does not re-map a live connection', () => {
  let dgf: TestDgf;
  let port: number;
  let d: Redis;

  before(async () => {
    // `app` has no user mapping: its role comes from the name it logs in with, else `default` (masked).
    ({ dgf, port } = await startRedisDgf({}, { roles: [{ match: { application: 'ops-console' }, role: 'admin' }, { match: { user: 'analyst' }, role: 'analyst' }] }));
    d = direct();
    await d.set(KEY, EMAIL);
  });

  after(async () => {
    await d?.del(KEY);
    d?.disconnect();
    await dgf?.stop();
  });

  async function session(...commands: string[][]): Promise<unknown[]> {
    const c = await RawClient.connect(port);
    try {
      c.send(commands.map((a) => resp(...a)).join(''));
      return await c.waitFrames(commands.length);
    } finally {
      c.close();
    }
  }

  test('renaming after login keeps the login role: the value stays masked', async () => {
    const frames = await session(['AUTH', 'app', PASSWORD], ['GET', KEY], ['CLIENT', 'SETNAME', 'ops-console'], ['GET', KEY], ['CLIENT', 'GETNAME']);
    assert.equal(frames[0], 'OK');
    assert.notEqual(frames[1], EMAIL);
    assert.equal(frames[2], 'OK');
    assert.notEqual(frames[3], EMAIL, 'CLIENT SETNAME did not lift the mask');
    assert.equal(frames[4], 'ops-console', 'the name itself is kept (and audited)');
  });

  test('HELLO ... AUTH ... SETNAME: the name given at login takes part in the role mapping', async () => {
    const frames = await session(['HELLO', '2', 'AUTH', 'app', PASSWORD, 'SETNAME', 'ops-console'], ['GET', KEY]);
    assert.equal(frames[1], EMAIL);
  });
});
