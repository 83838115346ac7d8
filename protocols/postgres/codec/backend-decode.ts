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

const parser = new Parser();
let decoded: BackendMessage | null = null;
const take = (m: BackendMessage): void => {
  decoded = m;
};

/** Decode one complete backend frame (type byte, length, body). */
export function decodeBackend(frame: Buffer): BackendMessage {
  decoded = null;
  parser.parse(frame, take);
  const m = decoded as BackendMessage | null;
  if (!m) throw new Error('incomplete backend frame');
  decoded = null;
  return m;
}

/** The SQLSTATE and message of an ErrorResponse/NoticeResponse frame. */
export function errorFields(frame: Buffer): { severity: string; code: string; message: string } {
  const m = decodeBackend(frame) as unknown as { severity?: string; code?: string; message: string };
  return { severity: m.severity ?? 'ERROR', code: m.code ?? 'XX000', message: m.message };
}
