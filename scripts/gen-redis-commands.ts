/**
 * Generates protocols/redis/commands.json, the Redis command table dgf governs with, from a real Redis:
 * `COMMAND INFO` (arity, flags, ACL categories, key specifications, subcommands) and `COMMAND DOCS` (group).
 *
 *   npx tsx scripts/gen-redis-commands.ts [redis://127.0.0.1:56379]
 *
 * Everything about arguments and keys comes from the server. The one thing Redis 7.0 does not publish is the
 * shape of each reply (COMMAND DOCS has no reply schema unless the server is built with LOG_REQ_RES), so the
 * reply shapes below are declared here, by command name, next to the generator; a command not listed gets
 * 'values' (every string in its reply is treated as a value of its keys: the fail-closed default).
 */
import net from 'node:net';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ReplyScanner } from '../protocols/redis/codec/reply-scanner.js';
import { decodeFrame, toJs } from '../protocols/redis/codec/decode.js';
import { command } from '../protocols/redis/codec/encode.js';
import type { CommandSpec, KeySpec, ReplyShape } from '../protocols/redis/command-table.js';

/** Reply shapes by command (see protocols/redis/reply-masking.ts for what each means). */
const REPLY_SHAPES: Record<string, ReplyShape> = {
  mget: 'per-key',
  hget: 'hash-field',
  hmget: 'hash-fields',
  hgetall: 'hash-map',
  hrandfield: 'hash-randfield',
  hscan: 'hash-scan',
  hkeys: 'none',
  hexists: 'none',
  hlen: 'none',
  hstrlen: 'none',
  zrange: 'zset',
  zrangebyscore: 'zset',
  zrevrange: 'zset',
  zrevrangebyscore: 'zset',
  zrangebylex: 'zset',
  zrevrangebylex: 'zset',
  zpopmin: 'zset',
  zpopmax: 'zset',
  zrandmember: 'zset',
  zunion: 'zset',
  zinter: 'zset',
  zdiff: 'zset',
  zscan: 'zset-scan',
  bzpopmin: 'zset-keyed',
  bzpopmax: 'zset-keyed',
  zmpop: 'zset-mpop',
  bzmpop: 'zset-mpop',
  blpop: 'list-keyed',
  brpop: 'list-keyed',
  lmpop: 'list-mpop',
  blmpop: 'list-mpop',
  sscan: 'set-scan',
  scan: 'keys',
  keys: 'keys',
  randomkey: 'keys',
  xrange: 'stream-entries',
  xrevrange: 'stream-entries',
  xclaim: 'stream-entries',
  xread: 'stream-read',
  xreadgroup: 'stream-read',
  xautoclaim: 'stream-autoclaim',
  sort: 'sort',
  sort_ro: 'sort',
  exec: 'exec',
  // Replies with no stored values in them.
  type: 'none',
  exists: 'none',
  ttl: 'none',
  pttl: 'none',
  expiretime: 'none',
  pexpiretime: 'none',
  strlen: 'none',
  llen: 'none',
  scard: 'none',
  zcard: 'none',
  zcount: 'none',
  zlexcount: 'none',
  zscore: 'none',
  zmscore: 'none',
  zrank: 'none',
  zrevrank: 'none',
  sismember: 'none',
  smismember: 'none',
  lpos: 'none',
  xlen: 'none',
  xadd: 'none',
  xack: 'none',
  xdel: 'none',
  xtrim: 'none',
  'xinfo|groups': 'none',
  'xinfo|consumers': 'none',
  'xinfo|help': 'none',
  xpending: 'none',
  dbsize: 'none',
  info: 'none',
  ping: 'none',
  echo: 'none',
  time: 'none',
  lastsave: 'none',
  'object|encoding': 'none',
  'object|freq': 'none',
  'object|idletime': 'none',
  'object|refcount': 'none',
  'memory|usage': 'none',
  'client|list': 'none',
  'client|info': 'none',
  'client|id': 'none',
  'client|getname': 'none',
  'config|get': 'none',
  command: 'none',
  'command|count': 'none',
  'command|docs': 'none',
  'command|info': 'none',
  'command|list': 'none',
  'command|getkeys': 'keys',
  'command|getkeysandflags': 'keys',
  publish: 'none',
  spublish: 'none',
  'pubsub|channels': 'none',
  'pubsub|numsub': 'none',
  'pubsub|numpat': 'none',
  'pubsub|shardchannels': 'none',
  'pubsub|shardnumsub': 'none',
  subscribe: 'none',
  psubscribe: 'none',
  ssubscribe: 'none',
  unsubscribe: 'none',
  punsubscribe: 'none',
  sunsubscribe: 'none',
  wait: 'none',
  waitaof: 'none',
  hello: 'none',
  auth: 'none',
  select: 'none',
  multi: 'none',
  discard: 'none',
  watch: 'none',
  unwatch: 'none',
};

function kindOf(acl: string[]): CommandSpec['kind'] {
  if (acl.includes('@admin') || acl.includes('@dangerous')) return 'admin';
  if (acl.includes('@write')) return 'write';
  if (acl.includes('@read')) return 'read';
  if (acl.includes('@connection') || acl.includes('@transaction')) return 'session';
  if (acl.includes('@pubsub')) return 'read';
  return 'other';
}

type Plain = unknown;

/** RESP3 maps decode as [k, v] pairs; make them objects. */
function obj(v: Plain): Record<string, Plain> {
  const out: Record<string, Plain> = {};
  if (Array.isArray(v)) {
    if (v.length > 0 && Array.isArray(v[0]) && (v[0] as unknown[]).length === 2 && v.every((e) => Array.isArray(e) && e.length === 2)) {
      for (const [k, val] of v as Array<[string, Plain]>) out[k] = val;
    } else {
      for (let i = 0; i + 1 < v.length; i += 2) out[String(v[i])] = v[i + 1];
    }
  }
  return out;
}

function keySpec(raw: Plain): KeySpec {
  const m = obj(raw);
  const bs = obj(m['begin_search']);
  const fk = obj(m['find_keys']);
  const bsSpec = obj(bs['spec']);
  const fkSpec = obj(fk['spec']);
  const spec: KeySpec = { flags: (m['flags'] as string[]) ?? [], begin: { type: 'unknown' }, find: { type: 'unknown' } };
  if (bs['type'] === 'index') spec.begin = { type: 'index', index: Number(bsSpec['index']) };
  else if (bs['type'] === 'keyword') {
    spec.begin = { type: 'keyword', keyword: String(bsSpec['keyword']), startfrom: Number(bsSpec['startfrom']) };
  }
  if (fk['type'] === 'range') {
    spec.find = { type: 'range', lastkey: Number(fkSpec['lastkey']), keystep: Number(fkSpec['keystep']), limit: Number(fkSpec['limit']) };
  } else if (fk['type'] === 'keynum') {
    spec.find = {
      type: 'keynum',
      keynumidx: Number(fkSpec['keynumidx']),
      firstkey: Number(fkSpec['firstkey']),
      keystep: Number(fkSpec['keystep']),
    };
  }
  return spec;
}

async function query(url: URL, args: string[]): Promise<Plain> {
  const sock = net.connect(Number(url.port || 6379), url.hostname);
  await new Promise((r, j) => sock.once('connect', r).once('error', j));
  const pre: string[][] = [['HELLO', '3']];
  if (url.password) pre[0]!.push('AUTH', decodeURIComponent(url.username || 'default'), decodeURIComponent(url.password));
  const frames: Buffer[] = [];
  let parts: Buffer[] = [];
  const scanner = new ReplyScanner();
  const want = pre.length + 1;
  const done = new Promise<void>((resolve) => {
    sock.on('data', (chunk: Buffer) =>
      scanner.push(chunk, {
        onFrameBytes(c, s, e, complete) {
          parts.push(c.subarray(s, e));
          if (complete) {
            frames.push(Buffer.concat(parts));
            parts = [];
            if (frames.length === want) resolve();
          }
        },
      }),
    );
  });
  sock.write(Buffer.concat([...pre.map((a) => command(a)), command(args)]));
  await done;
  sock.destroy();
  const last = frames[want - 1]!;
  return toJs(last, decodeFrame(last));
}

function infoToSpec(name: string, info: Plain[], groups: Record<string, string>, out: Record<string, CommandSpec>): void {
  const [, arity, flags, , , , acl, , specs, subs] = info as [string, number, string[], number, number, number, string[], string[], Plain[], Plain[][]];
  const spec: CommandSpec = {
    arity,
    flags,
    acl,
    group: groups[name] ?? 'unknown',
    kind: kindOf(acl),
    reply: REPLY_SHAPES[name] ?? 'values',
    keys: (specs ?? []).map(keySpec),
  };
  if (subs && subs.length > 0) spec.subcommands = true;
  out[name] = spec;
  for (const sub of subs ?? []) infoToSpec(String(sub[0]).toLowerCase(), sub, groups, out);
}

async function main(): Promise<void> {
  const url = new URL(process.argv[2] ?? 'redis://127.0.0.1:56379');
  const info = (await query(url, ['COMMAND', 'INFO'])) as Plain[][];
  const docs = obj(await query(url, ['COMMAND', 'DOCS']));
  const hello = obj(await query(url, ['HELLO', '3']));
  const groups: Record<string, string> = {};
  for (const [name, doc] of Object.entries(docs)) {
    const d = obj(doc);
    groups[name.toLowerCase()] = String(d['group']);
    for (const [sub, sd] of Object.entries(obj(d['subcommands']))) groups[sub.toLowerCase()] = String(obj(sd)['group']);
  }
  const commands: Record<string, CommandSpec> = {};
  for (const entry of info) if (entry) infoToSpec(String(entry[0]).toLowerCase(), entry, groups, commands);
  const sorted = Object.fromEntries(Object.entries(commands).sort(([a], [b]) => a.localeCompare(b)));
  const file = join(dirname(fileURLToPath(import.meta.url)), '../protocols/redis/commands.json');
  writeFileSync(
    file,
    JSON.stringify({ generatedFrom: { server: 'redis', version: String(hello['version']), by: 'scripts/gen-redis-commands.ts' }, commands: sorted }, null, 1) + '\n',
  );
  console.log(`wrote ${Object.keys(sorted).length} commands from Redis ${String(hello['version'])} to ${file}`);
}

await main();
