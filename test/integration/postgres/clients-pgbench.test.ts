/** pgbench through dgf in transaction pooling (maxConnections 2): -S, the TPC-B-like script, and -M prepared. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { TestDgf } from '../../helpers/dgf.js';
import { PG_PORT, direct, startPgDgf } from '../../fixtures/postgres/setup.js';

const run = promisify(execFile);
const DB = 'dgf_wire_pgbench';

describe('pgbench through dgf', () => {
  let dgf: TestDgf;
  let port: number;

  before(async () => {
    const d = await direct();
    await d.query(`drop database if exists ${DB}`);
    await d.query(`create database ${DB}`);
    await d.end();
    await run('pgbench', ['-i', '-s', '1', '-q', '-h', '127.0.0.1', '-p', String(PG_PORT), '-U', 'postgres', DB]);
    ({ dgf, port } = await startPgDgf({ maxConnections: 2 }));
  });

  after(async () => {
    await dgf.stop();
    const d = await direct();
    await d.query(`drop database if exists ${DB} with (force)`);
    await d.end();
  });

  const pgbench = async (...args: string[]): Promise<{ processed: number; failed: number }> => {
    const { stdout } = await run('pgbench', ['-h', '127.0.0.1', '-p', String(port), '-U', 'admin', '-n', ...args, DB], {
      env: { ...process.env, PGPASSWORD: 'adminpw', PGSSLMODE: 'disable' },
      timeout: 60_000,
    });
    const processed = Number(/number of transactions actually processed: (\d+)/.exec(stdout)?.[1]);
    const failed = Number(/number of failed transactions: (\d+)/.exec(stdout)?.[1] ?? 0);
    return { processed, failed };
  };

  test('-S (select only), 6 clients', async () => {
    const r = await pgbench('-S', '-c', '6', '-j', '2', '-t', '100');
    assert.deepEqual(r, { processed: 600, failed: 0 });
  });

  test('TPC-B-like, 4 clients: every transaction commits and the balances add up', async () => {
    const r = await pgbench('-c', '4', '-j', '2', '-t', '40');
    assert.deepEqual(r, { processed: 160, failed: 0 });
    const d = await direct(DB);
    const sums = await d.query('select (select sum(abalance) from pgbench_accounts) as a, (select sum(bbalance) from pgbench_branches) as b, (select sum(delta) from pgbench_history) as h');
    await d.end();
    assert.equal(sums.rows[0].a, sums.rows[0].b);
    assert.equal(sums.rows[0].a, sums.rows[0].h);
  });

  test('-M prepared (named statements re-prepared on whichever connection runs them), 5 clients', async () => {
    const r = await pgbench('-M', 'prepared', '-c', '5', '-j', '1', '-t', '40');
    assert.deepEqual(r, { processed: 200, failed: 0 });
    const s = await pgbench('-M', 'prepared', '-S', '-c', '5', '-j', '1', '-t', '100');
    assert.deepEqual(s, { processed: 500, failed: 0 });
    const e = await pgbench('-M', 'extended', '-c', '3', '-j', '1', '-t', '30');
    assert.deepEqual(e, { processed: 90, failed: 0 });
  });
});
