/**
 * Shared pieces of the property-based codec tests (fast-check): random chunkings of a byte stream, mutations of
 * valid frames (bit flips, inserted and deleted bytes, truncation, lying 32-bit lengths), and the one assertion
 * every decoder must pass: nothing escapes but the codec's own error type.
 *
 * Each test file fixes its seed (so `npm test` is reproducible); `FUZZ_SEED` and `FUZZ_RUNS` override them for a
 * longer local hunt: `FUZZ_RUNS=100000 FUZZ_SEED=7 node --import tsx --test test/unit/fuzz/redis.test.ts`.
 * fast-check prints the seed and the shrunk counterexample when a property fails; `check` adds the file's seed.
 */
import fc from 'fast-check';

/** Runs of one property: the file's default unless FUZZ_RUNS says otherwise. */
export function runs(n: number): number {
  const env = Number(process.env.FUZZ_RUNS);
  return Number.isFinite(env) && env > 0 ? env : n;
}

/** Assert a property with a fixed seed; on failure the error names the seed to replay with. */
export function check<Ts extends [unknown, ...unknown[]]>(property: fc.IProperty<Ts> | fc.IAsyncProperty<Ts>, seed: number, numRuns: number): void | Promise<void> {
  const envSeed = Number(process.env.FUZZ_SEED);
  const s = Number.isFinite(envSeed) && process.env.FUZZ_SEED !== undefined ? envSeed : seed;
  const params = { seed: s, numRuns: runs(numRuns), endOnFailure: false };
  const fail = (err: unknown): never => {
    // fast-check's own message carries `seed` and `path`; say which file seed that is.
    const e = err as Error;
    e.message = `[fuzz seed ${s}; replay with FUZZ_SEED=${s}] ${e.message}`;
    throw e;
  };
  if ('isAsync' in property && property.isAsync()) {
    return (fc.assert(property as fc.IAsyncProperty<Ts>, params) as Promise<void>).catch(fail);
  }
  try {
    fc.assert(property as fc.IProperty<Ts>, params);
  } catch (err) {
    fail(err);
  }
}

/** Cut `buf` at the given positions (taken modulo its length); never yields empty chunks, like a socket. */
export function splitAt(buf: Buffer, cuts: readonly number[]): Buffer[] {
  if (buf.length === 0) return [];
  const points = [...new Set(cuts.map((c) => c % buf.length))].filter((c) => c > 0).sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const p of points) {
    out.push(buf.subarray(prev, p));
    prev = p;
  }
  out.push(buf.subarray(prev));
  return out;
}

/** Cut positions for `splitAt`: none, a few, or many (byte by byte for short inputs). */
export const cutsArb: fc.Arbitrary<number[]> = fc.oneof(
  { weight: 1, arbitrary: fc.constant<number[]>([]) },
  { weight: 4, arbitrary: fc.array(fc.nat(), { maxLength: 8 }) },
  { weight: 2, arbitrary: fc.array(fc.nat(), { maxLength: 64 }) },
  { weight: 1, arbitrary: fc.constant(Array.from({ length: 512 }, (_, i) => i + 1)) },
);

/** Lengths a hostile peer announces: huge, negative as int32, zero, off by one. */
export const LYING_LENGTHS = [0, 1, 3, 4, 5, 0x7fffffff, 0x80000000, 0xffffffff, 0x7ffffffe, 2 ** 31 - 5, 65_536, 16 * 1024 * 1024 + 1];

export type Mutation =
  | { kind: 'set'; at: number; value: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; count: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'len32'; at: number; value: number; le: boolean };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('len32' as const), at: fc.nat(), value: fc.constantFrom(...LYING_LENGTHS), le: fc.boolean() }),
);

export const mutationsArb: fc.Arbitrary<Mutation[]> = fc.array(mutationArb, { minLength: 1, maxLength: 4 });

/** Apply mutations to a copy of `buf`. */
export function mutate(buf: Uint8Array, mutations: readonly Mutation[]): Buffer {
  let b = Buffer.from(buf);
  for (const m of mutations) {
    const at = b.length === 0 ? 0 : m.at % (b.length + 1);
    switch (m.kind) {
      case 'set':
        if (b.length > 0) b[at % b.length] = m.value;
        break;
      case 'insert':
        b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
        break;
      case 'delete':
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.count)]);
        break;
      case 'truncate':
        b = b.subarray(0, at);
        break;
      case 'len32':
        if (b.length >= 4) {
          const p = at % (b.length - 3);
          if (m.le) b.writeUInt32LE(m.value >>> 0, p);
          else b.writeUInt32BE(m.value >>> 0, p);
        }
        break;
    }
  }
  return b;
}

/** Random bytes, mostly short, sometimes a few KiB. */
export const bytesArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 4, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 4096 }) },
);

/**
 * Run `fn`; an error that is not an instance of one of `allowed` fails the property (a crash in the codec).
 * Returns the allowed error, or null when `fn` returned normally.
 */
export function onlyErrors(fn: () => void, ...allowed: Array<abstract new (...args: never[]) => Error>): Error | null {
  try {
    fn();
    return null;
  } catch (err) {
    if (allowed.some((cls) => err instanceof cls)) return err as Error;
    throw err;
  }
}

/**
 * Run `fn` and return the largest single Buffer allocation it asked for (alloc, allocUnsafe, allocUnsafeSlow,
 * concat). A decoder fed a 2^31 length must never ask for anything near it: memory held is what was received.
 */
export function largestAllocation(fn: () => void): number {
  const B = Buffer as unknown as Record<string, (...args: unknown[]) => Buffer>;
  const names = ['alloc', 'allocUnsafe', 'allocUnsafeSlow'] as const;
  const saved = names.map((n) => B[n]!);
  const savedConcat = Buffer.concat;
  let largest = 0;
  names.forEach((n, i) => {
    const orig = saved[i]!;
    B[n] = function (this: unknown, ...args: unknown[]): Buffer {
      if (typeof args[0] === 'number' && args[0] > largest) largest = args[0];
      return orig.apply(this, args);
    };
  });
  Buffer.concat = function (list: readonly Uint8Array[], totalLength?: number): Buffer {
    const size = totalLength ?? list.reduce((n, b) => n + b.length, 0);
    if (size > largest) largest = size;
    return savedConcat.call(Buffer, list, totalLength);
  } as typeof Buffer.concat;
  try {
    fn();
  } finally {
    names.forEach((n, i) => (B[n] = saved[i]!));
    Buffer.concat = savedConcat;
  }
  return largest;
}
