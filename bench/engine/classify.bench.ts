/**
 * Classification + masking throughput of the policy engine on one core: a mixed batch of short values (names,
 * e-mails, numbers, free text with an entity in one value of ten), role analyst, the shipped packs.
 * Run: npx tsx bench/engine/classify.bench.ts  -> prints {"valuesPerSecond": ...}
 */
import { PolicyStore, type FieldPlan } from '../../src/policy/index.js';
import { MIXED_BATCH_SIZE, mixedBatch } from './mixed-batch.js';

const N = MIXED_BATCH_SIZE;
const ROUNDS = Number(process.env.ROUNDS ?? 10);

const store = await PolicyStore.load({});
const policy = store.current();
const values = mixedBatch();
// One unclassified text column: every value is scanned by the value detectors, the realistic worst case.
const plan: FieldPlan = policy.fieldPlan('analyst', { name: 'value', type: 'text' });

// Shape B: a result set with named columns (full_name, email, amount, notes), one plan per column as the
// protocols keep them per result shape; classified columns are masked by name, the others scanned.
const columns = ['full_name', 'email', 'amount', 'notes'].map((name) => policy.fieldPlan('analyst', { name, type: 'text' }));

let masked = 0;
const timeIt = (body: () => void): number => {
  const t0 = process.hrtime.bigint();
  body();
  return Number(process.hrtime.bigint() - t0) / 1e9;
};
const scanAll = (): void => {
  for (let i = 0; i < values.length; i++) if (plan.apply(values[i]) !== values[i]) masked++;
};
const byColumn = (): void => {
  for (let i = 0; i < values.length; i++) if (columns[i & 3]!.apply(values[i]) !== values[i]) masked++;
};
const measure = (body: () => void): { median: number; best: number } => {
  body(); // warm-up
  const times: number[] = [];
  for (let r = 0; r < ROUNDS; r++) times.push(timeIt(body));
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)]!, best: times[0]! };
};
const a = measure(scanAll);
const maskedScan = masked / (ROUNDS + 1);
masked = 0;
const b = measure(byColumn);
console.log(JSON.stringify({
  values: N,
  rounds: ROUNDS,
  role: 'analyst',
  // Headline: every value scanned by every value detector (an unclassified text column), median of the rounds.
  valuesPerSecond: Math.round(N / a.median),
  bestValuesPerSecond: Math.round(N / a.best),
  maskedPerRound: maskedScan,
  namedColumns: { valuesPerSecond: Math.round(N / b.median), maskedPerRound: masked / (ROUNDS + 1) },
}));
