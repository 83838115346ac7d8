/** The admin API as `dgf start` wires it (test harness: real config loader, policy packs, audit file, quotas). */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startDgf, type TestDgf } from '../../helpers/dgf.js';
import { parseListen } from '../../../src/admin/server.js';

describe('admin API under dgf start', () => {
  let dgf: TestDgf;
  before(async () => {
    dgf = await startDgf({ listeners: [], admin: { listen: '127.0.0.1:0', token: 'wiring-token' } });
  });
  after(async () => {
    await dgf?.stop();
  });

  test('zero listeners: healthy, ready, and the API behind the configured token', async () => {
    const health = (await (await fetch(dgf.adminUrl + '/health')).json()) as { status: string; listeners: unknown[] };
    assert.deepEqual([health.status, health.listeners], ['healthy', []]);
    assert.equal((await fetch(dgf.adminUrl + '/ready')).status, 200);
    assert.equal((await fetch(dgf.adminUrl + '/api/v1/monitoring/usage')).status, 401);
    const usage = await fetch(dgf.adminUrl + '/api/v1/monitoring/usage', { headers: { authorization: 'Bearer wiring-token' } });
    assert.equal(usage.status, 200);
    assert.deepEqual(((await usage.json()) as { listeners: unknown[] }).listeners, []);
  });

  test('the report reads the configured audit file', async () => {
    const r = await fetch(dgf.adminUrl + '/api/v1/governance/compliance/report?framework=iso27001', { headers: { authorization: 'Bearer wiring-token' } });
    assert.equal(r.status, 200);
    const body = (await r.json()) as { framework: string; source: { files: string[] } };
    assert.equal(body.framework, 'iso27001');
    assert.ok(body.source.files.every((f) => f.startsWith(dgf.dir)));
  });

  test('policies come from the shipped packs', async () => {
    const r = await fetch(dgf.adminUrl + '/api/v1/governance/policies?framework=sox', { headers: { authorization: 'Bearer wiring-token' } });
    const ids = ((await r.json()) as { policies: Array<{ id: string }> }).policies.map((p) => p.id).sort();
    assert.deepEqual(ids, ['SOX-001', 'SOX-002']);
  });
});

describe('parseListen', () => {
  test('host:port, IPv6 and bare :port', () => {
    assert.deepEqual(parseListen('127.0.0.1:8080'), { host: '127.0.0.1', port: 8080 });
    assert.deepEqual(parseListen('[::1]:0'), { host: '::1', port: 0 });
    assert.deepEqual(parseListen(':9000'), { host: '127.0.0.1', port: 9000 });
    assert.deepEqual(parseListen('localhost:1'), { host: 'localhost', port: 1 });
  });

  test('rejects what is not host:port', () => {
    for (const bad of ['8080', 'host:', 'host:99999', '::1:80', '']) assert.throws(() => parseListen(bad), /admin\.listen must be host:port/, bad);
  });
});
