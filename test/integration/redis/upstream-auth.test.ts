import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { client, startRedisDgf, upstreamConnections, direct } from './helpers.js';

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

describe('dgf authenticates upstream with its own credentials', () => {
  let dir: string;
  let tlsRedis: ChildProcess;
  let tlsPort: number;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'dgf-redis-tls-'));
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'),
      '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    ], { stdio: 'ignore' });
    tlsPort = await freePort();
    tlsRedis = spawn('redis-server', [
      '--port', '0', '--tls-port', String(tlsPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
      '--tls-cert-file', path.join(dir, 'cert.pem'), '--tls-key-file', path.join(dir, 'key.pem'),
      '--tls-ca-cert-file', path.join(dir, 'cert.pem'), '--tls-auth-clients', 'no', '--requirepass', 'tls-secret', '--dir', dir,
    ], { stdio: 'ignore' });
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      const ok = await new Promise<boolean>((r) => {
        const s = net.connect(tlsPort, '127.0.0.1', () => (s.destroy(), r(true)));
        s.on('error', () => r(false));
      });
      if (ok) break;
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  after(() => {
    tlsRedis.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  test('rediss:// with a password, the certificate verified against upstream.ca', async () => {
    const { dgf, port } = await startRedisDgf({
      upstream: { url: `rediss://default:tls-secret@localhost:${tlsPort}`, ca: path.join(dir, 'cert.pem') },
    });
    const r = client(port, 'analyst');
    try {
      assert.equal(await r.set('tls:user:1:email', 'olga@example.com'), 'OK');
      assert.equal(await r.get('tls:user:1:email'), 'o***@example.com');
      assert.deepEqual(await dgf.listener('cache').checkUpstream(), { name: `localhost:${tlsPort}`, status: 'up' });
    } finally {
      r.disconnect();
      await dgf.stop();
    }
  });

  test('an upstream certificate that is not trusted is refused', async () => {
    const { dgf, port } = await startRedisDgf({ upstream: { url: `rediss://default:tls-secret@localhost:${tlsPort}` } });
    const r = client(port, 'analyst');
    try {
      await assert.rejects(r.get('x'), /ERR dgf: upstream/);
      assert.equal((await dgf.listener('cache').checkUpstream()).status, 'down');
    } finally {
      r.disconnect();
      await dgf.stop();
    }
  });

  test('an ACL user and password from redis:// (the client never sees them)', async () => {
    const { dgf, port } = await startRedisDgf({ name: 'acl', upstream: { url: 'redis://dgf:dgfpass@127.0.0.1:56379' } });
    const r = client(port, 'service');
    const up = direct();
    try {
      assert.equal(await r.ping(), 'PONG');
      const list = (await up.call('CLIENT', 'LIST')) as string;
      assert.ok(list.split('\n').some((l) => l.includes('name=dgf-acl') && l.includes('user=dgf')), 'upstream sees dgf logged in as the ACL user');
      assert.ok((await upstreamConnections(up, 'acl')) >= 1);
    } finally {
      r.disconnect();
      up.disconnect();
      await dgf.stop();
    }
  });
});
