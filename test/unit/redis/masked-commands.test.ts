import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PolicyStore, type CompiledPolicy } from '../../../src/policy/index.js';
import { PlanCache, maskReply, type MaskTarget } from '../../../protocols/redis/reply-masking.js';
import { decodeFrame, toJs } from '../../../protocols/redis/codec/decode.js';
import { extractKeys, lookupCommand } from '../../../protocols/redis/command-table.js';
import { Guard, guardCommand, type GuardResult } from '../../../protocols/redis/masked-commands.js';
import * as derive from '../../../protocols/redis/derive.js';
import { byteWindow, charWindow, maskedWhole } from '../../../src/governance/masked-window.js';

let policy: CompiledPolicy;
const plans = new PlanCache();

const bulk = (s: string): string => `$${Buffer.byteLength(s)}\r\n${s}\r\n`;
const arr = (...items: string[]): string => `*${items.length}\r\n${items.join('')}`;
const js = (b: Buffer): unknown => toJs(b, decodeFrame(b));

function guard(role: string, ...argv: string[]): GuardResult | null {
  const args = argv.map((a) => Buffer.from(a));
  const info = lookupCommand(argv[0]!.toLowerCase(), args[1])!;
  const keys = extractKeys(info.spec, args).map((k) => k.toString('latin1'));
  return guardCommand(info.guard, info.fullName, args, keys, { policy, role, plans });
}

/** The reply the client gets when the guard rewrote the command and Redis answered `upstream` to it. */
function answer(role: string, upstream: string, ...argv: string[]): unknown {
  const g = guard(role, ...argv);
  assert.ok(g && g.kind === 'rewrite', `${argv.join(' ')} is rewritten`);
  const info = lookupCommand(argv[0]!.toLowerCase(), Buffer.from(argv[1] ?? ''))!;
  const args = argv.map((a) => Buffer.from(a));
  const t: MaskTarget = { name: info.name, shape: g.shape, args: g.args ?? args, keys: extractKeys(info.spec, args), derive: g.derive };
  return js(maskReply(Buffer.from(upstream), t, { policy, role, stats: undefined }, false));
}

describe('the masking guarantee for Redis commands (masked-commands.ts, derive.ts)', () => {
  before(async () => {
    policy = (await PolicyStore.load({ hashKey: 'unit-test-key-0123456789abcdef' })).current();
  });

  test('the command table carries guards; GET and SET carry none', () => {
    assert.equal(lookupCommand('get', undefined)!.guard, Guard.None);
    assert.equal(lookupCommand('set', undefined)!.guard, Guard.None);
    assert.equal(lookupCommand('hvals', undefined)!.guard, Guard.HashVals);
    assert.equal(lookupCommand('object', Buffer.from('ENCODING'))!.guard, Guard.Refuse);
    assert.equal(lookupCommand('hincrbyfloat', undefined)!.spec.reply, 'hash-field');
    assert.equal(lookupCommand('xinfo', Buffer.from('STREAM'))!.spec.reply, 'stream-info');
  });

  test('a window is cut from the masked value, never from the clear one', () => {
    // The e-mail mask of the whole value, then bytes 1..100: no second letter of the clear local part.
    assert.equal(answer('analyst', bulk('ann@example.com'), 'GETRANGE', 'user:1:email', '1', '100'), '***@example.com');
    assert.equal(answer('analyst', bulk('ann@example.com'), 'GETRANGE', 'user:1:email', '-3', '-1'), 'com');
    assert.equal(answer('analyst', '$-1\r\n', 'GETRANGE', 'user:1:email', '0', '5'), '');
    assert.equal(answer('analyst', bulk('123-45-6789'), 'SUBSTR', 'user:1:ssn', '0', '5'), '***-**');
    assert.deepEqual(guard('analyst', 'GETRANGE', 'user:1:email', 'x', '1'), { kind: 'reply', reply: Buffer.from('-ERR value is not an integer or out of range\r\n') });
    assert.equal(guard('admin', 'GETRANGE', 'user:1:email', '0', '1'), null, 'a role that sees everything is not guarded (the session does not ask)');
  });

  test('STRLEN and HSTRLEN of a classified name answer the masked length', () => {
    assert.equal(answer('analyst', bulk('ann@example.com'), 'STRLEN', 'user:1:email'), 'a***@example.com'.length);
    assert.equal(guard('analyst', 'STRLEN', 'note:1'), null, 'the stored length of an unclassified name');
    assert.equal(answer('analyst', bulk('Asthma'), 'HSTRLEN', 'patient:1', 'diagnosis'), '[REDACTED]'.length);
  });

  test('HVALS is read as HGETALL, each value masked by its field', () => {
    assert.deepEqual(answer('analyst', arr(bulk('city'), bulk('Lyon'), bulk('diagnosis'), bulk('Asthma'), bulk('ssn'), bulk('123-45-6789')), 'HVALS', 'user:1'), [
      'Lyon',
      '[REDACTED]',
      '***-**-6789',
    ]);
    const resp3 = `%2\r\n${bulk('diagnosis')}${bulk('Asthma')}${bulk('city')}${bulk('Lyon')}`;
    assert.deepEqual(answer('analyst', resp3, 'HVALS', 'user:1'), ['[REDACTED]', 'Lyon']);
  });

  test('SORT ... GET <pattern> classifies each value by the key and field the pattern names for its element', () => {
    assert.equal(derive.sortPatternName('user:*->diagnosis', '7', 'ids'), 'user:7:diagnosis');
    assert.equal(derive.sortPatternName('*', 'user:7:email', 'ids'), 'user:7:email');
    assert.equal(derive.sortPatternName('#', '7', 'ids'), 'ids');
    assert.equal(derive.sortPatternName('fixed', '7', 'ids'), 'fixed');
    // dgf sent SORT ids GET # GET user:*->diagnosis GET *: groups of (element, diagnosis, value of the key named).
    const upstream = arr(bulk('7'), bulk('Asthma'), '$-1\r\n', bulk('user:7:email'), '$-1\r\n', bulk('ann@example.com'));
    assert.deepEqual(answer('analyst', upstream, 'SORT', 'ids', 'GET', 'user:*->diagnosis', 'GET', '*'), ['[REDACTED]', null, null, 'a***@example.com']);
    assert.equal(guard('analyst', 'SORT', 'ids', 'GET', '#'), null);
    assert.equal(guard('analyst', 'SORT', 'ids', 'GET', '*', 'STORE', 'out')?.kind, 'refuse');
  });

  test('bits of a classified name are refused; of other names computed from the masked value', () => {
    for (const argv of [
      ['GETBIT', 'user:1:email', '3'],
      ['BITCOUNT', 'user:1:ssn', '0', '0', 'BIT'],
      ['BITPOS', 'user:1:ssn', '1'],
      ['BITFIELD_RO', 'user:1:email', 'GET', 'u8', '0'],
      ['SETBIT', 'user:1:ssn', '0', '1'],
    ]) {
      const g = guard('analyst', ...argv);
      assert.equal(g?.kind, 'refuse', argv.join(' '));
      assert.match((g as { message: string }).message, /^dgf: .* which this role sees masked; refused for a role that sees masked data$/);
    }
    // "paid 4111 1111 1111 1111": the bits of the masked text, where the card's digits are stars.
    const note = bulk('card 4111 1111 1111 1111');
    const masked = Buffer.from('card **** **** **** 1111');
    assert.equal(answer('analyst', note, 'GETBIT', 'note:1', String(5 * 8 + 2)), (masked[5]! >> 5) & 1);
    assert.deepEqual(answer('analyst', note, 'BITFIELD_RO', 'note:1', 'GET', 'u8', String(5 * 8)), ['*'.charCodeAt(0)]);
    // SETBIT answers the old bit: read in a transaction of dgf's own from the masked old value.
    const setbit = guard('analyst', 'SETBIT', 'note:1', String(5 * 8 + 2), '1') as Extract<GuardResult, { kind: 'rewrite' }>;
    assert.deepEqual(
      setbit.queued?.map((q) => q.map(String)),
      [
        ['GET', 'note:1'],
        ['SETBIT', 'note:1', '42', '1'],
      ],
    );
    const exec: MaskTarget = { name: 'setbit', shape: setbit.shape, args: setbit.args ?? [], keys: [Buffer.from('note:1')], tx: setbit.tx, derive: setbit.derive };
    const reply = Buffer.from(arr(note, ':1\r\n'));
    assert.equal(js(maskReply(reply, exec, { policy, role: 'analyst', stats: undefined }, false)), (masked[5]! >> 5) & 1);
    assert.equal(guardCommand(Guard.BitWrite, 'setbit', ['SETBIT', 'note:1', '0', '1'].map((a) => Buffer.from(a)), ['note:1'], { policy, role: 'analyst', plans, inTransaction: true })?.kind, 'refuse');
    assert.equal(guard('analyst', 'BITFIELD', 'note:1', 'SET', 'u8', '0', '1')?.kind, 'refuse');
  });

  test('LCS with Redis\' own answers (its documentation example), on masked values', () => {
    const o = derive.parseLcsOptions(['LCS', 'a', 'b'].map((s) => Buffer.from(s)));
    assert.ok(typeof o !== 'string');
    const frame = Buffer.from(arr(bulk('ohmytext'), bulk('mynewtext')));
    assert.equal(js(derive.lcs(frame, o, false)), 'mytext');
    const idx = derive.parseLcsOptions(['LCS', 'a', 'b', 'IDX', 'MINMATCHLEN', '4', 'WITHMATCHLEN'].map((s) => Buffer.from(s)));
    assert.ok(typeof idx !== 'string');
    assert.deepEqual(js(derive.lcs(frame, idx, false)), ['matches', [[[4, 7], [5, 8], 4]], 'len', 6]);
    // The probe guesses the clear e-mail; the classified side is masked first, so the guess confirms nothing.
    assert.equal(answer('analyst', arr(bulk('ann@example.com'), bulk('annXexample')), 'LCS', 'user:1:email', 'probe'), 'aexample');
  });

  test('integers of classified values are refused; copies need the same labels on both names', () => {
    assert.equal(guard('analyst', 'INCRBY', 'user:1:salary', '0')?.kind, 'refuse');
    assert.equal(guard('analyst', 'HINCRBY', 'user:1', 'salary', '0')?.kind, 'refuse');
    assert.equal(guard('analyst', 'HINCRBY', 'user:1', 'visits', '1')?.kind, 'rewrite', 'scanned');
    assert.equal(guard('analyst', 'ZSCORE', 'ranking:salary', 'ann')?.kind, 'refuse');
    assert.equal(guard('analyst', 'ZRANGE', 'ranking:salary', '0', '-1'), null, 'members only');
    assert.equal(guard('analyst', 'COPY', 'user:1:email', 'backup')?.kind, 'refuse');
    assert.equal(guard('analyst', 'COPY', 'user:1:email', 'user:2:email'), null);
    assert.equal(guard('analyst', 'RENAME', 'user:1', 'user:2'), null);
    assert.equal(guard('analyst', 'SUNIONSTORE', 'out', 'tags', 'members:email')?.kind, 'refuse');
    assert.equal(guard('analyst', 'DUMP', 'anything')?.kind, 'refuse');
    assert.equal(guard('analyst', 'FCALL_RO', 'f', '0')?.kind, 'refuse');
  });

  test('a scanned integer that a value detector would mask is withheld', () => {
    const t: MaskTarget = { name: 'incrby', shape: 'int-value', args: ['INCRBY', 'n', '0'].map((s) => Buffer.from(s)), keys: [Buffer.from('n')] };
    const ctx = { policy, role: 'analyst', stats: undefined };
    assert.equal(maskReply(Buffer.from(':42\r\n'), t, ctx, false).toString(), ':42\r\n');
    assert.match(maskReply(Buffer.from(':4111111111111111\r\n'), t, ctx, false).toString(), /^-NOPERM dgf: the reply of INCRBY/);
  });

  test('RESP3 attributes are masked like the value they precede; EXEC elements dgf computes are replaced whole', () => {
    const t: MaskTarget = { name: 'get', shape: 'values', args: ['GET', 'user:1:email'].map((s) => Buffer.from(s)), keys: [Buffer.from('user:1:email')] };
    const withAttr = Buffer.from(`*1\r\n|1\r\n${bulk('hint')}${bulk('ann@example.com')}${bulk('ann@example.com')}`);
    const out = maskReply(withAttr, t, { policy, role: 'analyst', stats: undefined }, true).toString();
    assert.ok(!out.includes('ann@'), out);
    const g = guard('analyst', 'GETRANGE', 'user:1:email', '1', '3') as Extract<GuardResult, { kind: 'rewrite' }>;
    const q: MaskTarget = { name: 'getrange', shape: g.shape, args: g.args ?? [], keys: [Buffer.from('user:1:email')], derive: g.derive };
    const exec: MaskTarget = { name: 'exec', shape: 'exec', args: [Buffer.from('EXEC')], keys: [], tx: [t, q] };
    const reply = Buffer.from(arr(bulk('ann@example.com'), bulk('ann@example.com')));
    assert.deepEqual(js(maskReply(reply, exec, { policy, role: 'analyst', stats: undefined }, false)), ['a***@example.com', '***']);
  });

  test('the shared window of a masked value (src/governance/masked-window.ts)', () => {
    const plan = policy.fieldPlan('analyst', { name: 'email', type: 'text' });
    assert.equal(maskedWhole('ann@example.com', plan), 'a***@example.com');
    assert.equal(maskedWhole('ann@example.com', policy.fieldPlan('admin', { name: 'email', type: 'text' })), 'ann@example.com');
    assert.deepEqual(Buffer.from(byteWindow(Buffer.from('abcdef'), 2, 100)).toString(), 'cdef');
    assert.equal(charWindow('héllo wörld', 1, 4), 'éllo');
    assert.equal(charWindow('abc', 5), '');
  });
});

describe('scripts: refused for a masked role unless allow-listed in policy by the SHA1 of their body', () => {
  const BODY = "return {redis.call('GET', KEYS[1]), 42}";
  const SHA = createHash('sha1').update(BODY).digest('hex');
  let allowing: CompiledPolicy;

  before(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dgf-scripts-'));
    await writeFile(join(dir, 'scripts.yaml'), `scripts:\n  - sha1: ${SHA.toUpperCase()}\n    labels: [pii.email]\n    description: reads one user's e-mail\n`);
    allowing = (await PolicyStore.load({ dir, hashKey: 'unit-test-key-0123456789abcdef' })).current();
    await rm(dir, { recursive: true, force: true });
  });

  function guardWith(p: CompiledPolicy, role: string, ...argv: string[]): GuardResult | null {
    const args = argv.map((a) => Buffer.from(a));
    const info = lookupCommand(argv[0]!.toLowerCase(), args[1])!;
    const keys = extractKeys(info.spec, args).map((k) => k.toString('latin1'));
    return guardCommand(info.guard, info.fullName, args, keys, { policy: p, role, plans: new PlanCache() });
  }

  test('not allow-listed: EVAL, EVALSHA, FCALL and SCRIPT LOAD are refused, naming the allow-list', () => {
    for (const argv of [['EVAL', BODY, '1', 'user:1:email'], ['EVALSHA', SHA, '1', 'k'], ['FCALL', 'f', '0'], ['SCRIPT', 'LOAD', BODY]]) {
      const g = guardWith(policy, 'analyst', ...argv);
      assert.ok(g && g.kind === 'refuse' && /allow-listed in policy/.test(g.message), argv.join(' '));
    }
  });

  test('allow-listed: EVALSHA (any case) and EVAL of the same body run; the reply gets the derived mask of its labels', () => {
    assert.equal(allowing.scriptLabels(SHA), allowing.scriptLabels(SHA.toUpperCase()));
    assert.deepEqual(allowing.scriptLabels(SHA), ['pii.email']);
    for (const argv of [['EVALSHA', SHA.toUpperCase(), '1', 'user:1:email'], ['EVAL', BODY, '1', 'user:1:email']]) {
      const g = guardWith(allowing, 'analyst', ...argv);
      assert.ok(g && g.kind === 'rewrite' && g.args === null && g.derive !== null, argv.join(' '));
      const reply = g.derive!(Buffer.from(arr(bulk('alice@example.com'), ':42\r\n')), false);
      assert.deepEqual(js(reply), ['[REDACTED]', null]);
      // An error reply passes as it is (it was scrubbed upstream of the derivation).
      assert.equal(g.derive!(Buffer.from('-ERR boom\r\n'), false).toString(), '-ERR boom\r\n');
    }
    assert.equal(guardWith(allowing, 'analyst', 'SCRIPT', 'LOAD', BODY), null, 'loading an allow-listed script runs as sent');
    // A role that sees e-mails clear gets the reply as Redis sent it (masked by its shape only).
    const dpo = guardWith(allowing, 'dpo', 'EVALSHA', SHA, '1', 'user:1:email');
    assert.ok(dpo && dpo.kind === 'rewrite' && dpo.derive === null);
  });

  test('a malformed allow-list entry is a config error with file and line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dgf-scripts-bad-'));
    await writeFile(join(dir, 'bad.yaml'), 'scripts:\n  - sha1: not-a-sha\n    labels: [pii.email]\n');
    await assert.rejects(PolicyStore.load({ dir }), (err: Error) => /bad\.yaml:2/.test(String(err.message)) && /sha1/.test(String(err.message)));
    await rm(dir, { recursive: true, force: true });
  });
});
