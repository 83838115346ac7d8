/**
 * Precision and recall of the value detectors on the labelled corpus test/fixtures/detectors/corpus.json
 * (issue #19), shared by bench/engine/detectors.bench.ts and test/unit/policy/detectors-corpus.test.ts.
 * A value is classified as POST /api/v1/classify does with `values` (no field name): through the shipped packs,
 * with every built-in detector enabled; its predicted set is the set of detector names of its findings
 * (findings of policy regex classifiers are not detectors and are left out).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One labelled value of the corpus. */
export interface CorpusItem {
  text: string;
  labels: string[];
  family: string;
  negative?: boolean;
}

/** Counts for one detector (or overall). */
export interface Score {
  tp: number;
  fp: number;
  fn: number;
  precision: number;
  recall: number;
}

/** The figures, and the values each detector got wrong (for debugging). */
export interface Evaluation {
  perDetector: Record<string, Score>;
  overall: Score;
  errors: Array<{ text: string; expected: string[]; got: string[] }>;
}

const here = dirname(fileURLToPath(import.meta.url));

/** The corpus items. */
export function loadCorpus(): CorpusItem[] {
  const raw = JSON.parse(readFileSync(join(here, '../../test/fixtures/detectors/corpus.json'), 'utf8')) as { items: CorpusItem[] };
  return raw.items;
}

function score(tp: number, fp: number, fn: number): Score {
  return { tp, fp, fn, precision: tp + fp === 0 ? 1 : tp / (tp + fp), recall: tp + fn === 0 ? 1 : tp / (tp + fn) };
}

/** Evaluate `detect` (text -> detector names found) on the corpus. */
export function evaluate(items: readonly CorpusItem[], detect: (text: string) => Iterable<string>): Evaluation {
  const counts = new Map<string, { tp: number; fp: number; fn: number }>();
  const at = (d: string): { tp: number; fp: number; fn: number } => {
    let c = counts.get(d);
    if (!c) counts.set(d, (c = { tp: 0, fp: 0, fn: 0 }));
    return c;
  };
  const errors: Evaluation['errors'] = [];
  for (const it of items) {
    const got = new Set(detect(it.text));
    const want = new Set(it.labels);
    let wrong = false;
    for (const d of got) {
      if (want.has(d)) at(d).tp++;
      else {
        at(d).fp++;
        wrong = true;
      }
    }
    for (const d of want) {
      if (!got.has(d)) {
        at(d).fn++;
        wrong = true;
      }
    }
    if (wrong) errors.push({ text: it.text, expected: [...want], got: [...got] });
  }
  const perDetector: Record<string, Score> = {};
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (const [d, c] of [...counts].sort((a, b) => a[0].localeCompare(b[0]))) {
    perDetector[d] = score(c.tp, c.fp, c.fn);
    tp += c.tp;
    fp += c.fp;
    fn += c.fn;
  }
  return { perDetector, overall: score(tp, fp, fn), errors };
}

/** The classify function of a compiled policy (`explain` with no field name, as POST /api/v1/classify `values`). */
export function detectWith(policy: { explain(role: string, name: string | undefined, value: string): { findings: ReadonlyArray<{ detector: string }> } }): (text: string) => Set<string> {
  return (text) => {
    const out = new Set<string>();
    for (const f of policy.explain('default', undefined, text).findings) if (f.detector !== 'regex') out.add(f.detector);
    return out;
  };
}
