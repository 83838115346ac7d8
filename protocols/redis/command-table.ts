/**
 * The Redis command table (protocols/redis/commands.json, generated from a real server's COMMAND INFO/DOCS by
 * scripts/gen-redis-commands.ts): which arguments are keys, the command's ACL categories and flags, and the
 * shape of its reply, so the proxy knows what to classify, what to refuse and what to mask.
 */
import { readFileSync } from 'node:fs';
import { guardOf, SHAPE_OVERRIDES, type Guard } from './masked-commands.js';

/** Where the keys of a command start and how to find them (Redis key specifications). */
export interface KeySpec {
  flags: string[];
  begin: { type: 'index'; index: number } | { type: 'keyword'; keyword: string; startfrom: number } | { type: 'unknown' };
  find:
    | { type: 'range'; lastkey: number; keystep: number; limit: number }
    | { type: 'keynum'; keynumidx: number; firstkey: number; keystep: number }
    | { type: 'unknown' };
}

/**
 * How to read a reply for masking (see reply-masking.ts):
 * none (no stored values), keys (key names only), values (every string is a value of the command's keys),
 * per-key (MGET), hash-field (HGET), hash-fields (HMGET), hash-map (HGETALL), hash-randfield, hash-scan,
 * zset (members, scores left clear), zset-scan, zset-keyed (BZPOPMIN), zset-mpop, list-keyed (BLPOP), list-mpop,
 * set-scan, stream-entries (XRANGE), stream-read (XREAD), stream-autoclaim, stream-info (XINFO STREAM [FULL]: entries
 * by stream field), sort (SORT ... GET), sort-subst (SORT ... GET # GET <pattern>...: values classified by the name
 * the pattern gives each element), int-value (an integer reply that is the key's or field's value), exec.
 */
export type ReplyShape =
  | 'none'
  | 'keys'
  | 'values'
  | 'per-key'
  | 'hash-field'
  | 'hash-fields'
  | 'hash-map'
  | 'hash-randfield'
  | 'hash-scan'
  | 'zset'
  | 'zset-scan'
  | 'zset-keyed'
  | 'zset-mpop'
  | 'list-keyed'
  | 'list-mpop'
  | 'set-scan'
  | 'stream-entries'
  | 'stream-read'
  | 'stream-autoclaim'
  | 'stream-info'
  | 'sort'
  | 'sort-subst'
  | 'int-value'
  | 'exec';

/** One command (or subcommand, named `container|sub`). */
export interface CommandSpec {
  /** Redis arity: positive = exact argument count (with the name), negative = at least -arity. */
  arity: number;
  /** Redis command flags (write, readonly, denyoom, blocking, pubsub, ...). */
  flags: string[];
  /** ACL categories (@read, @write, @dangerous, ...). */
  acl: string[];
  group: string;
  kind: 'read' | 'write' | 'admin' | 'session' | 'other';
  reply: ReplyShape;
  keys: KeySpec[];
  /** Container command (CONFIG, CLIENT, ...): look up `name|sub`. */
  subcommands?: boolean;
}

/** A looked-up command with derived facts, built once per command name. */
export interface CommandInfo {
  /** Lower-case name (container name for subcommands): the audit/policy operation. */
  name: string;
  /** `name` or `name|sub`. */
  fullName: string;
  spec: CommandSpec;
  denyOom: boolean;
  blocking: boolean;
  /** What a role that sees masked data may do with it (masked-commands.ts); Guard.None for most commands. */
  guard: Guard;
}

interface TableFile {
  generatedFrom: { server: string; version: string };
  commands: Record<string, CommandSpec>;
}

const file = JSON.parse(readFileSync(new URL('./commands.json', import.meta.url), 'utf8')) as TableFile;

const infos = new Map<string, CommandInfo>();
for (const [fullName, spec] of Object.entries(file.commands)) {
  const bar = fullName.indexOf('|');
  const shape = SHAPE_OVERRIDES[fullName];
  if (shape !== undefined) spec.reply = shape;
  infos.set(fullName, {
    name: bar < 0 ? fullName : fullName.slice(0, bar),
    fullName,
    spec,
    denyOom: spec.flags.includes('denyoom'),
    blocking: spec.flags.includes('blocking'),
    guard: guardOf(fullName),
  });
}

/** The server version the table was generated from. */
export const tableVersion = file.generatedFrom.version;

/** Look a command up by its (lower-case) name and, for containers, its subcommand argument. */
export function lookupCommand(name: string, sub: Buffer | undefined): CommandInfo | undefined {
  const info = infos.get(name);
  if (!info || !info.spec.subcommands) return info;
  if (!sub) return info;
  return infos.get(`${name}|${sub.toString('latin1').toLowerCase()}`) ?? undefined;
}

/** The key arguments of a command, per its key specifications. */
export function extractKeys(spec: CommandSpec, args: readonly Buffer[]): Buffer[] {
  const only = spec.keys.length === 1 ? spec.keys[0]! : null;
  if (only !== null && only.begin.type === 'index' && only.find.type === 'range' && only.find.lastkey === 0) {
    // One key at a fixed place (GET, SET, HGET, ...: most commands): an array of exactly one, where a pushed-to `[]`
    // reserves 16 slots (per command at pipeline 16, ~8% of what dgf allocated).
    const at = only.begin.index;
    return at < args.length ? [args[at]!] : [];
  }
  const keys: Buffer[] = [];
  const argc = args.length;
  for (const ks of spec.keys) {
    let start: number;
    if (ks.begin.type === 'index') {
      start = ks.begin.index;
    } else if (ks.begin.type === 'keyword') {
      const kw = ks.begin.keyword.toLowerCase();
      start = -1;
      if (ks.begin.startfrom >= 0) {
        for (let i = ks.begin.startfrom; i < argc; i++) {
          if (args[i]!.toString('latin1').toLowerCase() === kw) {
            start = i + 1;
            break;
          }
        }
      } else {
        for (let i = argc + ks.begin.startfrom; i > 0; i--) {
          if (args[i]!.toString('latin1').toLowerCase() === kw) {
            start = i + 1;
            break;
          }
        }
      }
      if (start < 0) continue;
    } else {
      continue;
    }
    if (start >= argc) continue;
    const find = ks.find;
    if (find.type === 'range') {
      let last: number;
      if (find.lastkey >= 0) last = start + find.lastkey;
      else if (find.limit > 1) last = start + Math.floor((argc - 1 - start) / find.limit);
      else last = argc + find.lastkey;
      last = Math.min(last, argc - 1);
      const step = Math.max(1, find.keystep);
      for (let i = start; i <= last; i += step) keys.push(args[i]!);
    } else if (find.type === 'keynum') {
      const numIdx = start + find.keynumidx;
      if (numIdx >= argc) continue;
      const n = Number(args[numIdx]!.toString('latin1'));
      if (!Number.isInteger(n) || n < 0) continue;
      const first = start + find.firstkey;
      const step = Math.max(1, find.keystep);
      for (let i = 0, at = first; i < n && at < argc; i++, at += step) keys.push(args[at]!);
    }
  }
  return keys;
}
