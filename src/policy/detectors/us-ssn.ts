/**
 * `us_ssn`: US Social Security numbers `123-45-6789` / `123 45 6789` with the SSA rules: area not 000, 666 or
 * 900-999; group not 00; serial not 0000. A bare 9-digit run counts only when the field name says ssn.
 */
import type { Detector } from './types.js';

/**
 * Both linear: fixed-length shapes (11 and 9 characters). Run with `test` and checked in place, each in its
 * own loop: building the match and its slices cost more than the regex on a value packed with SSN-like groups.
 */
const DASHED = /(?<![\w-])\d{3}([- ])\d{2}\1\d{4}(?![\w]|-\d)/g;
const BARE = /(?<!\w)\d{9}(?!\w)/g;
const SSN_HINT = /ssn|social/i;

/** SSA validity of the 9 digits (separators removed). */
export function ssnValid(d: string): boolean {
  return partsValid(d, 0, 3, 5);
}

/** The SSA rules on digits read in place: area at `a`, group at `g`, serial at `s`. */
function partsValid(text: string, a: number, g: number, s: number): boolean {
  const area = num(text, a, 3);
  return area !== 0 && area !== 666 && area < 900 && num(text, g, 2) !== 0 && num(text, s, 4) !== 0;
}

function num(text: string, at: number, len: number): number {
  let v = 0;
  for (let i = at; i < at + len; i++) v = v * 10 + (text.charCodeAt(i) - 48);
  return v;
}

function findDashed(text: string, out: number[]): void {
  DASHED.lastIndex = 0;
  while (DASHED.test(text)) {
    const start = DASHED.lastIndex - 11;
    if (partsValid(text, start, start + 4, start + 7)) out.push(start, start + 11);
  }
}

function findBare(text: string, out: number[]): void {
  BARE.lastIndex = 0;
  while (BARE.test(text)) {
    const start = BARE.lastIndex - 9;
    if (partsValid(text, start, start + 3, start + 5)) out.push(start, start + 9);
  }
}

export const usSsn: Detector = {
  name: 'us_ssn',
  description: 'US Social Security number (area/group/serial rules)',
  applies: (s) => s.digits >= 9,
  find: (text, out, hint) => {
    findDashed(text, out);
    if (hint !== undefined && SSN_HINT.test(hint)) findBare(text, out);
  },
};
