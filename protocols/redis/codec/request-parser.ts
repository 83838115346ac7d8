/**
 * A resumable parser for what clients send: RESP multibulk commands (`*N\r\n$len\r\narg\r\n...`) and inline
 * commands (`GET key\r\n`, as telnet and `redis-cli` in some modes send them). Resumes at any byte split
 * without re-scanning: arguments that lie inside one chunk are zero-copy views, only an argument cut by a chunk
 * boundary is joined. The raw bytes of each multibulk command are kept as spans of the input chunks, so the
 * proxy forwards them untouched.
 *
 * Limits (as Redis' own): at most 1,048,576 arguments, inline lines of at most 64 KiB, and a whole command of at
 * most `maxCommandBytes` (the listener's `maxMessageBytes`); a bulk length larger than that is refused while
 * its header is read, before any byte of the body is buffered.
 */
import { Buffer } from 'node:buffer';
import { MessageTooLargeError, ProtocolError } from '../../shared/errors.js';
import { CR, LF } from './resp-types.js';
import { view } from '../../shared/buffer-view.js';

/** Receives each complete command. */
export interface CommandSink {
  /**
   * @param args the arguments; views into the input chunks, valid until the caller lets go of them.
   * @param raw the command's exact bytes as spans, or null for an inline command (the caller re-encodes it).
   * @param size the command's size in bytes.
   */
  onCommand(args: Buffer[], raw: Buffer[] | null, size: number): void;
}

export const MAX_ARGS = 1024 * 1024;
export const MAX_INLINE_BYTES = 64 * 1024;
/**
 * Redis' own limits for a client that has not authenticated (since 6.2.6, CVE-2021-32675): AUTH, HELLO, QUIT and
 * PING need a handful of short arguments, so nobody unauthenticated makes the proxy buffer large commands.
 */
export const PRE_AUTH_MAX_ARGS = 10;
export const PRE_AUTH_MAX_BULK = 16 * 1024;
/** Commands with more arguments than this take the state machine (their args array grows anyway). */
const WHOLE_MAX_ARGS = 4096;
/**
 * `whole`'s argument offsets (start, end per argument), shared by every parser: a command is parsed and its views
 * cut in one synchronous call, so no two parsers use it at once (one per parser would be 32 KiB per client).
 */
const SPANS = new Int32Array(2 * WHOLE_MAX_ARGS);

const S_START = 0;
const S_COUNT = 1;
const S_COUNT_LF = 2;
const S_BULK_TYPE = 3;
const S_BULK_LEN = 4;
const S_BULK_LEN_LF = 5;
const S_BODY = 6;
const S_INLINE = 7;

export class RequestParser {
  private state = S_START;
  private num = 0;
  private digits = 0;
  private neg = false;
  private argsLeft = 0;
  private args: Buffer[] = [];
  private bodyLeft = 0;
  private bodyLen = 0;
  private pieces: Buffer[] = [];
  private raw: Buffer[] = [];
  private size = 0;
  /** The pre-authentication limits apply (see PRE_AUTH_MAX_ARGS). */
  private capped: boolean;
  /** An AUTH or HELLO was read in the current chunk: the commands behind it may be the client's real work. */
  private authSent = false;

  /**
   * @param authenticated when given, the client starts unauthenticated: its commands are held to Redis'
   * pre-authentication limits until this returns true (asked at each chunk). Commands pipelined behind an AUTH or
   * HELLO in the same chunk are not held to them (the AUTH is answered only after the chunk is parsed).
   */
  constructor(
    private readonly maxCommandBytes = 16 * 1024 * 1024,
    private readonly authenticated: (() => boolean) | null = null,
  ) {
    this.capped = authenticated !== null && !authenticated();
  }

  /** Parse a chunk; calls `sink.onCommand` for every command completed in it. Throws ProtocolError. */
  push(chunk: Buffer, sink: CommandSink): void {
    if (this.capped) {
      this.authSent = false;
      if (this.authenticated!()) this.capped = false;
    }
    const len = chunk.length;
    let pos = 0;
    let frameStart = 0;
    while (pos < len) {
      switch (this.state) {
        case S_START: {
          frameStart = pos;
          this.size = 0;
          if (chunk[pos] === 0x2a) {
            const end = this.whole(chunk, pos, sink);
            if (end > 0) {
              pos = frameStart = end;
              break;
            }
            pos++;
            this.state = S_COUNT;
            this.num = 0;
            this.digits = 0;
            this.neg = false;
          } else {
            this.state = S_INLINE;
          }
          break;
        }
        case S_COUNT:
        case S_BULK_LEN: {
          const c = chunk[pos++]!;
          if (c >= 48 && c <= 57) {
            this.num = this.num * 10 + (c - 48);
            if (++this.digits > 15) this.badLength();
          } else if (c === CR) {
            this.state = this.state === S_COUNT ? S_COUNT_LF : S_BULK_LEN_LF;
          } else if (c === 45 && this.digits === 0 && !this.neg) {
            this.neg = true;
          } else {
            this.badLength();
          }
          break;
        }
        case S_COUNT_LF: {
          if (chunk[pos++] !== LF) throw new ProtocolError("Protocol error: expected '\\n' after multibulk length", 'ERR');
          if (this.neg || this.num === 0) {
            // Redis ignores `*0` and `*-1` requests.
            this.state = S_START;
            this.size += pos - frameStart;
            frameStart = pos;
            this.raw = [];
            break;
          }
          if (this.num > MAX_ARGS) throw new ProtocolError('Protocol error: invalid multibulk length', 'ERR');
          if (this.num > PRE_AUTH_MAX_ARGS && this.capped && !this.authSent) throw new ProtocolError('Protocol error: unauthenticated multibulk length', 'ERR');
          this.argsLeft = this.num;
          this.args = [];
          this.state = S_BULK_TYPE;
          break;
        }
        case S_BULK_TYPE: {
          const c = chunk[pos++]!;
          if (c !== 0x24) {
            throw new ProtocolError(`Protocol error: expected '$', got '${String.fromCharCode(c)}'`, 'ERR');
          }
          this.state = S_BULK_LEN;
          this.num = 0;
          this.digits = 0;
          this.neg = false;
          break;
        }
        case S_BULK_LEN_LF: {
          if (chunk[pos++] !== LF || this.neg) this.badLength();
          const n = this.num;
          if (n > this.maxCommandBytes) {
            throw new ProtocolError('Protocol error: invalid bulk length', 'ERR');
          }
          if (n > PRE_AUTH_MAX_BULK && this.capped && !this.authSent) throw new ProtocolError('Protocol error: unauthenticated bulk length', 'ERR');
          this.bodyLen = n;
          this.bodyLeft = n + 2;
          this.state = S_BODY;
          if (this.size + (pos - frameStart) + n > this.maxCommandBytes) {
            throw new MessageTooLargeError(this.size + (pos - frameStart) + n, this.maxCommandBytes, 'ERR');
          }
          // Fast path: the whole body and its CRLF are in this chunk.
          if (pos + n + 2 <= len) {
            this.args.push(view(chunk, pos, pos + n));
            pos += n + 2;
            this.bodyLeft = 0;
            if (this.argDone()) {
              this.emit(chunk, frameStart, pos, sink);
              frameStart = pos;
            }
          }
          break;
        }
        case S_BODY: {
          const take = Math.min(this.bodyLeft, len - pos);
          const dataLeft = this.bodyLeft - 2;
          if (dataLeft > 0) this.pieces.push(chunk.subarray(pos, pos + Math.min(take, dataLeft)));
          pos += take;
          this.bodyLeft -= take;
          if (this.bodyLeft === 0) {
            const arg = this.pieces.length === 1 ? this.pieces[0]! : Buffer.concat(this.pieces, this.bodyLen);
            this.pieces = [];
            this.args.push(arg);
            if (this.argDone()) {
              this.emit(chunk, frameStart, pos, sink);
              frameStart = pos;
            }
          }
          break;
        }
        case S_INLINE: {
          const nl = chunk.indexOf(LF, pos);
          if (nl < 0) {
            this.pieces.push(chunk.subarray(pos));
            this.size += len - pos;
            pos = len;
            frameStart = len;
            if (this.size > MAX_INLINE_BYTES) throw new ProtocolError('Protocol error: too big inline request', 'ERR');
            break;
          }
          this.pieces.push(chunk.subarray(pos, nl));
          this.size += nl + 1 - pos;
          pos = nl + 1;
          frameStart = pos;
          if (this.size > MAX_INLINE_BYTES) throw new ProtocolError('Protocol error: too big inline request', 'ERR');
          const line = this.pieces.length === 1 ? this.pieces[0]! : Buffer.concat(this.pieces);
          this.pieces = [];
          this.state = S_START;
          const args = splitInline(line);
          if (args.length > 0) {
            if (this.capped) this.noteAuth(args);
            sink.onCommand(args, null, this.size);
          }
          break;
        }
      }
    }
    if (this.state !== S_START && this.state !== S_INLINE && frameStart < len) {
      this.raw.push(chunk.subarray(frameStart, len));
      this.size += len - frameStart;
      if (this.size > this.maxCommandBytes) throw new MessageTooLargeError(this.size, this.maxCommandBytes, 'ERR');
    }
  }

  /**
   * Fast path for a command that lies whole in the chunk from `start` (the common case): parsed with locals in
   * one pass, without the state machine's per-byte dispatch and field writes. Returns its end, or -1 with nothing
   * changed when anything is incomplete or unusual (empty or huge counts, bad or long lengths, limits), which the
   * state machine then parses (and refuses) from the same byte.
   */
  private whole(chunk: Buffer, start: number, sink: CommandSink): number {
    const len = chunk.length;
    let p = start + 1;
    let count = 0;
    let c = 0;
    while (p < len && (c = chunk[p]!) >= 48 && c <= 57 && p - start <= 7) {
      count = count * 10 + (c - 48);
      p++;
    }
    // Under the pre-authentication limits the state machine reads (and refuses) what exceeds them.
    const maxBulk = this.capped && !this.authSent ? PRE_AUTH_MAX_BULK : this.maxCommandBytes;
    if (count === 0 || count > WHOLE_MAX_ARGS || (count > PRE_AUTH_MAX_ARGS && this.capped && !this.authSent) || p + 1 >= len || chunk[p] !== CR || chunk[p + 1] !== LF) return -1;
    p += 2;
    // Where each argument lies, found first: the views are cut once the whole command is known to be here, into an
    // array of exactly `count` (a pushed-to `[]` reserves 16 slots: ~100 bytes of garbage per command).
    const at = SPANS;
    for (let k = 0; k < count; k++) {
      if (p >= len || chunk[p] !== 0x24) return -1;
      const digitsAt = ++p;
      let n = 0;
      while (p < len && (c = chunk[p]!) >= 48 && c <= 57 && p - digitsAt < 15) {
        n = n * 10 + (c - 48);
        p++;
      }
      if (p === digitsAt || p + 1 >= len || chunk[p] !== CR || chunk[p + 1] !== LF) return -1;
      p += 2;
      if (p + n + 2 > len || p - start + n > this.maxCommandBytes || n > maxBulk) return -1;
      at[2 * k] = p;
      at[2 * k + 1] = p + n;
      p += n + 2;
    }
    const args = viewsOf(chunk, at, count);
    this.size = p - start;
    if (this.capped) this.noteAuth(args);
    sink.onCommand(args, [view(chunk, start, p)], this.size);
    return p;
  }

  private noteAuth(args: Buffer[]): void {
    const name = args[0];
    if (name && (name.length === 4 || name.length === 5)) {
      const lower = name.toString('latin1').toLowerCase();
      if (lower === 'auth' || lower === 'hello') this.authSent = true;
    }
  }

  /** True between commands. */
  get idle(): boolean {
    return this.state === S_START;
  }

  private badLength(): never {
    throw new ProtocolError(
      this.state === S_COUNT || this.state === S_COUNT_LF ? 'Protocol error: invalid multibulk length' : 'Protocol error: invalid bulk length',
      'ERR',
    );
  }

  private argDone(): boolean {
    this.state = S_BULK_TYPE;
    return --this.argsLeft === 0;
  }

  private emit(chunk: Buffer, start: number, end: number, sink: CommandSink): void {
    this.size += end - start;
    if (this.size > this.maxCommandBytes) throw new MessageTooLargeError(this.size, this.maxCommandBytes, 'ERR');
    let raw: Buffer[];
    if (this.raw.length === 0) {
      raw = [view(chunk, start, end)];
    } else {
      raw = this.raw;
      raw.push(view(chunk, start, end));
      this.raw = [];
    }
    const args = this.args;
    this.args = [];
    this.state = S_START;
    if (this.capped) this.noteAuth(args);
    sink.onCommand(args, raw, this.size);
  }
}

/**
 * Split an inline command line as Redis' sdssplitargs does: whitespace separates arguments, "double quotes"
 * allow \n \r \t \b \a \\ \" and \xHH escapes, 'single quotes' allow \'. Unbalanced quotes are a protocol error.
 */
export function splitInline(line: Buffer): Buffer[] {
  const s = line.toString('latin1');
  const out: Buffer[] = [];
  let i = 0;
  const n = s.length;
  while (true) {
    while (i < n && (s[i] === ' ' || s[i] === '\t' || s[i] === '\r' || s[i] === '\n' || s[i] === '\v' || s[i] === '\f')) i++;
    if (i >= n) return out;
    let cur = '';
    let inDq = false;
    let inSq = false;
    let done = false;
    while (!done) {
      if (inDq) {
        if (i >= n) throw new ProtocolError('Protocol error: unbalanced quotes in request', 'ERR');
        const c = s[i]!;
        if (c === '\\' && s[i + 1] === 'x' && /^[0-9a-fA-F]{2}$/.test(s.slice(i + 2, i + 4))) {
          cur += String.fromCharCode(parseInt(s.slice(i + 2, i + 4), 16));
          i += 3;
        } else if (c === '\\' && i + 1 < n) {
          i++;
          const e = s[i]!;
          cur += e === 'n' ? '\n' : e === 'r' ? '\r' : e === 't' ? '\t' : e === 'b' ? '\b' : e === 'a' ? '\x07' : e;
        } else if (c === '"') {
          if (i + 1 < n && !/\s/.test(s[i + 1]!)) throw new ProtocolError('Protocol error: unbalanced quotes in request', 'ERR');
          done = true;
        } else {
          cur += c;
        }
      } else if (inSq) {
        if (i >= n) throw new ProtocolError('Protocol error: unbalanced quotes in request', 'ERR');
        const c = s[i]!;
        if (c === '\\' && s[i + 1] === "'") {
          i++;
          cur += "'";
        } else if (c === "'") {
          if (i + 1 < n && !/\s/.test(s[i + 1]!)) throw new ProtocolError('Protocol error: unbalanced quotes in request', 'ERR');
          done = true;
        } else {
          cur += c;
        }
      } else {
        const c = i < n ? s[i]! : ' ';
        if (c === ' ' || c === '\n' || c === '\r' || c === '\t' || c === '\0' || c === '\v' || c === '\f') done = true;
        else if (c === '"') inDq = true;
        else if (c === "'") inSq = true;
        else cur += c;
      }
      if (i < n) i++;
    }
    out.push(Buffer.from(cur, 'latin1'));
  }
}

/** Views of `count` arguments at `spans` (start, end pairs) of `chunk`, as an array of exactly that length. */
function viewsOf(chunk: Buffer, spans: Int32Array, count: number): Buffer[] {
  switch (count) {
    case 1:
      return [view(chunk, spans[0]!, spans[1]!)];
    case 2:
      return [view(chunk, spans[0]!, spans[1]!), view(chunk, spans[2]!, spans[3]!)];
    case 3:
      return [view(chunk, spans[0]!, spans[1]!), view(chunk, spans[2]!, spans[3]!), view(chunk, spans[4]!, spans[5]!)];
    default: {
      const args = new Array<Buffer>(count);
      for (let k = 0; k < count; k++) args[k] = view(chunk, spans[2 * k]!, spans[2 * k + 1]!);
      return args;
    }
  }
}
