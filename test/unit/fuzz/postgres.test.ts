/**
 * Property-based tests of the PostgreSQL v3 codecs: FrameDecoder (both directions, startup phase), the frontend
 * message readers, the startup/SSL/GSSENC/cancel packets and the backend decoder. Random and mutated frames, fed
 * whole and in random chunkings: the same frames must come out, only ProtocolError may escape, a declared 2^31
 * length must not allocate, and every encoder's output must decode back to what was encoded.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FrameDecoder, MAX_STARTUP_PACKET } from '../../../protocols/postgres/codec/frame-decoder.js';
import {
  readBind,
  readCString,
  readExecute,
  readParse,
  readSaslInitial,
  readSaslResponse,
  readStartupPacket,
  readTarget,
} from '../../../protocols/postgres/codec/frontend-messages.js';
import * as fe from '../../../protocols/postgres/codec/frontend-encoder.js';
import * as be from '../../../protocols/postgres/codec/backend-encoder.js';
import { decodeBackend, errorFields } from '../../../protocols/postgres/codec/backend-decode.js';
import { BackendCode, FrontendCode } from '../../../protocols/postgres/codec/message-codes.js';
import { ProtocolError } from '../../../protocols/shared/errors.js';
import { bytesArb, check, cutsArb, largestAllocation, LYING_LENGTHS, mutate, mutationsArb, onlyErrors, splitAt } from './fuzz-kit.js';

const SEED = 0x5067; // 'Pg'
const MAX = 64 * 1024;

function frame(code: number, body: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(5 + body.length);
  b[0] = code;
  b.writeInt32BE(4 + body.length, 1);
  b.set(body, 5);
  return b;
}

function startupPacket(body: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(4 + body.length);
  b.writeInt32BE(4 + body.length, 0);
  b.set(body, 4);
  return b;
}

interface Outcome {
  frames: string[];
  error: string | null;
}

/** Frame a stream the way a session does: the first packet untyped when `startup`, typed afterwards. */
function decodeAll(chunks: readonly Buffer[], startup = false): Outcome {
  const d = new FrameDecoder(MAX, { startup });
  const frames: string[] = [];
  const err = onlyErrors(() => {
    for (const c of chunks) {
      d.push(c);
      let untyped = d.startup;
      while (d.next()) {
        frames.push(`${d.code}:${d.buffer.toString('hex', d.start, d.end)}`);
        assert.equal(d.body, untyped ? d.start + 4 : d.start + 5);
        d.startup = untyped = false;
      }
    }
  }, ProtocolError);
  return { frames, error: err ? `${err.constructor.name}:${err.message}` : null };
}

const codeArb = fc.constantFrom(...Object.values(FrontendCode), ...Object.values(BackendCode));
const frameArb = fc.tuple(codeArb, bytesArb).map(([c, b]) => frame(c, b));
const streamArb = fc.array(frameArb, { maxLength: 12 }).map((fs) => Buffer.concat(fs));
const cstr = fc.string({ maxLength: 40 }).map((s) => s.replace(/\0/g, ''));
const paramsArb = fc.dictionary(cstr.filter((k) => k !== '' && !k.startsWith('_pq_.')), cstr, { maxKeys: 6 });

describe('fuzz: postgres FrameDecoder', () => {
  test('valid frame streams: every chunking yields the frames one-shot decoding yields', () => {
    check(
      fc.property(fc.array(frameArb, { maxLength: 12 }), cutsArb, (frames, cuts) => {
        const whole = Buffer.concat(frames);
        const one = decodeAll([whole]);
        assert.equal(one.error, null);
        assert.deepEqual(one.frames, frames.map((f) => `${f[0]}:${f.toString('hex')}`));
        assert.deepEqual(decodeAll(splitAt(whole, cuts)), one);
      }),
      SEED,
      400,
    );
  });

  test('mutated streams (startup phase first): only ProtocolError, and chunking never changes the outcome', () => {
    const withStartup = fc.tuple(paramsArb, streamArb).map(([params, rest]) => {
      const body = Buffer.concat([
        Buffer.from([0, 3, 0, 0]),
        ...Object.entries({ user: 'u', ...params }).map(([k, v]) => Buffer.from(`${k}\0${v}\0`)),
        Buffer.from([0]),
      ]);
      return Buffer.concat([startupPacket(body), rest]);
    });
    check(
      fc.property(fc.oneof(withStartup, bytesArb.map((b) => Buffer.from(b))), mutationsArb, cutsArb, (valid, mutations, cuts) => {
        const input = mutate(valid, mutations);
        const one = decodeAll([input], true);
        assert.deepEqual(decodeAll(splitAt(input, cuts), true), one);
      }),
      SEED + 1,
      500,
    );
  });

  test('declared lengths up to 2^31 allocate nothing near them, in either phase', () => {
    check(
      fc.property(fc.constantFrom(...LYING_LENGTHS), codeArb, fc.boolean(), bytesArb, cutsArb, (len, code, startup, tail, cuts) => {
        const head = Buffer.alloc(startup ? 4 : 5);
        if (startup) head.writeUInt32BE(len >>> 0, 0);
        else {
          head[0] = code;
          head.writeUInt32BE(len >>> 0, 1);
        }
        const input = Buffer.concat([head, tail]);
        const largest = largestAllocation(() => decodeAll(splitAt(input, cuts), startup));
        assert.ok(largest <= Math.max(MAX, MAX_STARTUP_PACKET) + input.length, `allocated ${largest} bytes for ${input.length} received`);
      }),
      SEED + 2,
      300,
    );
  });
});

describe('fuzz: postgres frontend messages and startup packets', () => {
  const readers = [readParse, readBind, readTarget, readExecute, readCString, readSaslInitial, readSaslResponse, readStartupPacket];

  test('every reader on random and mutated bodies throws nothing but ProtocolError', () => {
    const valid = fc.oneof(
      bytesArb.map((b) => Buffer.from(b)),
      fc.tuple(cstr, cstr, fc.array(fc.nat(), { maxLength: 8 })).map(([n, q, t]) => fe.parse(n, q, t).subarray(5)),
      fc.tuple(cstr, cstr).map(([a, b]) => Buffer.from(`${a}\0${b}\0\0\x01\0\x01\0\0\0\x02ab\0\x01\0\0`)),
    );
    check(
      fc.property(valid, mutationsArb, fc.nat(7), fc.nat(16), (body, mutations, which, pad) => {
        const input = Buffer.concat([Buffer.alloc(pad), mutate(body, mutations)]);
        onlyErrors(() => readers[which]!(input, pad, input.length), ProtocolError);
      }),
      SEED + 3,
      1500,
    );
  });

  test('counts and lengths of 2^31 or 65,535 in Parse/Bind allocate nothing near them', () => {
    for (const n of [0xffff, 0x7fff]) {
      const parse = Buffer.from(`s\0q\0${String.fromCharCode(n >> 8, n & 0xff)}`, 'latin1');
      assert.ok(largestAllocation(() => onlyErrors(() => readParse(parse, 0, parse.length), ProtocolError)) < 1024);
    }
    for (const len of LYING_LENGTHS) {
      const bind = Buffer.alloc(14);
      bind.set([0x70, 0, 0, 0, 0, 0, 0, 1], 0); // portal "p", statement "", 0 formats, 1 param
      bind.writeUInt32BE(len >>> 0, 8);
      assert.ok(largestAllocation(() => onlyErrors(() => readBind(bind, 0, bind.length), ProtocolError)) < 1024);
      const sasl = Buffer.concat([Buffer.from('SCRAM-SHA-256\0'), Buffer.alloc(4)]);
      sasl.writeUInt32BE(len >>> 0, 14);
      assert.ok(largestAllocation(() => onlyErrors(() => readSaslInitial(sasl, 0, sasl.length), ProtocolError)) < 1024);
    }
  });

  test('round trip: Parse, Query, Describe/Close built by the encoder read back identically', () => {
    check(
      fc.property(cstr, cstr, fc.array(fc.nat({ max: 0xffffffff }), { maxLength: 20 }), fc.constantFrom<'S' | 'P'>('S', 'P'), (name, sql, types, kind) => {
        const p = fe.parse(name, sql, types);
        assert.deepEqual(readParse(p, 5, p.length), { name, query: sql, paramTypes: types });
        const q = fe.query(sql);
        assert.equal(readCString(q, 5, q.length), sql);
        const t = fe.target(FrontendCode.Describe, kind, name);
        assert.deepEqual(readTarget(t, 5, t.length), { target: kind, name });
        // The renamed Bind keeps every other byte and reads back with the new name.
        const bind = frame(FrontendCode.Bind, Buffer.from(`portal\0${name}\0\0\0\0\0\0\x01\0\x01`, 'latin1'));
        const b = readBind(bind, 5, bind.length);
        const renamed = fe.renameInFrame(bind, 0, bind.length, b.statementStart, b.statementNul, `${sql}x`);
        assert.equal(readBind(renamed, 5, renamed.length).statement, `${sql}x`);
        assert.deepEqual(readBind(renamed, 5, renamed.length).resultFormats, [1]);
      }),
      SEED + 4,
      300,
    );
  });

  test('round trip: startup, SSL and cancel packets through FrameDecoder and readStartupPacket', () => {
    check(
      fc.property(paramsArb, cstr.filter((u) => u !== ''), fc.integer(), fc.integer(), cutsArb, (params, user, pid, secret, cuts) => {
        const all = { ...params, user };
        const body = Buffer.concat([Buffer.from([0, 3, 0, 0]), ...Object.entries(all).map(([k, v]) => Buffer.from(`${k}\0${v}\0`)), Buffer.from([0])]);
        const packets = [fe.sslRequest(), fe.cancelRequest(pid | 0, secret | 0), startupPacket(body)];
        const d = new FrameDecoder(MAX, { startup: true });
        const got = [];
        for (const c of splitAt(Buffer.concat(packets), cuts)) {
          d.push(c);
          while (d.next()) got.push(readStartupPacket(d.buffer, d.body, d.end));
        }
        if (4 + body.length > MAX_STARTUP_PACKET) return;
        assert.equal(got.length, 3);
        assert.deepEqual(got[0], { kind: 'ssl' });
        assert.deepEqual(got[1], { kind: 'cancel', processId: pid | 0, secretKey: secret | 0 });
        assert.equal(got[2]!.kind, 'startup');
        if (got[2]!.kind === 'startup') assert.deepEqual(Object.fromEntries(got[2]!.params), all);
      }),
      SEED + 5,
      300,
    );
  });
});

describe('fuzz: postgres backend decoder', () => {
  test('random and mutated backend frames: only ProtocolError, and a bad frame does not poison the next', () => {
    const backendCode = fc.constantFrom(...Object.values(BackendCode), 0x00, 0x7a);
    check(
      fc.property(backendCode, bytesArb, mutationsArb, (code, body, mutations) => {
        const mutated = mutate(body, mutations);
        onlyErrors(() => decodeBackend(frame(code, mutated)), ProtocolError);
        // Whatever came before, a well-formed frame still decodes.
        assert.equal((decodeBackend(be.commandComplete('SELECT 1')) as unknown as { text: string }).text, 'SELECT 1');
      }),
      SEED + 6,
      1500,
    );
  });

  test('regression: truncated RowDescription, short frames, unterminated ErrorResponse: ProtocolError, no RangeError, no hang', () => {
    const bad = [
      frame(BackendCode.RowDescription, Buffer.from([0, 5])),
      frame(BackendCode.DataRow, Buffer.from([0, 2, 0x7f, 0xff, 0xff, 0xff])),
      frame(BackendCode.Authentication, Buffer.from([0, 0])),
      Buffer.from([BackendCode.CommandComplete, 0, 0, 0, 9, 0x41]), // length claims more than the frame holds
      // pg-protocol loops forever on error fields without their final NUL (found by this file: it hung).
      frame(BackendCode.ErrorResponse, Buffer.alloc(0)),
      frame(BackendCode.ErrorResponse, Buffer.from('SERROR\0C08P01\0')),
      frame(BackendCode.NoticeResponse, Buffer.from('Mno terminator')),
    ];
    for (const f of bad) {
      assert.throws(() => decodeBackend(f), ProtocolError);
      assert.equal(errorFields(be.errorResponse({ severity: 'ERROR', code: '42501', message: 'after' })).message, 'after');
    }
  });

  test('round trip: what backend-encoder writes, decodeBackend reads', () => {
    const text = fc.string({ maxLength: 60 }).map((s) => s.replace(/\0/g, ''));
    check(
      fc.property(text, text, text, fc.integer(), fc.integer(), (a, b, c, pid, key) => {
        const ps = decodeBackend(be.parameterStatus(a, b)) as unknown as { parameterName: string; parameterValue: string };
        assert.deepEqual([ps.parameterName, ps.parameterValue], [a, b]);
        const k = decodeBackend(be.backendKeyData(pid | 0, key | 0)) as unknown as { processID: number; secretKey: number };
        assert.deepEqual([k.processID, k.secretKey], [pid | 0, key | 0]);
        assert.equal((decodeBackend(be.commandComplete(c)) as unknown as { text: string }).text, c);
        const e = errorFields(be.errorResponse({ severity: 'FATAL', code: '08P01', message: a, detail: b || undefined }));
        assert.deepEqual(e, { severity: 'FATAL', code: '08P01', message: a });
        const sasl = decodeBackend(be.authenticationSasl(['SCRAM-SHA-256', 'SCRAM-SHA-256-PLUS'])) as unknown as { mechanisms: string[] };
        assert.deepEqual(sasl.mechanisms, ['SCRAM-SHA-256', 'SCRAM-SHA-256-PLUS']);
      }),
      SEED + 7,
      300,
    );
  });
});
