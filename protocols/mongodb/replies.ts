/** Replies dgf writes itself, in MongoDB's own format (`{ok: 0, errmsg, code, codeName}`). */
import { serialize, type Document } from 'bson';
import { ErrorCode, ErrorCodeName } from './codec/constants.js';

/** An error reply document's bytes. */
export function errorReply(code: number, errmsg: string, extra: Document = {}): Uint8Array {
  return serialize({ ok: 0, errmsg, code, codeName: ErrorCodeName[code] ?? 'Error', ...extra });
}

/** The answer to a command a policy rule denied. */
export function deniedReply(message: string): Uint8Array {
  return errorReply(ErrorCode.Unauthorized, message);
}

/** Atlas' own answer to a write over the storage quota (code 8000, AtlasError). */
export function overQuotaReply(usedBytes: number, limitBytes: number): Uint8Array {
  const mb = (n: number): string => String(Math.ceil(n / (1024 * 1024)));
  return errorReply(ErrorCode.AtlasError, `you are over your space quota, using ${mb(usedBytes)} MB of ${mb(limitBytes)} MB`);
}

export const OK_REPLY: Uint8Array = serialize({ ok: 1 });
