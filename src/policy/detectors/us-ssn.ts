/**
 * `us_ssn`: US Social Security numbers `123-45-6789` / `123 45 6789` with the SSA rules: area not 000, 666 or
 * 900-999; group not 00; serial not 0000. Scored (context.ts): the grouped form scores 0.6, enough alone; a bare
 * 9-digit run scores 0.3 and counts only with context, the field name (`ssn`, `social`) or a word next to it
 * (`SSN 123456789`); a word that says it is something else (order, routing, zip, ...) lowers either under 0.5.
 */
import { newSlidingContext, passesWithContext, wordSet, type ContextWords } from './context.js';
import { DEFAULT_THRESHOLD, type Detector } from './types.js';

/**
 * Both linear: fixed-length shapes (11 and 9 characters). Run with `test` and checked in place, each in its
 * own loop: building the match and its slices cost more than the regex on a value packed with SSN-like groups.
 */
const DASHED = /(?<![\w-])\d{3}([- ])\d{2}\1\d{4}(?![\w]|-\d)/g;
const BARE = /(?<!\w)\d{9}(?!\w)/g;
const SSN_CONTEXT: ContextWords = {
  positive: wordSet('ssn ssns ss socsec ssa social security', 'sécurité sociale', 'sozialversicherungsnummer', 'seguro', 'previdenza'),
  negative: wordSet('tracking routing aba zip postal phone tel fax part sku serial isbn'),
  hint: /ssn|social/i,
};
/** Scores before context: the grouped SSN shape, and a bare run of nine digits. */
const GROUPED_SCORE = 0.6;
const BARE_SCORE = 0.3;

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

function findDashed(text: string, out: number[], hint: string | undefined, threshold: number): void {
  DASHED.lastIndex = 0;
  const st = newSlidingContext(); // candidates come in order: one sliding context window reads each character once
  while (DASHED.test(text)) {
    const start = DASHED.lastIndex - 11;
    if (partsValid(text, start, start + 4, start + 7) && passesWithContext(GROUPED_SCORE, threshold, text, start, start + 11, hint, SSN_CONTEXT, st)) out.push(start, start + 11);
  }
}

function findBare(text: string, out: number[], hint: string | undefined, threshold: number): void {
  BARE.lastIndex = 0;
  const st = newSlidingContext();
  while (BARE.test(text)) {
    const start = BARE.lastIndex - 9;
    if (partsValid(text, start, start + 3, start + 5) && passesWithContext(BARE_SCORE, threshold, text, start, start + 9, hint, SSN_CONTEXT, st)) out.push(start, start + 9);
  }
}

export const usSsn: Detector = {
  name: 'us_ssn',
  description: 'US Social Security number (area/group/serial rules; a bare 9-digit run needs context)',
  threshold: DEFAULT_THRESHOLD,
  applies: (s) => s.digits >= 9,
  find: (text, out, hint, threshold = DEFAULT_THRESHOLD) => {
    findDashed(text, out, hint, threshold);
    // A bare run reaches the threshold only with context: skip the scan when the threshold rules it out.
    if (BARE_SCORE + 0.35 >= threshold) findBare(text, out, hint, threshold);
  },
};
