/** Streaming line reader for audit files that, unlike readline, tells whether the last line was terminated. */
import { createReadStream } from 'node:fs';

/** One line of a file; `terminated` is false only for a last line without a trailing newline. */
export interface FileLine {
  text: string;
  /** 1-based line number. */
  line: number;
  terminated: boolean;
}

/** Yield a file's lines (without the newline). Splits on bytes so multi-byte characters never straddle chunks. */
export async function* fileLines(path: string): AsyncGenerator<FileLine> {
  let rest: Buffer | null = null;
  let line = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    const buf: Buffer = rest ? Buffer.concat([rest, chunk]) : chunk;
    let start = 0;
    for (;;) {
      const nl = buf.indexOf(0x0a, start);
      if (nl < 0) break;
      yield { text: buf.toString('utf8', start, nl), line: ++line, terminated: true };
      start = nl + 1;
    }
    rest = start < buf.length ? buf.subarray(start) : null;
  }
  if (rest && rest.length > 0) yield { text: rest.toString('utf8'), line: ++line, terminated: false };
}
