/**
 * Incremental framing of PostgreSQL messages, for both directions.
 *
 * Zero allocation per message: `next()` only moves cursors and exposes the current frame as (`code`, `start`,
 * `end`) over `buffer`; callers take a `subarray` only when they need one. Bytes are never compacted in place,
 * because earlier frames may still be queued in a socket's write buffer: a partial tail is copied into a buffer
 * the decoder owns, sized for the whole pending frame when its header is known, and later chunks are appended
 * behind it (never over handed-out bytes), so a large message arriving in many chunks is copied once.
 */
import { MessageTooLargeError, ProtocolError } from '../../shared/errors.js';
import { SqlState } from './message-codes.js';

const EMPTY = Buffer.alloc(0);

/** PostgreSQL's own limit for an untyped startup packet (MAX_STARTUP_PACKET_LENGTH). */
export const MAX_STARTUP_PACKET = 10_000;
/**
 * Largest typed message before authentication completes (PasswordMessage, SASLInitialResponse, SASLResponse):
 * the startup packet's limit again. Every one of them is a few hundred bytes, so a client that has proven nothing
 * cannot make dgf buffer up to `maxMessageBytes` per connection.
 */
export const MAX_AUTH_MESSAGE = 10_000;

export class FrameDecoder {
  /** Buffer the current frame lives in (valid until the next `push`). */
  buffer: Buffer = EMPTY;
  /** Type byte of the current frame; 0 for an untyped startup-phase packet. */
  code = 0;
  /** Offset of the current frame's first byte (its type byte, or its length for a startup packet). */
  start = 0;
  /** Offset just past the current frame. */
  end = 0;
  /** Offset of the current frame's body (after type and length). */
  body = 0;
  /** True while packets are untyped (before the StartupMessage has been read). */
  startup: boolean;
  /** True until the client has authenticated: typed messages are held to MAX_AUTH_MESSAGE meanwhile. */
  preAuth: boolean;

  private readPos = 0;
  private endPos = 0;
  private owned = false;

  constructor(
    /** Largest frame accepted, including its header. */
    readonly maxBytes: number,
    options: { startup?: boolean; preAuth?: boolean } = {},
  ) {
    this.startup = options.startup ?? false;
    this.preAuth = options.preAuth ?? false;
  }

  /** Bytes received but not yet returned as frames. */
  get buffered(): number {
    return this.endPos - this.readPos;
  }

  push(chunk: Buffer): void {
    const left = this.endPos - this.readPos;
    if (left === 0) {
      this.buffer = chunk;
      this.readPos = 0;
      this.endPos = chunk.length;
      this.owned = false;
      return;
    }
    if (this.owned && this.buffer.length - this.endPos >= chunk.length) {
      chunk.copy(this.buffer, this.endPos);
      this.endPos += chunk.length;
      return;
    }
    let size = left + chunk.length;
    const expected = this.expectedFrameLength();
    if (expected > size) size = expected;
    // Amortize many small chunks of one large frame.
    if (size < left * 2) size = left * 2;
    const next = Buffer.allocUnsafe(size);
    this.buffer.copy(next, 0, this.readPos, this.endPos);
    chunk.copy(next, left);
    this.buffer = next;
    this.readPos = 0;
    this.endPos = left + chunk.length;
    this.owned = true;
  }

  /** Advance to the next complete frame; false when more bytes are needed. Throws ProtocolError on bad framing. */
  next(): boolean {
    const avail = this.endPos - this.readPos;
    const p = this.readPos;
    if (this.startup) {
      if (avail < 4) return false;
      const len = this.buffer.readInt32BE(p);
      if (len < 8 || len > MAX_STARTUP_PACKET) {
        throw new ProtocolError(`invalid startup packet length ${len}`, SqlState.ProtocolViolation);
      }
      if (avail < len) return false;
      this.code = 0;
      this.start = p;
      this.body = p + 4;
      this.end = p + len;
    } else {
      if (avail < 5) return false;
      const len = this.buffer.readInt32BE(p + 1);
      if (len < 4) throw new ProtocolError(`invalid message length ${len}`, SqlState.ProtocolViolation);
      if (len + 1 > this.maxBytes) throw new MessageTooLargeError(len + 1, this.maxBytes, SqlState.ProtocolViolation);
      if (this.preAuth && len + 1 > MAX_AUTH_MESSAGE) {
        throw new ProtocolError(`invalid message length ${len}: more than ${MAX_AUTH_MESSAGE} bytes before authentication`, SqlState.ProtocolViolation);
      }
      if (avail < len + 1) return false;
      this.code = this.buffer[p]!;
      this.start = p;
      this.body = p + 5;
      this.end = p + 1 + len;
    }
    this.readPos = this.end;
    if (this.readPos === this.endPos) {
      // Nothing left: the next chunk can be adopted as is.
      this.readPos = this.endPos = 0;
      this.owned = false;
      // `buffer` stays valid for the caller until the next push.
    }
    return true;
  }

  /** The current frame as a view (no copy). */
  frame(): Buffer {
    return this.buffer.subarray(this.start, this.end);
  }

  /** Drop everything buffered (after a fatal error). */
  reset(): void {
    this.buffer = EMPTY;
    this.readPos = this.endPos = 0;
    this.owned = false;
  }

  private expectedFrameLength(): number {
    const left = this.endPos - this.readPos;
    if (this.startup) {
      if (left < 4) return 0;
      const len = this.buffer.readInt32BE(this.readPos);
      return len >= 8 && len <= MAX_STARTUP_PACKET ? len : 0;
    }
    if (left < 5) return 0;
    const len = this.buffer.readInt32BE(this.readPos + 1);
    return len >= 4 && len + 1 <= (this.preAuth ? MAX_AUTH_MESSAGE : this.maxBytes) ? len + 1 : 0;
  }
}
