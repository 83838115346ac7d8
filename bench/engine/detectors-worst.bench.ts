/**
 * Each value detector on its own (issue #15 item 6): its throughput on the mixed batch of short values that
 * bench/engine/classify.bench.ts classifies, and its worst time on the adversarial 1 MB inputs of
 * test/fixtures/detectors/adversarial.ts (the inputs test/unit/policy/detectors-linear.test.ts bounds at 50 ms);
 * then the same two numbers for the whole set through a compiled policy's findEntities.
 * Run: npx tsx bench/engine/detectors-worst.bench.ts   (ROUNDS=5 by default; a table on stderr, JSON on stdout)
 */
import { YamlSource } from '../../src/config/yaml-source.js';
import { compilePolicySources, DETECTORS } from '../../src/policy/index.js';
import { textStats, type Detector, type TextStats } from '../../src/policy/detectors/index.js';
import { MIXED_BATCH_SIZE as N, mixedBatch as batch } from './mixed-batch.js';
import { ADVERSARIAL_SIZE, allAttacks, attacksFor, type Attack } from '../../test/fixtures/detectors/adversarial.js';

const ROUNDS = Number(process.env.ROUNDS ?? 5);
/** A 16 KB probe that takes longer than this marks a super-linear detector: its 1 MB run would take minutes. */
const PROBE_LIMIT_MS = 50;
/** Inputs on which the detectors find more entities than this are left out of the findEntities worst case (see below). */
const DENSE = 2000;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Median time of ROUNDS runs of `body` after a warm-up run. */
function medianMs(body: () => void): number {
  body();
  const times: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    body();
    times.push(performance.now() - t0);
  }
  return median(times);
}

/** Best of three runs after a warm call, as the linear-time test measures. */
function bestMs(f: () => void): number {
  f();
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    f();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}

interface Worst {
  ms: number;
  attack: string;
  /** Set when a 16 KB probe already exceeded PROBE_LIMIT_MS: `ms` is then the probe's time, at 16 KB. */
  superLinear?: boolean;
}

/** Worst best-of-three time of `classify` over `attacks` at 1 MB (a super-linear classifier is reported from its 16 KB probe). */
function worstOver(attacks: readonly Attack[], classify: (text: string, hint: string | undefined) => void): Worst {
  let worst: Worst = { ms: 0, attack: '' };
  for (const a of attacks) {
    const probe = a.make(16 * 1024);
    const t0 = performance.now();
    classify(probe, a.hint);
    const probeMs = performance.now() - t0;
    if (probeMs > PROBE_LIMIT_MS) return { ms: probeMs, attack: a.name, superLinear: true };
    const text = a.make(ADVERSARIAL_SIZE);
    const ms = bestMs(() => classify(text, a.hint));
    if (ms > worst.ms) worst = { ms, attack: a.name };
  }
  return worst;
}

/** values/s of one detector over the batch: its prefilter, and its `find` when the prefilter passes. */
function detectorRate(d: Detector, values: readonly string[], stats: readonly TextStats[]): number {
  const out: number[] = [];
  const ms = medianMs(() => {
    for (let i = 0; i < values.length; i++) {
      if (!d.applies(stats[i]!, undefined)) continue;
      out.length = 0;
      d.find(values[i]!, out, undefined);
    }
  });
  return Math.round(values.length / (ms / 1000));
}

const values = batch();
const stats = values.map((v) => textStats(v));
const rows: { detector: string; batchValuesPerSecond: number; worstMs: number; worstInput: string; superLinear?: boolean }[] = [];
for (const d of DETECTORS) {
  const rate = detectorRate(d, values, stats);
  const out: number[] = [];
  const w = worstOver(attacksFor(d.name), (text, hint) => {
    out.length = 0;
    d.find(text, out, hint);
  });
  rows.push({ detector: d.name, batchValuesPerSecond: rate, worstMs: Number(w.ms.toFixed(1)), worstInput: w.attack, ...(w.superLinear ? { superLinear: true } : {}) });
}

// The whole set: findEntities of a policy with one classifier per detector (textStats, the prefilters, every
// detector whose prefilter passes, overlap resolution). Inputs packed with real entities are left out of its
// worst case: the engine's overlap resolution (scanText in src/policy/engine.ts) is quadratic in the number of
// entities found, which is not a detector's cost; they are counted and listed.
const lines = ['classifiers:'];
for (const d of DETECTORS) lines.push(`  - label: bench.${d.name.replace(/_/g, '')}`, `    values: ${d.name}`);
const policy = compilePolicySources([YamlSource.parse(lines.join('\n') + '\n', 'policies/bench.yaml')]);
const allMs = medianMs(() => {
  for (const v of values) policy.findEntities(v);
});
// A detector found super-linear above makes findEntities super-linear too; its 1 MB runs would take minutes
// (the `email` regex before issue #15: half an hour), so the whole set is then reported from that detector.
const superLinear = rows.filter((r) => r.superLinear).map((r) => r.detector);
const nearMiss: Attack[] = [];
const dense: string[] = [];
if (superLinear.length === 0) {
  for (const a of allAttacks()) {
    const text = a.make(ADVERSARIAL_SIZE);
    const s = textStats(text);
    let hits = 0;
    const out: number[] = [];
    for (const d of DETECTORS) {
      if (!d.applies(s, a.hint)) continue;
      out.length = 0;
      d.find(text, out, a.hint);
      hits += out.length / 2;
    }
    if (hits > DENSE) dense.push(a.name);
    else nearMiss.push(a);
  }
}
const all: Worst =
  superLinear.length === 0
    ? worstOver(nearMiss, (text, hint) => policy.findEntities(text, hint))
    : { ms: Math.max(...rows.filter((r) => r.superLinear).map((r) => r.worstMs)), attack: `super-linear: ${superLinear.join(', ')}`, superLinear: true };

const pad = (s: string, n: number): string => s.padEnd(n);
const num = (x: number, n: number): string => String(x).padStart(n);
console.error(`${pad('detector', 16)} ${'batch values/s'.padStart(15)} ${'worst 1 MB ms'.padStart(14)}  worst input`);
for (const r of rows) {
  const ms = r.superLinear ? `>${r.worstMs} @16KB` : String(r.worstMs);
  console.error(`${pad(r.detector, 16)} ${num(r.batchValuesPerSecond, 15)} ${ms.padStart(14)}  ${r.worstInput}`);
}
const allWorst = all.superLinear ? `>${all.ms.toFixed(1)} @16KB` : all.ms.toFixed(1);
console.error(`${pad('findEntities', 16)} ${num(Math.round(N / (allMs / 1000)), 15)} ${allWorst.padStart(14)}  ${all.attack}`);
console.error(`(${nearMiss.length} adversarial inputs for findEntities; ${dense.length} packed with real entities left out: ${dense.join(', ')})`);
console.log(
  JSON.stringify({
    values: N,
    rounds: ROUNDS,
    inputBytes: ADVERSARIAL_SIZE,
    detectors: rows,
    findEntities: { batchValuesPerSecond: Math.round(N / (allMs / 1000)), worstMs: Number(all.ms.toFixed(1)), worstInput: all.attack, denseInputs: dense.length },
  }),
);
