/**
 * Body helpers shared by the HTTP protocols: read a body into memory only up to a hard cap, give up on a body
 * that stops arriving, and pass a streamed body through with an idle timeout.
 */
import type http from 'node:http';
import type { Readable } from 'node:stream';

/** Why a client's body was refused: carries the HTTP status to answer with. */
export class BodyError extends Error {
  constructor(
    message: string,
    /** 413 too large, 408 stalled, 400 aborted or malformed. */
    readonly status: 413 | 408 | 400 | 502,
  ) {
    super(message);
    this.name = 'BodyError';
  }
}

/**
 * Read a whole body, refusing past `limit` bytes (without holding more than `limit` in memory) and when no
 * byte arrives for `idleMs`. Chunks are kept as a list and joined once.
 */
export function readBounded(stream: Readable, limit: number, idleMs: number, what = 'request body'): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const timer = setTimeout(onIdle, idleMs);
    function finish(err: BodyError | null): void {
      if (done) return;
      done = true;
      clearTimeout(timer);
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
      stream.off('aborted', onAborted);
      if (err) {
        // Stop reading; the caller closes the connection after answering.
        stream.pause();
        reject(err);
      } else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    }
    function onIdle(): void {
      finish(new BodyError(`${what} stalled: no data for ${idleMs} ms`, 408));
    }
    function onData(chunk: Buffer): void {
      size += chunk.length;
      if (size > limit) {
        finish(new BodyError(`${what} exceeds the limit of ${limit} bytes`, 413));
        return;
      }
      chunks.push(chunk);
      timer.refresh();
    }
    function onEnd(): void {
      finish(null);
    }
    function onError(err: Error): void {
      finish(new BodyError(`${what} failed: ${err.message}`, 400));
    }
    function onAborted(): void {
      finish(new BodyError(`${what} aborted by the client`, 400));
    }
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('error', onError);
    stream.once('aborted', onAborted);
  });
}

/** True when the request announces a body (content-length > 0 or chunked). */
export function hasBody(headers: Record<string, string | string[] | undefined>): boolean {
  const te = headers['transfer-encoding'];
  if (te !== undefined) return true;
  const cl = headers['content-length'];
  return cl !== undefined && cl !== '0';
}

/**
 * Copy `source` into `res` with backpressure (the source is not read while the client's socket is full),
 * without ending `res`, so the caller can end it once the audit record is kept. Resolves with the bytes
 * written; rejects when either side fails or the client goes away.
 */
export async function pipeBody(source: AsyncIterable<Buffer> & { destroy?: (err?: Error) => void }, res: http.ServerResponse): Promise<number> {
  let bytes = 0;
  try {
    for await (const chunk of source) {
      if (res.destroyed) throw new Error('client went away');
      bytes += chunk.length;
      if (!res.write(chunk)) {
        await new Promise<void>((resolve, reject) => {
          const onDrain = (): void => {
            res.off('close', onClose);
            resolve();
          };
          const onClose = (): void => {
            res.off('drain', onDrain);
            reject(new Error('client went away'));
          };
          res.once('drain', onDrain);
          res.once('close', onClose);
        });
      }
    }
  } catch (err) {
    source.destroy?.(err as Error);
    throw err;
  }
  return bytes;
}
