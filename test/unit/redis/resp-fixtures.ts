/** Reply-stream fixtures for the RESP codec tests: captured from Redis 7 (test/fixtures/redis) plus hand-built RESP3 frames. */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = join(dirname(fileURLToPath(import.meta.url)), '../../fixtures/redis');

export interface StreamFixture {
  name: string;
  bytes: Buffer;
  frames: number;
}

const counts = JSON.parse(readFileSync(join(dir, 'frames.json'), 'utf8')) as Record<string, number>;

/** RESP3 frames Redis 7.0 only sends with DEBUG PROTOCOL (disabled on the test server) or in rare states. */
export const handBuilt: Array<{ name: string; frame: string }> = [
  { name: 'attribute before an array', frame: '|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n*2\r\n:2039123\r\n:9543892\r\n' },
  { name: 'attribute inside an array', frame: '*2\r\n|1\r\n+ttl\r\n:3600\r\n$1\r\nv\r\n:1\r\n' },
  { name: 'push message', frame: '>3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n' },
  { name: 'big number', frame: '(3492890328409238509324850943850943825024385\r\n' },
  { name: 'negative big number', frame: '(-3492890328409238509324850943850943825024385\r\n' },
  { name: 'verbatim string', frame: '=15\r\ntxt:Some string\r\n' },
  { name: 'bulk error', frame: '!21\r\nSYNTAX invalid syntax\r\n' },
  { name: 'double inf', frame: ',-inf\r\n' },
  { name: 'double exponent', frame: ',1.23e-10\r\n' },
  { name: 'null', frame: '_\r\n' },
  { name: 'boolean', frame: '#f\r\n' },
  { name: 'null array', frame: '*-1\r\n' },
  { name: 'null bulk', frame: '$-1\r\n' },
  { name: 'empty map', frame: '%0\r\n' },
  { name: 'empty set', frame: '~0\r\n' },
  { name: 'nested map with set', frame: '%2\r\n+first\r\n:1\r\n+second\r\n~2\r\n$1\r\nx\r\n#t\r\n' },
  { name: 'empty bulk', frame: '$0\r\n\r\n' },
  { name: 'binary bulk with CRLF inside', frame: '$6\r\n\r\n\r\n\x00\xff\r\n' },
];

export function streams(): StreamFixture[] {
  const out: StreamFixture[] = [];
  for (const v of ['resp2', 'resp3']) {
    out.push({ name: `captured ${v}`, bytes: readFileSync(join(dir, `${v}.bin`)), frames: counts[v]! });
  }
  out.push({ name: 'hand-built RESP3', bytes: Buffer.from(handBuilt.map((h) => h.frame).join(''), 'latin1'), frames: handBuilt.length });
  return out;
}

/** Every way to feed `bytes`: whole, byte by byte, and split in two at every boundary. */
export function* splits(bytes: Buffer): Generator<{ how: string; chunks: Buffer[] }> {
  yield { how: 'whole', chunks: [bytes] };
  const bytewise: Buffer[] = [];
  for (let i = 0; i < bytes.length; i++) bytewise.push(bytes.subarray(i, i + 1));
  yield { how: 'byte by byte', chunks: bytewise };
  for (let i = 1; i < bytes.length; i++) yield { how: `split at ${i}`, chunks: [bytes.subarray(0, i), bytes.subarray(i)] };
}
