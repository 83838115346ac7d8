import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';
import { TcpListener, parseHostPort } from '../../../protocols/shared/tcp-listener.js';

test('parseHostPort splits IPv4, IPv6 and empty hosts', () => {
  assert.deepEqual(parseHostPort('127.0.0.1:6432'), { host: '127.0.0.1', port: 6432 });
  assert.deepEqual(parseHostPort('[::1]:6380'), { host: '::1', port: 6380 });
  assert.deepEqual(parseHostPort(':8080'), { host: '127.0.0.1', port: 8080 });
  assert.throws(() => parseHostPort('localhost'), /not host:port/);
});

test('a TLS listener completes handshakes with its certificate (regression: secureContext was ignored)', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'dgf-tls-'));
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', key, '-out', cert], { stdio: 'ignore' });
  const listener = new TcpListener('127.0.0.1:0', (socket) => socket.end('hello over tls'), { tls: { cert, key } });
  const { port } = await listener.start();
  try {
    const client = tls.connect({ host: '127.0.0.1', port, ca: execFileSync('cat', [cert]), servername: 'localhost' });
    let text = '';
    client.on('data', (d: Buffer) => (text += d.toString()));
    await once(client, 'end');
    assert.equal(text, 'hello over tls');
    assert.equal(client.authorized, true);
  } finally {
    await listener.close(0);
  }
});

test('close drains: idle sockets are destroyed after the drain window, the port is released', async () => {
  const listener = new TcpListener('127.0.0.1:0', () => undefined);
  const { port } = await listener.start();
  const client = net.connect(port, '127.0.0.1');
  await once(client, 'connect');
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(listener.connectionCount, 1);
  const closed = once(client, 'close');
  await listener.close(50);
  await closed;
  assert.equal(listener.connectionCount, 0);
  await assert.rejects(once(net.connect(port, '127.0.0.1'), 'connect'), /ECONNREFUSED/);
});
