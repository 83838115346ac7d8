/**
 * Splits a byte stream into whole MongoDB messages. Resumes across chunks without joining them: a frame
 * that arrives whole inside one chunk is handed out as a subarray of that chunk (no copy); only a frame
 * split across chunks is copied, once, when its last byte arrives. Memory held is what was received, never
 * what a length claims: a client announcing 16 MB and sending 5 bytes holds 5 bytes. The length is checked
 * against the cap as soon as its 4 bytes are known.
 */
import { MessageTooLargeError, ProtocolError } from '../../shared/errors.js';
import { ErrorCode, HEADER_SIZE } from './constants.js';

/** Receives each complete message (header included). The buffer may be a view into a socket chunk. */
export type FrameHandler = (frame: Buffer) => void;

export class MessageFramer {
  /** Chunks of a frame whose length is known but which is not complete yet. */
  private pending: Buffer[] | null = null;
  private pendingLength = 0;
  private pendingFill = 0;
  /** Up to 3 bytes of a length prefix cut by a chunk boundary. */
  private readonly lengthBytes = Buffer.alloc(4);
  private lengthFill = 0;

  constructor(private readonly maxMessageBytes: number) {}

  /** Bytes held for an incomplete frame (for tests and memory accounting). */
  get buffered(): number {
    return this.pendingFill + this.lengthFill;
  }

  /** Feed a chunk; calls `onFrame` for each complete message. Throws ProtocolError on a bad length. */
  push(chunk: Buffer, onFrame: FrameHandler): void {
    let off = 0;
    const end = chunk.length;
    if (this.lengthFill > 0) {
      const take = Math.min(4 - this.lengthFill, end);
      chunk.copy(this.lengthBytes, this.lengthFill, 0, take);
      this.lengthFill += take;
      off = take;
      if (this.lengthFill < 4) return;
      this.pendingLength = this.checkLength(this.lengthBytes.readUInt32LE(0));
      this.pending = [Buffer.from(this.lengthBytes)];
      this.pendingFill = 4;
      this.lengthFill = 0;
    }
    if (this.pending) {
      const want = this.pendingLength - this.pendingFill;
      const take = Math.min(want, end - off);
      if (take > 0) this.pending.push(chunk.subarray(off, off + take));
      this.pendingFill += take;
      off += take;
      if (this.pendingFill < this.pendingLength) return;
      const frame = Buffer.concat(this.pending, this.pendingLength);
      this.pending = null;
      this.pendingFill = 0;
      onFrame(frame);
    }
    while (off < end) {
      if (end - off < 4) {
        chunk.copy(this.lengthBytes, 0, off, end);
        this.lengthFill = end - off;
        return;
      }
      const len = this.checkLength(chunk.readUInt32LE(off));
      if (end - off >= len) {
        onFrame(chunk.subarray(off, off + len));
        off += len;
      } else {
        // Held as a view of the chunk: the chunk stays alive until the frame completes, and nothing more.
        this.pending = [chunk.subarray(off, end)];
        this.pendingLength = len;
        this.pendingFill = end - off;
        return;
      }
    }
  }

  /** Drop any partial frame (connection closing). */
  reset(): void {
    this.pending = null;
    this.pendingFill = 0;
    this.lengthFill = 0;
  }

  private checkLength(len: number): number {
    if (len > this.maxMessageBytes) {
      throw new MessageTooLargeError(len, this.maxMessageBytes, String(ErrorCode.BSONObjectTooLarge));
    }
    if (len < HEADER_SIZE) {
      throw new ProtocolError(`messageLength ${len} is smaller than the 16-byte header`, String(ErrorCode.ProtocolError));
    }
    return len;
  }
}
