/** Real frames captured from a driver <-> CongoDB exchange (scripts/capture-mongo-fixtures.ts). */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Frame {
  dir: 'c2s' | 's2c';
  opCode: number;
  name: string;
  bytes: Buffer;
}

const file = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'mongodb', 'exchange.json');
const parsed = JSON.parse(readFileSync(file, 'utf8')) as { frames: Array<{ dir: 'c2s' | 's2c'; opCode: number; name: string; hex: string }> };

export const frames: Frame[] = parsed.frames.map((f) => ({ dir: f.dir, opCode: f.opCode, name: f.name, bytes: Buffer.from(f.hex, 'hex') }));

export function frame(dir: 'c2s' | 's2c', name: string): Buffer {
  const f = frames.find((x) => x.dir === dir && x.name === name);
  if (!f) throw new Error(`no fixture ${dir}:${name}`);
  return f.bytes;
}
