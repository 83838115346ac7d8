/**
 * Gives freed native memory back to the kernel on a timer (glibc's malloc_trim, src/runtime/native/trim.c), so
 * that dgf's resident memory follows its live set instead of the peak of past bursts. Measured in the soak
 * (bench/results/soak.md): without it glibc's main arena grew 30 -> 123 MiB in 10 minutes of steady load while
 * V8's live heap stayed flat.
 *
 * One trim walks the arenas' free chunks: ~1 ms here when little is free (the steady state), 23 ms to hand back
 * 300 MiB at once; every TRIM_INTERVAL_MS that is ~0.01% of the loop. Where the addon is not built (no C
 * toolchain) or the C library is not glibc, this does nothing. DGF_MALLOC_TRIM=0 turns it off (measurements).
 */
import type { Logger } from '../logger.js';
import { loadNativeAddon } from './native-addon.js';

interface TrimAddon {
  trim(): number;
}

const TRIM_INTERVAL_MS = 10_000;

function loadAddon(): TrimAddon | null {
  return process.env.DGF_MALLOC_TRIM === '0' ? null : loadNativeAddon<TrimAddon>(import.meta.url, 'trim');
}

const addon = loadAddon();

/** Whether freed memory is returned (the addon is built and not turned off). */
export const memoryReleaseAvailable = addon !== null;

/** Return freed native memory now; true when some was returned. */
export function releaseFreedMemory(): boolean {
  return addon !== null && addon.trim() === 1;
}

/**
 * Trim every TRIM_INTERVAL_MS until the returned function is called. The timer is unref'd: it never keeps a
 * stopping dgf alive.
 */
export function startMemoryRelease(logger: Logger, intervalMs = TRIM_INTERVAL_MS): () => void {
  if (addon === null) {
    if (process.env.DGF_MALLOC_TRIM !== '0') logger.warn('native addon trim.node is not built (scripts/build-native.sh): freed native memory is not returned to the system');
    return () => {};
  }
  const timer = setInterval(releaseFreedMemory, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
