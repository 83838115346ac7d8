/**
 * Decoding of the few backend messages dgf must read (authentication, ParameterStatus, BackendKeyData,
 * ErrorResponse, RowDescription ...) with node-postgres' pg-protocol Parser. The hot path never calls this:
 * frames are cut by FrameDecoder and forwarded as bytes; only a frame whose content matters is handed here.
 */
import { Parser } from 'pg-protocol/dist/parser.js';
import type { BackendMessage } from 'pg-protocol/dist/messages.js';

export type { BackendMessage };
export type {
  DatabaseError,
  RowDescriptionMessage,
  ParameterStatusMessage,
  BackendKeyDataMessage,
  CommandCompleteMessage,
  AuthenticationMD5Password,
  CopyResponse,
  ParameterDescriptionMessage,
} from 'pg-protocol/dist/messages.js';

import { ProtocolError } from '../../shared/errors.js';
import { BackendCode, SqlState } from './message-codes.js';

let parser = new Parser();
let decoded: BackendMessage | null = null;
const take = (m: BackendMessage): void => {
  decoded = m;
};

/**
 * Decode one complete backend frame (type byte, length, body). A frame that is short, truncated or whose
 * fields run past its end is a ProtocolError (08P01), never a RangeError.
 */
export function decodeBackend(frame: Buffer): BackendMessage {
  decoded = null;
  try {
    if (frame.length < 5 || frame.readUInt32BE(1) + 1 !== frame.length) throw new Error('frame length does not match its header');
    if ((frame[0] === BackendCode.ErrorResponse || frame[0] === BackendCode.NoticeResponse) && !fieldsTerminated(frame)) {
      throw new Error('error fields are not terminated');
    }
    parser.parse(frame, take);
  } catch (err) {
    // The parser keeps the bytes it failed on and would replay them before every later frame: start afresh.
    parser = new Parser();
    throw new ProtocolError(`malformed backend message: ${(err as Error).message}`, SqlState.ProtocolViolation);
  }
  const m = decoded as BackendMessage | null;
  if (!m) {
    parser = new Parser();
    throw new ProtocolError('incomplete backend frame', SqlState.ProtocolViolation);
  }
  decoded = null;
  return m;
}

/** The SQLSTATE and message of an ErrorResponse/NoticeResponse frame. */
export function errorFields(frame: Buffer): { severity: string; code: string; message: string } {
  const m = decodeBackend(frame) as unknown as { severity?: string; code?: string; message: string };
  return { severity: m.severity ?? 'ERROR', code: m.code ?? 'XX000', message: m.message };
}

/**
 * Whether an ErrorResponse/NoticeResponse body is a list of (type byte, NUL-terminated string) ending in a NUL
 * inside the frame. pg-protocol's parser loops until it reads a NUL type byte and, past the frame's end, reads ''
 * forever: without this check one unterminated frame hangs the process.
 */
function fieldsTerminated(frame: Buffer): boolean {
  let p = 5;
  while (p < frame.length) {
    if (frame[p] === 0) return true;
    const nul = frame.indexOf(0, p + 1);
    if (nul < 0) return false;
    p = nul + 1;
  }
  return false;
}
