/**
 * Sealing a batch of audit records into chain lines, on bytes, when the audit log flushes: the bodies were
 * encoded once at append time, and the lines are assembled around them without building strings (measured
 * cheaper per record than sealing each record's string at append: no prev + canonical concatenation for the
 * HMAC, no line string kept until the write). A worker thread for this was measured slower under load: this
 * machine's cores are shared with the clients and the database, and the transfers added CPU.
 *
 * Input: the records' canonical bodies (`canonicalBody` in chain.ts: every field after `seq`, before `prev`),
 * UTF-8, back to back, with their end offsets. Output: the JSON lines as written to the sinks, each
 * `{"v":1,"seq":N<body>,"prev":"<hex>","hash":"<hex>"}\n` where hash = HMAC-SHA256(key, prev + the line up to and
 * including `"prev":"<hex>"}`), i.e. exactly what `seal` in chain.ts computes for the same record.
 */
import { Buffer } from 'node:buffer';
import { hash } from 'node:crypto';
import { loadNativeAddon } from '../runtime/native-addon.js';

/**
 * A batch to seal: the `count` records from index `from` of a queue whose record j is `data[ends[j-1] .. ends[j])`
 * (ends[-1] = 0); the first gets seq `firstSeq`.
 */
export interface SealRequest {
  key: Uint8Array;
  firstSeq: number;
  prev: string;
  data: Buffer;
  ends: Uint32Array;
  from: number;
  count: number;
}

/** The sealed lines and the hash of the last one (the chain's new head, once the sinks keep them). */
export interface SealedBatch {
  lines: Buffer;
  lastHash: string;
}

/** Bytes a record's line adds to its body: `{"v":1,"seq":` + seq + `,"prev":"` + 64 + `","hash":"` + 64 + `"}\n`. */
const LINE_OVERHEAD = 13 + 16 + 9 + 64 + 10 + 64 + 3;

/** The most bytes the sealed lines of a batch take (the size of the `out` buffer `sealBatch` needs). */
export function sealedBytes(req: SealRequest): number {
  if (req.count === 0) return 0;
  return req.ends[req.from + req.count - 1]! - startOf(req) + req.count * LINE_OVERHEAD;
}

function startOf(req: SealRequest): number {
  return req.from > 0 ? req.ends[req.from - 1]! : 0;
}

/** SHA-256's block size: HMAC pads its key to it. */
const BLOCK = 64;

/**
 * HMAC-SHA256 as its definition, two SHA-256 one-shots over (key ^ ipad) + message and (key ^ opad) + inner
 * digest, instead of createHmac: per record, createHmac's object, key setup and four calls into OpenSSL cost
 * ~2 us here while the hashing itself (~600 bytes with SHA-NI) is ~0.3 us; `crypto.hash` is one call each.
 * `inner` holds the ipad block followed by room for the message, `outer` the opad block and the inner digest.
 * `computeHash` in chain.ts (verification) stays on createHmac: an independent reference the tests compare with.
 */
class HmacScratch {
  inner: Buffer;
  readonly outer = Buffer.allocUnsafe(BLOCK + 32);

  constructor(key: Uint8Array) {
    const k = key.length > BLOCK ? hash('sha256', key, 'buffer') : key;
    this.inner = Buffer.alloc(BLOCK + 4096);
    for (let i = 0; i < BLOCK; i++) {
      const b = i < k.length ? k[i]! : 0;
      this.inner[i] = b ^ 0x36;
      this.outer[i] = b ^ 0x5c;
    }
  }

  /** Room for a message of `bytes` after the ipad block. */
  reserve(bytes: number): Buffer {
    if (BLOCK + bytes > this.inner.length) {
      const bigger = Buffer.allocUnsafe(BLOCK + bytes * 2);
      this.inner.copy(bigger, 0, 0, BLOCK);
      this.inner = bigger;
    }
    return this.inner;
  }

  /** HMAC (hex) of the `bytes` message bytes written after the ipad block. */
  digestHex(bytes: number): string {
    // The inner digest as a 'binary' (latin1) string, not a Buffer: a Buffer result costs ~0.4 us more to allocate.
    this.outer.write(hash('sha256', this.inner.subarray(0, BLOCK + bytes), 'binary'), BLOCK, 'latin1');
    return hash('sha256', this.outer, 'hex');
  }
}

/** One scratch per chain key (a log has one key; tests seal with several). */
const scratches = new WeakMap<Uint8Array, HmacScratch>();

function scratchFor(key: Uint8Array): HmacScratch {
  let s = scratches.get(key);
  if (s === undefined) scratches.set(key, (s = new HmacScratch(key)));
  return s;
}

/** The native sealer's exports (native/seal.c). */
interface NativeSealer {
  createSealer(key: Uint8Array): object;
  seal(sealer: object, prev: Uint8Array, firstSeq: number, data: Uint8Array, ends: Uint32Array, from: number, count: number, out: Uint8Array): number;
}

/**
 * The native sealer, where scripts/build-native.sh could build it: from the sources (tsx) or beside the compiled
 * file (dist/). Null when it is missing; DGF_NATIVE_SEAL=0 turns it off (measurements, tests of the fallback).
 */
function loadNative(): NativeSealer | null {
  return nativeTurnedOff ? null : loadNativeAddon<NativeSealer>(import.meta.url, 'seal');
}

const nativeTurnedOff = process.env.DGF_NATIVE_SEAL === '0';
const native = loadNative();

/** Which implementation seals. */
export const sealerKind: 'native' | 'js' = native ? 'native' : 'js';

/** The native sealer was wanted but could not be loaded (not built here): worth a warning at startup. */
export const nativeSealerMissing = native === null && !nativeTurnedOff;

/** Native sealer handles by chain key (each holds the key's padded SHA-256 states). */
const nativeSealers = new WeakMap<Uint8Array, object>();

/**
 * Seal a batch into `out` (at least `sealedBytes(req)` long), natively where the addon is built (5-8x cheaper
 * per record, see native/seal.c), else in JS. The caller recycles `out` buffers: fresh memory costs a page fault
 * per 4 KiB on first write, which on this VM made copying into a new buffer per batch ~100x slower than the copy
 * itself.
 */
export function sealBatch(req: SealRequest, out: Buffer): SealedBatch {
  if (native === null || req.count === 0 || req.prev.length !== 64) return sealBatchJs(req, out);
  let sealer = nativeSealers.get(req.key);
  if (sealer === undefined) nativeSealers.set(req.key, (sealer = native.createSealer(req.key)));
  if (req.prev !== prevOfBytes) {
    prevBytes.write(req.prev, 0, 64, 'latin1');
    prevOfBytes = req.prev;
  }
  const bytes = native.seal(sealer, prevBytes, req.firstSeq, req.data, req.ends, req.from, req.count, out);
  // Each line ends with `"hash":"<64 hex>"}\n`: the next batch's prev, mostly (unless this one is not kept).
  const lastHash = out.toString('latin1', bytes - 67, bytes - 3);
  out.copy(prevBytes, 0, bytes - 67, bytes - 3);
  prevOfBytes = lastHash;
  return { lines: out.subarray(0, bytes), lastHash };
}

/**
 * The chain head's hex digits as bytes for the native sealer, and the string they spell: a batch mostly continues
 * from the last one sealed, whose hash is copied here from its line instead of encoding a fresh Buffer per batch.
 */
const prevBytes = Buffer.alloc(64);
let prevOfBytes = '';

/** The same sealing in JS: the fallback without the addon, and the reference the tests hold the addon to. */
export function sealBatchJs(req: SealRequest, out: Buffer): SealedBatch {
  const { data, ends, from, count } = req;
  const hmac = scratchFor(req.key);
  let prev = req.prev;
  let pos = 0;
  let start = startOf(req);
  for (let i = 0; i < count; i++) {
    const end = ends[from + i]!;
    const lineStart = pos;
    pos += out.write('{"v":1,"seq":' + (req.firstSeq + i), pos, 'latin1');
    pos += data.copy(out, pos, start, end);
    pos += out.write(',"prev":"' + prev + '"}', pos, 'latin1');
    // The HMAC covers prev (64 hex digits) and the canonical line so far.
    const message = hmac.reserve(64 + pos - lineStart);
    message.write(prev, BLOCK, 'latin1');
    out.copy(message, BLOCK + 64, lineStart, pos);
    const lineHash = hmac.digestHex(64 + pos - lineStart);
    // The line is the canonical JSON with the hash added before its closing brace.
    pos += out.write(',"hash":"' + lineHash + '"}\n', pos - 1, 'latin1') - 1;
    prev = lineHash;
    start = end;
  }
  return { lines: out.subarray(0, pos), lastHash: prev };
}
