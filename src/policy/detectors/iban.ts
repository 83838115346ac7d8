/**
 * `iban`: International Bank Account Numbers, compact or in groups of four, upper- or lower-case: the country
 * length table and mod-97 read in place (the fast test), then the country's BBAN layout from `ibantools` (the
 * maintained IBAN registry data) for the few candidates that pass it. Not ibantools' national check digits
 * (BE, ES, FR, NO, PL, ...): test and sample IBANs (generators, docs) carry a valid IBAN check but seldom a valid
 * national one, and masking such a value costs nothing, while missing a real one leaks it.
 */
import { getCountrySpecifications } from 'ibantools';
import { IBAN_LENGTHS } from './checksums.js';
import { findAll, type Detector } from './types.js';

/**
 * Linear: one attempt reads at most 44 characters; each group's optional space can match one way only, so
 * backing off over the 2-7 group counts and the 1-3 character tail is a bounded number of one-step tests.
 */
const IBAN = /(?<![\w])[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]{4}){2,7}(?: ?[A-Za-z0-9]{1,3})?(?!\w)/g;

/** IBAN length by country code, indexed by (first letter - 'A') * 26 + (second - 'A'); 0 = no such country. */
const LENGTH_BY_CODE = new Uint8Array(26 * 26);
for (const [cc, len] of Object.entries(IBAN_LENGTHS)) LENGTH_BY_CODE[(cc.charCodeAt(0) - 65) * 26 + (cc.charCodeAt(1) - 65)] = len;

/**
 * `ibanValid` of the match with its spaces removed (country length, then mod 97 of the BBAN followed by the
 * first four characters, letters as 10..35), read in place: the compact and rearranged strings cost more than
 * the regex on a value packed with IBAN-like groups.
 */
function ibanMatchValid(m: string): boolean {
  const len = LENGTH_BY_CODE[((m.charCodeAt(0) & 0xdf) - 65) * 26 + ((m.charCodeAt(1) & 0xdf) - 65)]!;
  if (len === 0) return false;
  let compact = 0;
  for (let i = 0; i < m.length; i++) if (m.charCodeAt(i) !== 32) compact++;
  if (compact !== len) return false;
  let rem = 0;
  for (let i = 4; i < m.length; i++) rem = mod97Step(rem, m.charCodeAt(i));
  for (let i = 0; i < 4; i++) rem = mod97Step(rem, m.charCodeAt(i));
  return rem === 1 && bbanLayoutOk(m);
}

/** BBAN layout (regex) by country code, from ibantools' registry data; countries it lacks pass on length and mod 97. */
const BBAN_LAYOUT = new Map<string, RegExp>();
for (const [cc, spec] of Object.entries(getCountrySpecifications())) if (spec.bban_regexp) BBAN_LAYOUT.set(cc, new RegExp(spec.bban_regexp));

function bbanLayoutOk(m: string): boolean {
  const compact = m.replace(/ /g, '').toUpperCase();
  const layout = BBAN_LAYOUT.get(compact.slice(0, 2));
  return layout === undefined || layout.test(compact.slice(4));
}

function mod97Step(rem: number, c: number): number {
  if (c === 32) return rem;
  // Letters of either case: `& 0xdf` folds a lower-case letter onto its upper-case code.
  return c <= 57 ? (rem * 10 + (c - 48)) % 97 : (rem * 100 + ((c & 0xdf) - 55)) % 97;
}

export const iban: Detector = {
  name: 'iban',
  description: 'IBAN (country length + mod-97 + BBAN structure)',
  // 2 check digits at least; fewer than 4 digits only in a compact IBAN (a 15+ token run), as anyDetectorMayMatch assumes.
  applies: (s) => s.length >= 15 && s.digits >= 2 && (s.digits >= 4 || s.tokenRun >= 15),
  find: (text, out) => findAll(IBAN, text, out, ibanMatchValid),
};
