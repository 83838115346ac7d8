/**
 * `date_of_birth`: a calendar date that is a birth date by context: the field name (hint) says dob/birth/born,
 * or the words just before the date do ("DOB: 1980-02-29", "born 3 March 1975"). A date alone is not personal.
 */
import { findAll, type Detector } from './types.js';

const MONTHS = 'jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?';
const DATE = new RegExp(
  `(?<![\\w/.-])(?:(?:19|20)\\d{2}-\\d{1,2}-\\d{1,2}|\\d{1,2}[/.-]\\d{1,2}[/.-](?:19|20)\\d{2}|\\d{1,2} (?:${MONTHS})\\.? (?:19|20)\\d{2}|(?:${MONTHS})\\.? \\d{1,2},? (?:19|20)\\d{2})(?![\\w/]|[.-]\\d)`,
  'gi',
);
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

export const dateOfBirth: Detector = {
  name: 'date_of_birth',
  description: 'date of birth (a date with a dob/birth/born context)',
  applies: (s) => s.digits >= 5,
  find: (text, out, hint) => {
    const byName = hint !== undefined && CONTEXT.test(hint);
    if (!byName && !CONTEXT.test(text)) return;
    if (byName) {
      findAll(DATE, text, out, plausibleBirthDate);
      return;
    }
    // Without a name hint, keep only dates preceded (within 32 characters) by a birth word.
    const found: number[] = [];
    findAll(DATE, text, found, plausibleBirthDate);
    for (let i = 0; i < found.length; i += 2) {
      const start = found[i]!;
      if (CONTEXT.test(text.slice(Math.max(0, start - 32), start))) out.push(start, found[i + 1]!);
    }
  },
};
