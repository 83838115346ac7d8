/**
 * Format-preserving, keyed, reversible tokenization: an alternating Feistel network over a mixed-radix vector
 * (each ASCII digit is a radix-10 position, each letter a radix-26 position of its case; other characters are
 * kept). Same key + same input -> same token; `detokenizeString` inverts it. Cycle walking keeps tokens inside
 * a sub-domain (e.g. "no leading zero", "fits int4") without losing reversibility.
 */
import type { Keyring } from './keyring.js';

const ROUNDS = 10;
const MAX_WALK = 10_000;

interface Layout {
  positions: number[];
  radices: number[];
  bases: number[];
  signature: string;
}

function layoutOf(s: string): Layout {
  const positions: number[] = [];
  const radices: number[] = [];
  const bases: number[] = [];
  let signature = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      positions.push(i); radices.push(10); bases.push(48); signature += 'd';
    } else if (c >= 97 && c <= 122) {
      positions.push(i); radices.push(26); bases.push(97); signature += 'l';
    } else if (c >= 65 && c <= 90) {
      positions.push(i); radices.push(26); bases.push(65); signature += 'u';
    } else {
      signature += '.';
    }
  }
  return { positions, radices, bases, signature };
}

function toNumber(vals: number[], radices: number[], from: number, to: number): bigint {
  let n = 0n;
  for (let i = from; i < to; i++) n = n * BigInt(radices[i]!) + BigInt(vals[i]!);
  return n;
}

function fromNumber(n: bigint, vals: number[], radices: number[], from: number, to: number): void {
  for (let i = to - 1; i >= from; i--) {
    const r = BigInt(radices[i]!);
    vals[i] = Number(n % r);
    n /= r;
  }
}

function modulus(radices: number[], from: number, to: number): bigint {
  let m = 1n;
  for (let i = from; i < to; i++) m *= BigInt(radices[i]!);
  return m;
}

function roundValue(keys: Keyring, tweak: string, round: number, x: bigint, m: bigint): bigint {
  const mac = keys.round(`${tweak}|${round}|${x.toString(36)}`);
  return BigInt('0x' + mac.toString('hex')) % m;
}

function permute(s: string, keys: Keyring, decrypt: boolean): string {
  const lay = layoutOf(s);
  const n = lay.positions.length;
  if (n === 0) return s;
  const vals = lay.positions.map((p, i) => s.charCodeAt(p) - lay.bases[i]!);
  const u = n >> 1;
  const mL = modulus(lay.radices, 0, u);
  const mR = modulus(lay.radices, u, n);
  let L = toNumber(vals, lay.radices, 0, u);
  let R = toNumber(vals, lay.radices, u, n);
  const tweak = lay.signature;
  if (!decrypt) {
    for (let r = 0; r < ROUNDS; r++) {
      if (r % 2 === 0) L = (L + roundValue(keys, tweak, r, R, mL)) % mL;
      else R = (R + roundValue(keys, tweak, r, L, mR)) % mR;
    }
  } else {
    for (let r = ROUNDS - 1; r >= 0; r--) {
      if (r % 2 === 0) L = (((L - roundValue(keys, tweak, r, R, mL)) % mL) + mL) % mL;
      else R = (((R - roundValue(keys, tweak, r, L, mR)) % mR) + mR) % mR;
    }
  }
  fromNumber(L, vals, lay.radices, 0, u);
  fromNumber(R, vals, lay.radices, u, n);
  const chars = s.split('');
  for (let i = 0; i < n; i++) chars[lay.positions[i]!] = String.fromCharCode(lay.bases[i]! + vals[i]!);
  return chars.join('');
}

/** Tokenize `s`; with `valid`, cycle-walk until the token satisfies it (the input must satisfy it too). */
export function tokenizeString(s: string, keys: Keyring, valid?: (t: string) => boolean): string {
  let t = permute(s, keys, false);
  if (valid) for (let i = 0; i < MAX_WALK && !valid(t); i++) t = permute(t, keys, false);
  return t;
}

/** Invert `tokenizeString` (same key, same `valid`). */
export function detokenizeString(t: string, keys: Keyring, valid?: (s: string) => boolean): string {
  let s = permute(t, keys, true);
  if (valid) for (let i = 0; i < MAX_WALK && !valid(s); i++) s = permute(s, keys, true);
  return s;
}
