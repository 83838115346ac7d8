/**
 * `phone`: E.164 (`+44 20 7946 0958`, `+15551234567`) and national forms with separators
 * (`(555) 123-4567`, `555-123-4567`, `020 7946 0958`). A bare run of digits is not a phone number (it is more
 * likely an id, an amount or a card), unless the field name says phone.
 *
 * E.164 is scanned by hand, not with the regex it replaces,
 *   /(?<![\w+])\+[1-9]\d{0,3}(?:[ .-]?\(\d{1,4}\))?(?:[ .-]?\d{1,5}){1,5}(?!\w)/g
 * whose `(?:[ .-]?\d{1,5}){1,5}` can split a run of digits into groups in thousands of ways: a regex engine
 * tries them all before giving up on a '+' followed by 30 digits and a letter (3 s for a 1 MB value of those).
 * e164At computes the end the regex finds directly, in time linear in the match.
 */
import { anyMatch, findAll, type Detector } from './types.js';

const PHONE_HINT = /phone|mobile|cell|tel|fax/i;

/** `\d` */
function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** `\w` (ASCII, as in a regex without the u flag) */
function isWord(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || c === 95;
}

/** `[ .-]` */
function isSep(c: number): boolean {
  return c === 32 || c === 46 || c === 45;
}

function wordAt(text: string, i: number, n: number): boolean {
  return i < n && isWord(text.charCodeAt(i));
}

function digitAt(text: string, i: number, n: number): boolean {
  return i < n && isDigit(text.charCodeAt(i));
}

/** Number of digits at `i`, counting at most `max`. */
function digitsAt(text: string, i: number, n: number, max: number): number {
  let k = 0;
  while (k < max && i + k < n && isDigit(text.charCodeAt(i + k))) k++;
  return k;
}

/**
 * End of `(?:[ .-]?\d{1,5}){1,5}(?!\w)` at `q`, as the regex's backtracking finds it, or -1. The groups cannot
 * cross a separator and `(?!\w)` fails inside a run of digits, so an end is the end of a run of digits (of a
 * chain of runs joined by single separators) followed by a non-word character; reaching a run's end takes at
 * least ceil(length / 5) groups, and greedy groups take exactly that many. The regex tries the greedy split
 * first and backs off from the deepest choice, so it returns the farthest such end reachable with five groups.
 */
function groupsEnd(text: string, q: number, n: number): number {
  let pos = q;
  if (pos < n && isSep(text.charCodeAt(pos))) pos++; // the first group's optional separator
  if (!digitAt(text, pos, n)) return -1;
  let used = 0;
  let best = -1;
  for (;;) {
    const run = digitsAt(text, pos, n, 5 * (5 - used) + 1);
    used += Math.ceil(run / 5);
    if (used > 5) return best;
    const e = pos + run;
    if (!wordAt(text, e, n)) best = e;
    if (used === 5 || e + 1 >= n || !isSep(text.charCodeAt(e)) || !isDigit(text.charCodeAt(e + 1))) return best;
    pos = e + 1;
  }
}

/**
 * The E.164 match at a '+' `s` not preceded by `[\w+]`, or -1. `[1-9]\d{0,3}` is greedy: with k = 3..0 extra
 * digits, the optional `[ .-]?\(\d{1,4}\)` is tried first (it can only follow the greedy k, since a digit follows
 * the others), then the groups; the first k that yields an end wins. When the greedy k stops inside a run of
 * digits and finds no end, no smaller k can: it leaves the same run longer for the groups, which then need at
 * least as many groups to reach each end.
 */
function e164At(text: string, s: number, n: number): number {
  const c1 = s + 1 < n ? text.charCodeAt(s + 1) : -1;
  if (c1 < 49 || c1 > 57) return -1;
  const big = digitsAt(text, s + 2, n, 3);
  for (let k = big; k >= 0; k--) {
    const p1 = s + 2 + k;
    if (k === big) {
      let j = p1;
      if (j < n && isSep(text.charCodeAt(j)) && j + 1 < n && text.charCodeAt(j + 1) === 40) j++;
      if (j < n && text.charCodeAt(j) === 40) {
        const m = digitsAt(text, j + 1, n, 5);
        if (m >= 1 && m <= 4 && j + 1 + m < n && text.charCodeAt(j + 1 + m) === 41) {
          const e = groupsEnd(text, j + 2 + m, n);
          if (e >= 0) return e;
        }
      }
    }
    const e = groupsEnd(text, p1, n);
    if (e >= 0) return e;
    if (k === big && digitAt(text, p1, n)) return -1;
  }
  return -1;
}

/** 8 to 15 digits in text[s, e). */
function e164Ok(text: string, s: number, e: number): boolean {
  const d = countDigits(text, s, e);
  return d >= 8 && d <= 15;
}

function countDigits(text: string, s: number, e: number): number {
  let d = 0;
  for (let i = s; i < e; i++) if (isDigit(text.charCodeAt(i))) d++;
  return d;
}

/**
 * Where a valid E.164 match can start: a '+' not preceded by `[\w+]`, a digit 1-9, and seven more digits each
 * after at most two of ` .()-` (a valid match holds 8 or more digits, and between two of its digits stand at
 * most a separator and a parenthesis). Found with a regex, which skips to the next such '+' in one call: an
 * `indexOf` per '+' cost 35 ms on a megabyte of them. Filtering on validity is sound because each '+' is tried
 * on its own: a match holds no other '+', so whether one '+' matches never moves where the next is tried.
 */
const E164_START = /(?<![\w+])\+[1-9](?=(?:[ .()-]{0,2}\d){7})/g;

function findE164(text: string, out: number[]): void {
  const n = text.length;
  E164_START.lastIndex = 0;
  while (E164_START.test(text)) {
    const s = E164_START.lastIndex - 2;
    const e = e164At(text, s, n);
    if (e < 0) continue;
    if (e164Ok(text, s, e)) out.push(s, e);
    E164_START.lastIndex = e; // the regex resumed after its match (which holds no other '+')
  }
}

/**
 * Linear: fixed shapes of at most 21 characters; each number is followed by a separator, ')' or the end test,
 * so backing off over the 3-or-4 digit groups is a bounded number of one-step tests.
 */
const NATIONAL = /(?<![\w+.-])(?:\(\d{2,5}\)[ .-]?\d{3,4}[ .-]?\d{3,4}|\d{3}[.-]\d{3}[.-]\d{4}|0\d{2,4}[ -]\d{3,4}[ -]?\d{3,4}|\d{3} \d{3} \d{4})(?![\w]|[.-]\d)/g;
/** Linear: an attempt reads at most 16 characters. */
const BARE = /(?<![\w+])\d{10,15}(?!\w)/g;

/** 9 to 12 digits in the match (counted in place: the digit string cost more than the regex). */
function nationalOk(m: string): boolean {
  const d = countDigits(m, 0, m.length);
  return d >= 9 && d <= 12;
}

export const phone: Detector = {
  name: 'phone',
  description: 'telephone number (E.164 or national form)',
  applies: (s) => s.digits >= 8,
  find: (text, out, hint) => {
    if (text.indexOf('+') >= 0) findE164(text, out);
    findAll(NATIONAL, text, out, nationalOk);
    if (hint !== undefined && PHONE_HINT.test(hint)) findAll(BARE, text, out, anyMatch);
  },
};
