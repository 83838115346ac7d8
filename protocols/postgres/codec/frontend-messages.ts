/**
 * Typed views of the client (frontend) messages dgf must understand. Each function reads one frame's body
 * as exposed by FrameDecoder (buffer, body, end); only the fields a proxy needs are decoded, the rest stays
 * as byte offsets so a rewrite can splice the original bytes.
 */
import { ProtocolError } from '../../shared/errors.js';
import { SqlState, StartupCode } from './message-codes.js';
import { Reader } from './reader.js';

const reader = new Reader();

/** An untyped startup-phase packet. */
export type StartupPacket =
  | { kind: 'ssl' }
  | { kind: 'gssenc' }
  | { kind: 'cancel'; processId: number; secretKey: number }
  | { kind: 'startup'; major: number; minor: number; params: Map<string, string>; unknownOptions: string[] };

export function readStartupPacket(buf: Buffer, body: number, end: number): StartupPacket {
  const r = reader.reset(buf, body, end);
  const version = r.int32();
  if (version === StartupCode.SSLRequest) return { kind: 'ssl' };
  if (version === StartupCode.GSSENCRequest) return { kind: 'gssenc' };
  if (version === StartupCode.CancelRequest) {
    const processId = r.int32();
    const secretKey = r.int32();
    return { kind: 'cancel', processId, secretKey };
  }
  const major = version >>> 16;
  const minor = version & 0xffff;
  if (major !== 3) {
    throw new ProtocolError(`unsupported frontend protocol ${major}.${minor}: server supports 3.0 to 3.0`, '0A000');
  }
  const params = new Map<string, string>();
  const unknownOptions: string[] = [];
  while (r.remaining > 0) {
    const key = r.cstring();
    if (key === '') break;
    const value = r.cstring();
    // Protocol options (_pq_.*) are answered through NegotiateProtocolVersion, not applied.
    if (key.startsWith('_pq_.')) unknownOptions.push(key);
    else params.set(key, value);
  }
  if (!params.get('user')) throw new ProtocolError('no PostgreSQL user name specified in startup packet', SqlState.InvalidAuthorization);
  return { kind: 'startup', major, minor, params, unknownOptions };
}

/** Parse ('P'). */
export interface ParseMessage {
  name: string;
  query: string;
  paramTypes: number[];
}

export function readParse(buf: Buffer, body: number, end: number): ParseMessage {
  const r = reader.reset(buf, body, end);
  const name = r.cstring();
  const query = r.cstring();
  // Counts are unsigned: PostgreSQL accepts up to 65,535 parameter types (a driver may send 50,000).
  const n = r.uint16();
  const paramTypes = new Array<number>(n);
  for (let i = 0; i < n; i++) paramTypes[i] = r.uint32();
  return { name, query, paramTypes };
}

/** Bind ('B'): the names, where the statement name sits (for rewriting), and the result formats. */
export interface BindMessage {
  portal: string;
  statement: string;
  /** Offset of the statement name's first byte and of its NUL, in the frame's buffer. */
  statementStart: number;
  statementNul: number;
  /** Result column format codes as sent (0 entries: all text; 1 entry: applies to every column). */
  resultFormats: number[];
}

export function readBind(buf: Buffer, body: number, end: number): BindMessage {
  const r = reader.reset(buf, body, end);
  const portal = r.cstring();
  const statementStart = r.pos;
  const statement = r.cstring();
  const statementNul = r.pos - 1;
  const nFormats = r.uint16();
  r.skip(nFormats * 2);
  const nParams = r.uint16();
  for (let i = 0; i < nParams; i++) {
    const len = r.int32();
    if (len > 0) r.skip(len);
    else if (len < -1) throw new ProtocolError('invalid parameter length', SqlState.ProtocolViolation);
  }
  const nResults = r.uint16();
  const resultFormats = new Array<number>(nResults);
  for (let i = 0; i < nResults; i++) resultFormats[i] = r.int16();
  return { portal, statement, statementStart, statementNul, resultFormats };
}

/** Describe ('D') and Close ('C'): 'S' statement or 'P' portal, and its name. */
export interface TargetMessage {
  target: 'S' | 'P';
  name: string;
}

export function readTarget(buf: Buffer, body: number, end: number): TargetMessage {
  const r = reader.reset(buf, body, end);
  const t = r.byte();
  if (t !== 0x53 && t !== 0x50) throw new ProtocolError(`invalid DESCRIBE/CLOSE message subtype ${t}`, SqlState.ProtocolViolation);
  return { target: t === 0x53 ? 'S' : 'P', name: r.cstring() };
}

/** Execute ('E'). */
export interface ExecuteMessage {
  portal: string;
  maxRows: number;
}

export function readExecute(buf: Buffer, body: number, end: number): ExecuteMessage {
  const r = reader.reset(buf, body, end);
  const portal = r.cstring();
  return { portal, maxRows: r.int32() };
}

/** Query ('Q') text, and CopyFail ('f') message. */
export function readCString(buf: Buffer, body: number, end: number): string {
  return reader.reset(buf, body, end).cstring();
}

/** SASLInitialResponse ('p' during SASL): mechanism and client-first-message. */
export function readSaslInitial(buf: Buffer, body: number, end: number): { mechanism: string; data: string } {
  const r = reader.reset(buf, body, end);
  const mechanism = r.cstring();
  const len = r.int32();
  const data = len < 0 ? '' : r.bytes(len).toString('utf8');
  return { mechanism, data };
}

/** SASLResponse ('p' during SASL): the raw client message. */
export function readSaslResponse(buf: Buffer, body: number, end: number): string {
  return buf.toString('utf8', body, end);
}
