/**
 * A resumable RESP2/RESP3 frame scanner: it finds where each top-level frame (a reply, a push) starts and ends
 * without decoding it, and reports the bytes of the current frame as spans of the chunks it was fed.
 *
 * Why not `redis-parser` (or ioredis' decoder): both decode every reply into JS values, and a proxy that forwards
 * untouched bytes only needs frame boundaries; redis-parser also has no RESP3 (maps, sets, pushes, attributes,
 * doubles, big numbers, verbatim strings) and neither reports raw byte spans. This scanner keeps a few integers of
 * state across chunks (no closures, no joined buffers), skips bulk payloads by arithmetic, and lets the caller
 * forward spans zero-copy or assemble a frame only when a policy must look inside (see decode.ts).
 */
import { ProtocolError } from '../../shared/errors.js';
import { CR, LF, RespType } from './resp-types.js';

/** Receives the bytes of frames as they are scanned. */
export interface FrameSink {
  /**
   * Bytes `[start, end)` of `chunk` belong to the current frame; `complete` is true when the frame ends at `end`.
   * A frame spread over several chunks is reported as several spans; a chunk holding several frames as several calls.
   */
  onFrameBytes(chunk: Buffer, start: number, end: number, complete: boolean): void;
}

const ST_TYPE = 0;
const ST_LINE = 1;
const ST_NUMBER = 2;
const ST_NUMBER_LF = 3;
const ST_BODY = 4;

/** Deepest aggregate nesting accepted; Redis' own replies stay far below it. */
export const MAX_DEPTH = 512;

export class ReplyScanner {
  private state = ST_TYPE;
  private type = 0;
  private num = 0;
  private neg = false;
  private digits = 0;
  private bodyLeft = 0;
  private lineBytes = 0;
  private depth = 0;
  private readonly remaining = new Float64Array(MAX_DEPTH);
  private readonly isAttribute = new Uint8Array(MAX_DEPTH);
  private frameBytes = 0;
  private atFrameStart = true;
  /** Type byte of the current (or last completed) frame's first value, attributes skipped. */
  frameType = 0;
  /** Element count of the current frame's top-level aggregate (-1 for a scalar or a null aggregate). */
  frameCount = -1;

  /**
   * @param maxFrameBytes a frame larger than this is a protocol error (default: unlimited, replies from a trusted
   *   upstream are streamed, callers that assemble frames bound them themselves).
   */
  constructor(private readonly maxFrameBytes = Number.POSITIVE_INFINITY) {}

  /** Scan one chunk, reporting frame bytes to `sink`. Throws ProtocolError on malformed input. */
  push(chunk: Buffer, sink: FrameSink): void {
    const len = chunk.length;
    let pos = 0;
    let frameStart = 0;
    while (pos < len) {
      switch (this.state) {
        case ST_TYPE: {
          if (this.atFrameStart) {
            // Here frameStart === pos: the previous frame ended where this one starts.
            const end = this.wholeScalar(chunk, pos);
            if (end > 0) {
              this.frameBytes = 0;
              this.frameType = chunk[pos]!;
              this.frameCount = -1;
              this.completeFrame(chunk, pos, end, sink);
              pos = frameStart = end;
              break;
            }
          }
          const t = chunk[pos++]!;
          if (this.atFrameStart) {
            this.atFrameStart = false;
            this.frameBytes = 0;
            this.frameType = 0;
            this.frameCount = -1;
          }
          this.type = t;
          switch (t) {
            case RespType.SimpleString:
            case RespType.SimpleError:
            case RespType.Integer:
            case RespType.Double:
            case RespType.BigNumber:
            case RespType.Null:
            case RespType.Boolean:
              this.state = ST_LINE;
              this.lineBytes = 0;
              break;
            case RespType.BulkString:
            case RespType.BulkError:
            case RespType.VerbatimString:
            case RespType.Array:
            case RespType.Map:
            case RespType.Set:
            case RespType.Push:
            case RespType.Attribute:
              this.state = ST_NUMBER;
              this.num = 0;
              this.neg = false;
              this.digits = 0;
              break;
            default:
              throw new ProtocolError(`Protocol error: unexpected RESP type byte 0x${t.toString(16)}`, 'ERR');
          }
          if (this.frameType === 0 && this.depth === 0 && t !== RespType.Attribute) this.frameType = t;
          break;
        }
        case ST_LINE: {
          const nl = chunk.indexOf(LF, pos);
          if (nl < 0) {
            this.lineBytes += len - pos;
            pos = len;
            if (this.lineBytes > 1 << 26) throw new ProtocolError('Protocol error: line too long', 'ERR');
            break;
          }
          pos = nl + 1;
          if (this.elementDone()) {
            this.completeFrame(chunk, frameStart, pos, sink);
            frameStart = pos;
          }
          break;
        }
        case ST_NUMBER: {
          // Length headers are a few bytes: read them byte by byte, resumable at any split.
          const c = chunk[pos++]!;
          if (c >= 48 && c <= 57) {
            this.num = this.num * 10 + (c - 48);
            if (++this.digits > 15) throw new ProtocolError('Protocol error: invalid length', 'ERR');
          } else if (c === CR) {
            this.state = ST_NUMBER_LF;
          } else if (c === 45 && this.digits === 0 && !this.neg) {
            this.neg = true;
          } else {
            throw new ProtocolError('Protocol error: invalid length', 'ERR');
          }
          break;
        }
        case ST_NUMBER_LF: {
          if (chunk[pos++] !== LF || this.digits === 0) throw new ProtocolError('Protocol error: invalid length', 'ERR');
          if (this.header()) {
            this.completeFrame(chunk, frameStart, pos, sink);
            frameStart = pos;
          }
          break;
        }
        case ST_BODY: {
          const take = Math.min(this.bodyLeft, len - pos);
          pos += take;
          this.bodyLeft -= take;
          if (this.bodyLeft === 0) {
            this.state = ST_TYPE;
            if (this.elementDone()) {
              this.completeFrame(chunk, frameStart, pos, sink);
              frameStart = pos;
            }
          }
          break;
        }
      }
    }
    if (frameStart < len) {
      this.frameBytes += len - frameStart;
      if (this.frameBytes > this.maxFrameBytes) {
        throw new ProtocolError(`Protocol error: frame larger than ${this.maxFrameBytes} bytes`, 'ERR');
      }
      sink.onFrameBytes(chunk, frameStart, len, false);
    }
  }

  /**
   * Fast path for a top-level frame that lies whole in the chunk from `start` and is a bulk string, a null bulk
   * string or a simple string, error or integer (most replies: `$5\r\nhello\r\n`, `$-1`, `+OK`, `:1`): found
   * with locals in one pass, without the state machine's per-byte steps. Returns its end, or -1 with nothing
   * changed for anything else or anything unusual, which the state machine then scans (and refuses) from the
   * same byte.
   */
  private wholeScalar(chunk: Buffer, start: number): number {
    const len = chunk.length;
    const t = chunk[start]!;
    if (t === RespType.SimpleString || t === RespType.SimpleError || t === RespType.Integer) {
      const nl = chunk.indexOf(LF, start + 1);
      return nl < 0 || nl + 1 - start > this.maxFrameBytes ? -1 : nl + 1;
    }
    if (t !== RespType.BulkString) return -1;
    let p = start + 1;
    if (p < len && chunk[p] === 45) {
      return p + 3 < len && chunk[p + 1] === 49 && chunk[p + 2] === CR && chunk[p + 3] === LF ? p + 4 : -1;
    }
    const digitsAt = p;
    let n = 0;
    let c = 0;
    while (p < len && (c = chunk[p]!) >= 48 && c <= 57 && p - digitsAt < 15) {
      n = n * 10 + (c - 48);
      p++;
    }
    if (p === digitsAt || p + 1 >= len || chunk[p] !== CR || chunk[p + 1] !== LF) return -1;
    const end = p + 2 + n + 2;
    return end > len || end - start > this.maxFrameBytes ? -1 : end;
  }

  /** True between frames (no partial frame pending). */
  get idle(): boolean {
    return this.atFrameStart;
  }

  private completeFrame(chunk: Buffer, start: number, end: number, sink: FrameSink): void {
    this.frameBytes += end - start;
    if (this.frameBytes > this.maxFrameBytes) {
      throw new ProtocolError(`Protocol error: frame larger than ${this.maxFrameBytes} bytes`, 'ERR');
    }
    this.atFrameStart = true;
    this.state = ST_TYPE;
    sink.onFrameBytes(chunk, start, end, true);
  }

  /** A length header ended; returns true when it completed the frame. */
  private header(): boolean {
    const t = this.type;
    const n = this.num;
    const top = this.depth === 0 && t !== RespType.Attribute;
    if (t === RespType.BulkString || t === RespType.BulkError || t === RespType.VerbatimString) {
      if (this.neg) {
        if (n !== 1 || t !== RespType.BulkString) throw new ProtocolError('Protocol error: invalid bulk length', 'ERR');
        this.state = ST_TYPE;
        return this.elementDone();
      }
      if (n + 2 > this.maxFrameBytes) throw new ProtocolError('Protocol error: invalid bulk length', 'ERR');
      this.bodyLeft = n + 2;
      this.state = ST_BODY;
      return false;
    }
    this.state = ST_TYPE;
    if (this.neg) {
      if (n !== 1 || (t !== RespType.Array && t !== RespType.Set)) {
        throw new ProtocolError('Protocol error: invalid multibulk length', 'ERR');
      }
      return this.elementDone();
    }
    if (top) this.frameCount = n;
    const elements = t === RespType.Map || t === RespType.Attribute ? n * 2 : n;
    if (elements === 0) {
      // An empty attribute carries nothing and is followed by the real value.
      return t === RespType.Attribute ? false : this.elementDone();
    }
    if (this.depth >= MAX_DEPTH) throw new ProtocolError('Protocol error: nesting too deep', 'ERR');
    this.remaining[this.depth] = elements;
    this.isAttribute[this.depth] = t === RespType.Attribute ? 1 : 0;
    this.depth++;
    return false;
  }

  /** One value ended; pop finished aggregates. Returns true when the top-level frame is complete. */
  private elementDone(): boolean {
    this.state = ST_TYPE;
    while (this.depth > 0) {
      const d = this.depth - 1;
      if (--this.remaining[d]! > 0) return false;
      this.depth = d;
      // A finished attribute is not an element of its parent: the value it annotates follows.
      if (this.isAttribute[d] === 1) return false;
    }
    return true;
  }
}
