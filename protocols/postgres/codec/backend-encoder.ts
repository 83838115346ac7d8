/**
 * Messages dgf itself sends to clients, in the server's format. Field-less messages and the three
 * ReadyForQuery variants are shared singletons (never mutated, safe to write many times).
 */
import { AuthCode, BackendCode } from './message-codes.js';

function header(code: number, bodyLength: number): Buffer {
  const b = Buffer.allocUnsafe(5 + bodyLength);
  b[0] = code;
  b.writeInt32BE(4 + bodyLength, 1);
  return b;
}

function empty(code: number): Buffer {
  return header(code, 0);
}

export const parseComplete = empty(BackendCode.ParseComplete);
export const bindComplete = empty(BackendCode.BindComplete);
export const closeComplete = empty(BackendCode.CloseComplete);
export const noData = empty(BackendCode.NoData);

const rfq = {
  I: readyForQueryOf(0x49),
  T: readyForQueryOf(0x54),
  E: readyForQueryOf(0x45),
};

function readyForQueryOf(status: number): Buffer {
  const b = header(BackendCode.ReadyForQuery, 1);
  b[5] = status;
  return b;
}

/** Transaction status of ReadyForQuery: idle, in a transaction block, in a failed one. */
export type TxStatus = 'I' | 'T' | 'E';

export function readyForQuery(status: TxStatus): Buffer {
  return rfq[status];
}

export function authentication(code: number, extra?: Buffer | string): Buffer {
  const data = extra === undefined ? null : typeof extra === 'string' ? Buffer.from(extra, 'utf8') : extra;
  const b = header(BackendCode.Authentication, 4 + (data ? data.length : 0));
  b.writeInt32BE(code, 5);
  if (data) data.copy(b, 9);
  return b;
}

export const authenticationOk = authentication(AuthCode.Ok);

/** AuthenticationSASL listing the mechanisms offered. */
export function authenticationSasl(mechanisms: string[]): Buffer {
  return authentication(AuthCode.SASL, Buffer.from(mechanisms.map((m) => m + '\0').join('') + '\0', 'utf8'));
}

export function parameterStatus(name: string, value: string): Buffer {
  const n = Buffer.byteLength(name);
  const v = Buffer.byteLength(value);
  const b = header(BackendCode.ParameterStatus, n + v + 2);
  b.write(name, 5, 'utf8');
  b[5 + n] = 0;
  b.write(value, 6 + n, 'utf8');
  b[6 + n + v] = 0;
  return b;
}

export function backendKeyData(processId: number, secretKey: number): Buffer {
  const b = header(BackendCode.BackendKeyData, 8);
  b.writeInt32BE(processId, 5);
  b.writeInt32BE(secretKey, 9);
  return b;
}

export function commandComplete(tag: string): Buffer {
  const n = Buffer.byteLength(tag);
  const b = header(BackendCode.CommandComplete, n + 1);
  b.write(tag, 5, 'utf8');
  b[5 + n] = 0;
  return b;
}

/** The fields of an ErrorResponse / NoticeResponse dgf composes. */
export interface ErrorFields {
  severity: 'ERROR' | 'FATAL' | 'PANIC' | 'WARNING' | 'NOTICE' | 'LOG' | 'INFO' | 'DEBUG';
  code: string;
  message: string;
  detail?: string;
  hint?: string;
  /** Source routine ('R'): some drivers act on it (porsager postgres re-prepares after `RevalidateCachedQuery`). */
  routine?: string;
}

function fieldsMessage(code: number, f: ErrorFields): Buffer {
  const parts: [string, string][] = [
    ['S', f.severity],
    ['V', f.severity],
    ['C', f.code],
    ['M', f.message],
  ];
  if (f.detail) parts.push(['D', f.detail]);
  if (f.hint) parts.push(['H', f.hint]);
  if (f.routine) parts.push(['R', f.routine]);
  let len = 1;
  for (const [, v] of parts) len += 2 + Buffer.byteLength(v);
  const b = header(code, len);
  let p = 5;
  for (const [k, v] of parts) {
    b[p++] = k.charCodeAt(0);
    p += b.write(v, p, 'utf8');
    b[p++] = 0;
  }
  b[p] = 0;
  return b;
}

export function errorResponse(f: ErrorFields): Buffer {
  return fieldsMessage(BackendCode.ErrorResponse, f);
}

export function noticeResponse(f: ErrorFields): Buffer {
  return fieldsMessage(BackendCode.NoticeResponse, f);
}

/** NegotiateProtocolVersion: the newest minor version dgf supports and the protocol options it did not recognize. */
export function negotiateProtocolVersion(minor: number, unrecognized: string[]): Buffer {
  let len = 8;
  for (const o of unrecognized) len += Buffer.byteLength(o) + 1;
  const b = header(BackendCode.NegotiateProtocolVersion, len);
  b.writeInt32BE(minor, 5);
  b.writeInt32BE(unrecognized.length, 9);
  let p = 13;
  for (const o of unrecognized) {
    p += b.write(o, p, 'utf8');
    b[p++] = 0;
  }
  return b;
}
