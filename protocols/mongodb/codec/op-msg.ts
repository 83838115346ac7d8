/**
 * OP_MSG (opcode 2013): flagBits, one body section (kind 0), any number of document sequences (kind 1),
 * optional CRC-32C checksum. Decoding keeps every document as a view into the frame; nothing is parsed
 * beyond the section boundaries until a caller asks.
 */
import { ProtocolError } from '../../shared/errors.js';
import { ErrorCode, HEADER_SIZE, OP_MSG_KNOWN_REQUIRED_BITS, OpCode, OpMsgFlag, SectionKind } from './constants.js';
import { documentEnd } from './bson-view.js';
import { crc32c } from './crc32c.js';
import { writeHeader, newRequestId } from './header.js';

/** A kind 1 section: documents that belong to the body's array field `identifier` (e.g. insert's `documents`). */
export interface DocumentSequence {
  identifier: string;
  /** Each document's bytes, views into the frame. */
  documents: Buffer[];
}

/** A decoded OP_MSG. */
export interface OpMsg {
  requestId: number;
  responseTo: number;
  flags: number;
  /** The kind 0 section: the command document (view into the frame). */
  body: Buffer;
  sequences: DocumentSequence[];
  /** The sender will not wait for a reply (w:0 writes). */
  moreToCome: boolean;
  exhaustAllowed: boolean;
  checksumPresent: boolean;
}

function protocolError(message: string): ProtocolError {
  return new ProtocolError(message, String(ErrorCode.ProtocolError), true);
}

/**
 * Decode a complete OP_MSG frame (header included). A present checksum is verified and then ignored: dgf
 * never forwards client frames byte for byte (the upstream leg is the driver's), so there is nothing to strip.
 */
export function decodeOpMsg(frame: Buffer): OpMsg {
  if (frame.length < HEADER_SIZE + 5) throw protocolError('OP_MSG shorter than its flags and one section');
  const flags = frame.readUInt32LE(HEADER_SIZE);
  const unknownRequired = flags & 0xffff & ~OP_MSG_KNOWN_REQUIRED_BITS;
  if (unknownRequired !== 0) throw protocolError(`OP_MSG has unknown required flag bits 0x${unknownRequired.toString(16)}`);
  const checksumPresent = (flags & OpMsgFlag.checksumPresent) !== 0;
  let end = frame.length;
  if (checksumPresent) {
    end -= 4;
    if (end < HEADER_SIZE + 5) throw protocolError('OP_MSG too short for its checksum');
    const expected = frame.readUInt32LE(end);
    const actual = crc32c(frame, 0, end);
    if (expected !== actual) throw protocolError('OP_MSG checksum does not match (CRC-32C)');
  }
  let body: Buffer | null = null;
  const sequences: DocumentSequence[] = [];
  let pos = HEADER_SIZE + 4;
  while (pos < end) {
    const kind = frame[pos++];
    if (kind === SectionKind.body) {
      if (body) throw protocolError('OP_MSG has more than one body section');
      const docEnd = documentEnd(frame, pos, end);
      body = frame.subarray(pos, docEnd);
      pos = docEnd;
    } else if (kind === SectionKind.documentSequence) {
      if (pos + 4 > end) throw protocolError('OP_MSG document sequence size past the end');
      const size = frame.readInt32LE(pos);
      const secEnd = pos + size;
      if (size < 5 || secEnd > end) throw protocolError(`OP_MSG document sequence size ${size} does not fit the message`);
      let n = pos + 4;
      while (n < secEnd && frame[n] !== 0) n++;
      if (n >= secEnd) throw protocolError('OP_MSG document sequence identifier is not terminated');
      const identifier = frame.toString('utf8', pos + 4, n);
      const documents: Buffer[] = [];
      let d = n + 1;
      while (d < secEnd) {
        const de = documentEnd(frame, d, secEnd);
        documents.push(frame.subarray(d, de));
        d = de;
      }
      sequences.push({ identifier, documents });
      pos = secEnd;
    } else {
      throw protocolError(`OP_MSG has unknown section kind ${String(kind)}`);
    }
  }
  if (!body) throw protocolError('OP_MSG has no body section');
  return {
    requestId: frame.readInt32LE(4),
    responseTo: frame.readInt32LE(8),
    flags,
    body,
    sequences,
    moreToCome: (flags & OpMsgFlag.moreToCome) !== 0,
    exhaustAllowed: (flags & OpMsgFlag.exhaustAllowed) !== 0,
    checksumPresent,
  };
}

/** Encode an OP_MSG with one body section. `body` is a complete BSON document. */
export function encodeOpMsg(body: Uint8Array, responseTo: number, flags = 0, requestId = newRequestId()): Buffer {
  const length = HEADER_SIZE + 4 + 1 + body.length;
  const out = Buffer.allocUnsafe(length);
  writeHeader(out, length, requestId, responseTo, OpCode.OP_MSG);
  out.writeUInt32LE(flags >>> 0, HEADER_SIZE);
  out[HEADER_SIZE + 4] = SectionKind.body;
  out.set(body, HEADER_SIZE + 5);
  return out;
}

/** Encode an OP_MSG with a body and document sequences (used by tests and the scripted upstream). */
export function encodeOpMsgWithSequences(
  body: Uint8Array,
  sequences: ReadonlyArray<{ identifier: string; documents: readonly Uint8Array[] }>,
  responseTo: number,
  flags = 0,
  requestId = newRequestId(),
  withChecksum = false,
): Buffer {
  const parts: Buffer[] = [];
  const head = Buffer.alloc(HEADER_SIZE + 4);
  parts.push(head, Buffer.from([SectionKind.body]), Buffer.from(body.buffer, body.byteOffset, body.byteLength));
  for (const seq of sequences) {
    const id = Buffer.from(`${seq.identifier}\0`, 'utf8');
    const docsLen = seq.documents.reduce((n, d) => n + d.length, 0);
    const size = Buffer.alloc(5);
    size[0] = SectionKind.documentSequence;
    size.writeInt32LE(4 + id.length + docsLen, 1);
    parts.push(size, id, ...seq.documents.map((d) => Buffer.from(d.buffer, d.byteOffset, d.byteLength)));
  }
  const f = withChecksum ? flags | OpMsgFlag.checksumPresent : flags;
  const total = parts.reduce((n, p) => n + p.length, 0) + (withChecksum ? 4 : 0);
  writeHeader(head, total, requestId, responseTo, OpCode.OP_MSG);
  head.writeUInt32LE(f >>> 0, HEADER_SIZE);
  const out = Buffer.concat(parts, total);
  if (withChecksum) out.writeUInt32LE(crc32c(out, 0, total - 4), total - 4);
  return out;
}
