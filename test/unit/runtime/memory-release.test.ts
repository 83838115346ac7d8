import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { memoryReleaseAvailable } from '../../../src/runtime/memory-release.js';

// `npm run build` (run by npm ci) builds the trim addon; DGF_MALLOC_TRIM=0 is the only way to run without it.
const expectTrim = process.env.DGF_MALLOC_TRIM !== '0';

test('the malloc_trim addon is built and used (scripts/build-native.sh), unless turned off', () => {
  assert.equal(memoryReleaseAvailable, expectTrim);
});

/**
 * The case it exists for: many mid-sized Buffers (malloc'd in glibc's main arena, under the mmap threshold) of
 * which most are freed while every 16th stays alive, so no free space sits at the arena's top for glibc to give
 * back on its own. In a child process with --expose-gc, so that the collection of the Buffers is certain.
 */
const CHILD = `
const { releaseFreedMemory } = await import(${JSON.stringify(fileURLToPath(new URL('../../../src/runtime/memory-release.ts', import.meta.url)))});
const rss = () => process.memoryUsage.rss();
let kept = [];
for (let i = 0; i < 12000; i++) kept.push(Buffer.allocUnsafeSlow(16384).fill(1));
kept = kept.filter((_, i) => i % 16 === 0);
for (let i = 0; i < 3; i++) { globalThis.gc(); await new Promise((r) => setTimeout(r, 20)); }
const before = rss();
const released = releaseFreedMemory();
const after = rss();
console.log(JSON.stringify({ before, after, released, kept: kept.length }));
`;

test('freed native memory goes back to the kernel: RSS falls by most of the freed Buffers', { skip: !expectTrim }, () => {
  const out = execFileSync(process.execPath, ['--expose-gc', '--import', 'tsx', '--input-type=module', '-e', CHILD], { encoding: 'utf8' });
  const { before, after, released, kept } = JSON.parse(out.trim().split('\n').pop()!) as Record<string, number>;
  assert.equal(kept, 750);
  assert.equal(released, true);
  // 11,250 freed Buffers of 16 KiB = 176 MiB; at least 120 MiB of it must leave RSS.
  assert.ok(before - after > 120 * 1048576, `RSS ${before >> 20} -> ${after >> 20} MiB`);
});
