/**
 * The mixed batch of short values the engine benchmarks classify (bench/engine/classify.bench.ts,
 * detectors-worst.bench.ts): generated from fixed lists with a fixed seed, so every run sees the same values.
 */
/** Values in the batch. */
export const MIXED_BATCH_SIZE = 100_000;

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

/** The batch: names, e-mails, numbers, free text with an entity in one value of ten; the same every run (seed 42). */
export function mixedBatch(): string[] {
  const r = rng(42);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  const out: string[] = [];
  let texts = 0;
  for (let i = 0; i < MIXED_BATCH_SIZE; i++) {
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

