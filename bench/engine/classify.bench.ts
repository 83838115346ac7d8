/**
 * Classification + masking throughput of the policy engine on one core: a mixed batch of short values (names,
 * e-mails, numbers, free text with an entity in one value of ten), role analyst, the shipped packs.
 * Run: npx tsx bench/engine/classify.bench.ts  -> prints {"valuesPerSecond": ...}
 */
import { PolicyStore, type FieldPlan } from '../../src/policy/index.js';

const N = 100_000;
const ROUNDS = Number(process.env.ROUNDS ?? 10);

const FIRST = ['Alice', 'Bob', 'Carol', 'Dave', 'Eve', 'Frank', 'Grace', 'Heidi', 'Ivan', 'Judy'];
const LAST = ['Smith', 'Jones', 'Brown', 'Taylor', 'Wilson', 'Evans', 'Thomas', 'Roberts'];
const WORDS = ['order', 'shipped', 'today', 'please', 'call', 'back', 'invoice', 'pending', 'customer', 'asked', 'about', 'refund', 'the', 'delivery', 'was', 'late'];
const ENTITIES = ['alice@example.com', '4111 1111 1111 1111', '123-45-6789', '+44 20 7946 0958', 'GB82 WEST 1234 5698 7654 32', '192.168.10.20'];

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

function batch(): string[] {
  const r = rng(42);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  const out: string[] = [];
  let texts = 0;
  for (let i = 0; i < N; i++) {
    switch (i % 4) {
      case 0: out.push(`${pick(FIRST)} ${pick(LAST)}`); break;
      case 1: out.push(`${pick(FIRST).toLowerCase()}.${pick(LAST).toLowerCase()}${i % 100}@example.com`); break;
      case 2: out.push(String(Math.floor(r() * 1e6))); break;
      default: {
        const words = Array.from({ length: 4 + Math.floor(r() * 5) }, () => pick(WORDS));
        if (texts++ % 10 === 0) words.splice(2, 0, pick(ENTITIES));
        out.push(words.join(' '));
      }
    }
  }
  return out;
}

const store = await PolicyStore.load({});
const policy = store.current();
const values = batch();
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
