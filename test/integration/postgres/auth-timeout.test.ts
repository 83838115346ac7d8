/**
 * Authentication must finish within `authTimeoutMs` (issue #18 item 4, part): a client that connects and never
 * completes the startup and authentication exchange gets PostgreSQL's own FATAL (57014, "canceling authentication
 * due to timeout") and is disconnected; a client that logs in keeps its session past the timeout.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import pg from 'pg';
import { startDgf, type TestDgf } from '../../helpers/dgf.js';
import { ROLES, createSeededDatabase, dropDatabase, governedListener } from '../../fixtures/postgres-governance/database.js';

const DB = 'dgf_auth_timeout';

describe('PostgreSQL: authentication timeout', () => {
  let dgf: TestDgf;
  let port: number;

  before(async () => {
    await createSeededDatabase(DB);
    dgf = await startDgf({ roles: ROLES, listeners: [governedListener(DB, { authTimeoutMs: 300 })] });
    port = dgf.listener('pg').address.port;
  });

  after(async () => {
    await dgf?.stop();
    await dropDatabase(DB);
  });

  function silent(send?: Buffer): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1');
      const parts: Buffer[] = [];
      s.on('connect', () => send && s.write(send));
      s.on('data', (c: Buffer) => parts.push(c));
      s.on('close', () => resolve(Buffer.concat(parts)));
      s.on('error', reject);
      setTimeout(() => reject(new Error('not disconnected')), 5000).unref();
    });
  }

  test('a client that sends nothing gets FATAL 57014 and is disconnected', async () => {
    const got = (await silent()).toString('latin1');
    assert.match(got, /FATAL/);
    assert.match(got, /57014/);
    assert.match(got, /canceling authentication due to timeout/);
  });

  test('a client that sends its startup packet but never its password is disconnected', async () => {
    const user = Buffer.from('user\0analyst\0database\0' + DB + '\0\0');
    const startup = Buffer.alloc(8 + user.length);
    startup.writeInt32BE(startup.length, 0);
    startup.writeInt32BE(196608, 4);
    user.copy(startup, 8);
    const got = (await silent(startup)).toString('latin1');
    assert.match(got, /canceling authentication due to timeout/);
  });

  test('a client that logs in keeps its session past the timeout', async () => {
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'analyst', password: 'analyst', database: DB });
    await c.connect();
    try {
      await new Promise((r) => setTimeout(r, 600));
      assert.equal((await c.query('select 1 as one')).rows[0].one, 1);
    } finally {
      await c.end();
    }
  });
});
