/**
 * `date_of_birth`: a calendar date that is a birth date by context: the field name (hint) says dob/birth/born,
 * or the words just before the date do ("DOB: 1980-02-29", "born 3 March 1975"). A date alone is not personal.
 */
import { findAll, type Detector } from './types.js';

const MONTHS = 'jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?';
/**
 * The date regex, as two: dates that start with a number (ISO, d/m/y, d Month y) and dates that start with a
 * month name (Month d, y). Both linear: the shapes are fixed (each number 1, 2 or 4 digits followed by a
 * separator or by the end test, month names at most 9 letters), so an attempt reads at most 21 characters;
 * CONTEXT's words at most 5. As one regex with four alternatives it tried all four at every word start and
 * took 13 ms a megabyte of random text; as two, each skips to its first character (4 ms). Scanning them apart
 * finds the same dates: no date can start inside another (a start needs no word character, '/', '.' or '-'
 * before it, and the only such places inside a date are the numbers and month after a space, where no date
 * fits), so the dates of the two scans interleave into exactly the dates of the one.
 */
const NO_DATE_BEFORE = '(?<![\\w/.-])';
const DATE_END = '(?![\\w/]|[.-]\\d)';
const DATE_NUMBER = new RegExp(
  `${NO_DATE_BEFORE}(?:(?:19|20)\\d{2}-\\d{1,2}-\\d{1,2}|\\d{1,2}[/.-]\\d{1,2}[/.-](?:19|20)\\d{2}|\\d{1,2} (?:${MONTHS})\\.? (?:19|20)\\d{2})${DATE_END}`,
  'gi',
);
const DATE_MONTH = new RegExp(`${NO_DATE_BEFORE}(?:${MONTHS})\\.? \\d{1,2},? (?:19|20)\\d{2}${DATE_END}`, 'gi');
const CONTEXT = /dob|d\.o\.b|birth|born/i;
const MONTH_INDEX: Record<string, number> = { jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12 };

function validDate(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1 || d > 31) return false;
  const dt = new Date(Date.UTC(y, m - 1, d));
  return dt.getUTCMonth() === m - 1 && dt.getTime() <= Date.now();
}

/** Whether a matched date string is a real past date (ISO, d/m/y or m/d/y, or with a month name). */
export function plausibleBirthDate(s: string): boolean {
  const iso = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(s);
  if (iso) return validDate(Number(iso[1]), Number(iso[2]), Number(iso[3]));
  const num = /^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$/.exec(s);
  if (num) {
    const a = Number(num[1]);
    const b = Number(num[2]);
    const y = Number(num[3]);
    return validDate(y, b, a) || validDate(y, a, b);
  }
  const words = s.toLowerCase().match(/[a-z]+|\d+/g) ?? [];
  let month = 0;
  const nums: number[] = [];
  for (const w of words) {
    if (/^\d/.test(w)) nums.push(Number(w));
    else month = MONTH_INDEX[w.slice(0, 3)] ?? 0;
  }
  if (nums.length !== 2) return false;
  const [x, y] = nums as [number, number];
  return x > 31 ? validDate(x, month, y) : validDate(y, month, x);
}

/**
 * `validDate` for a year of 1900-2099 (all the regex's `(?:19|20)\d{2}` accepts), without a Date object: a
 * real day of the (proleptic Gregorian) calendar, not after `now`.
 */
function realPastDate(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1) return false;
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  const days = m === 2 ? (leap ? 29 : 28) : m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
  return d <= days && Date.UTC(y, m - 1, d) <= now;
}

/** Date.now() for the current `find` call (read once, not per candidate). */
let now = 0;

/** The value of the run of digits of `m` that starts at `i`; where the run ends goes to `numberEnd`. */
function numberAt(m: string, i: number): number {
  let v = 0;
  for (; i < m.length; i++) {
    const c = m.charCodeAt(i);
    if (c < 48 || c > 57) break;
    v = v * 10 + (c - 48);
  }
  numberEnd = i;
  return v;
}

let numberEnd = 0;

/** The month whose name starts at `i` of `m` (the regex matched a whole month name there). */
function monthAt(m: string, i: number): number {
  return MONTH_INDEX[String.fromCharCode(m.charCodeAt(i) | 0x20, m.charCodeAt(i + 1) | 0x20, m.charCodeAt(i + 2) | 0x20)] ?? 0;
}

/**
 * `plausibleBirthDate` of a DATE match, parsed in place: its three regexes, lower-casing and Date object per
 * candidate cost more than the regex on a value packed with impossible dates (1980-02-30, 31 Feb).
 */
function plausibleMatch(m: string): boolean {
  // The year is always the match's last four characters, except in the ISO form.
  if (m.charCodeAt(0) <= 57) {
    const a = numberAt(m, 0);
    const i = numberEnd;
    if (i === 4) {
      // yyyy-m-d
      const month = numberAt(m, i + 1);
      return realPastDate(a, month, numberAt(m, numberEnd + 1));
    }
    const year = numberAt(m, m.length - 4);
    if (m.charCodeAt(i) !== 32) {
      // d/m/yyyy or m/d/yyyy (separators / . -)
      const b = numberAt(m, i + 1);
      return realPastDate(year, b, a) || realPastDate(year, a, b);
    }
    // d Month yyyy
    return realPastDate(year, monthAt(m, i + 1), a);
  }
  // Month d, yyyy
  let i = 3;
  while (m.charCodeAt(i) < 48 || m.charCodeAt(i) > 57) i++;
  return realPastDate(numberAt(m, m.length - 4), monthAt(m, 0), numberAt(m, i));
}

/** Every plausible date in `text`, in order: the dates of both regexes, merged by position. */
function findDates(text: string, out: number[]): void {
  now = Date.now();
  const byNumber: number[] = [];
  const byMonth: number[] = [];
  findAll(DATE_NUMBER, text, byNumber, plausibleMatch);
  findAll(DATE_MONTH, text, byMonth, plausibleMatch);
  if (byMonth.length === 0) {
    for (const x of byNumber) out.push(x);
    return;
  }
  let i = 0;
  let j = 0;
  while (i < byNumber.length || j < byMonth.length) {
    if (j >= byMonth.length || (i < byNumber.length && byNumber[i]! < byMonth[j]!)) {
      out.push(byNumber[i]!, byNumber[i + 1]!);
      i += 2;
    } else {
      out.push(byMonth[j]!, byMonth[j + 1]!);
      j += 2;
    }
  }
}

export const dateOfBirth: Detector = {
  name: 'date_of_birth',
  description: 'date of birth (a date with a dob/birth/born context)',
  applies: (s) => s.digits >= 5,
  find: (text, out, hint) => {
    const byName = hint !== undefined && CONTEXT.test(hint);
    if (!byName && !CONTEXT.test(text)) return;
    if (byName) {
      findDates(text, out);
      return;
    }
    // Without a name hint, keep only dates preceded (within 32 characters) by a birth word.
    const found: number[] = [];
    findDates(text, found);
    for (let i = 0; i < found.length; i += 2) {
      const start = found[i]!;
      if (CONTEXT.test(text.slice(Math.max(0, start - 32), start))) out.push(start, found[i + 1]!);
    }
  },
};
