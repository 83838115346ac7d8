/**
 * Garbage from one client costs that client its request or connection, with a clear HTTP error, and nobody
 * else anything: a non-HTTP byte stream, a 100 MB header, chunked bodies that never end, and an upstream
 * answer that is not JSON where dgf must mask.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { CosmosClient } from '@azure/cosmos';
import { request } from 'undici';
import { startDgf, type TestDgf } from '../../helpers/dgf.js';
import { expectedAuthorization } from './verifying-upstream.js';

const key = (s: string): string => Buffer.from(s.padEnd(32, '#')).toString('base64');
const REAL_KEY = key('the-real-account-key');
const ANALYST = key('analyst-key');

/** Write `head`, then `filler` bytes in 64 KiB pieces until the server answers or closes; returns what came back. */
function flood(port: number, head: string, total: number, pieceFactory: (i: number) => Buffer): Promise<{ reply: string; sent: number }> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let reply = '';
    let sent = 0;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      socket.destroy();
      resolve({ reply, sent });
    };
    socket.on('data', (d: Buffer) => {
      reply += d.toString('latin1');
    });
    socket.on('close', finish);
    socket.on('error', finish);
    socket.write(head);
    let i = 0;
    const pump = (): void => {
      while (!done && sent < total) {
        const piece = pieceFactory(i++);
        sent += piece.length;
        if (!socket.write(piece)) {
          socket.once('drain', pump);
          return;
        }
      }
    };
    pump();
    setTimeout(finish, 15_000).unref();
  });
}

function signed(method: string, path: string): Record<string, string> {
  const date = new Date().toUTCString();
  return { 'x-ms-date': date, 'x-ms-version': '2020-07-15', authorization: encodeURIComponent(expectedAuthorization(ANALYST, method, path, date)) };
}

describe('cosmos: bad input', () => {
  let dgf: TestDgf;
  let port: number;
  let stubPort: number;
  let stub: http.Server;
  const dbId = 'dgf-bad-input';

  before(async () => {
    // An upstream whose document answers are not JSON (a broken gateway, a captive portal, a bug).
    stub = http.createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'x-ms-request-charge': '1' });
      res.end(req.url === '/' ? '{"writableLocations":[]}' : '{"id":"d1","email":"leak@example.com",');
    });
    await new Promise<void>((r) => stub.listen(0, '127.0.0.1', r));
    stubPort = (stub.address() as AddressInfo).port;
    dgf = await startDgf({
      roles: [{ match: { user: 'analyst' }, role: 'analyst' }],
      listeners: [
        {
          name: 'cosmos',
          protocol: 'cosmos',
          listen: '127.0.0.1:0',
          upstream: { endpoint: 'https://127.0.0.1:8081', key: REAL_KEY, insecureSkipVerify: true },
          users: [{ name: 'analyst', key: ANALYST }],
          maxMessageBytes: 1024 * 1024,
          options: { bodyIdleTimeoutMs: 400 },
        },
        {
          name: 'stub',
          protocol: 'cosmos',
          listen: '127.0.0.1:0',
          upstream: { endpoint: `http://127.0.0.1:${stubPort}`, key: REAL_KEY },
          users: [{ name: 'analyst', key: ANALYST }],
        },
      ],
    });
    port = dgf.listener('cosmos').address.port;
    const client = new CosmosClient({ endpoint: `http://127.0.0.1:${port}`, key: ANALYST });
    const { database } = await client.databases.createIfNotExists({ id: dbId });
    const { container } = await database.containers.createIfNotExists({ id: 'c', partitionKey: { paths: ['/pk'] } });
    await container.items.upsert({ id: 'ok', pk: 'p', v: 1 });
  });

  after(async () => {
    await dgf?.stop();
    await new Promise<void>((r) => stub.close(() => r()));
  });

  /** A well-behaved client on the same listener, run alongside each attack. */
  async function healthyRead(): Promise<void> {
    const client = new CosmosClient({ endpoint: `http://127.0.0.1:${port}`, key: ANALYST });
    const { resource } = await client.database(dbId).container('c').item('ok', 'p').read();
    assert.equal(resource?.v, 1);
  }

  test('a non-HTTP byte stream gets 400 and a closed connection', async () => {
    const garbage = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 0xde, 0xad, 0xbe, 0xef, 0x0d, 0x0a, 0x0d, 0x0a]);
    const [{ reply }] = await Promise.all([flood(port, '', garbage.length, () => garbage), healthyRead()]);
    assert.match(reply, /^HTTP\/1\.1 400 Bad Request/);
    assert.match(reply, /malformed HTTP request/);
    await healthyRead();
  });

  test('a 100 MB header is cut off early with 431; memory stays bounded', async () => {
    const before = process.memoryUsage().rss;
    const piece = Buffer.alloc(64 * 1024, 'a');
    const [{ reply, sent }] = await Promise.all([
      flood(port, 'GET / HTTP/1.1\r\nHost: x\r\nX-Huge: ', 100 * 1024 * 1024, () => piece),
      healthyRead(),
    ]);
    assert.match(reply, /^HTTP\/1\.1 431/);
    assert.ok(sent < 100 * 1024 * 1024, `server kept reading: ${sent} bytes`);
    const grown = process.memoryUsage().rss - before;
    assert.ok(grown < 64 * 1024 * 1024, `rss grew by ${grown} bytes`);
    await healthyRead();
  });

  test('a chunked body that never ends is refused at the size limit with 413', async () => {
    const path = `/dbs/${dbId}/colls/c/docs`;
    const headers = Object.entries({ ...signed('POST', path), 'content-type': 'application/json', 'transfer-encoding': 'chunked' })
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    const chunk = Buffer.from(`10000\r\n${'x'.repeat(0x10000)}\r\n`);
    const [{ reply, sent }] = await Promise.all([
      flood(port, `POST ${path} HTTP/1.1\r\nHost: x\r\n${headers}\r\n`, 1024 * 1024 * 1024, () => chunk),
      healthyRead(),
    ]);
    assert.match(reply, /^HTTP\/1\.1 413/);
    assert.match(reply, /RequestEntityTooLarge/);
    assert.ok(sent < 64 * 1024 * 1024, `server kept reading: ${sent} bytes`);
  });

  test('a chunked body that stalls is refused with 408 after the idle timeout', async () => {
    const path = `/dbs/${dbId}/colls/c/docs`;
    const headers = Object.entries({ ...signed('POST', path), 'content-type': 'application/json', 'transfer-encoding': 'chunked' })
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    const started = Date.now();
    const [{ reply }] = await Promise.all([
      flood(port, `POST ${path} HTTP/1.1\r\nHost: x\r\n${headers}\r\n5\r\n{"id"\r\n`, 0, () => Buffer.alloc(0)),
      healthyRead(),
    ]);
    assert.match(reply, /^HTTP\/1\.1 408/);
    assert.match(reply, /stalled/);
    assert.ok(Date.now() - started < 5000);
  });

  test('an upstream answer that is not JSON is refused with 502 instead of forwarded unmasked', async () => {
    const path = '/dbs/d/colls/c/docs/d1';
    const res = await request(`http://127.0.0.1:${dgf.listener('stub').address.port}${path}`, { headers: signed('GET', path) });
    assert.equal(res.statusCode, 502);
    const body = (await res.body.json()) as { code: string; message: string };
    assert.equal(body.code, 'BadGateway');
    assert.match(body.message, /not valid JSON/);
    assert.ok(!JSON.stringify(body).includes('leak@example.com'));
    await healthyRead();
  });
});
