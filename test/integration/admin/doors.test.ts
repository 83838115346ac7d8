/**
 * Doors of the admin API and the config (issue #18 item 4, first part): a foreign Host (DNS rebinding) is answered
 * 421; without the admin token, /api/v1/classify computes no hash/tokenize/fake outputs (a dictionary oracle);
 * the config refuses an admin API off loopback without a token and a password listener without users.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAuditLog } from '../../../src/audit/log.js';
import type { AuditLog } from '../../../src/audit/types.js';
import { Inventory } from '../../../src/governance/inventory.js';
import { silentLogger } from '../../../src/logger.js';
import { PolicyStore } from '../../../src/policy/index.js';
import { startAdminServer, type AdminServer } from '../../../src/admin/server.js';
import { configFromObject } from '../../../src/config/load.js';

/** A raw request with the Host header chosen by the test (fetch does not let a page set it; a rebinding does). */
function get(port: number, path: string, host: string, method = 'GET', body?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers: { host, ...(body ? { 'content-type': 'application/json' } : {}) } }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (data += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('admin API doors', () => {
  let dir: string;
  let audit: AuditLog;
  let open: AdminServer;
  let guarded: AdminServer;

  before(async () => {
    const store = await PolicyStore.load({ hashKey: 'doors-test-key-0123456789' });
    dir = await mkdtemp(join(tmpdir(), 'dgf-doors-'));
    audit = await createAuditLog({ failMode: 'open', sinks: [{ type: 'file', path: join(dir, 'a.jsonl') }] }, { chainKey: 'k' });
    const state = {
      policies: { current: () => store.current(), reload: async () => ({ ok: true as const, version: 1 }) },
      audit,
      auditFiles: () => [],
      listeners: () => [],
      quotas: () => [],
      inventory: new Inventory(),
      ready: () => true,
    };
    open = await startAdminServer(state, { listen: '127.0.0.1:0', hosts: ['dgf.internal'] }, silentLogger);
    guarded = await startAdminServer(state, { listen: '127.0.0.1:0', token: 'tok-123' }, silentLogger);
  });

  after(async () => {
    await open?.close();
    await guarded?.close();
    await audit?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('DNS rebinding: a foreign host name is answered 421 on every route; IP literals, localhost and listed names pass', async () => {
    const port = open.address.port;
    for (const path of ['/api/v1/audit', '/health', '/metrics', '/']) {
      const r = await get(port, path, `evil.example:${port}`);
      assert.equal(r.status, 421, path);
      assert.match(r.body, /MISDIRECTED_REQUEST/);
    }
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, 'LOCALHOST', `[::1]:${port}`, '10.1.2.3:8080', 'dgf.internal', 'DGF.internal.']) {
      assert.equal((await get(port, '/health', host)).status, 200, host);
    }
  });

  test('without the admin token, classify withholds hash/tokenize/fake outputs; with it, they are computed', async () => {
    const body = JSON.stringify({ role: 'analyst', fields: { patient_id: 'P-000123', email: 'alice@example.com' } });
    const r = await get(open.address.port, '/api/v1/classify', '127.0.0.1', 'POST', body);
    assert.equal(r.status, 200);
    const results = (JSON.parse(r.body) as { results: Array<{ name: string; masked: unknown; withheld?: string }> }).results;
    const patient = results.find((x) => x.name === 'patient_id')!;
    assert.equal(patient.masked, null);
    assert.match(patient.withheld!, /tokenize outputs are computed for the admin token only/);
    assert.equal(results.find((x) => x.name === 'email')!.masked, 'a***@example.com', 'format masks are not an oracle');
    const withToken = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        { host: '127.0.0.1', port: guarded.address.port, path: '/api/v1/classify', method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer tok-123' } },
        (res) => {
          let data = '';
          res.on('data', (c: Buffer) => (data += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: data }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    assert.equal(withToken.status, 200);
    const tokenized = (JSON.parse(withToken.body) as { results: Array<{ name: string; masked: unknown }> }).results.find((x) => x.name === 'patient_id')!;
    assert.equal(typeof tokenized.masked, 'string');
    assert.notEqual(tokenized.masked, 'P-000123');
  });
});

describe('config doors', () => {
  const base = { listeners: [{ name: 'r', protocol: 'redis', listen: '127.0.0.1:0', upstream: { url: 'redis://127.0.0.1:56379' } }] };

  test('an admin API off loopback needs a token', () => {
    assert.throws(() => configFromObject({ ...base, admin: { listen: '0.0.0.0:8080' } }, process.cwd()), /admin\.listen 0\.0\.0\.0:8080 is not a loopback address: set admin\.token/);
    assert.throws(() => configFromObject({ ...base, admin: { listen: '0.0.0.0:8080', token: '' } }, process.cwd()), /set admin\.token/);
    assert.doesNotThrow(() => configFromObject({ ...base, admin: { listen: '0.0.0.0:8080', token: 'x' } }, process.cwd()));
    assert.doesNotThrow(() => configFromObject({ ...base, admin: { listen: '127.0.0.1:8080' } }, process.cwd()));
  });

  test('auth: password (or scram, md5) without users is refused: nobody to check clients against', () => {
    for (const auth of ['password', 'scram', 'md5']) {
      const listeners = [{ ...base.listeners[0]!, ...(auth === 'password' ? {} : { protocol: 'postgres', upstream: { url: 'postgres://x@127.0.0.1:1/x' } }), auth }];
      assert.throws(() => configFromObject({ listeners }, process.cwd()), /needs users \(name and password\)/, auth);
    }
  });
});
