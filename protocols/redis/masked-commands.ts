/**
 * The masking guarantee for Redis commands (issue 16): what a role that sees masked data (`masksAnyFor`) may run,
 * decided per command before it is sent.
 *
 * - **Windows, lengths and bits are read from the masked value.** GETRANGE/SUBSTR, STRLEN, HSTRLEN and LCS are
 *   sent as GET/HGET/MGET; dgf masks the whole value as the role would see it and answers with Redis' own rules
 *   applied to the masked bytes (derive.ts). GETBIT, BITCOUNT, BITPOS and BITFIELD_RO/read-only BITFIELD of a key the
 *   role sees masked by name are refused; of any other key they are computed from the value as the value detectors
 *   leave it.
 * - **Field-level classification whatever the command**: HVALS is sent as HGETALL (so each value is classified by
 *   its field's name) and answered with the masked values; SORT ... GET <pattern> is sent with a `GET #` first, so
 *   dgf knows the element each value was fetched for and classifies the value by the key (and hash field) the
 *   pattern names for it; HINCRBY/HINCRBYFLOAT are classified by field, XINFO STREAM by stream field.
 * - **Integers of classified values** (INCR/INCRBY/DECR/DECRBY/HINCRBY, APPEND/SETRANGE lengths, SETBIT and BITFIELD
 *   writes answering old bits, sorted-set scores and geo coordinates of a set classified by name) are refused when
 *   the key (or field) is classified for the role; otherwise an integer that is itself a value is scanned, SETBIT is
 *   sent in a transaction of dgf's own (`MULTI; GET; SETBIT; EXEC`) and answered with the bit of the masked old
 *   value, and BITFIELD SET/INCRBY is refused.
 * - **Copies** into a name classified differently (COPY, RENAME, SMOVE, LMOVE, SORT ... STORE, *STORE, BITOP,
 *   PFMERGE, GEO* STORE) are refused: dgf classifies by name, so a value moved under another name would be read back
 *   under that name's plan. Copies between names with the same labels stay allowed.
 * - **Serializations and introspection** (DUMP, RESTORE, MIGRATE, OBJECT, DEBUG, MONITOR, SLOWLOG GET, CLIENT
 *   LIST/INFO, LATENCY, MEMORY USAGE) and **scripts** (EVAL*, FCALL*, SCRIPT LOAD, FUNCTION LOAD/RESTORE/DUMP/LIST)
 *   are refused: dgf cannot see what they read.
 *
 * Only commands whose table entry carries a guard reach this module, and only for a masked role: GET, SET and the
 * other commands of the hot path pay one integer comparison.
 */
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import type { CompiledPolicy } from '../../src/policy/types.js';
import type { ReplyShape } from './command-table.js';
import { decodeFrame, toJs } from './codec/decode.js';
import { errorReply, plain, type Plain } from './codec/encode.js';
import * as derive from './derive.js';
import { classificationName, type PlanCache } from './reply-masking.js';

/** What a command needs from the guard (set per command name in `GUARDS`). */
export const enum Guard {
  None = 0,
  HashVals,
  Window,
  Strlen,
  HStrlen,
  Lcs,
  GetBit,
  BitCount,
  BitPos,
  BitFieldRO,
  BitField,
  BitWrite,
  IntValue,
  HIntValue,
  LengthWrite,
  Scores,
  ScoresWith,
  Copy,
  Store,
  GeoStore,
  Sort,
  Refuse,
  Script,
}

/** Guards by command (`name` or `container|sub`). */
const GUARDS: Record<string, Guard> = {
  hvals: Guard.HashVals,
  getrange: Guard.Window,
  substr: Guard.Window,
  strlen: Guard.Strlen,
  hstrlen: Guard.HStrlen,
  lcs: Guard.Lcs,
  getbit: Guard.GetBit,
  bitcount: Guard.BitCount,
  bitpos: Guard.BitPos,
  bitfield_ro: Guard.BitFieldRO,
  bitfield: Guard.BitField,
  setbit: Guard.BitWrite,
  incr: Guard.IntValue,
  incrby: Guard.IntValue,
  decr: Guard.IntValue,
  decrby: Guard.IntValue,
  hincrby: Guard.HIntValue,
  append: Guard.LengthWrite,
  setrange: Guard.LengthWrite,
  zscore: Guard.Scores,
  zmscore: Guard.Scores,
  zincrby: Guard.Scores,
  zpopmin: Guard.Scores,
  zpopmax: Guard.Scores,
  bzpopmin: Guard.Scores,
  bzpopmax: Guard.Scores,
  zmpop: Guard.Scores,
  bzmpop: Guard.Scores,
  zscan: Guard.Scores,
  geopos: Guard.Scores,
  geodist: Guard.Scores,
  geohash: Guard.Scores,
  zadd: Guard.ScoresWith,
  zrange: Guard.ScoresWith,
  zrangebyscore: Guard.ScoresWith,
  zrevrange: Guard.ScoresWith,
  zrevrangebyscore: Guard.ScoresWith,
  zrandmember: Guard.ScoresWith,
  zunion: Guard.ScoresWith,
  zinter: Guard.ScoresWith,
  zdiff: Guard.ScoresWith,
  georadius_ro: Guard.ScoresWith,
  georadiusbymember_ro: Guard.ScoresWith,
  geosearch: Guard.ScoresWith,
  copy: Guard.Copy,
  rename: Guard.Copy,
  renamenx: Guard.Copy,
  smove: Guard.Copy,
  lmove: Guard.Copy,
  blmove: Guard.Copy,
  rpoplpush: Guard.Copy,
  brpoplpush: Guard.Copy,
  sunionstore: Guard.Store,
  sinterstore: Guard.Store,
  sdiffstore: Guard.Store,
  zunionstore: Guard.Store,
  zinterstore: Guard.Store,
  zdiffstore: Guard.Store,
  zrangestore: Guard.Store,
  geosearchstore: Guard.Store,
  bitop: Guard.Store,
  pfmerge: Guard.Store,
  georadius: Guard.GeoStore,
  georadiusbymember: Guard.GeoStore,
  sort: Guard.Sort,
  sort_ro: Guard.Sort,
  dump: Guard.Refuse,
  restore: Guard.Refuse,
  'restore-asking': Guard.Refuse,
  migrate: Guard.Refuse,
  debug: Guard.Refuse,
  monitor: Guard.Refuse,
  'object|encoding': Guard.Refuse,
  'object|freq': Guard.Refuse,
  'object|idletime': Guard.Refuse,
  'object|refcount': Guard.Refuse,
  'memory|usage': Guard.Refuse,
  'slowlog|get': Guard.Refuse,
  'client|list': Guard.Refuse,
  'client|info': Guard.Refuse,
  'latency|doctor': Guard.Refuse,
  'latency|graph': Guard.Refuse,
  'latency|histogram': Guard.Refuse,
  'latency|history': Guard.Refuse,
  'latency|latest': Guard.Refuse,
  'latency|reset': Guard.Refuse,
  eval: Guard.Script,
  evalsha: Guard.Script,
  eval_ro: Guard.Script,
  evalsha_ro: Guard.Script,
  fcall: Guard.Script,
  fcall_ro: Guard.Script,
  'script|load': Guard.Script,
  'function|load': Guard.Script,
  'function|restore': Guard.Script,
  'function|dump': Guard.Script,
  'function|list': Guard.Script,
};

/** The guard of a command (by its table name: `name` or `container|sub`). */
export function guardOf(fullName: string): Guard {
  return GUARDS[fullName] ?? Guard.None;
}

/**
 * Masking shapes that differ from the generator's by-name table (commands.json): values classified by hash field
 * (HINCRBYFLOAT answers the field's value) and by stream field (XINFO STREAM shows entries).
 */
export const SHAPE_OVERRIDES: Record<string, ReplyShape> = {
  hincrbyfloat: 'hash-field',
  'xinfo|stream': 'stream-info',
};

/** A masked reply computed by dgf from the reply to the command it sent instead. */
export type Derivation = (masked: Buffer, resp3: boolean) => Buffer;

export type GuardResult =
  /** Refused: `-NOPERM <message>`. */
  | { kind: 'refuse'; message: string }
  /** Answered by dgf (an argument error, as Redis would answer it). */
  | { kind: 'reply'; reply: Buffer }
  /**
   * Sent as `args` (null: as the client sent it), its reply masked as `shape` and then turned into the client's reply
   * by `derive`. With `queued`, dgf sends `MULTI`, the queued commands and then `args` (EXEC), ignores the replies
   * before EXEC's, and masks EXEC's with `tx` (one target per queued command).
   */
  | { kind: 'rewrite'; args: Buffer[] | null; shape: ReplyShape; derive: Derivation | null; queued?: Buffer[][]; tx?: MaskTargetLike[] };

/** A queued command's masking target (reply-masking.ts MaskTarget, without the import cycle). */
export interface MaskTargetLike {
  name: string;
  shape: ReplyShape;
  args: readonly Buffer[];
  keys: readonly Buffer[];
}

/** What the guard reads: the policy snapshot, the role, the session's plan cache. */
export interface GuardContext {
  policy: CompiledPolicy;
  role: string;
  plans: PlanCache;
  /** The client is in MULTI or holds WATCHed keys (dgf cannot wrap a command in a transaction of its own). */
  inTransaction?: boolean;
}

const B = (s: string): Buffer => Buffer.from(s);
const GET = B('GET');
const HGET = B('HGET');
const HGETALL = B('HGETALL');
const MGET = B('MGET');
const EXEC = B('EXEC');

const REFUSAL_TAIL = 'refused for a role that sees masked data';

/** Sent as is, its integer reply scanned as the value it is (shared: nothing is allocated per command). */
const INT_VALUE: GuardResult = Object.freeze({ kind: 'rewrite', args: null, shape: 'int-value', derive: null });

function upper(name: string): string {
  return name.replace('|', ' ').toUpperCase();
}

function same(arg: Buffer | undefined, word: string): boolean {
  return arg !== undefined && arg.length === word.length && arg.toString('latin1').toLowerCase() === word;
}

function hasWord(args: readonly Buffer[], from: number, ...words: string[]): boolean {
  for (let i = from; i < args.length; i++) for (const w of words) if (same(args[i], w)) return true;
  return false;
}

/** How the role sees values named `name`: 'mask' (classified by name), 'scan' (value detectors) or 'clear'. */
function modeOf(ctx: GuardContext, name: string): 'clear' | 'mask' | 'scan' {
  return ctx.plans.get(ctx.policy, ctx.role, classificationName(name)).mode;
}

/** `name (label, label)` or `name (unclassified)`, for messages. */
function described(ctx: GuardContext, name: string): string {
  const labels = ctx.policy.labelsForName(classificationName(name));
  return `${name.slice(0, 100)} (${labels.length > 0 ? labels.join(', ') : 'unclassified'})`;
}

/** Whether two names carry the same labels (so a value moved between them is read back under the same plan). */
function sameLabels(ctx: GuardContext, a: string, b: string): boolean {
  const la = ctx.policy.labelsForName(classificationName(a));
  const lb = ctx.policy.labelsForName(classificationName(b));
  if (la.length !== lb.length) return false;
  for (const l of la) if (!lb.includes(l)) return false;
  return true;
}

/** The first source whose value would land under a differently classified name, as a refusal. */
function copyRefusal(ctx: GuardContext, command: string, sources: readonly string[], dests: readonly string[]): GuardResult | null {
  for (const d of dests) {
    for (const s of sources) {
      if (s === d || sameLabels(ctx, s, d)) continue;
      return {
        kind: 'refuse',
        message: `dgf: ${upper(command)} would copy values of ${described(ctx, s)} to ${described(ctx, d)}, where dgf would read them under another classification; ${REFUSAL_TAIL}`,
      };
    }
  }
  return null;
}

function refuseClassified(command: string, ctx: GuardContext, name: string, what: string): GuardResult {
  return { kind: 'refuse', message: `dgf: ${upper(command)} ${what} of ${described(ctx, name)}, which this role sees masked; ${REFUSAL_TAIL}` };
}

function argError(message: string): GuardResult {
  return { kind: 'reply', reply: errorReply(message) };
}

/**
 * Decide a guarded command for a masked role. `keys` are the command's key arguments (latin1). Returns null when the
 * command runs as sent.
 */
export function guardCommand(guard: Guard, fullName: string, args: readonly Buffer[], keys: readonly string[], ctx: GuardContext): GuardResult | null {
  const key = keys[0] ?? '';
  switch (guard) {
    case Guard.None:
      return null;
    case Guard.HashVals:
      return { kind: 'rewrite', args: [HGETALL, args[1]!], shape: 'hash-map', derive: derive.hashValues };
    case Guard.Window: {
      const start = derive.parseInteger(args[2]);
      const end = derive.parseInteger(args[3]);
      if (start === null || end === null) return argError('ERR value is not an integer or out of range');
      if (modeOf(ctx, key) === 'clear') return null;
      return { kind: 'rewrite', args: [GET, args[1]!], shape: 'values', derive: (m) => derive.getRange(m, start, end) };
    }
    case Guard.Strlen:
      // A length is of the value the role sees; of an unclassified name it is the stored length (as Redis says).
      if (modeOf(ctx, key) !== 'mask') return null;
      return { kind: 'rewrite', args: [GET, args[1]!], shape: 'values', derive: derive.length };
    case Guard.HStrlen:
      if (modeOf(ctx, `${key}:${args[2]!.toString('latin1')}`) !== 'mask') return null;
      return { kind: 'rewrite', args: [HGET, args[1]!, args[2]!], shape: 'hash-field', derive: derive.length };
    case Guard.Lcs: {
      const o = derive.parseLcsOptions(args);
      if (typeof o === 'string') return argError(o);
      return { kind: 'rewrite', args: [MGET, args[1]!, args[2]!], shape: 'per-key', derive: (m, resp3) => derive.lcs(m, o, resp3) };
    }
    case Guard.GetBit: {
      const mode = modeOf(ctx, key);
      if (mode === 'clear') return null;
      if (mode === 'mask') return refuseClassified(fullName, ctx, key, 'reads the bits');
      const offset = derive.parseBitOffset(args[2]);
      if (offset === null) return argError('ERR bit offset is not an integer or out of range');
      return { kind: 'rewrite', args: [GET, args[1]!], shape: 'values', derive: (m) => derive.getBit(m, offset) };
    }
    case Guard.BitCount:
    case Guard.BitPos: {
      const mode = modeOf(ctx, key);
      if (mode === 'clear') return null;
      if (mode === 'mask') return refuseClassified(fullName, ctx, key, 'reads the bits');
      const all = args.slice();
      const f = guard === Guard.BitCount ? derive.bitCount : derive.bitPos;
      return { kind: 'rewrite', args: [GET, args[1]!], shape: 'values', derive: (m) => f(m, all) };
    }
    case Guard.BitFieldRO:
    case Guard.BitField: {
      const mode = modeOf(ctx, key);
      if (mode === 'clear') return null;
      if (mode === 'mask') return refuseClassified(fullName, ctx, key, 'reads the bits');
      const gets = derive.parseBitFieldGets(args, guard === Guard.BitFieldRO);
      if (typeof gets === 'string') return argError(gets);
      if (gets === null) {
        // SET and INCRBY answer the bits the value held before the write, which dgf cannot mask first.
        return {
          kind: 'refuse',
          message: `dgf: BITFIELD SET/INCRBY answers the stored bits of ${described(ctx, key)}, which may hold values this role sees masked; ${REFUSAL_TAIL}`,
        };
      }
      return { kind: 'rewrite', args: [GET, args[1]!], shape: 'values', derive: (m) => derive.bitFieldGets(m, gets) };
    }
    case Guard.BitWrite: {
      const mode = modeOf(ctx, key);
      if (mode === 'clear') return null;
      if (mode === 'mask') return refuseClassified(fullName, ctx, key, 'answers the stored bits');
      if (ctx.inTransaction) {
        return {
          kind: 'refuse',
          message: `dgf: SETBIT answers the bit ${key.slice(0, 100)} held before the write, which dgf reads from the masked value in a transaction of its own, not inside the client's MULTI or WATCH; ${REFUSAL_TAIL}`,
        };
      }
      const offset = derive.parseBitOffset(args[2]);
      if (offset === null) return argError('ERR bit offset is not an integer or out of range');
      if (!same(args[3], '0') && !same(args[3], '1')) return argError('ERR bit is not an integer or out of range');
      // MULTI, GET key, SETBIT ..., EXEC: the old bit is read from the masked old value, in the same transaction.
      const k = args[1]!;
      return {
        kind: 'rewrite',
        args: [EXEC],
        shape: 'exec',
        queued: [[GET, k], args.slice()],
        tx: [
          { name: 'get', shape: 'values', args: [GET, k], keys: [k] },
          { name: 'setbit', shape: 'none', args: args.slice(), keys: [k] },
        ],
        derive: (m) => derive.oldBit(m, offset),
      };
    }
    case Guard.IntValue: {
      const mode = modeOf(ctx, key);
      if (mode === 'clear') return null;
      if (mode === 'mask') return refuseClassified(fullName, ctx, key, 'answers the stored value');
      return INT_VALUE;
    }
    case Guard.HIntValue: {
      const name = `${key}:${args[2]!.toString('latin1')}`;
      const mode = modeOf(ctx, name);
      if (mode === 'clear') return null;
      if (mode === 'mask') return refuseClassified(fullName, ctx, name, 'answers the stored value');
      return INT_VALUE;
    }
    case Guard.LengthWrite:
      return modeOf(ctx, key) === 'mask' ? refuseClassified(fullName, ctx, key, 'answers the stored length') : null;
    case Guard.Scores:
      for (const k of keys) if (modeOf(ctx, k) === 'mask') return refuseClassified(fullName, ctx, k, 'answers scores (or coordinates)');
      return null;
    case Guard.ScoresWith:
      if (!hasWord(args, 2, 'withscores', 'withcoord', 'withdist', 'withhash', 'incr')) return null;
      for (const k of keys) if (modeOf(ctx, k) === 'mask') return refuseClassified(fullName, ctx, k, 'answers scores (or coordinates)');
      return null;
    case Guard.Copy:
      return copyRefusal(ctx, fullName, keys.slice(0, 1), keys.slice(1, 2));
    case Guard.Store:
      return copyRefusal(ctx, fullName, keys.slice(1), keys.slice(0, 1));
    case Guard.GeoStore: {
      if (keys.length > 1) return copyRefusal(ctx, fullName, keys.slice(0, 1), keys.slice(1));
      return guardCommand(Guard.ScoresWith, fullName, args, keys, ctx);
    }
    case Guard.Sort:
      return guardSort(fullName, args, key, ctx);
    case Guard.Refuse:
      return { kind: 'refuse', message: `dgf: ${upper(fullName)} ${REFUSE_WHY[fullName.split('|')[0]!] ?? 'shows values where dgf cannot mask them'}; ${REFUSAL_TAIL}` };
    case Guard.Script:
      return guardScript(fullName, args, ctx);
  }
}

const REFUSE_WHY: Record<string, string> = {
  dump: 'serializes a value where dgf cannot mask it',
  restore: 'writes a serialized value dgf cannot read',
  'restore-asking': 'writes a serialized value dgf cannot read',
  migrate: 'copies values to another server where dgf cannot follow them',
  debug: 'shows encodings, digests and internals of values',
  monitor: "shows every client's commands with their values",
  object: 'shows the encoding and use of a value (an integer, its size class)',
  memory: 'shows the size of a value',
  slowlog: "shows other clients' commands with their arguments",
  client: "shows other connections' state and names",
  latency: 'shows server internals',
};

/**
 * Scripts and functions read what dgf cannot trace (a script can read any key it is told about in ARGV, or none).
 * A script allow-listed in policy (`scripts`: its body's SHA1 with the labels its output may carry) runs, and its
 * reply gets the derived mask of those labels; loading it is harmless. Every other script, and every function
 * (FCALL, FUNCTION LOAD: a library has no body SHA a policy could name), is refused for a masked role.
 */
function guardScript(fullName: string, args: readonly Buffer[], ctx: GuardContext): GuardResult | null {
  const sha = scriptSha(fullName, args);
  const labels = sha === null ? null : ctx.policy.scriptLabels(sha);
  if (labels !== null) {
    if (fullName === 'script|load') return null;
    return { kind: 'rewrite', args: null, shape: 'values', derive: scriptReply(labels, ctx) };
  }
  const what = fullName.startsWith('function') || fullName.startsWith('fcall') ? 'functions' : 'scripts';
  return {
    kind: 'refuse',
    message: `dgf: ${upper(fullName)}: ${what} read keys and values dgf cannot trace (a script may read any key named in its arguments); ${REFUSAL_TAIL} unless the script is allow-listed in policy (scripts: sha1 + labels)`,
  };
}

/** The SHA1 a script command names: EVALSHA's argument, the hash of EVAL's or SCRIPT LOAD's body; null for functions. */
function scriptSha(fullName: string, args: readonly Buffer[]): string | null {
  switch (fullName) {
    case 'evalsha':
    case 'evalsha_ro':
      return args[1] ? args[1].toString('latin1').toLowerCase() : null;
    case 'eval':
    case 'eval_ro':
      return args[1] ? createHash('sha1').update(args[1]).digest('hex') : null;
    case 'script|load':
      return args[2] ? createHash('sha1').update(args[2]).digest('hex') : null;
    default:
      return null;
  }
}

/**
 * An allow-listed script's reply as the role may see it: when one of the script's labels is masked for the role,
 * every string becomes the derived mask and every number null (a count or code computed from a masked value is
 * derived from it too); errors pass (they were scrubbed). Otherwise the reply as masked by its shape (detectors).
 */
function scriptReply(labels: readonly string[], ctx: GuardContext): Derivation | null {
  const plan = ctx.policy.derivedPlan(ctx.role, labels, 'text');
  if (plan.mode !== 'mask') return null;
  return (masked, resp3) => {
    const c = masked[0];
    if (c === 0x2d || c === 0x21) return masked; // '-' / '!': an error
    const redact = (v: unknown): Plain => {
      if (v === null || v === undefined) return null;
      if (typeof v === 'string') return plan.apply(v) as string;
      // Arrays, and RESP3 maps (decoded as [key, value] pairs), keep their structure with every leaf masked.
      if (Array.isArray(v)) return v.map(redact);
      return null;
    };
    return Buffer.from(plain(redact(toJs(masked, decodeFrame(masked))), resp3));
  };
}

/** The arguments of SORT/SORT_RO after the key. */
interface SortArgs {
  gets: string[];
  /** Index of the first `GET` keyword, -1 when none. */
  firstGet: number;
  store: string | null;
}

function parseSort(args: readonly Buffer[]): SortArgs {
  const out: SortArgs = { gets: [], firstGet: -1, store: null };
  for (let i = 2; i < args.length; i++) {
    const a = args[i]!;
    if (same(a, 'by') && i + 1 < args.length) i++;
    else if (same(a, 'limit') && i + 2 < args.length) i += 2;
    else if (same(a, 'get') && i + 1 < args.length) {
      if (out.firstGet < 0) out.firstGet = i;
      out.gets.push(args[++i]!.toString('latin1'));
    } else if (same(a, 'store') && i + 1 < args.length) out.store = args[++i]!.toString('latin1');
  }
  return out;
}

function guardSort(fullName: string, args: readonly Buffer[], key: string, ctx: GuardContext): GuardResult | null {
  const s = parseSort(args);
  const fetches = s.gets.some((p) => p !== '#' && p.includes('*'));
  if (s.store !== null) {
    if (fetches) {
      return {
        kind: 'refuse',
        message: `dgf: ${upper(fullName)} ... GET ... STORE would copy values of keys named by the elements of ${key.slice(0, 100)} into ${described(ctx, s.store)}; ${REFUSAL_TAIL}`,
      };
    }
    return copyRefusal(ctx, fullName, [key], [s.store]);
  }
  if (!fetches) return null;
  // Fetch the element first, so each value can be classified by the key (and field) its pattern names.
  const rewritten = [...args.slice(0, s.firstGet), GET, Buffer.from('#'), ...args.slice(s.firstGet)];
  const stride = s.gets.length + 1;
  return { kind: 'rewrite', args: rewritten, shape: 'sort-subst', derive: (m) => derive.dropInjected(m, stride) };
}
