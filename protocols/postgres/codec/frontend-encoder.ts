/**
 * Messages dgf sends upstream on its own behalf (re-Parse on another connection, setting replay, resets)
 * and the rewrite of a client's Bind/Describe/Close to the statement name used on the upstream connection.
 */
import { FrontendCode } from './message-codes.js';

function header(code: number, bodyLength: number): Buffer {
  const b = Buffer.allocUnsafe(5 + bodyLength);
  b[0] = code;
  b.writeInt32BE(4 + bodyLength, 1);
  return b;
}

export const sync = header(FrontendCode.Sync, 0);
export const flush = header(FrontendCode.Flush, 0);
export const terminate = header(FrontendCode.Terminate, 0);

export function query(sql: string): Buffer {
  const n = Buffer.byteLength(sql);
  const b = header(FrontendCode.Query, n + 1);
  b.write(sql, 5, 'utf8');
  b[5 + n] = 0;
  return b;
}

export function parse(name: string, sql: string, paramTypes: readonly number[]): Buffer {
  const n = Buffer.byteLength(name);
  const q = Buffer.byteLength(sql);
  const b = header(FrontendCode.Parse, n + q + 4 + paramTypes.length * 4);
  let p = 5;
  p += b.write(name, p, 'utf8');
  b[p++] = 0;
  p += b.write(sql, p, 'utf8');
  b[p++] = 0;
  b.writeUInt16BE(paramTypes.length, p);
  p += 2;
  for (const t of paramTypes) {
    b.writeUInt32BE(t >>> 0, p);
    p += 4;
  }
  return b;
}

/** Describe or Close of a statement ('S') or portal ('P'). */
export function target(code: typeof FrontendCode.Describe | typeof FrontendCode.Close, kind: 'S' | 'P', name: string): Buffer {
  const n = Buffer.byteLength(name);
  const b = header(code, n + 2);
  b[5] = kind.charCodeAt(0);
  b.write(name, 6, 'utf8');
  b[6 + n] = 0;
  return b;
}

/**
 * Splice a new name over the byte range [nameStart, nameNul) of a frame (a Bind's statement name), keeping
 * every other byte as the client sent it.
 */
export function renameInFrame(frame: Buffer, frameStart: number, frameEnd: number, nameStart: number, nameNul: number, name: string): Buffer {
  const n = Buffer.byteLength(name);
  const oldLen = nameNul - nameStart;
  const total = frameEnd - frameStart - oldLen + n;
  const b = Buffer.allocUnsafe(total);
  frame.copy(b, 0, frameStart, nameStart);
  b.writeInt32BE(total - 1, 1);
  b.write(name, nameStart - frameStart, 'utf8');
  frame.copy(b, nameStart - frameStart + n, nameNul, frameEnd);
  return b;
}

/** CancelRequest for an upstream backend. */
export function cancelRequest(processId: number, secretKey: number): Buffer {
  const b = Buffer.allocUnsafe(16);
  b.writeInt32BE(16, 0);
  b.writeInt32BE(80877102, 4);
  b.writeInt32BE(processId, 8);
  b.writeInt32BE(secretKey, 12);
  return b;
}

/** SSLRequest. */
export function sslRequest(): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeInt32BE(8, 0);
  b.writeInt32BE(80877103, 4);
  return b;
}

/** Quote a string literal (standard_conforming_strings on, the default since PostgreSQL 9.1). */
export function literal(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}
