/**
 * A bounds-checked cursor over one message body. One instance is reused per decoder (no allocation per
 * message); every overrun is a ProtocolError (08P01) for that client, never an exception that escapes.
 */
import { ProtocolError } from '../../shared/errors.js';
import { SqlState } from './message-codes.js';

export class Reader {
  buf: Buffer = Buffer.alloc(0);
  pos = 0;
  end = 0;

  reset(buf: Buffer, pos: number, end: number): this {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
    return this;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  byte(): number {
    if (this.pos + 1 > this.end) throw truncated();
    return this.buf[this.pos++]!;
  }

  int16(): number {
    if (this.pos + 2 > this.end) throw truncated();
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  /** An unsigned 16-bit count, as PostgreSQL reads message counts (`pq_getmsgint(msg, 2)`: 0 to 65535). */
  uint16(): number {
    if (this.pos + 2 > this.end) throw truncated();
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  int32(): number {
    if (this.pos + 4 > this.end) throw truncated();
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  uint32(): number {
    if (this.pos + 4 > this.end) throw truncated();
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  /** A NUL-terminated UTF-8 string. */
  cstring(): string {
    const nul = this.buf.indexOf(0, this.pos);
    if (nul < 0 || nul >= this.end) throw truncated();
    const s = this.buf.toString('utf8', this.pos, nul);
    this.pos = nul + 1;
    return s;
  }

  /** Skip a NUL-terminated string, returning the offset of its NUL. */
  skipCString(): number {
    const nul = this.buf.indexOf(0, this.pos);
    if (nul < 0 || nul >= this.end) throw truncated();
    this.pos = nul + 1;
    return nul;
  }

  /** A view of the next `n` bytes (no copy). */
  bytes(n: number): Buffer {
    if (n < 0 || this.pos + n > this.end) throw truncated();
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  skip(n: number): void {
    if (n < 0 || this.pos + n > this.end) throw truncated();
    this.pos += n;
  }
}

function truncated(): ProtocolError {
  return new ProtocolError('malformed message: field runs past the end of the message', SqlState.ProtocolViolation);
}
