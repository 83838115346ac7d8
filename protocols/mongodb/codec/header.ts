/** The standard message header: messageLength, requestID, responseTo, opCode (all int32 little-endian). */
import { HEADER_SIZE } from './constants.js';

export interface MsgHeader {
  /** Total message size in bytes, header included. */
  messageLength: number;
  requestId: number;
  responseTo: number;
  opCode: number;
}

/** Read the header of a complete frame. */
export function readHeader(frame: Buffer): MsgHeader {
  return {
    messageLength: frame.readInt32LE(0),
    requestId: frame.readInt32LE(4),
    responseTo: frame.readInt32LE(8),
    opCode: frame.readInt32LE(12),
  };
}

/** Write a header at the start of `out` (which must be at least HEADER_SIZE bytes). */
export function writeHeader(out: Buffer, messageLength: number, requestId: number, responseTo: number, opCode: number): void {
  out.writeInt32LE(messageLength, 0);
  out.writeInt32LE(requestId | 0, 4);
  out.writeInt32LE(responseTo | 0, 8);
  out.writeInt32LE(opCode, 12);
}

let nextRequestId = 1;

/** Request ids for messages dgf originates; wraps inside int32 like the server's own counter. */
export function newRequestId(): number {
  nextRequestId = nextRequestId >= 0x7fffffff ? 1 : nextRequestId + 1;
  return nextRequestId;
}

export { HEADER_SIZE };
