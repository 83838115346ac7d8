/**
 * Reads without the Readable stream machinery, for plain TCP sockets (`onread`).
 *
 * Why: a socket's 'data' event costs a fresh ArrayBuffer per read (malloc, realloc, the GC's external-memory
 * bookkeeping) plus the Readable machinery (push, addChunk, emit). With `onread`, libuv reads straight into
 * memory we hand it and calls us back. Chunks handed to consumers are views that stay intact (frames still
 * queued in another socket's write buffer may point into them), so callers keep treating chunks as immutable,
 * exactly like 'data' chunks. TLS sockets cannot read this way; they keep the 'data' event.
 *
 * Two flavours:
 * - `slabReader`, for the few upstream connections: each has its own slab and libuv reads into its unused tail.
 * - `pooledReader`, for client sockets, of which there may be thousands mostly idle: they share one read
 *   buffer, and each read is copied into a shared append-only chunk slab (like Buffer's own pool), so an idle
 *   client holds no memory at all.
 */
import { Buffer } from 'node:buffer';
import type net from 'node:net';
import { view } from './buffer-view.js';

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

/**
 * The one read buffer of every pooled socket. Sharing it is safe because libuv reads one socket at a time and
 * calls back synchronously, and the callback copies the bytes out before it returns.
 */
const POOLED_READ_BYTES = 64 * 1024;
const pooledReadBuffer = Buffer.allocUnsafe(POOLED_READ_BYTES);
/** Chunks at least this big get a buffer of their own instead of a piece of the shared chunk slab. */
const OWN_BUFFER_BYTES = 16 * 1024;
/** Chunks up to this size are copied byte by byte. */
const SMALL_COPY_BYTES = 128;
let chunkSlab = Buffer.allocUnsafe(SLAB_BYTES);
let chunkUsed = 0;

/** The first `bytes` of the shared read buffer, copied into memory nobody else writes to. */
function takeChunk(bytes: number): Buffer {
  if (bytes >= OWN_BUFFER_BYTES) return Buffer.copyBytesFrom(pooledReadBuffer, 0, bytes);
  if (chunkUsed + bytes > SLAB_BYTES) {
    chunkSlab = Buffer.allocUnsafe(SLAB_BYTES);
    chunkUsed = 0;
  }
  const start = chunkUsed;
  if (bytes <= SMALL_COPY_BYTES) {
    // A command of a few dozen bytes: a loop beats Buffer#copy's typed-array view and call into C++.
    const slab = chunkSlab;
    for (let i = 0; i < bytes; i++) slab[start + i] = pooledReadBuffer[i]!;
  } else {
    pooledReadBuffer.copy(chunkSlab, start, 0, bytes);
  }
  // 8-byte aligned, as Buffer's pool does.
  chunkUsed = (start + bytes + 7) & ~7;
  return view(chunkSlab, start, start + bytes);
}

/** `onread` options for a client socket that deliver each read to `inbox` as its own Buffer (see above). */
export function pooledReader(inbox: ChunkInbox): net.OnReadOpts {
  return {
    buffer: pooledReadBuffer,
    callback: (bytes: number) => {
      inbox.deliver(takeChunk(bytes));
      return true;
    },
  };
}
