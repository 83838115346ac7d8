/** Bad input from one client: it gets an ErrorResponse (08P01) or a closed socket; every other client keeps working. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { TestDgf } from '../../helpers/dgf.js';
import { RawClient, decode, serialize, types, type Frame } from '../../fixtures/postgres/raw-client.js';
import { direct, startPgDgf } from '../../fixtures/postgres/setup.js';

describe('bad input', () => {
  let dgf: TestDgf;
  let port: number;
  let bystander: pg.Client;

  before(async () => {
    const d = await direct();
    await d.query('drop table if exists wire_bad; create table wire_bad (id int, v text)');
    await d.end();
    ({ dgf, port } = await startPgDgf({ auth: 'trust', maxConnections: 2, maxMessageBytes: 256 * 1024 }));
    bystander = new pg.Client({ host: '127.0.0.1', port, user: 'admin', database: 'postgres' });
    await bystander.connect();
  });

  after(async () => {
    await bystander.end();
    await dgf.stop();
    const d = await direct();
    await d.query('drop table if exists wire_bad');
    await d.end();
  });

  const stillWorks = async (): Promise<void> => {
    assert.equal((await bystander.query('select 6 * 7 as n')).rows[0].n, 42);
  };

  const protocolErrorOrClose = (frames: Frame[], codes = ['08P01']): void => {
    const err = frames.find((f) => f.type === 'E');
    if (err) assert.ok(codes.includes(String(decode(err).code)), `unexpected SQLSTATE ${String(decode(err).code)}`);
  };

  test('random bytes after login', async () => {
    for (let i = 0; i < 5; i++) {
      const c = await RawClient.connect(port);
      c.send(randomBytes(4096));
      protocolErrorOrClose(await c.untilClosed());
    }
    await stillWorks();
  });

  test('a length field of 2 GB is refused at once, without buffering', async () => {
    const c = await RawClient.connect(port);
    const header = Buffer.from([0x51, 0x7f, 0xff, 0xff, 0xff]);
    c.send(header);
    const frames = await c.untilClosed();
    assert.equal(types(frames), 'E');
    assert.equal(decode(frames[0]!).code, '08P01');
    assert.match(String(decode(frames[0]!).message), /exceeds the limit/);
    await stillWorks();
  });

  test('a message larger than maxMessageBytes is refused; memory stays bounded', async () => {
    const before = process.memoryUsage().rss;
    const c = await RawClient.connect(port);
    const big = Buffer.alloc(5 + 1024 * 1024, 0x61);
    big[0] = 0x51;
    big.writeInt32BE(big.length - 1, 1);
    c.send(big);
    const frames = await c.untilClosed();
    assert.equal(decode(frames.find((f) => f.type === 'E')!).code, '08P01');
    assert.ok(process.memoryUsage().rss - before < 64 * 1024 * 1024);
    await stillWorks();
  });

  test('a truncated message (fields overrunning its length) is a protocol error', async () => {
    const c = await RawClient.connect(port);
    // A Bind that claims 5 parameters but carries none.
    const body = Buffer.from([0, 0, 0, 0, 0, 5]);
    const bind = Buffer.alloc(5 + body.length);
    bind[0] = 0x42;
    bind.writeInt32BE(4 + body.length, 1);
    body.copy(bind, 5);
    c.send(bind);
    const frames = await c.untilClosed();
    assert.equal(decode(frames.find((f) => f.type === 'E')!).code, '08P01');
    // A message cut short by the client going away mid-frame.
    const d = await RawClient.connect(port);
    d.send(serialize.query('select 1').subarray(0, 6));
    d.socket.end();
    await d.untilClosed();
    await stillWorks();
  });

  test('a startup packet of garbage', async () => {
    for (const garbage of [randomBytes(64), Buffer.from([0, 0, 0, 8, 0, 9, 0, 0]), Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), Buffer.from([0, 0, 0, 3])]) {
      const c = await RawClient.open(port);
      c.send(garbage);
      // An unknown protocol version is 0A000, as PostgreSQL answers it.
      protocolErrorOrClose(await c.untilClosed(), ['08P01', '0A000']);
    }
    await stillWorks();
  });

  test('a client that disconnects mid-COPY: nothing half-copied, the connection is not reused dirty', async () => {
    const c = await RawClient.connect(port);
    c.send(serialize.query('copy wire_bad from stdin'));
    await c.readUntil('G');
    c.send(serialize.copyData(Buffer.from('1\tone\n2\ttwo\n')));
    await new Promise((r) => setTimeout(r, 50));
    c.socket.destroy();
    await new Promise((r) => setTimeout(r, 200));
    for (let i = 0; i < 4; i++) await stillWorks();
    assert.equal((await bystander.query('select count(*)::int as n from wire_bad')).rows[0].n, 0);
  });
});
