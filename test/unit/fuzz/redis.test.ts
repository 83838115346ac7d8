/**
 * Property-based tests of the RESP codecs: RequestParser (multibulk and inline commands), ReplyScanner and
 * decodeFrame (RESP2 and RESP3 replies, attributes, pushes), splitInline and spliceFrame. Random and mutated
 * input in random chunkings: the same commands/frames as one-shot parsing, only ProtocolError, no allocation
 * for a declared 2^31 length, and encode -> decode round trips.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RequestParser, splitInline, type CommandSink } from '../../../protocols/redis/codec/request-parser.js';
import { ReplyScanner } from '../../../protocols/redis/codec/reply-scanner.js';
import { decodeFrame, toJs } from '../../../protocols/redis/codec/decode.js';
import { command, spliceFrame } from '../../../protocols/redis/codec/encode.js';
import { ProtocolError } from '../../../protocols/shared/errors.js';
import { bytesArb, check, cutsArb, largestAllocation, mutate, mutationsArb, onlyErrors, splitAt } from './fuzz-kit.js';

const SEED = 0x5245; // 'RE'
const MAX = 64 * 1024;

interface Parsed {
  commands: string[];
  error: string | null;
}

function parseRequests(chunks: readonly Buffer[]): Parsed {
  const p = new RequestParser(MAX);
  const commands: string[] = [];
  const sink: CommandSink = {
    onCommand(args, raw, size) {
      commands.push(JSON.stringify([args.map((a) => a.toString('hex')), raw ? Buffer.concat(raw).toString('hex') : null, size]));
    },
  };
  const err = onlyErrors(() => {
    for (const c of chunks) p.push(c, sink);
  }, ProtocolError);
  return { commands, error: err ? err.message : null };
}

interface Scanned {
  frames: string[];
  error: string | null;
}

function scanReplies(chunks: readonly Buffer[]): Scanned {
  const s = new ReplyScanner(MAX);
  const frames: string[] = [];
  let parts: Buffer[] = [];
  const err = onlyErrors(() => {
    for (const c of chunks) {
      s.push(c, {
        onFrameBytes(chunk, start, end, complete) {
          parts.push(Buffer.from(chunk.subarray(start, end)));
          if (complete) {
            frames.push(Buffer.concat(parts).toString('hex'));
            parts = [];
          }
        },
      });
    }
  }, ProtocolError);
  return { frames, error: err ? err.message : null };
}

const argArb = fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.string({ maxLength: 20 }).map((s) => Buffer.from(s)));
const commandArb = fc.array(argArb, { minLength: 1, maxLength: 8 }).map((args) => command(args.map((a) => Buffer.from(a))));
const inlineArb = fc
  .array(fc.stringMatching(/^[A-Za-z0-9:_.-]{1,12}$/), { minLength: 1, maxLength: 5 })
  .map((words) => Buffer.from(`${words.join(' ')}\r\n`));

/** A RESP3 value and the JS `toJs` should give back. */
type Resp = { bytes: string; js: unknown };

const line = fc.stringMatching(/^[ -~]{0,20}$/);
const leaf: fc.Arbitrary<Resp> = fc.oneof(
  line.map((s) => ({ bytes: `+${s}\r\n`, js: s })),
  fc.integer().map((n) => ({ bytes: `:${n}\r\n`, js: n })),
  fc.string({ maxLength: 30 }).map((s) => ({ bytes: `$${Buffer.byteLength(s)}\r\n${s}\r\n`, js: s })),
  fc.constant({ bytes: '$-1\r\n', js: null }),
  fc.constant({ bytes: '_\r\n', js: null }),
  fc.boolean().map((b) => ({ bytes: `#${b ? 't' : 'f'}\r\n`, js: b })),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => ({ bytes: `,${d}\r\n`, js: d })),
  fc.bigInt().map((n) => ({ bytes: `(${n}\r\n`, js: n })),
  fc.string({ maxLength: 20 }).map((s) => ({ bytes: `=${Buffer.byteLength(s) + 4}\r\ntxt:${s}\r\n`, js: s })),
);
const { value: respArb } = fc.letrec<{ value: Resp }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc.array(tie('value'), { maxLength: 4 }).map((vs) => ({ bytes: `*${vs.length}\r\n${vs.map((v) => v.bytes).join('')}`, js: vs.map((v) => v.js) })),
    fc.array(tie('value'), { maxLength: 4 }).map((vs) => ({ bytes: `~${vs.length}\r\n${vs.map((v) => v.bytes).join('')}`, js: vs.map((v) => v.js) })),
    fc.array(tie('value'), { maxLength: 4 }).map((vs) => ({ bytes: `>${vs.length}\r\n${vs.map((v) => v.bytes).join('')}`, js: vs.map((v) => v.js) })),
    fc.array(fc.tuple(tie('value'), tie('value')), { maxLength: 3 }).map((kv) => ({
      bytes: `%${kv.length}\r\n${kv.map(([k, v]) => k.bytes + v.bytes).join('')}`,
      js: kv.map(([k, v]) => [k.js, v.js]),
    })),
    fc.tuple(fc.array(fc.tuple(leaf, leaf), { maxLength: 2 }), tie('value')).map(([kv, v]) => ({
      bytes: `|${kv.length}\r\n${kv.map(([a, b]) => a.bytes + b.bytes).join('')}${v.bytes}`,
      js: v.js,
    })),
  ),
}));

describe('fuzz: redis RequestParser', () => {
  test('valid multibulk and inline commands: every chunking yields the commands one-shot parsing yields', () => {
    check(
      fc.property(fc.array(fc.oneof({ weight: 4, arbitrary: commandArb }, { weight: 1, arbitrary: inlineArb }), { maxLength: 10 }), cutsArb, (cmds, cuts) => {
        const whole = Buffer.concat(cmds);
        const one = parseRequests([whole]);
        assert.equal(one.error, null);
        assert.equal(one.commands.length, cmds.length);
        assert.deepEqual(parseRequests(splitAt(whole, cuts)), one);
      }),
      SEED,
      500,
    );
  });

  test('round trip: encode.command -> parser gives back the arguments and the exact bytes', () => {
    check(
      fc.property(fc.array(argArb, { minLength: 1, maxLength: 8 }), cutsArb, (args, cuts) => {
        const bytes = command(args.map((a) => Buffer.from(a)));
        const got = parseRequests(splitAt(bytes, cuts));
        assert.deepEqual(got.commands, [JSON.stringify([args.map((a) => Buffer.from(a).toString('hex')), bytes.toString('hex'), bytes.length])]);
      }),
      SEED + 1,
      300,
    );
  });

  test('mutated and random input: only ProtocolError, chunking never changes the outcome', () => {
    const valid = fc.oneof(fc.array(commandArb, { maxLength: 4 }).map((c) => Buffer.concat(c)), inlineArb, bytesArb.map((b) => Buffer.from(b)));
    check(
      fc.property(valid, mutationsArb, cutsArb, (v, mutations, cuts) => {
        const input = mutate(v, mutations);
        assert.deepEqual(parseRequests(splitAt(input, cuts)), parseRequests([input]));
      }),
      SEED + 2,
      800,
    );
  });

  test('declared counts and lengths up to 2^31 (and 15 digits) allocate nothing near them', () => {
    const heads = ['*2147483648\r\n', '*1048576\r\n$3\r\nGET\r\n', '*1\r\n$2147483647\r\n', '*2\r\n$3\r\nSET\r\n$999999999999999\r\n', '*1\r\n$65530\r\nab', '*99999999999999\r\n'];
    check(
      fc.property(fc.constantFrom(...heads), bytesArb, cutsArb, (head, tail, cuts) => {
        const input = Buffer.concat([Buffer.from(head), tail]);
        const largest = largestAllocation(() => parseRequests(splitAt(input, cuts)));
        assert.ok(largest <= MAX + input.length, `allocated ${largest}`);
      }),
      SEED + 3,
      200,
    );
  });

  test('splitInline on random lines: only ProtocolError', () => {
    check(
      fc.property(fc.oneof(bytesArb, fc.stringMatching(/^[ a-z"'\\x0-9]{0,40}$/).map((s) => Buffer.from(s))), (line) => {
        onlyErrors(() => splitInline(Buffer.from(line)), ProtocolError);
      }),
      SEED + 4,
      1000,
    );
  });
});

describe('fuzz: redis ReplyScanner and decodeFrame', () => {
  test('valid RESP2/RESP3 replies: chunkings agree, frames are the inputs, decodeFrame round-trips them', () => {
    check(
      fc.property(fc.array(respArb, { minLength: 1, maxLength: 6 }), cutsArb, (values, cuts) => {
        const encoded = values.map((v) => Buffer.from(v.bytes));
        const whole = Buffer.concat(encoded);
        const one = scanReplies([whole]);
        assert.equal(one.error, null);
        assert.deepEqual(one.frames, encoded.map((b) => b.toString('hex')));
        assert.deepEqual(scanReplies(splitAt(whole, cuts)), one);
        for (let i = 0; i < values.length; i++) {
          const node = decodeFrame(encoded[i]!);
          assert.equal(node.end, encoded[i]!.length);
          assert.deepEqual(toJs(encoded[i]!, node), values[i]!.js);
        }
      }),
      SEED + 5,
      500,
    );
  });

  test('mutated replies: only ProtocolError from the scanner and from decodeFrame; chunking never changes the outcome', () => {
    const valid = fc.oneof(fc.array(respArb, { maxLength: 4 }).map((vs) => Buffer.from(vs.map((v) => v.bytes).join(''))), bytesArb.map((b) => Buffer.from(b)));
    check(
      fc.property(valid, mutationsArb, cutsArb, (v, mutations, cuts) => {
        const input = mutate(v, mutations);
        const one = scanReplies([input]);
        assert.deepEqual(scanReplies(splitAt(input, cuts)), one);
        for (const f of one.frames) onlyErrors(() => decodeFrame(Buffer.from(f, 'hex')), ProtocolError);
        onlyErrors(() => decodeFrame(input), ProtocolError);
      }),
      SEED + 6,
      800,
    );
  });

  test('regression: aggregate counts beyond 2^32 are a ProtocolError, not "Invalid array length"', () => {
    for (const head of ['*9999999999\r\n', '%4294967296\r\n', '~999999999999999\r\n', '|2147483648\r\n+x\r\n']) {
      assert.throws(() => decodeFrame(Buffer.from(head)), ProtocolError);
      assert.ok(largestAllocation(() => onlyErrors(() => decodeFrame(Buffer.from(head)), ProtocolError)) < 1024);
    }
  });

  test('regression: a long chain of attributes the scanner accepts decodes without exhausting the stack', () => {
    const frame = Buffer.from(`${'|0\r\n'.repeat(100_000)}+OK\r\n`);
    let complete = 0;
    new ReplyScanner().push(frame, { onFrameBytes: (_c, _s, _e, done) => void (complete += done ? 1 : 0) });
    assert.equal(complete, 1);
    const node = decodeFrame(frame);
    assert.equal(node.end, frame.length);
    assert.equal(toJs(frame, node), 'OK');
  });

  test('round trip: spliceFrame replaces string leaves and the result decodes to the new values', () => {
    check(
      fc.property(fc.array(fc.string({ maxLength: 20 }), { minLength: 1, maxLength: 6 }), fc.string({ maxLength: 20 }), (items, replacement) => {
        const frame = Buffer.from(`*${items.length}\r\n${items.map((s) => `$${Buffer.byteLength(s)}\r\n${s}\r\n`).join('')}`);
        const node = decodeFrame(frame);
        const out = spliceFrame(frame, 0, frame.length, node.children!.map((c) => ({ node: c, payload: Buffer.from(replacement) })));
        assert.deepEqual(toJs(out, decodeFrame(out)), items.map(() => replacement));
        assert.deepEqual(scanReplies([out]).frames, [out.toString('hex')]);
      }),
      SEED + 7,
      300,
    );
  });
});
