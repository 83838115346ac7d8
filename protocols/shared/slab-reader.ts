/**
 * Reads for a plain TCP client socket (`net.connect({ onread })`) carved out of large slabs.
 *
 * Why: a socket's 'data' event costs a fresh ArrayBuffer per read plus the Readable stream machinery (push,
 * addChunk, emit). With `onread`, libuv reads straight into memory we hand it and calls us back; handing out
 * the unused tail of a slab keeps every earlier chunk intact (frames still queued in another socket's write
 * buffer may point into it), so the callers can keep treating chunks as immutable, exactly like 'data' chunks.
 * TLS sockets cannot read this way; they keep the 'data' event.
 */
import type net from 'node:net';

const SLAB_BYTES = 256 * 1024;
/** Hand out a fresh slab once less than this is left, so one read is never starved into many small ones. */
const MIN_READ_BYTES = 32 * 1024;

/** Where the chunks go; set `deliver` once the consumer exists (the socket is created before it). */
export interface ChunkInbox {
  deliver(chunk: Buffer): void;
}

/** `onread` options for `net.connect` that deliver each read to `inbox` as its own Buffer view. */
export function slabReader(inbox: ChunkInbox): net.OnReadOpts {
  let slab = Buffer.allocUnsafe(SLAB_BYTES);
  let used = 0;
  return {
    buffer: () => {
      if (slab.length - used < MIN_READ_BYTES) {
        slab = Buffer.allocUnsafe(SLAB_BYTES);
        used = 0;
      }
      return slab.subarray(used);
    },
    callback: (bytes: number, region: Uint8Array) => {
      used += bytes;
      inbox.deliver((region as Buffer).subarray(0, bytes));
      // Never pause from here: consumers apply backpressure with socket.pause(), as with 'data'.
      return true;
    },
  };
}
