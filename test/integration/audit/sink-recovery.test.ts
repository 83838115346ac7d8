/**
 * The audit sink failing and recovering, for real: the audit file lives on a small tmpfs that is filled up (ENOSPC)
 * and then freed, with PostgreSQL and Redis listeners in front of the real servers. While the disk is full, every
 * statement is refused with the protocol's own error and nothing reaches the databases; once space is back, dgf
 * serves again without a restart and the trail's chain verifies across the outage (the refused statements' records
 * are simply absent, no gap, no torn line).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import pg from 'pg';
import { verifyAuditFiles } from '../../../src/audit/verify.js';
import { dropTableAndKeys } from './cleanup.js';
import { type TestDgf, startDgf } from '../../helpers/dgf.js';
import { DIRECT_URL, direct } from '../../fixtures/postgres/setup.js';
import { PASSWORD, UPSTREAM_PORT as REDIS_PORT } from '../redis/helpers.js';

const CHAIN_KEY = 'sink-recovery-chain-key-0123456789';
const TABLE = 'wa_recovery';
const NS = `wa-recovery:${process.pid}`;

/** Fill the filesystem of `dir` completely (a file of zeros written until ENOSPC). */
function fill(file: string): void {
  const chunk = Buffer.alloc(4096);
  const parts: Buffer[] = [];
  for (let i = 0; i < 4096; i++) parts.push(chunk);
  try {
    writeFileSync(file, Buffer.concat(parts));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  }
  // writeFileSync stops at the first ENOSPC: top up byte-sized leftovers so no record fits.
  try {
    for (let i = 0; i < 4096; i++) writeFileSync(file, Buffer.alloc(64), { flag: 'a' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
  }
}

describe('audit sink full, then recovered (tmpfs)', () => {
  let mnt: string;
  let dgf: TestDgf;
  before(async () => {
    mnt = mkdtempSync(path.join(tmpdir(), 'dgf-audit-tmpfs-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]);
    const d = await direct();
    await d.query(`drop table if exists ${TABLE}; create table ${TABLE} (id int primary key)`);
    await d.end();
    dgf = await startDgf({
      roles: [{ match: { user: 'admin' }, role: 'admin' }],
      audit: { failMode: 'closed', chainKey: CHAIN_KEY, sinks: [{ type: 'file', path: path.join(mnt, 'audit.jsonl') }] },
      listeners: [
        { name: 'pg', protocol: 'postgres', listen: '127.0.0.1:0', pool: 'transaction', upstream: { url: DIRECT_URL, maxConnections: 2 }, users: [{ name: 'admin', password: 'adminpw' }], options: { storagePollMs: 0 } },
        {
          name: 'cache',
          protocol: 'redis',
          listen: '127.0.0.1:0',
          upstream: { url: `redis://127.0.0.1:${REDIS_PORT}` },
          users: [{ name: 'admin', password: PASSWORD }],
          quota: { preset: 'redis-cloud-free', limits: { memoryBytes: 1024 * 1024 * 1024 } },
        },
      ],
    });
  });
  after(async () => {
    await dgf?.stop();
    try {
      execFileSync('umount', [mnt]);
    } finally {
      rmSync(mnt, { recursive: true, force: true });
    }
    await dropTableAndKeys(TABLE, NS);
  });

  const pgClient = async (): Promise<pg.Client> => {
    const c = new pg.Client({ host: '127.0.0.1', port: dgf.listener('pg').address.port, user: 'admin', password: 'adminpw', database: 'postgres' });
    c.on('error', () => undefined);
    await c.connect();
    return c;
  };
  const redisClient = (): Redis => {
    const r = new Redis({ port: dgf.listener('cache').address.port, host: '127.0.0.1', username: 'admin', password: PASSWORD, maxRetriesPerRequest: 0, enableReadyCheck: false });
    r.on('error', () => undefined);
    return r;
  };

  test('refused while full (nothing reaches the databases), served again once space is back, chain intact', async () => {
    const d = await direct();
    const up = new Redis({ port: REDIS_PORT, host: '127.0.0.1' });
    const r = redisClient();
    try {
      const c1 = await pgClient();
      await c1.query(`insert into ${TABLE} values (1)`);
      assert.equal(await r.set(`${NS}:before`, '1'), 'OK');

      const filler = path.join(mnt, 'filler');
      fill(filler);
      // The audit file's last page may still hold a few records: statements run until it is full, then the first
      // one whose record does not fit is refused.
      let refusedId = 0;
      for (let id = 100; id < 200 && refusedId === 0; id++) {
        try {
          await c1.query(`insert into ${TABLE} values (${id})`);
        } catch (e) {
          assert.equal((e as { code?: string }).code, '58000', String(e));
          refusedId = id;
        }
      }
      assert.ok(refusedId > 0, 'a statement was refused once the disk was full');
      let refusedKey = '';
      for (let i = 0; i < 100 && refusedKey === ''; i++) {
        const key = `${NS}:during:${i}`;
        const res = await r.set(key, '1').then(
          () => null,
          (e: Error) => e,
        );
        if (res !== null) {
          assert.match(res.message, /audit record could not be kept/);
          refusedKey = key;
        }
      }
      assert.ok(refusedKey !== '', 'a Redis command was refused once the disk was full');
      assert.equal((await d.query(`select count(*)::int as n from ${TABLE} where id = $1`, [refusedId])).rows[0].n, 0, 'nothing reached PostgreSQL');
      assert.equal(await up.exists(refusedKey), 0, 'nothing reached Redis');

      rmSync(filler);
      const c2 = await pgClient();
      await c2.query(`insert into ${TABLE} values (3)`);
      await c2.end();
      assert.equal(await r.set(`${NS}:after`, '1'), 'OK', 'the same Redis connection is served again');
      const ids = (await d.query(`select id from ${TABLE} order by id`)).rows.map((x: { id: number }) => x.id);
      assert.deepEqual(ids, [1, ...Array.from({ length: refusedId - 100 }, (_, k) => 100 + k), 3].sort((a, b) => a - b));
    } finally {
      r.disconnect();
      up.disconnect();
      await d.end();
    }
    await dgf.stop();
    const v = await verifyAuditFiles([path.join(mnt, 'audit.jsonl')], CHAIN_KEY);
    assert.equal(v.ok, true, JSON.stringify(v.problem));
  });
});
