/** Client authentication against listener users (SCRAM, md5, cleartext) and upstream authentication (SCRAM, md5, cleartext). */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import postgres from 'postgres';
import { startPgDgf } from '../../fixtures/postgres/setup.js';

const upstream = (user: string): string => `postgres://${user}:dgfpass@127.0.0.1:55432/postgres?sslmode=disable`;

async function login(port: number, user: string, password: string): Promise<pg.Client> {
  const c = new pg.Client({ host: '127.0.0.1', port, user, password, database: 'postgres' });
  await c.connect();
  return c;
}

describe('authentication', () => {
  test('SCRAM-SHA-256 on both legs (proxy users with SCRAM; upstream role dgf_scram)', async () => {
    const { dgf, port } = await startPgDgf({ url: upstream('dgf_scram') });
    try {
      const c = await login(port, 'admin', 'adminpw');
      assert.equal((await c.query('select current_user as u')).rows[0].u, 'dgf_scram');
      await c.end();
      // postgres.js speaks SCRAM too, and checks the server signature.
      const sql = postgres({ host: '127.0.0.1', port, user: 'analyst', password: 'analystpw', database: 'postgres', max: 1 });
      assert.equal((await sql`select 1 as one`)[0]!.one, 1);
      await sql.end();
    } finally {
      await dgf.stop();
    }
  });

  test('a wrong password or an unknown user is refused with FATAL 28P01', async () => {
    const { dgf, port } = await startPgDgf();
    try {
      await assert.rejects(login(port, 'admin', 'wrong'), (e: Error & { code?: string }) => e.code === '28P01' && /password authentication failed for user "admin"/.test(e.message));
      await assert.rejects(login(port, 'nobody', 'adminpw'), (e: Error & { code?: string }) => e.code === '28P01');
      // The listener is unharmed.
      const c = await login(port, 'admin', 'adminpw');
      await c.end();
    } finally {
      await dgf.stop();
    }
  });

  test('md5 and cleartext to the client only when auth says so; md5 and cleartext upstream', async () => {
    const md5 = await startPgDgf({ auth: 'md5', url: upstream('dgf_md5') });
    try {
      const c = await login(md5.port, 'admin', 'adminpw');
      assert.equal((await c.query('select current_user as u')).rows[0].u, 'dgf_md5');
      await c.end();
      await assert.rejects(login(md5.port, 'admin', 'nope'), (e: Error & { code?: string }) => e.code === '28P01');
    } finally {
      await md5.dgf.stop();
    }
    const clear = await startPgDgf({ auth: 'password', url: upstream('dgf_clear') });
    try {
      const c = await login(clear.port, 'analyst', 'analystpw');
      assert.equal((await c.query('select current_user as u')).rows[0].u, 'dgf_clear');
      await c.end();
    } finally {
      await clear.dgf.stop();
    }
  });

  test('a wrong upstream password gives the client FATAL 08006 (not 28P01: its own password was right), not a hang', async () => {
    const { dgf, port } = await startPgDgf({ url: 'postgres://dgf_scram:wrong@127.0.0.1:55432/postgres?sslmode=disable' });
    try {
      await assert.rejects(login(port, 'admin', 'adminpw'), (e: Error & { code?: string }) => e.code === '08006' && /refused the proxy credentials/.test(e.message));
    } finally {
      await dgf.stop();
    }
  });

  test('trust is refused on a non-loopback listen address', async () => {
    await assert.rejects(
      (async () => {
        const { dgf } = await startPgDgf({ auth: 'trust', options: {} }, {});
        await dgf.stop();
        // Re-run with a wildcard address: must fail before binding.
        const bad = await import('../../helpers/dgf.js').then((m) =>
          m.startDgf({ listeners: [{ name: 'pg', protocol: 'postgres', listen: '0.0.0.0:0', auth: 'trust', users: [], upstream: { url: upstream('dgf_scram') } }] }),
        );
        await bad.stop();
      })(),
      /trust/,
    );
  });
});
