/**
 * Write-ahead audit (failMode closed, durability write, the default) against real PostgreSQL and Redis, with dgf
 * run as users run it (`dgf start`) and killed with SIGKILL under load: every row and key the databases hold has
 * its intent record, every acknowledged write has one, the chain verifies, and a restarted dgf continues it. Then
 * with the audit file on a full device: statements are refused with the protocol's own error and nothing reaches
 * the databases.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import pg from 'pg';
import type { AuditRecord } from '../../../src/audit/types.js';
import { verifyAuditFiles } from '../../../src/audit/verify.js';
import { dropTableAndKeys } from './cleanup.js';
import { spawnDgf } from '../../e2e/cli.js';
import { freePort, waitPort } from '../../helpers/backends.js';
import { DIRECT_URL, direct, startPgDgf } from '../../fixtures/postgres/setup.js';
import { PASSWORD, UPSTREAM_PORT as REDIS_PORT, startRedisDgf } from '../redis/helpers.js';

const TABLE = 'wa_items';
const NS = `wa:${process.pid}`;
const CHAIN_KEY = 'write-ahead-chain-key-0123456789';
const INSERT = `insert into ${TABLE} (id, worker) values ($1, $2)`;

function records(file: string): AuditRecord[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{') && l.endsWith('}'))
    .map((l) => JSON.parse(l) as AuditRecord);
}

/** Intent records, each with the operations it announces (its entries, or itself). */
function intentsOf(recs: AuditRecord[], match: (operation: string, object: string | null, statement: string | null) => boolean): number {
  let n = 0;
  for (const r of recs) {
    if (r.phase !== 'intent') continue;
    if (Array.isArray(r.entries) && r.entries.length > 0) {
      for (const e of r.entries) if (match(e.operation, e.object, e.statement)) n++;
    } else if (match(r.operation, r.object, r.statement)) n++;
  }
  return n;
}

function configYaml(dir: string, ports: { admin: number; pg: number; redis: number }, auditPath: string): string {
  const file = path.join(dir, 'dgf.yaml');
  writeFileSync(
    file,
    [
      `admin: { listen: "127.0.0.1:${ports.admin}" }`,
      'policies: { hashKey: "write-ahead-hash-key-0123456789", watch: false }',
      `audit: { failMode: closed, durability: write, chainKey: "${CHAIN_KEY}", sinks: [{ type: file, path: "${auditPath}" }] }`,
      'roles: [{ match: { user: admin }, role: admin }]',
      'listeners:',
      `  - { name: pg, protocol: postgres, listen: "127.0.0.1:${ports.pg}", pool: transaction, upstream: { url: "${DIRECT_URL}", maxConnections: 2 }, users: [{ name: admin, password: adminpw }], options: { storagePollMs: 0 } }`,
      `  - { name: cache, protocol: redis, listen: "127.0.0.1:${ports.redis}", upstream: { url: "redis://127.0.0.1:${REDIS_PORT}" }, users: [{ name: admin, password: adminpw }], quota: { preset: redis-cloud-free, limits: { memoryBytes: 1073741824 } } }`,
      '',
    ].join('\n'),
  );
  return file;
}

async function startCli(config: string, pgPort: number, redisPort: number): Promise<{ child: ReturnType<typeof spawnDgf>; stderr: () => string }> {
  const child = spawnDgf(['start', '--config', config]);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  await waitPort(pgPort, true, 30_000);
  await waitPort(redisPort, true, 30_000);
  return { child, stderr: () => stderr };
}

describe('write-ahead audit: dgf killed with SIGKILL under load', () => {
  let dir: string;
  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'dgf-wa-'));
    const d = await direct();
    await d.query(`drop table if exists ${TABLE}; create table ${TABLE} (id bigint primary key, worker int not null)`);
    await d.end();
  });
  after(async () => {
    await dropTableAndKeys(TABLE, NS);
    rmSync(dir, { recursive: true, force: true });
  });

  test('every row and key has its intent record, every acknowledged write too; the chain verifies and continues after restart', async () => {
    const ports = { admin: await freePort(), pg: await freePort(), redis: await freePort() };
    const audit = path.join(dir, 'audit.jsonl');
    const config = configYaml(dir, ports, audit);
    const { child, stderr } = await startCli(config, ports.pg, ports.redis);

    const ackedRows: number[] = [];
    const ackedKeys: string[] = [];
    let stop = false;
    const pgWorker = async (w: number): Promise<void> => {
      const c = new pg.Client({ host: '127.0.0.1', port: ports.pg, user: 'admin', password: 'adminpw', database: 'postgres' });
      c.on('error', () => undefined);
      await c.connect();
      for (let i = 0; !stop; i++) {
        const id = w * 1_000_000 + i;
        try {
          await c.query(INSERT, [id, w]);
          ackedRows.push(id);
        } catch {
          return;
        }
      }
      await c.end().catch(() => undefined);
    };
    const redisWorker = async (w: number): Promise<void> => {
      const r = new Redis({ port: ports.redis, host: '127.0.0.1', username: 'admin', password: 'adminpw', maxRetriesPerRequest: 0, retryStrategy: () => null, lazyConnect: true });
      r.on('error', () => undefined);
      await r.connect();
      for (let i = 0; !stop; i++) {
        const key = `${NS}:${w}:${i}`;
        try {
          // A pipeline of 4 as well as single commands: both go under intent records.
          if (i % 2 === 0) {
            await r.set(key, '1');
            ackedKeys.push(key);
          } else {
            const keys = [key, `${key}:a`, `${key}:b`, `${key}:c`];
            const res = await keys.reduce((p, k) => p.set(k, '1'), r.pipeline()).exec();
            if (!res || res.some(([e]) => e)) return;
            ackedKeys.push(...keys);
          }
        } catch {
          return;
        }
      }
      r.disconnect();
    };
    const workers = [0, 1, 2, 3].map(pgWorker).concat([10, 11, 12, 13].map(redisWorker));
    await new Promise((r) => setTimeout(r, 2500));
    assert.ok(ackedRows.length > 50 && ackedKeys.length > 50, `load ran (${ackedRows.length} rows, ${ackedKeys.length} keys); ${stderr()}`);
    child.kill('SIGKILL');
    await once(child, 'exit');
    stop = true;
    await Promise.all(workers);

    const recs = records(audit);
    const d = await direct();
    const rows = (await d.query(`select id from ${TABLE}`)).rows.map((r: { id: string }) => Number(r.id));
    await d.end();
    const up = new Redis({ port: REDIS_PORT, host: '127.0.0.1' });
    const keys = await up.keys(`${NS}:*`);
    up.disconnect();

    const insertIntents = intentsOf(recs, (op, obj, st) => op === 'insert' && obj === `public.${TABLE}` && (st === null || st.startsWith(`insert into ${TABLE}`)));
    const setIntents = intentsOf(recs, (op, obj) => op === 'set' && obj !== null && obj.startsWith(`${NS}:`));
    // Every row in the database has its intent (by statement shape), and every acknowledged insert is a row.
    assert.ok(rows.length >= ackedRows.length, 'no acknowledged insert lost');
    const rowSet = new Set(rows);
    for (const id of ackedRows) assert.ok(rowSet.has(id), `acknowledged row ${id} missing`);
    assert.ok(insertIntents >= rows.length, `${rows.length} rows but only ${insertIntents} insert intent records`);
    const keySet = new Set(keys);
    for (const k of ackedKeys) assert.ok(keySet.has(k), `acknowledged key ${k} missing`);
    assert.ok(setIntents >= keys.length, `${keys.length} keys but only ${setIntents} SET intents`);

    const v1 = await verifyAuditFiles([audit], CHAIN_KEY);
    assert.equal(v1.ok, true, JSON.stringify(v1.problem));
    const lastSeq = v1.lastSeq!;

    // Restarted on the same file: the chain continues after the last intact record.
    const again = await startCli(config, ports.pg, ports.redis);
    try {
      const c = new pg.Client({ host: '127.0.0.1', port: ports.pg, user: 'admin', password: 'adminpw', database: 'postgres' });
      await c.connect();
      await c.query(INSERT, [99_000_000, 99]);
      await c.end();
    } finally {
      again.child.kill('SIGTERM');
      await once(again.child, 'exit');
    }
    const v2 = await verifyAuditFiles([audit], CHAIN_KEY);
    assert.equal(v2.ok, true, JSON.stringify(v2.problem));
    assert.ok(v2.lastSeq! >= lastSeq + 2, 'the restarted dgf appended the intent and the outcome after the old head');
    const after = records(audit).filter((r) => r.seq > lastSeq);
    assert.equal(after[0]!.seq, lastSeq + 1);
    const intent = after.find((r) => r.phase === 'intent' && r.operation === 'insert');
    assert.ok(intent, 'intent of the statement after restart');
    assert.ok(after.some((r) => r.phase === 'outcome' && r.intent === intent.seq && r.rows === 1), 'its outcome names it');
  });
});

describe('write-ahead audit: the audit file on a full device', () => {
  test('PostgreSQL: the statement is refused with SQLSTATE 58000 and nothing reaches the database', async () => {
    const d = await direct();
    await d.query(`drop table if exists ${TABLE}_full; create table ${TABLE}_full (id int primary key)`);
    const { dgf, port } = await startPgDgf({}, { audit: { failMode: 'closed', sinks: [{ type: 'file', path: '/dev/full' }] } });
    try {
      for (const simple of [true, false]) {
        const c = new pg.Client({ host: '127.0.0.1', port, user: 'admin', password: 'adminpw', database: 'postgres' });
        c.on('error', () => undefined);
        await c.connect();
        const q = simple ? c.query(`insert into ${TABLE}_full values (1)`) : c.query(`insert into ${TABLE}_full values ($1)`, [2]);
        await assert.rejects(q, (e: Error & { code?: string }) => e.code === '58000' && /audit record of this statement could not be kept/.test(e.message));
        await c.end().catch(() => undefined);
      }
      assert.equal((await d.query(`select count(*)::int as n from ${TABLE}_full`)).rows[0].n, 0, 'nothing reached PostgreSQL');
      // dgf keeps serving: the next client gets the same clear error, not a hang.
      const c = new pg.Client({ host: '127.0.0.1', port, user: 'admin', password: 'adminpw', database: 'postgres' });
      c.on('error', () => undefined);
      await c.connect();
      await assert.rejects(c.query('select 1'), /could not be kept/);
      await c.end().catch(() => undefined);
    } finally {
      await dgf.stop();
      await d.query(`drop table if exists ${TABLE}_full`);
      await d.end();
    }
  });

  test('Redis: commands are refused with an error reply and nothing reaches Redis', async () => {
    const { dgf, port } = await startRedisDgf({}, { audit: { failMode: 'closed', sinks: [{ type: 'file', path: '/dev/full' }] } });
    const up = new Redis({ port: REDIS_PORT, host: '127.0.0.1' });
    const c = new Redis({ port, host: '127.0.0.1', username: 'service', password: PASSWORD, maxRetriesPerRequest: 0, enableReadyCheck: false });
    c.on('error', () => undefined);
    try {
      await assert.rejects(c.set(`${NS}:full`, 'v'), /audit record could not be kept, the command was not run/);
      const res = await c.pipeline().set(`${NS}:full:1`, 'v').incr(`${NS}:full:2`).exec();
      for (const [err] of res ?? []) assert.match(String(err), /audit record could not be kept/);
      assert.equal(await up.exists(`${NS}:full`, `${NS}:full:1`, `${NS}:full:2`), 0, 'nothing reached Redis');
    } finally {
      c.disconnect();
      up.disconnect();
      await dgf.stop();
    }
  });
});

describe('write-ahead audit: durability fsync', () => {
  test('PostgreSQL and Redis run normally, each operation with an intent kept before it and an outcome naming it', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dgf-wa-fsync-'));
    // Two dgf processes' worth of listeners: two trails (a trail has one writer).
    const auditConfig = (file: string) => ({ audit: { failMode: 'closed', durability: 'fsync', chainKey: CHAIN_KEY, sinks: [{ type: 'file', path: path.join(dir, file) }] } });
    const d = await direct();
    await d.query(`drop table if exists ${TABLE}_fsync; create table ${TABLE}_fsync (id int primary key)`);
    const { dgf, port } = await startPgDgf({}, auditConfig('pg.jsonl'));
    const redis = await startRedisDgf({}, auditConfig('redis.jsonl'));
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'admin', password: 'adminpw', database: 'postgres' });
    const r = new Redis({ port: redis.port, host: '127.0.0.1', username: 'service', password: PASSWORD, maxRetriesPerRequest: 0 });
    try {
      await c.connect();
      await Promise.all(Array.from({ length: 20 }, (_, i) => c.query(`insert into ${TABLE}_fsync values ($1)`, [i])));
      assert.equal((await c.query(`select count(*)::int as n from ${TABLE}_fsync`)).rows[0].n, 20);
      const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => r.set(`${NS}:fsync:${i}`, String(i))));
      assert.deepEqual(new Set(replies), new Set(['OK']));
      assert.equal(await r.get(`${NS}:fsync:7`), '7');
    } finally {
      await c.end().catch(() => undefined);
      r.disconnect();
      await dgf.stop();
      await redis.dgf.stop();
      await d.query(`drop table if exists ${TABLE}_fsync`);
      await d.end();
    }
    for (const file of ['pg.jsonl', 'redis.jsonl']) {
      const v = await verifyAuditFiles([path.join(dir, file)], CHAIN_KEY);
      assert.equal(v.ok, true, JSON.stringify(v.problem));
      assert.equal(v.noOutcome, undefined, `${file}: every intent has its outcome after a clean stop`);
    }
    assert.equal(intentsOf(records(path.join(dir, 'pg.jsonl')), (op, obj) => op === 'insert' && obj === `public.${TABLE}_fsync`), 20);
    assert.equal(intentsOf(records(path.join(dir, 'redis.jsonl')), (op, obj) => op === 'set' && obj !== null && obj.startsWith(`${NS}:fsync:`)), 20);
    rmSync(dir, { recursive: true, force: true });
  });
});
