/**
 * `onUnknownLineage: mask`: an output dgf cannot trace is masked (the derived mask) instead of refused, for every
 * role with a mask; roles without masks still get the clear value. Real PostgreSQL 15, a policy directory of the
 * test's own on top of the shipped packs.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startDgf, type TestDgf } from '../../helpers/dgf.js';
import { ROLES, createSeededDatabase, directClient, dropDatabase, governedListener } from '../../fixtures/postgres-governance/database.js';

const DB = 'dgf_gov_unknown_mask';

describe('onUnknownLineage: mask', () => {
  let dgf: TestDgf;
  let dir: string;
  let port: number;

  before(async () => {
    await createSeededDatabase(DB);
    const direct = directClient(DB);
    await direct.connect();
    await direct.query(`create function secret_name(i int) returns text language plpgsql as $$ begin return (select full_name from customers where id = i); end $$`);
    await direct.end();
    dir = await mkdtemp(path.join(os.tmpdir(), 'dgf-unknown-mask-'));
    await writeFile(path.join(dir, 'lineage.yaml'), 'onUnknownLineage: { default: deny, analyst: mask }\n');
    dgf = await startDgf({ listeners: [governedListener(DB)], roles: ROLES, policies: { dir } });
    port = dgf.listener('pg').address.port;
  });

  after(async () => {
    await dgf?.stop();
    await dropDatabase(DB);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function as(user: string, sql: string): Promise<Array<Record<string, unknown>>> {
    const c = new pg.Client({ host: '127.0.0.1', port, user, password: user, database: DB });
    await c.connect();
    try {
      return (await c.query(sql)).rows;
    } finally {
      await c.end();
    }
  }

  test('analyst: the untraceable column is masked, the traceable ones as usual', async () => {
    const rows = await as('analyst', 'select id, secret_name(id) as n, email from customers order by id limit 3');
    assert.equal(rows.length, 3);
    for (const r of rows) {
      assert.equal(r.n, '[REDACTED]');
      assert.match(String(r.email), /^[a-z]\*\*\*@/);
    }
    const xml = await as('analyst', "select query_to_xml('select full_name from customers', true, true, '') as x");
    assert.equal(xml[0]!.x, '[REDACTED]');
  });

  test('admin (no mask) gets the clear value; dpo (default: deny) is refused', async () => {
    const rows = await as('admin', 'select secret_name(1) as n');
    assert.doesNotMatch(String(rows[0]!.n), /REDACTED|\*/);
    await assert.rejects(as('dpo', 'select secret_name(1) as n'), (err: Error & { code?: string }) => err.code === '42501' && /cannot trace output column 1/.test(err.message));
  });
});
