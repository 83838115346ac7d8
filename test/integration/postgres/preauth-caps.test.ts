/**
 * No open doors before authentication (issue #18 item 4): every message a PostgreSQL client sends before it has
 * authenticated (startup packet, PasswordMessage, SASLInitialResponse, SASLResponse) is held to 10,000 bytes,
 * PostgreSQL's own startup packet limit; a longer one is answered with FATAL 08P01 and the connection is closed,
 * as soon as its length is read (its body is never buffered). After login, `maxMessageBytes` applies as before.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import pg from 'pg';
import { startDgf, type TestDgf } from '../../helpers/dgf.js';
import { ROLES, createSeededDatabase, dropDatabase, governedListener } from '../../fixtures/postgres-governance/database.js';

const DB = 'dgf_preauth_caps';

function startup(user: string, database: string): Buffer {
  const params = Buffer.from(`user\0${user}\0database\0${database}\0\0`);
  const b = Buffer.alloc(8 + params.length);
  b.writeInt32BE(b.length, 0);
  b.writeInt32BE(196608, 4);
  params.copy(b, 8);
  return b;
}

function typed(code: string, body: Buffer): Buffer {
  const b = Buffer.alloc(5 + body.length);
  b.write(code, 0, 'latin1');
  b.writeInt32BE(4 + body.length, 1);
  body.copy(b, 5);
  return b;
}

/** Send `parts` (waiting for a reply before each next one), collect everything until the server closes. */
function exchange(port: number, parts: Buffer[]): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    let i = 0;
    s.on('connect', () => s.write(parts[i++]!));
    s.on('data', (c: Buffer) => {
      got.push(c);
      if (i < parts.length) s.write(parts[i++]!);
    });
    s.on('error', () => undefined);
    s.on('close', () => resolve({ text: Buffer.concat(got).toString('latin1'), closed: true }));
    setTimeout(() => {
      s.destroy();
      reject(new Error(`not disconnected; got ${JSON.stringify(Buffer.concat(got).toString('latin1'))}`));
    }, 5000).unref();
  });
}

describe('PostgreSQL: limits before authentication', () => {
  let dgf: TestDgf;
  let port: number;

  before(async () => {
    await createSeededDatabase(DB);
    dgf = await startDgf({ roles: ROLES, listeners: [governedListener(DB), { ...governedListener(DB), name: 'pg-md5', auth: 'md5' }] });
    port = dgf.listener('pg').address.port;
  });

  after(async () => {
    await dgf?.stop();
    await dropDatabase(DB);
  });

  test('a startup packet over 10,000 bytes: FATAL 08P01, closed', async () => {
    const big = Buffer.alloc(20_000);
    big.writeInt32BE(big.length, 0);
    big.writeInt32BE(196608, 4);
    const r = await exchange(port, [big]);
    assert.match(r.text, /FATAL/);
    assert.match(r.text, /08P01/);
  });

  test('a SASLInitialResponse over 10,000 bytes: FATAL 08P01, closed (only the length is read)', async () => {
    // The length announces 1 MiB; only its header is sent.
    const header = Buffer.alloc(5);
    header.write('p', 0, 'latin1');
    header.writeInt32BE(1024 * 1024, 1);
    const r = await exchange(port, [startup('analyst', DB), header]);
    assert.match(r.text, /SCRAM-SHA-256/, 'the SASL offer came first');
    assert.match(r.text, /FATAL/);
    assert.match(r.text, /08P01/);
    assert.match(r.text, /before authentication/);
  });

  test('a SASLResponse over 10,000 bytes after a valid SASLInitialResponse: FATAL 08P01, closed', async () => {
    const mech = Buffer.from('SCRAM-SHA-256\0');
    const first = Buffer.from('n,,n=,r=abcdefghijklmnopqrstuvwx');
    const len = Buffer.alloc(4);
    len.writeInt32BE(first.length, 0);
    const initial = typed('p', Buffer.concat([mech, len, first]));
    const huge = typed('p', Buffer.alloc(12_000, 0x61));
    const r = await exchange(port, [startup('analyst', DB), initial, huge]);
    assert.match(r.text, /r=abcdefghijklmnopqrstuvwx/, 'the server-first message came back');
    assert.match(r.text, /08P01/);
  });

  test('an MD5 PasswordMessage over 10,000 bytes: FATAL 08P01, closed', async () => {
    const r = await exchange(dgf.listener('pg-md5').address.port, [startup('analyst', DB), typed('p', Buffer.alloc(10_001, 0x61))]);
    assert.match(r.text, /08P01/);
  });

  test('after login the listener limit applies: a 100 KB query runs', async () => {
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'analyst', password: 'analyst', database: DB });
    await c.connect();
    try {
      const r = await c.query(`select length('${'z'.repeat(100_000)}') as n`);
      assert.equal(r.rows[0].n, 100_000);
    } finally {
      await c.end();
    }
  });
});
