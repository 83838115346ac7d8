/**
 * OP_QUERY (2004) and OP_REPLY (1), kept only for the legacy handshake: drivers send their first
 * `hello`/`isMaster` as an OP_QUERY on `<db>.$cmd` and expect an OP_REPLY. Every other OP_QUERY is refused
 * (MongoDB 5.1+ removed it too).
 */
import { ProtocolError } from '../../shared/errors.js';
import { ErrorCode, HEADER_SIZE, OpCode } from './constants.js';
import { documentEnd } from './bson-view.js';
import { newRequestId, writeHeader } from './header.js';

export interface OpQuery {
  requestId: number;
  flags: number;
  fullCollectionName: string;
  numberToSkip: number;
  numberToReturn: number;
  /** The query document (view into the frame). */
  query: Buffer;
}

export function decodeOpQuery(frame: Buffer): OpQuery {
  const end = frame.length;
  let pos = HEADER_SIZE + 4;
  if (pos >= end) throw new ProtocolError('OP_QUERY too short', String(ErrorCode.ProtocolError));
  const flags = frame.readInt32LE(HEADER_SIZE);
  let n = pos;
  while (n < end && frame[n] !== 0) n++;
  if (n >= end) throw new ProtocolError('OP_QUERY collection name is not terminated', String(ErrorCode.ProtocolError));
  const fullCollectionName = frame.toString('utf8', pos, n);
  pos = n + 1;
  if (pos + 8 > end) throw new ProtocolError('OP_QUERY too short', String(ErrorCode.ProtocolError));
  const numberToSkip = frame.readInt32LE(pos);
  const numberToReturn = frame.readInt32LE(pos + 4);
  pos += 8;
  const qEnd = documentEnd(frame, pos, end);
  return { requestId: frame.readInt32LE(4), flags, fullCollectionName, numberToSkip, numberToReturn, query: frame.subarray(pos, qEnd) };
}

/** Encode an OP_REPLY carrying one document. */
export function encodeOpReply(doc: Uint8Array, responseTo: number, requestId = newRequestId()): Buffer {
  const length = HEADER_SIZE + 20 + doc.length;
  const out = Buffer.allocUnsafe(length);
  writeHeader(out, length, requestId, responseTo, OpCode.OP_REPLY);
  out.writeInt32LE(0, HEADER_SIZE); // responseFlags: AwaitCapable is irrelevant without OP_GET_MORE
  out.writeBigInt64LE(0n, HEADER_SIZE + 4); // cursorID
  out.writeInt32LE(0, HEADER_SIZE + 12); // startingFrom
  out.writeInt32LE(1, HEADER_SIZE + 16); // numberReturned
  out.set(doc, HEADER_SIZE + 20);
  return out;
}

/** Read the single document of an OP_REPLY (tests, fixture capture). */
export function decodeOpReply(frame: Buffer): { responseTo: number; numberReturned: number; documents: Buffer[] } {
  const numberReturned = frame.readInt32LE(HEADER_SIZE + 16);
  const documents: Buffer[] = [];
  let pos = HEADER_SIZE + 20;
  for (let i = 0; i < numberReturned; i++) {
    const e = documentEnd(frame, pos);
    documents.push(frame.subarray(pos, e));
    pos = e;
  }
  return { responseTo: frame.readInt32LE(8), numberReturned, documents };
}
