/** The wire protocol at message level: pipelining, portal suspension, Flush, errors in a pipeline, FunctionCall, cancel. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import type { TestDgf } from '../../helpers/dgf.js';
import { RawClient, decode, rowsOf, serialize, types } from '../../fixtures/postgres/raw-client.js';
import { sendCancel } from '../../fixtures/postgres/setup.js';
import { direct, startPgDgf } from '../../fixtures/postgres/setup.js';

describe('wire protocol through dgf', () => {
  let dgf: TestDgf;
  let port: number;

  before(async () => {
    const d = await direct();
    await d.query('drop table if exists wire_proto; create table wire_proto (id int primary key, v text)');
    await d.query(`insert into wire_proto select g, 'v' || g from generate_series(1, 10) g`);
    await d.end();
    ({ dgf, port } = await startPgDgf({ auth: 'trust', maxConnections: 2 }));
  });

  after(async () => {
    await dgf.stop();
    const d = await direct();
    await d.query('drop table if exists wire_proto');
    await d.end();
  });

  test('startup: ParameterStatus like a real server, BackendKeyData from dgf, ReadyForQuery', async () => {
    const c = await RawClient.open(port);
    c.send(serialize.startup({ user: 'admin', database: 'postgres', application_name: 'wire-test' }));
    const frames = await c.readUntil('Z');
    const params = new Map(frames.filter((f) => f.type === 'S').map((f) => [decode(f).parameterName as string, decode(f).parameterValue as string]));
    assert.match(params.get('server_version') ?? '', /^15\./);
    assert.equal(params.get('application_name'), 'wire-test');
    assert.equal(params.get('integer_datetimes'), 'on');
    assert.ok(frames.some((f) => f.type === 'K'));
    assert.equal(types(frames).slice(0, 1), 'R');
    c.close();
  });

  test('reads cut anywhere: a session sent one byte per TCP write, then many messages in one write, reads the same', async () => {
    // dgf reads plain client connections through its own read buffers (pooled reads): message boundaries must not
    // depend on how the client's bytes arrive.
    const c = await RawClient.open(port);
    const drip = async (bytes: Buffer): Promise<void> => {
      for (let i = 0; i < bytes.length; i++) {
        c.send(bytes.subarray(i, i + 1));
        await new Promise((resolve) => setImmediate(resolve));
      }
    };
    await drip(serialize.startup({ user: 'admin', database: 'postgres' }));
    assert.equal(types(await c.readUntil('Z')).at(-1), 'Z');
    await drip(serialize.query('select v from wire_proto where id = 3'));
    const dripped = await c.readUntil('Z');
    assert.deepEqual(rowsOf(dripped), [['v3']]);
    const burst: Buffer[] = [];
    for (let id = 1; id <= 10; id++) {
      burst.push(serialize.parse({ text: 'select v from wire_proto where id = $1' }), serialize.bind({ values: [String(id)] }), serialize.execute({}));
    }
    burst.push(serialize.sync());
    c.send(Buffer.concat(burst));
    const frames = await c.readUntil('Z');
    assert.deepEqual(
      rowsOf(frames).map((r) => r[0]),
      Array.from({ length: 10 }, (_, i) => `v${i + 1}`),
    );
    c.close();
  });

  test('a newer protocol minor and _pq_ options get NegotiateProtocolVersion, then a normal session', async () => {
    const c = await RawClient.open(port);
    const body = Buffer.from('user\0admin\0database\0postgres\0_pq_.wire_test\0x\0\0');
    const startup = Buffer.alloc(8 + body.length);
    startup.writeInt32BE(startup.length, 0);
    startup.writeInt32BE((3 << 16) | 2, 4);
    body.copy(startup, 8);
    c.send(startup);
    const frames = await c.readUntil('Z');
    assert.equal(frames[0]!.type, 'v');
    assert.equal(frames[0]!.frame.readInt32BE(5), 0);
    assert.equal(frames[0]!.frame.readInt32BE(9), 1);
    c.send(serialize.query('select 1'));
    assert.equal(types(await c.readUntil('Z')), 'TDCZ');
    c.close();
  });

  test('pipelining: several Parse/Bind/Execute before one Sync, named and unnamed', async () => {
    const c = await RawClient.connect(port);
    c.send(
      serialize.parse({ name: 'p1', text: 'select v from wire_proto where id = $1', types: [23] }),
      serialize.bind({ statement: 'p1', values: ['3'] }),
      serialize.describe({ type: 'P' }),
      serialize.execute({}),
      serialize.parse({ text: 'select count(*) from wire_proto' }),
      serialize.bind({}),
      serialize.execute({}),
      serialize.bind({ statement: 'p1', values: ['4'] }),
      serialize.execute({}),
      serialize.sync(),
    );
    const frames = await c.readUntil('Z');
    assert.equal(types(frames), '12TDC12DC2DCZ');
    assert.deepEqual(rowsOf(frames), [['v3'], ['10'], ['v4']]);
    // The named statement outlives the transaction and the connection it was prepared on.
    for (let i = 0; i < 4; i++) {
      c.send(serialize.bind({ statement: 'p1', values: [String(i + 1)] }), serialize.execute({}), serialize.sync());
      const again = await c.readUntil('Z');
      assert.equal(types(again), '2DCZ');
      assert.deepEqual(rowsOf(again), [[`v${i + 1}`]]);
    }
    c.send(serialize.describe({ type: 'S', name: 'p1' }), serialize.sync());
    const desc = await c.readUntil('Z');
    assert.equal(types(desc), 'tTZ');
    c.send(serialize.close({ type: 'S', name: 'p1' }), serialize.sync());
    assert.equal(types(await c.readUntil('Z')), '3Z');
    c.close();
  });

  test('an error inside a pipeline: the rest is skipped up to Sync, exactly as the server does', async () => {
    const pipeline = [
      serialize.parse({ text: 'select 1/(id - id) from wire_proto' }),
      serialize.bind({}),
      serialize.execute({}),
      serialize.parse({ name: 'after_err', text: 'select 2' }),
      serialize.bind({ statement: 'after_err' }),
      serialize.execute({}),
      serialize.sync(),
    ];
    const viaDgf = await RawClient.connect(port);
    const viaServer = await RawClient.connect(55432, 'postgres');
    viaDgf.send(...pipeline);
    viaServer.send(...pipeline);
    const a = await viaDgf.readUntil('Z');
    const b = await viaServer.readUntil('Z');
    assert.equal(types(a), types(b));
    assert.equal(types(a), '12EZ');
    assert.equal(decode(a[2]!).code, '22012');
    // A constant error surfaces at Bind (planning), also as the server does.
    viaDgf.send(serialize.parse({ text: 'select 1/0' }), serialize.bind({}), serialize.execute({}), serialize.sync());
    viaServer.send(serialize.parse({ text: 'select 1/0' }), serialize.bind({}), serialize.execute({}), serialize.sync());
    assert.equal(types(await viaDgf.readUntil('Z')), types(await viaServer.readUntil('Z')));
    viaDgf.send(serialize.query('select 3'));
    assert.deepEqual(rowsOf(await viaDgf.readUntil('Z')), [['3']]);
    viaDgf.close();
    viaServer.close();
  });

  test('portal suspension with Execute row limits and Flush, inside a transaction', async () => {
    const c = await RawClient.connect(port);
    c.send(serialize.query('begin'));
    await c.readUntil('Z');
    c.send(serialize.parse({ text: 'select id from wire_proto order by id' }), serialize.bind({ portal: 'cur' }), serialize.execute({ portal: 'cur', rows: 4 }), serialize.flush());
    const first = await c.readUntil('s');
    assert.equal(types(first), '12DDDDs');
    c.send(serialize.execute({ portal: 'cur', rows: 4 }), serialize.flush());
    assert.equal(types(await c.readUntil('s')), 'DDDDs');
    c.send(serialize.execute({ portal: 'cur', rows: 0 }), serialize.sync());
    const rest = await c.readUntil('Z');
    assert.equal(types(rest), 'DDCZ');
    assert.equal(rest[rest.length - 1]!.frame[5], 'T'.charCodeAt(0));
    c.send(serialize.query('commit'));
    await c.readUntil('Z');
    c.close();
  });

  test('Flush delivers replies before Sync', async () => {
    const c = await RawClient.connect(port);
    c.send(serialize.parse({ name: 'fl', text: 'select 5' }), serialize.flush());
    assert.equal(types(await c.readUntil('1')), '1');
    c.send(serialize.sync());
    assert.equal(types(await c.readUntil('Z')), 'Z');
    c.close();
  });

  test('FunctionCall is refused with a clear error; the session continues', async () => {
    const c = await RawClient.connect(port);
    const f = Buffer.from([0x46, 0, 0, 0, 14, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    f.writeInt32BE(f.length - 1, 1);
    c.send(f);
    const frames = await c.readUntil('Z');
    assert.equal(types(frames), 'EZ');
    assert.equal(decode(frames[0]!).code, '0A000');
    assert.match(String(decode(frames[0]!).message), /FunctionCall/);
    c.send(serialize.query('select 1'));
    assert.equal(types(await c.readUntil('Z')), 'TDCZ');
    c.close();
  });

  test('NoticeResponse is forwarded', async () => {
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'admin', database: 'postgres' });
    await c.connect();
    const notice = new Promise<string>((resolve) => c.on('notice', (n) => resolve(n.message ?? '')));
    await c.query(`do $$ begin raise notice 'hello from plpgsql'; end $$`);
    assert.equal(await notice, 'hello from plpgsql');
    await c.end();
  });

  test('cancel of a pg_sleep cancels only that query', async () => {
    const a = new pg.Client({ host: '127.0.0.1', port, user: 'admin', database: 'postgres' });
    const b = new pg.Client({ host: '127.0.0.1', port, user: 'admin', database: 'postgres' });
    await a.connect();
    await b.connect();
    try {
      const keys = a as unknown as { processID: number; secretKey: number };
      const slowA = a.query('select pg_sleep(10)');
      const slowB = b.query('select pg_sleep(0.8) as done');
      await new Promise((r) => setTimeout(r, 300));
      // A wrong key cancels nothing.
      await sendCancel(port, keys.processID, keys.secretKey ^ 1);
      await new Promise((r) => setTimeout(r, 100));
      await sendCancel(port, keys.processID, keys.secretKey);
      const started = Date.now();
      await assert.rejects(slowA, (e: Error & { code?: string }) => e.code === '57014');
      assert.ok(Date.now() - started < 5000);
      const rb = await slowB;
      assert.equal(rb.rows.length, 1, 'the other client was not cancelled');
      assert.equal((await a.query('select 1 as ok')).rows[0].ok, 1);
    } finally {
      await a.end();
      await b.end();
    }
  });
});

