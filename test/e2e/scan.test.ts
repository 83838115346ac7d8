import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import { dgf } from './cli.js';

const PG_URL = 'postgres://postgres@127.0.0.1:55432/postgres';
const REDIS_URL = 'redis://127.0.0.1:56379/7';
const MONGO_URL = 'mongodb://127.0.0.1:57017/dgf_scan_e2e';
const schema = `scan_e2e_${process.pid}`;

before(async () => {
  const c = new pg.Client(PG_URL);
  await c.connect();
  await c.query(`create schema ${schema}`);
  await c.query(`create table ${schema}.people (id int primary key, contact text, notes text, dob date)`);
  await c.query(`insert into ${schema}.people values (1, 'ann@example.org', 'paid with 4111 1111 1111 1111', '1980-02-03'), (2, 'bob@example.org', 'nothing here', '1975-06-07')`);
  await c.end();
  const r = new Redis(REDIS_URL);
  await r.flushdb();
  await r.set('user:1:email', 'ann@example.org');
  await r.set('user:2:email', 'bob@example.org');
  await r.hset('patient:9', { diagnosis: 'asthma', note: 'ssn 123-45-6789' });
  r.disconnect();
  const m = new MongoClient(MONGO_URL);
  await m.connect();
  await m.db().collection('users').insertMany([{ name: 'Ann', contact: { email: 'ann@example.org' } }, { name: 'Bob', contact: { email: 'bob@example.org' } }]);
  await m.close();
});

after(async () => {
  const c = new pg.Client(PG_URL);
  await c.connect();
  await c.query(`drop schema ${schema} cascade`);
  await c.end();
  const r = new Redis(REDIS_URL);
  await r.flushdb();
  r.disconnect();
  const m = new MongoClient(MONGO_URL);
  await m.connect();
  await m.db().dropDatabase();
  await m.close();
});

test('dgf scan prints the data inventory of Postgres, Redis and MongoDB upstreams', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dgf-scan-'));
  const file = path.join(dir, 'dgf.yaml');
  writeFileSync(
    file,
    [
      'listeners:',
      `  - { name: pg, protocol: postgres, listen: "127.0.0.1:0", upstream: { url: "${PG_URL}" } }`,
      `  - { name: cache, protocol: redis, listen: "127.0.0.1:0", upstream: { url: "${REDIS_URL}" } }`,
      `  - { name: mongo, protocol: mongodb, listen: "127.0.0.1:0", upstream: { url: "${MONGO_URL}" } }`,
      '',
    ].join('\n'),
  );
  const r = await dgf(['scan', '--config', file, '--sample', '10']);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const out = JSON.parse(r.stdout) as { listeners: Record<string, Array<{ object: string; field: string; labels: string[]; source: string }>> };
  const pgRows = out.listeners.pg!.filter((x) => x.object === `${schema}.people`);
  const row = (f: string) => pgRows.find((x) => x.field === f);
  assert.ok(row('contact')?.labels.includes('pii.email'), JSON.stringify(pgRows));
  assert.equal(row('contact')?.source, 'value');
  assert.ok(row('notes')?.labels.includes('financial.card'));
  assert.ok(row('dob')?.labels.some((l) => l.startsWith('pii.')), JSON.stringify(row('dob')));
  assert.deepEqual(row('id')?.labels, []);

  const redisRows = out.listeners.cache!;
  assert.ok(redisRows.find((x) => x.field === 'user:*:email')?.labels.includes('pii.email'), JSON.stringify(redisRows));
  assert.ok(redisRows.find((x) => x.object === 'patient:*' && x.field === 'diagnosis')?.labels.some((l) => l.startsWith('phi.')));
  assert.ok(redisRows.find((x) => x.object === 'patient:*' && x.field === 'note')?.labels.includes('pii.ssn'));

  const mongoRows = out.listeners.mongo!;
  assert.ok(mongoRows.find((x) => x.object === 'dgf_scan_e2e.users' && x.field === 'contact.email')?.labels.includes('pii.email'), JSON.stringify(mongoRows));
});

test('dgf scan with an unknown listener is a usage error', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dgf-scan-'));
  const file = path.join(dir, 'dgf.yaml');
  writeFileSync(file, 'listeners: []\n');
  const r = await dgf(['scan', '--config', file, '--listener', 'nope']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /no listener named "nope"/);
});
