/**
 * The quick-start demo: PGlite seeded in-process and served on loopback, dgf in front of it with the demo's
 * config (ports set free for the test), and the README walkthrough: psql as analyst (masked), as dpo (clear), a
 * denied DROP TABLE.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import path from 'node:path';
import pg from 'pg';
import { startDgf, type TestDgf } from '../../helpers/dgf.js';
import { configFromObject } from '../../../src/config/load.js';
import { DEMO_ROWS, demoConfig, startDemoUpstream, type DemoUpstream } from '../../../src/demo/index.js';

const run = promisify(execFile);

describe('demo: PGlite behind dgf', () => {
  let upstream: DemoUpstream;
  let dgf: TestDgf;
  let port: number;

  before(async () => {
    upstream = await startDemoUpstream();
    const raw = demoConfig(upstream.url, '/tmp/unused') as { listeners: Array<Record<string, unknown>>; roles: unknown; policies: unknown };
    dgf = await startDgf({ roles: raw.roles, policies: raw.policies, listeners: raw.listeners.map((l) => ({ ...l, listen: '127.0.0.1:0' })) });
    port = dgf.listener('demo-pg').address.port;
  });

  after(async () => {
    await dgf?.stop();
    await upstream?.stop();
  });

  test('the demo config is a valid dgf config with the documented settings', () => {
    const config = configFromObject(demoConfig(upstream.url, '/srv/audit'), process.cwd());
    assert.equal(config.admin.listen, '127.0.0.1:8080');
    const l = config.listeners[0]!;
    assert.equal(l.protocol, 'postgres');
    assert.equal(l.listen, '127.0.0.1:6432');
    assert.equal(l.upstream.maxConnections, 1);
    assert.equal(l.pool, 'transaction');
    assert.deepEqual(l.users.map((u) => u.name), ['analyst', 'dpo', 'admin']);
    assert.equal(config.audit.failMode, 'closed');
    assert.equal(config.audit.sinks[0]!.path, path.join('/srv/audit', 'demo-audit.jsonl'));
    assert.deepEqual(config.roles.map((r) => [r.match.user, r.role]), [['analyst', 'analyst'], ['dpo', 'dpo'], ['admin', 'admin']]);
  });

  test('the seeded data is there (directly on PGlite)', async () => {
    const c = new pg.Client({ connectionString: upstream.url });
    await c.connect();
    try {
      const r = await c.query('select (select count(*)::int from customers) as c, (select count(*)::int from orders) as o, (select count(*)::int from patients) as p');
      assert.deepEqual(r.rows[0], { c: DEMO_ROWS.customers, o: DEMO_ROWS.orders, p: DEMO_ROWS.patients });
    } finally {
      await c.end();
    }
  });

  async function psql(user: string, sql: string): Promise<string> {
    const { stdout } = await run('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', user, '-d', 'postgres', '-X', '-A', '-t', '-F', '|', '-c', sql], {
      env: { ...process.env, PGPASSWORD: user, PGSSLMODE: 'disable' },
    });
    return stdout.trim();
  }

  test('psql as analyst: masked; as dpo: clear', async () => {
    const sql = 'select full_name, email, ssn, card_number, date_of_birth from customers order by id limit 3';
    const analyst = (await psql('analyst', sql)).split('\n').map((l) => l.split('|'));
    const dpo = (await psql('dpo', sql)).split('\n').map((l) => l.split('|'));
    assert.equal(analyst.length, 3);
    for (let i = 0; i < 3; i++) {
      const [name, email, ssn, card, dob] = analyst[i]!;
      assert.match(name!, /^[A-Z]\*+ \*+/);
      assert.match(email!, /^[a-z]\*\*\*@/);
      assert.match(ssn!, /^\*\*\*-\*\*-\d{4}$/);
      assert.match(card!, /^\*+\d{4}$/);
      assert.match(dob!, /^\d{4}-01-01$/);
      const [dName, dEmail, dSsn] = dpo[i]!;
      assert.doesNotMatch(dName!, /\*/);
      assert.match(dEmail!, /^[a-z.]+\d+@[a-z.]+$/);
      assert.match(dSsn!, /^\d{3}-\d{2}-\d{4}$/);
      assert.equal(dSsn!.slice(-4), ssn!.slice(-4));
    }
  });

  test('the bypasses of issue #15 on the demo: computed values masked whole, errors scrubbed, untraceable refused', async () => {
    const clear = (await psql('admin', "select full_name, replace(ssn, '-', ''), email from customers order by id limit 5")).split('\n').map((l) => l.split('|'));
    const derived = (await psql('analyst', "select full_name || '' n, replace(ssn, '-', '') s, ssn::bytea b from customers order by id limit 5")).split('\n');
    assert.equal(derived.length, 5);
    for (const line of derived) assert.equal(line, '[REDACTED]|[REDACTED]|');
    const diagnoses = await psql('analyst', "select diagnosis || '' from patients limit 5");
    for (const line of diagnoses.split('\n')) assert.equal(line, '[REDACTED]');
    await assert.rejects(psql('analyst', 'select email::int from customers'), (err: Error & { stderr?: string }) => {
      const stderr = String(err.stderr);
      for (const [, , email] of clear) assert.ok(!stderr.includes(email!), 'the error echoes no e-mail');
      return /invalid input syntax for type integer: "\[REDACTED\]"/.test(stderr);
    });
    await assert.rejects(psql('analyst', "select query_to_xml('select email from customers', true, true, '')"), (err: Error & { stderr?: string }) =>
      /dgf cannot trace output column 1 of this statement/.test(String(err.stderr)),
    );
  });

  test('DROP TABLE as analyst is denied with 42501 and the table stays', async () => {
    await assert.rejects(psql('analyst', 'drop table customers'), (err: Error & { stderr?: string }) => /destructive statements are not allowed/.test(String(err.stderr)));
    assert.equal(await psql('admin', 'select count(*) from customers'), String(DEMO_ROWS.customers));
  });

  test('several clients share the one PGlite session through the pool', async () => {
    const clients = await Promise.all(
      ['analyst', 'dpo', 'analyst', 'admin'].map(async (user) => {
        const c = new pg.Client({ host: '127.0.0.1', port, user, password: user, database: 'postgres' });
        await c.connect();
        return c;
      }),
    );
    try {
      const results = await Promise.all(clients.map((c, i) => c.query('select count(*)::int as n from orders where customer_id <= $1', [50 * (i + 1)])));
      for (const r of results) assert.ok(r.rows[0].n > 0);
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  });
});
