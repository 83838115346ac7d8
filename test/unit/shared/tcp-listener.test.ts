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

/** A pooled-reads listener that echoes each connection's bytes back once the client half-closes. */
async function pooledEcho(): Promise<{ listener: TcpListener; port: number; chunksSeen: Buffer[] }> {
  const chunksSeen: Buffer[] = [];
  const listener = new TcpListener(
    '127.0.0.1:0',
    (socket, reads) => {
      assert.ok(reads, 'a plain listener with pooledReads hands out an inbox');
      const got: Buffer[] = [];
      reads.deliver = (chunk) => {
        chunksSeen.push(chunk);
        got.push(chunk);
      };
      socket.on('end', () => socket.end(Buffer.concat(got)));
    },
    { pooledReads: true },
  );
  const { port } = await listener.start();
  return { listener, port, chunksSeen };
}

async function roundTrip(port: number, payload: Buffer, pieces: number): Promise<Buffer> {
  const client = net.connect(port, '127.0.0.1');
  await once(client, 'connect');
  const back: Buffer[] = [];
  client.on('data', (d: Buffer) => back.push(d));
  const step = Math.ceil(payload.length / pieces);
  for (let i = 0; i < payload.length; i += step) {
    client.write(payload.subarray(i, i + step));
    await new Promise((r) => setImmediate(r));
  }
  client.end();
  await once(client, 'close');
  return Buffer.concat(back);
}

test('pooled reads: many clients share one read buffer and every chunk keeps its own bytes', async () => {
  const { listener, port, chunksSeen } = await pooledEcho();
  try {
    // Sizes around the shared slab's boundaries and the own-buffer threshold (16 KiB) and beyond the read buffer.
    const payloads = [1, 7, 100, 4095, 16 * 1024, 70_000, 300_000].flatMap((n, k) =>
      [0, 1, 2].map((j) => Buffer.from(Uint8Array.from({ length: n }, (_, i) => (i * 31 + k * 7 + j) & 0xff))),
    );
    const echoed = await Promise.all(payloads.map((p, i) => roundTrip(port, p, 1 + (i % 5))));
    // Each echo is the client's chunks joined after its last read: chunks handed out earlier were not overwritten
    // by later reads of other sockets.
    echoed.forEach((e, i) => assert.ok(e.equals(payloads[i]!), `client ${i} (${payloads[i]!.length} bytes) got its own bytes back`));
    // Every byte was delivered exactly once.
    const total = chunksSeen.reduce((n, c) => n + c.length, 0);
    assert.equal(total, payloads.reduce((n, p) => n + p.length, 0));
  } finally {
    await listener.close(100);
  }
  assert.equal(listener.connectionCount, 0);
});

test('pooled reads: pause stops delivery until resume; close and server shutdown work as with data events', async () => {
  let serverSocket: net.Socket | null = null;
  const delivered: Buffer[] = [];
  const listener = new TcpListener(
    '127.0.0.1:0',
    (socket, reads) => {
      serverSocket = socket;
      reads!.deliver = (chunk) => delivered.push(chunk);
      socket.pause();
    },
    { pooledReads: true },
  );
  const { port } = await listener.start();
  const client = net.connect(port, '127.0.0.1');
  await once(client, 'connect');
  client.write('held back');
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(delivered.length, 0, 'nothing is read while the socket is paused');
  assert.ok(serverSocket);
  const s = serverSocket as net.Socket;
  assert.ok(s.remoteAddress, 'the taken-over socket knows its peer');
  s.resume();
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(Buffer.concat(delivered).toString(), 'held back');
  const closed = once(s, 'close');
  client.end();
  await closed;
  assert.equal(listener.connectionCount, 0);
  // The server's own connection count went down with the new socket: close() resolves.
  await listener.close(0);
});

test('pooled reads: a handler that never sets deliver gets its connection closed', async () => {
  const listener = new TcpListener('127.0.0.1:0', () => undefined, { pooledReads: true });
  const { port } = await listener.start();
  try {
    const client = net.connect(port, '127.0.0.1');
    client.on('error', () => undefined);
    await once(client, 'close');
  } finally {
    await listener.close(0);
  }
});
