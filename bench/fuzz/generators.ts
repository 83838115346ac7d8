/**
 * Fast fuzzed-frame generators for the live fuzz run (bench/fuzz/run.ts): one protocol message per call, built
 * from valid templates and then, most of the time, mutated (byte set, insertion, deletion, truncation, a lying
 * 32-bit length), or plain random bytes. A seeded xorshift PRNG, no fast-check: millions of frames per minute.
 */
import { serialize } from 'bson';
import { command } from '../../protocols/redis/codec/encode.js';
import { encodeOpMsg, encodeOpMsgWithSequences } from '../../protocols/mongodb/codec/op-msg.js';
import { writeHeader } from '../../protocols/mongodb/codec/header.js';
import * as fe from '../../protocols/postgres/codec/frontend-encoder.js';
import { FrontendCode } from '../../protocols/postgres/codec/message-codes.js';

/** xorshift32: fast, seedable, good enough to pick mutations. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s;
  }
  int(n: number): number {
    return this.next() % n;
  }
  chance(p: number): boolean {
    return this.next() / 0x100000000 < p;
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.next() & 0xff;
    return b;
  }
}

const LYING = [0, 1, 4, 5, 0x7fffffff, 0x80000000, 0xffffffff, 0x7ffffffe, 65_536, 16 * 1024 * 1024 + 1];

/** Apply 1-3 random mutations to a copy of `b`. */
export function mutate(rng: Rng, b: Buffer): Buffer {
  let out = Buffer.from(b);
  const n = 1 + rng.int(3);
  for (let i = 0; i < n; i++) {
    const at = out.length === 0 ? 0 : rng.int(out.length + 1);
    switch (rng.int(5)) {
      case 0:
        if (out.length > 0) out[at % out.length] = rng.next() & 0xff;
        break;
      case 1:
        out = Buffer.concat([out.subarray(0, at), rng.bytes(1 + rng.int(8)), out.subarray(at)]);
        break;
      case 2:
        out = Buffer.concat([out.subarray(0, at), out.subarray(at + 1 + rng.int(8))]);
        break;
      case 3:
        out = out.subarray(0, at);
        break;
      case 4:
        if (out.length >= 4) {
          const p = rng.int(out.length - 3);
          if (rng.chance(0.5)) out.writeUInt32LE(rng.pick(LYING) >>> 0, p);
          else out.writeUInt32BE(rng.pick(LYING) >>> 0, p);
        }
        break;
    }
  }
  return out;
}

/** A generator: valid templates, the share of them mutated, and the share of pure random frames. */
export interface FrameGenerator {
  /** Bytes sent once on each new connection before fuzzed frames (a startup packet, an AUTH). */
  preamble(rng: Rng): Buffer;
  /** One fuzzed message. */
  frame(rng: Rng): Buffer;
}

/**
 * The mix of one fuzzed frame: 25% a valid template (reads, writes, statements the policies deny), 65% a template
 * whose payload is mutated but whose framing is repaired (`repair`: the length fields recomputed), which dgf must
 * answer and survive without dropping the connection, 8% mutated anywhere (lengths, type bytes: usually fatal for
 * the connection) and 2% random bytes. Fatal frames stay rare so most of a batch is really processed.
 */
function fuzzed(rng: Rng, templates: readonly Buffer[], random: (rng: Rng) => Buffer, repair: (rng: Rng, t: Buffer) => Buffer): Buffer {
  const r = rng.int(100);
  if (r < 25) return rng.pick(templates);
  if (r < 90) return repair(rng, rng.pick(templates));
  if (r < 98) return mutate(rng, rng.pick(templates));
  return random(rng);
}

/** Mutate bytes from `from` on, then rewrite the length field at `lenAt` (`adjust`: length = size - adjust). */
function mutateBody(rng: Rng, t: Buffer, from: number, lenAt: number, adjust: number, le: boolean): Buffer {
  const body = mutate(rng, t.subarray(from));
  const out = Buffer.concat([t.subarray(0, from), body]);
  if (le) out.writeUInt32LE(out.length - adjust, lenAt);
  else out.writeUInt32BE(out.length - adjust, lenAt);
  return out;
}

// ----- PostgreSQL: a StartupMessage for `fuzz`, then typed frontend messages.
function pgTyped(code: number, body: Buffer): Buffer {
  const b = Buffer.allocUnsafe(5 + body.length);
  b[0] = code;
  b.writeInt32BE(4 + body.length, 1);
  body.copy(b, 5);
  return b;
}
const PG_SQL = ['SELECT 1', "SELECT 'ann@example.com' AS email", 'SHOW search_path', 'BEGIN', 'COMMIT', 'ROLLBACK', 'TRUNCATE fuzz_nothing', 'DROP TABLE fuzz_nothing', 'SELECT $1::int'];
const PG_TEMPLATES: Buffer[] = [
  ...PG_SQL.map((q) => fe.query(q)),
  fe.parse('', 'SELECT $1::int', [23]),
  fe.parse('s1', 'SELECT 1', []),
  pgTyped(FrontendCode.Bind, Buffer.from('\0\0\0\0\0\x01\0\0\0\x0142\0\0', 'latin1')),
  pgTyped(FrontendCode.Bind, Buffer.from('\0s1\0\0\0\0\0\0\x01\0\x01', 'latin1')),
  fe.target(FrontendCode.Describe, 'P', ''),
  fe.target(FrontendCode.Describe, 'S', 's1'),
  fe.target(FrontendCode.Close, 'S', 's1'),
  pgTyped(FrontendCode.Execute, Buffer.from('\0\0\0\0\0', 'latin1')),
  fe.sync,
  fe.flush,
  pgTyped(FrontendCode.CopyData, Buffer.from('1\tann\n')),
  pgTyped(FrontendCode.CopyFail, Buffer.from('no\0')),
  pgTyped(FrontendCode.FunctionCall, Buffer.alloc(10)),
];
const PG_CODES = [...Object.values(FrontendCode), 0x00, 0x41, 0x7a, 0xff];
export const postgres: FrameGenerator = {
  preamble(rng) {
    const body = Buffer.from(`\0\x03\0\0user\0fuzz\0database\0postgres\0application_name\0fuzz-${rng.int(1000)}\0\0`, 'latin1');
    const startup = Buffer.allocUnsafe(4 + body.length);
    startup.writeInt32BE(4 + body.length, 0);
    body.copy(startup, 4);
    // One connection in 50 fuzzes the startup phase itself (SSLRequest, cancel, a mutated packet).
    if (rng.chance(0.02)) return rng.chance(0.5) ? mutate(rng, startup) : Buffer.concat([fe.sslRequest(), startup]);
    if (rng.chance(0.01)) return fe.cancelRequest(rng.next() | 0, rng.next() | 0);
    return startup;
  },
  frame: (rng) => fuzzed(rng, PG_TEMPLATES, (r) => pgTyped(r.pick(PG_CODES), r.bytes(r.int(64))), (r, t) => mutateBody(r, t, 5, 1, 1, false)),
};

// ----- Redis: AUTH, then commands (multibulk and inline).
const REDIS_TEMPLATES: Buffer[] = [
  command(['PING']),
  command(['ECHO', 'hello']),
  command(['GET', 'fuzz:k']),
  command(['SET', 'fuzz:k', 'ann@example.com']),
  command(['SET', 'fuzz:n', '1', 'EX', '60']),
  command(['INCR', 'fuzz:n']),
  command(['DEL', 'fuzz:k']),
  command(['EXISTS', 'fuzz:k', 'fuzz:n']),
  command(['HSET', 'fuzz:h', 'email', 'bob@example.com']),
  command(['HGETALL', 'fuzz:h']),
  command(['MGET', 'fuzz:k', 'fuzz:n']),
  command(['KEYS', 'fuzz:*']),
  command(['CONFIG', 'GET', 'maxmemory']),
  command(['FLUSHDB']),
  command(['CLIENT', 'SETNAME', 'fuzz']),
  command(['HELLO', '3']),
  command(['HELLO', '2']),
  Buffer.from('PING\r\n'),
  Buffer.from('GET "fuzz:k"\r\n'),
  Buffer.from('*0\r\n'),
];
/** A multibulk command with one argument mutated and every length recomputed (framing stays valid). */
function repairRedis(rng: Rng, t: Buffer): Buffer {
  if (t[0] !== 0x2a) return Buffer.from(`${mutate(rng, t.subarray(0, t.length - 2)).toString('latin1').replace(/[\r\n]/g, ' ')}\r\n`, 'latin1');
  const args: Buffer[] = [];
  let p = t.indexOf(10) + 1;
  while (p < t.length) {
    const nl = t.indexOf(10, p);
    const n = Number(t.toString('latin1', p + 1, nl - 1));
    args.push(t.subarray(nl + 1, nl + 1 + n));
    p = nl + 1 + n + 2;
  }
  if (args.length === 0) return t;
  const i = rng.int(args.length);
  args[i] = mutate(rng, args[i]!);
  return command(args);
}
export const redis: FrameGenerator = {
  preamble: () => command(['AUTH', 'fuzz', 'bench-pw-0123']),
  frame: (rng) =>
    fuzzed(rng, REDIS_TEMPLATES, (r) => (r.chance(0.5) ? r.bytes(r.int(64)) : Buffer.concat([Buffer.from(`*${r.int(4)}\r\n$${r.int(20)}\r\n`), r.bytes(r.int(24))])), repairRedis),
};

// ----- MongoDB: OP_MSG commands, legacy OP_QUERY hello, OP_COMPRESSED, raw bytes; no authentication.
function rawMongo(opCode: number, body: Buffer): Buffer {
  const out = Buffer.alloc(16 + body.length);
  writeHeader(out, out.length, 1, 0, opCode);
  body.copy(out, 16);
  return out;
}
const b = (d: Record<string, unknown>): Buffer => Buffer.from(serialize(d));
const MONGO_TEMPLATES: Buffer[] = [
  encodeOpMsg(b({ hello: 1, $db: 'admin' }), 0),
  encodeOpMsg(b({ ping: 1, $db: 'admin' }), 0),
  encodeOpMsg(b({ find: 'fuzz', filter: { email: 'ann@example.com' }, limit: 1, $db: 'fuzzdb' }), 0),
  encodeOpMsg(b({ aggregate: 'fuzz', pipeline: [{ $match: { a: 1 } }, { $project: { email: 1 } }], cursor: {}, $db: 'fuzzdb' }), 0),
  encodeOpMsg(b({ delete: 'fuzz', deletes: [{ q: {}, limit: 0 }], $db: 'fuzzdb' }), 0),
  encodeOpMsg(b({ saslStart: 1, mechanism: 'SCRAM-SHA-256', payload: Buffer.from('n,,n=fuzz,r=abc'), $db: 'admin' }), 0),
  encodeOpMsgWithSequences(b({ insert: 'fuzz', $db: 'fuzzdb' }), [{ identifier: 'documents', documents: [b({ a: 1, email: 'x@y.com' }), b({ a: 2 })] }], 0, 0, 7, true),
  encodeOpMsg(b({ getMore: BigInt(12345), collection: 'fuzz', $db: 'fuzzdb' }), 0, 2),
  rawMongo(2004, Buffer.concat([Buffer.alloc(4), Buffer.from('admin.$cmd\0'), Buffer.from([0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]), b({ isMaster: 1 })])),
  rawMongo(2012, Buffer.concat([Buffer.from([0xdd, 7, 0, 0, 40, 0, 0, 0, 1]), Buffer.alloc(20)])),
  rawMongo(2005, Buffer.alloc(20)),
];
export const mongodb: FrameGenerator = {
  preamble: () => Buffer.alloc(0),
  frame: (rng) =>
    fuzzed(rng, MONGO_TEMPLATES, (r) => (r.chance(0.5) ? r.bytes(16 + r.int(64)) : rawMongo(r.pick([2013, 2004, 2012, 1, 9999]), r.bytes(r.int(80)))), (r, t) => mutateBody(r, t, 16, 0, 0, true)),
};

// ----- HTTP (Cosmos, Blob): pipelined requests on keep-alive connections.
/** An HTTP request with its path (printable characters only) or its body mutated; Content-Length recomputed. */
function repairHttp(rng: Rng, t: Buffer): Buffer {
  const text = t.toString('latin1');
  const headEnd = text.indexOf('\r\n\r\n');
  const [requestLine, ...headers] = text.slice(0, headEnd).split('\r\n');
  const [method, original] = requestLine!.split(' ');
  let path = original;
  let body: Buffer = Buffer.from(text.slice(headEnd + 4), 'latin1');
  const chunked = headers.some((h) => h.startsWith('Transfer-Encoding'));
  if (chunked || rng.chance(0.5)) path = mutate(rng, Buffer.from(path!, 'latin1')).toString('latin1').replace(/[^!-~]/g, '%');
  else body = mutate(rng, body);
  const kept = headers.filter((h) => !h.startsWith('Content-Length'));
  if (!chunked && (body.length > 0 || method === 'POST' || method === 'PUT')) kept.push(`Content-Length: ${body.length}`);
  return Buffer.concat([Buffer.from(`${method} ${path || '/'} HTTP/1.1\r\n${kept.join('\r\n')}\r\n\r\n`, 'latin1'), body]);
}

function http(method: string, path: string, headers: Record<string, string>, body = '', chunked = false): Buffer {
  const lines = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'x-ms-date: Mon, 07 Dec 2026 17:00:00 GMT', 'x-ms-version: 2020-07-15'];
  for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  if (chunked) {
    lines.push('Transfer-Encoding: chunked');
    const data = body.length > 0 ? `${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n` : '';
    return Buffer.from(`${lines.join('\r\n')}\r\n\r\n${data}0\r\n\r\n`);
  }
  if (body || method === 'POST' || method === 'PUT') lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body}`);
}
const cosmosAuth = { authorization: encodeURIComponent('type=master&ver=1.0&sig=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=') };
const COSMOS_TEMPLATES: Buffer[] = [
  http('GET', '/', cosmosAuth),
  http('GET', '/dbs/fuzzdb/colls/people/docs/p1', { ...cosmosAuth, 'x-ms-documentdb-partitionkey': '["eu"]' }),
  http('POST', '/dbs/fuzzdb/colls/people/docs', { ...cosmosAuth, 'content-type': 'application/query+json', 'x-ms-documentdb-isquery': 'True' }, '{"query":"SELECT * FROM c WHERE c.email = @e","parameters":[{"name":"@e","value":"ann@example.com"}]}'),
  http('POST', '/dbs/fuzzdb/colls/people/docs', { ...cosmosAuth, 'content-type': 'application/json' }, '{"id":"x","pk":"eu","email":"ann@example.com"}', true),
  http('PUT', '/dbs/fuzzdb/colls/people/docs/x', { ...cosmosAuth, 'content-type': 'application/json' }, '{"id":"x","ssn":"123-45-6789"}'),
  http('PATCH', '/dbs/fuzzdb/colls/people/docs/x', cosmosAuth, '{"operations":[{"op":"set","path":"/a","value":1}]}'),
  http('DELETE', '/dbs/fuzzdb/colls/people', cosmosAuth),
  http('GET', '/dbs/fuzzdb/colls/people/pkranges', cosmosAuth),
  http('GET', '/dbs/%zz/colls/../docs', cosmosAuth),
];
export const cosmos: FrameGenerator = {
  preamble: () => Buffer.alloc(0),
  frame: (rng) =>
    fuzzed(
      rng,
      COSMOS_TEMPLATES,
      (r) => (r.chance(0.5) ? r.bytes(r.int(128)) : http(r.pick(['GET', 'POST', 'PUT', 'X']), `/${r.bytes(8).toString('base64url')}`, {}, r.bytes(r.int(40)).toString('latin1'))),
      repairHttp,
    ),
};
const blobAuth = { authorization: `SharedKey fuzz:${Buffer.alloc(32).toString('base64')}` };
const BLOB_TEMPLATES: Buffer[] = [
  http('GET', '/fuzz?comp=list', blobAuth),
  http('PUT', '/fuzz/fuzzc?restype=container', blobAuth),
  http('PUT', '/fuzz/fuzzc/a.txt', { ...blobAuth, 'x-ms-blob-type': 'BlockBlob', 'content-type': 'text/plain' }, 'email ann@example.com'),
  http('PUT', '/fuzz/fuzzc/b.bin?comp=block&blockid=AAAA', blobAuth, 'xxxx', true),
  http('GET', '/fuzz/fuzzc/a.txt', blobAuth),
  http('HEAD', '/fuzz/fuzzc/a.txt', blobAuth),
  http('GET', '/fuzz/fuzzc?restype=container&comp=list&prefix=a', blobAuth),
  http('DELETE', '/fuzz/fuzzc?restype=container', blobAuth),
  http('PUT', '/fuzz/fuzzc/c.txt?comp=metadata', { ...blobAuth, 'x-ms-meta-owner': 'ann@example.com' }),
  http('GET', '/fuzz/fuzzc/..%2F/x', blobAuth),
];
export const blob: FrameGenerator = {
  preamble: () => Buffer.alloc(0),
  frame: (rng) =>
    fuzzed(
      rng,
      BLOB_TEMPLATES,
      (r) => (r.chance(0.5) ? r.bytes(r.int(128)) : http(r.pick(['GET', 'PUT', 'DELETE']), `/fuzz/${r.bytes(6).toString('base64url')}?comp=${r.bytes(3).toString('hex')}`, blobAuth)),
      repairHttp,
    ),
};
