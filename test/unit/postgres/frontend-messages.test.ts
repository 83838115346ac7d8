/** Frontend message views and the Bind rename, against messages built by pg-protocol's serializer. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { serialize } from 'pg-protocol';
import { FrameDecoder } from '../../../protocols/postgres/codec/frame-decoder.js';
import { readBind, readExecute, readParse, readStartupPacket, readTarget } from '../../../protocols/postgres/codec/frontend-messages.js';
import * as fe from '../../../protocols/postgres/codec/frontend-encoder.js';
import { ProtocolError } from '../../../protocols/shared/errors.js';

function one(buf: Buffer, startup = false): FrameDecoder {
  const d = new FrameDecoder(1 << 20, { startup });
  d.push(buf);
  assert.ok(d.next());
  return d;
}

describe('frontend messages', () => {
  test('StartupMessage, SSLRequest, CancelRequest', () => {
    let d = one(serialize.startup({ user: 'alice', database: 'db', application_name: 'app' }), true);
    const s = readStartupPacket(d.buffer, d.body, d.end);
    assert.equal(s.kind, 'startup');
    if (s.kind === 'startup') {
      assert.equal(s.major, 3);
      assert.equal(s.params.get('user'), 'alice');
      assert.equal(s.params.get('application_name'), 'app');
    }
    d = one(serialize.requestSsl(), true);
    assert.deepEqual(readStartupPacket(d.buffer, d.body, d.end), { kind: 'ssl' });
    d = one(serialize.cancel(1234, -5), true);
    assert.deepEqual(readStartupPacket(d.buffer, d.body, d.end), { kind: 'cancel', processId: 1234, secretKey: -5 });
  });

  test('a startup packet without a user is refused', () => {
    const d = one(serialize.startup({ database: 'db' }), true);
    assert.throws(() => readStartupPacket(d.buffer, d.body, d.end), ProtocolError);
  });

  test('Parse, Describe, Execute', () => {
    let d = one(serialize.parse({ name: 'n', text: 'select $1', types: [25, 4294967295] }));
    assert.deepEqual(readParse(d.buffer, d.body, d.end), { name: 'n', query: 'select $1', paramTypes: [25, 4294967295] });
    d = one(serialize.describe({ type: 'S', name: 'n' }));
    assert.deepEqual(readTarget(d.buffer, d.body, d.end), { target: 'S', name: 'n' });
    d = one(serialize.execute({ portal: 'p', rows: 5 }));
    assert.deepEqual(readExecute(d.buffer, d.body, d.end), { portal: 'p', maxRows: 5 });
  });

  test('Bind: names, result formats, and a rename that keeps every other byte', () => {
    const original = serialize.bind({ portal: 'por', statement: 'client_name', values: ['a', null, Buffer.from([1, 2])], binary: true });
    const d = one(original);
    const m = readBind(d.buffer, d.body, d.end);
    assert.equal(m.portal, 'por');
    assert.equal(m.statement, 'client_name');
    assert.deepEqual(m.resultFormats, [1]);
    const renamed = fe.renameInFrame(d.buffer, d.start, d.end, m.statementStart, m.statementNul, 'dgf_7');
    const expected = serialize.bind({ portal: 'por', statement: 'dgf_7', values: ['a', null, Buffer.from([1, 2])], binary: true });
    assert.deepEqual(renamed, expected);
  });

  test('Bind fields overrunning the message are a protocol error, never a crash', () => {
    const good = serialize.bind({ statement: 's', values: ['x'] });
    for (let cut = 5; cut < good.length; cut++) {
      const b = Buffer.from(good.subarray(0, cut));
      b.writeInt32BE(cut - 1, 1);
      const d = one(b);
      assert.throws(() => readBind(d.buffer, d.body, d.end), ProtocolError);
    }
  });

  test('encoder output matches pg-protocol for Parse, Describe, Close, Query', () => {
    assert.deepEqual(fe.parse('a', 'select 1', [23]), serialize.parse({ name: 'a', text: 'select 1', types: [23] }));
    assert.deepEqual(fe.target(0x44, 'S', 'a'), serialize.describe({ type: 'S', name: 'a' }));
    assert.deepEqual(fe.target(0x43, 'P', ''), serialize.close({ type: 'P', name: '' }));
    assert.deepEqual(fe.query('select 1'), serialize.query('select 1'));
    assert.deepEqual(fe.cancelRequest(1, 2), serialize.cancel(1, 2));
  });
});
