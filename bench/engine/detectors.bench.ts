/**
 * Precision and recall of every value detector, and overall, on the labelled corpus
 * test/fixtures/detectors/corpus.json (issue #19), classified as POST /api/v1/classify does with the shipped packs.
 * Run: npx tsx bench/engine/detectors.bench.ts   (a table on stderr, JSON on stdout; ERRORS=1 lists the misses)
 * DGF_ROOT=/path/to/another/checkout measures that checkout's detectors on this corpus (the "before" figures).
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { detectWith, evaluate, loadCorpus } from './corpus-eval.js';

const root = resolve(process.env.DGF_ROOT ?? new URL('../..', import.meta.url).pathname);
const { PolicyStore } = (await import(pathToFileURL(`${root}/src/policy/index.ts`).href)) as typeof import('../../src/policy/index.js');
const store = await PolicyStore.load({});
const items = loadCorpus();
const t0 = performance.now();
const ev = evaluate(items, detectWith(store.current()));
const ms = performance.now() - t0;

const pct = (x: number): string => (x * 100).toFixed(2).padStart(6);
const lines = [`${'detector'.padEnd(16)} ${'tp'.padStart(5)} ${'fp'.padStart(4)} ${'fn'.padStart(4)} precision recall`];
for (const [d, s] of Object.entries(ev.perDetector)) lines.push(`${d.padEnd(16)} ${String(s.tp).padStart(5)} ${String(s.fp).padStart(4)} ${String(s.fn).padStart(4)}    ${pct(s.precision)} ${pct(s.recall)}`);
const o = ev.overall;
lines.push(`${'overall'.padEnd(16)} ${String(o.tp).padStart(5)} ${String(o.fp).padStart(4)} ${String(o.fn).padStart(4)}    ${pct(o.precision)} ${pct(o.recall)}`);
console.error(lines.join('\n'));
console.error(`${items.length} values in ${ms.toFixed(0)} ms (${root})`);
if (process.env.ERRORS) for (const e of ev.errors) console.error(JSON.stringify(e));
console.log(JSON.stringify({ values: items.length, overall: ev.overall, perDetector: ev.perDetector }));
