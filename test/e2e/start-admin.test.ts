import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { once } from 'node:events';
import { spawnDgf } from './cli.js';

async function freePort(): Promise<number> {
  const srv = net.createServer().listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as net.AddressInfo).port;
  srv.close();
  return port;
}

async function waitFor(url: string, timeoutMs = 30_000): Promise<Response> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      return await fetch(url);
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${url} never answered: ${String(last)}`);
}

/** A config with the admin API on a free port (`adminExtra` added to its map), a file audit sink and no listeners. */
async function adminOnlyConfig(adminExtra = ''): Promise<{ file: string; port: number }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'dgf-start-'));
  const port = await freePort();
  const file = path.join(dir, 'dgf.yaml');
  writeFileSync(
    file,
    [
      `admin: { listen: "127.0.0.1:${port}"${adminExtra} }`,
      'policies: { hashKey: "e2e-hash-key-0123456789" }',
      'audit: { sinks: [{ type: file, path: ./audit.jsonl }] }',
      'listeners: []',
      '',
    ].join('\n'),
  );
  return { file, port };
}

test('dgf start with zero listeners runs the admin API alone and exits 0 on SIGTERM', async () => {
  const { file, port } = await adminOnlyConfig(', token: "${T_ADMIN_TOKEN}"');
  const child = spawnDgf(['start', '--config', file], { env: { T_ADMIN_TOKEN: 'tok-123' } });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  try {
    const health = await waitFor(`http://127.0.0.1:${port}/health`);
    assert.equal(health.status, 200, stderr);
    const body = (await health.json()) as { status: string; listeners: unknown[] };
    assert.equal(body.status, 'healthy');
    assert.deepEqual(body.listeners, []);
    assert.equal((await fetch(`http://127.0.0.1:${port}/ready`)).status, 200);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.match(metrics, /dgf_audit_queue_depth/);
    assert.match(metrics, /dgf_process_cpu_seconds_total|process_cpu/);
    assert.equal((await fetch(`http://127.0.0.1:${port}/api/v1/governance/policies`)).status, 401);
    const policies = await fetch(`http://127.0.0.1:${port}/api/v1/governance/policies?framework=sox`, { headers: { authorization: 'Bearer tok-123' } });
    assert.equal(policies.status, 200);
    const list = (await policies.json()) as { policies: Array<{ id: string }>; total_count: number };
    assert.ok(list.policies.some((p) => p.id === 'SOX-001'));
    assert.equal(list.total_count, list.policies.length);
  } finally {
    child.kill('SIGTERM');
  }
  const [code] = (await once(child, 'exit')) as [number | null];
  assert.equal(code, 0, stderr);
});

test('dgf start whose log pipe was closed (a log collector gone) still stops on SIGTERM, promptly and with 0', async () => {
  const { file, port } = await adminOnlyConfig();
  // Info level: the stop itself logs, into the closed pipe.
  const child = spawnDgf(['start', '--config', file], { env: { DGF_LOG_LEVEL: 'info' } });
  assert.equal((await waitFor(`http://127.0.0.1:${port}/health`)).status, 200);
  child.stderr!.destroy();
  child.stdout!.destroy();
  // The first line written after the reader went away is the stop's own, flushed as the process exits.
  const started = Date.now();
  child.kill('SIGTERM');
  const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
  const timer = new Promise<'hung'>((r) => setTimeout(() => r('hung'), 8_000));
  const result = await Promise.race([exited, timer]);
  if (result === 'hung') child.kill('SIGKILL');
  assert.notEqual(result, 'hung', 'dgf did not exit within 8 s of SIGTERM');
  const [code] = result as [number | null, string | null];
  assert.equal(code, 0);
  assert.ok(Date.now() - started < 8_000);
});
