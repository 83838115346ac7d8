/**
 * OP_COMPRESSED (2012). dgf removes `compression` from every client hello, so no compressor is ever agreed
 * and a conforming driver never sends this; one that does anyway gets a clear error naming the compressor
 * (docs/mongodb.md explains why dgf does not decompress).
 */
import { ProtocolError } from '../../shared/errors.js';
import { ErrorCode, HEADER_SIZE } from './constants.js';

export const CompressorId = { noop: 0, snappy: 1, zlib: 2, zstd: 3 } as const;

const NAMES: Record<number, string> = { 0: 'noop', 1: 'snappy', 2: 'zlib', 3: 'zstd' };

export interface OpCompressedHeader {
  originalOpcode: number;
  uncompressedSize: number;
  compressorId: number;
}

export function decodeOpCompressedHeader(frame: Buffer): OpCompressedHeader {
  if (frame.length < HEADER_SIZE + 9) throw new ProtocolError('OP_COMPRESSED too short', String(ErrorCode.ProtocolError));
  return {
    originalOpcode: frame.readInt32LE(HEADER_SIZE),
    uncompressedSize: frame.readInt32LE(HEADER_SIZE + 4),
    compressorId: frame[HEADER_SIZE + 8]!,
  };
}

/** The error a client gets for an OP_COMPRESSED message. */
export function compressedRefusal(frame: Buffer): ProtocolError {
  const h = decodeOpCompressedHeader(frame);
  const name = NAMES[h.compressorId] ?? `id ${h.compressorId}`;
  return new ProtocolError(
    `OP_COMPRESSED (${name}) is not supported by dgf: no compressor was negotiated in hello; disable compressors on the client`,
    String(ErrorCode.ProtocolError),
    false,
  );
}
