/** `iban`: International Bank Account Numbers, compact or in groups of four, with the country length table and mod-97. */
import { IBAN_LENGTHS } from './checksums.js';
import { findAll, type Detector } from './types.js';

/**
 * Linear: one attempt reads at most 44 characters; each group's optional space can match one way only, so
 * backing off over the 2-7 group counts and the 1-3 character tail is a bounded number of one-step tests.
 */
const IBAN = /(?<![\w])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?!\w)/g;

/** IBAN length by country code, indexed by (first letter - 'A') * 26 + (second - 'A'); 0 = no such country. */
const LENGTH_BY_CODE = new Uint8Array(26 * 26);
for (const [cc, len] of Object.entries(IBAN_LENGTHS)) LENGTH_BY_CODE[(cc.charCodeAt(0) - 65) * 26 + (cc.charCodeAt(1) - 65)] = len;

/**
 * `ibanValid` of the match with its spaces removed (country length, then mod 97 of the BBAN followed by the
 * first four characters, letters as 10..35), read in place: the compact and rearranged strings cost more than
 * the regex on a value packed with IBAN-like groups.
 */
function ibanMatchValid(m: string): boolean {
  const len = LENGTH_BY_CODE[(m.charCodeAt(0) - 65) * 26 + (m.charCodeAt(1) - 65)]!;
  if (len === 0) return false;
  let compact = 0;
  for (let i = 0; i < m.length; i++) if (m.charCodeAt(i) !== 32) compact++;
  if (compact !== len) return false;
  let rem = 0;
  for (let i = 4; i < m.length; i++) rem = mod97Step(rem, m.charCodeAt(i));
  for (let i = 0; i < 4; i++) rem = mod97Step(rem, m.charCodeAt(i));
  return rem === 1;
}

function mod97Step(rem: number, c: number): number {
  if (c === 32) return rem;
  return c <= 57 ? (rem * 10 + (c - 48)) % 97 : (rem * 100 + (c - 55)) % 97;
}

export const iban: Detector = {
  name: 'iban',
  description: 'IBAN (country length + mod-97)',
  applies: (s) => s.upper >= 2 && s.digits >= 6 && s.length >= 15,
  find: (text, out) => findAll(IBAN, text, out, ibanMatchValid),
};
