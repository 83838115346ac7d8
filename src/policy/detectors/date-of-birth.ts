/**
 * `date_of_birth`: a calendar date that is a birth date by context. A date alone is not personal: it scores 0.25;
 * the field name (`dob`, `birth_date`, `geburtsdatum`) or a birth word near it, matched as a whole word in
 * en, fr, de, es, it, nl or pt ("DOB:", "born", "né le", "geboren am", "nacido el", "nato il", "geboortedatum",
 * "nascido em") adds 0.6; a word that says the date is an organisation's ("the company was born on",
 * "founded", "société", "gegründet") takes 0.6 off. The default threshold is 0.5.
 *
 * Date forms: ISO (`1985-03-03`, and ISO datetimes at midnight `1985-03-03T00:00:00Z`, as databases export a
 * date column), `d/m/y` `m/d/y` `d.m.y` `d-m-y`, compact `YYYYMMDD`, and month names of the seven languages
 * with ordinals and connectors (`March 3rd, 1985`, `3rd of March 1985`, `12. März 1978`, `12 de marzo de 1978`,
 * `1er mars 1985`). Years 1900-2099, real calendar days, never in the future.
 */
import { NEGATIVE, newSlidingContext, POSITIVE, slideContext, wordSet, type ContextWords, type SlidingContext } from './context.js';
import { DEFAULT_THRESHOLD, type Detector } from './types.js';

/** Month names and abbreviations (lower-case) of en, fr, de, es, it, nl, pt, with their month number. */
const MONTH_NAMES: Record<string, number> = {};
const MONTH_LISTS: readonly string[] = [
  // en
  'january february march april may june july august september october november december',
  'jan feb mar apr may jun jul aug sep oct nov dec',
  // fr (with and without accents)
  'janvier février mars avril mai juin juillet août septembre octobre novembre décembre',
  'janv févr mars avr mai juin juil août sept oct nov déc',
  'janvier fevrier mars avril mai juin juillet aout septembre octobre novembre decembre',
  // de
  'januar februar märz april mai juni juli august september oktober november dezember',
  'jan feb mär apr mai jun jul aug sep okt nov dez',
  'januar februar maerz april mai juni juli august september oktober november dezember',
  'jänner feber mrz apr mai jun jul aug sept okt nov dez',
  // es
  'enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre',
  'ene feb mar abr may jun jul ago sept oct nov dic',
  'ene feb mar abr may jun jul ago setiembre oct nov dic',
  // it
  'gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre novembre dicembre',
  'gen feb mar apr mag giu lug ago set ott nov dic',
  // nl
  'januari februari maart april mei juni juli augustus september oktober november december',
  'jan feb mrt apr mei jun jul aug sep okt nov dec',
  // pt
  'janeiro fevereiro março abril maio junho julho agosto setembro outubro novembro dezembro',
  'jan fev mar abr mai jun jul ago set out nov dez',
  'janeiro fevereiro marco abril maio junho julho agosto setembro outubro novembro dezembro',
];
for (const list of MONTH_LISTS) list.split(' ').forEach((m, i) => (MONTH_NAMES[m] ??= i + 1));
/** Longest first, so that the alternation prefers `march` to `mar`. */
const MONTHS = Object.keys(MONTH_NAMES).sort((a, b) => b.length - a.length).join('|');

const NO_DATE_BEFORE = '(?<![\\w/.-])';
const DATE_END = '(?![\\w/]|[.-]\\d)';
const YEAR = '(?:19|20)\\d{2}';
const ORD = '(?:st|nd|rd|th|er|e|º|°)?';
/**
 * Dates that start with a number, and dates that start with a month name: two regexes, each skipping to its
 * first character (as one regex with every alternative it was tried at every word start: 3x slower on random
 * text). Both linear: every part is bounded (numbers of 1, 2, 4 or 8 digits, month names of at most 10 letters,
 * optional connectors), so an attempt reads at most 40 characters.
 */
const DATE_NUMBER = new RegExp(
  `${NO_DATE_BEFORE}(?:` +
    `${YEAR}-\\d{1,2}-\\d{1,2}(?:[T ]00:00(?::00(?:\\.0{1,6})?)?(?:Z|[+-]00:?00)?)?` +
    `|\\d{1,2}[/.-]\\d{1,2}[/.-]${YEAR}` +
    `|${YEAR}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\\d|3[01])` +
    `|\\d{1,2}${ORD}\\.?(?: de| of| di)? (?:${MONTHS})\\.?,?(?: de| of| del)? ${YEAR}` +
    `)${DATE_END}`,
  'gi',
);
const DATE_MONTH = new RegExp(`${NO_DATE_BEFORE}(?:${MONTHS})\\.? \\d{1,2}(?:st|nd|rd|th)?,? ${YEAR}${DATE_END}`, 'gi');

const DOB_CONTEXT: ContextWords = {
  positive: wordSet(
    'dob birth born birthday birthdate birthdates bday',
    'né née nee naissance anniversaire', 'geboren geburtsdatum geburtstag geb', 'nacimiento nacido nacida cumpleaños fnac',
    'nascita nato nata compleanno', 'geboortedatum geb verjaardag', 'nascimento nascido nascida aniversário',
  ),
  negative: wordSet(
    'company companies firm business startup corporation corp inc ltd llc founded established incorporated organization organisation brand',
    'société entreprise fondée fondé créée', 'firma unternehmen gegründet gmbh', 'empresa compañía fundada fundado sociedad',
    'azienda società fondata fondato', 'bedrijf onderneming opgericht', 'companhia fundada',
  ),
  hint: /dob|birth|born|geburt|naissance|nacimiento|nascita|geboorte|nascimento|\bnee\b/i,
};
/**
 * A quick test that some birth word is in the text (whole word, any case): without one (and without a field
 * name), no date can reach the threshold, so the dates are not scanned at all. Linear: literals only.
 */
const ANY_BIRTH_WORD = new RegExp(`(?<![A-Za-z\\u00C0-\\u024F])(?:${[...DOB_CONTEXT.positive].sort((a, b) => b.length - a.length).join('|')}|d\\.o\\.b)(?![A-Za-z\\u00C0-\\u024F])`, 'i');

const DATE_SCORE = 0.25;
const BIRTH_BOOST = 0.6;
const ORG_PENALTY = 0.6;

/** Date.now() for the current `find` call (read once, not per candidate). */
let now = 0;

/** A real day of the (proleptic Gregorian) calendar in 1900-2099, not after `now`. */
function realPastDate(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1) return false;
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  const days = m === 2 ? (leap ? 29 : 28) : m === 4 || m === 6 || m === 9 || m === 11 ? 30 : 31;
  return d <= days && Date.UTC(y, m - 1, d) <= now;
}

/** Whether a matched date string is a real past date (any form the regexes match). */
export function plausibleBirthDate(s: string): boolean {
  now = Date.now();
  return plausibleMatch(s);
}

/**
 * `plausibleBirthDate` of a match, read in place: up to three numbers and a month name (a run of 3+ letters
 * found in MONTH_NAMES; ordinal suffixes and connectors are shorter or not month names). No regex and no
 * string per number: a value packed with impossible dates (`1980-02-30 ` repeated) runs this per date.
 */
function plausibleMatch(m: string): boolean {
  let n0 = -1;
  let n1 = -1;
  let n2 = -1;
  let len0 = 0;
  let count = 0;
  let month = 0;
  let i = 0;
  while (i < m.length) {
    const c = m.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      let v = 0;
      const s = i;
      while (i < m.length && m.charCodeAt(i) >= 48 && m.charCodeAt(i) <= 57) v = v * 10 + (m.charCodeAt(i++) - 48);
      if (count === 0) {
        n0 = v;
        len0 = i - s;
      } else if (count === 1) n1 = v;
      else if (count === 2) n2 = v;
      count++;
    } else if (isMonthLetter(c)) {
      const s = i;
      let h = 0;
      while (i < m.length && isMonthLetter(m.charCodeAt(i))) h = monthHashStep(h, m.charCodeAt(i++));
      if (i - s >= 3) month = MONTH_BY_HASH.get(h * 16 + (i - s)) ?? month;
    } else {
      i++;
    }
  }
  if (count === 1) return len0 === 8 && realPastDate(Math.floor(n0 / 10000), Math.floor(n0 / 100) % 100, n0 % 100);
  if (month > 0) return len0 === 4 ? realPastDate(n0, month, n1) : realPastDate(n1, month, n0); // Month d y | d Month y
  if (len0 === 4) return realPastDate(n0, n1, n2); // ISO (a midnight time's zeros come after)
  return realPastDate(n2, n1, n0) || realPastDate(n2, n0, n1);
}

/**
 * Month number by (hash of the lower-case name) * 16 + length: the regex matched a month name where a letter run
 * of 3+ stands, or a connector (`del`, `of`) no month shares a hash and length with (checked below), so no string
 * is built per date.
 */
function monthHashStep(h: number, c: number): number {
  const lower = (c >= 65 && c <= 90) || (c >= 0xc0 && c <= 0xde && c !== 0xd7) ? c + 32 : c;
  return (Math.imul(h, 31) + lower) | 0;
}
const MONTH_BY_HASH = new Map<number, number>();
for (const [name, month] of Object.entries(MONTH_NAMES)) {
  let h = 0;
  for (let k = 0; k < name.length; k++) h = monthHashStep(h, name.charCodeAt(k));
  MONTH_BY_HASH.set(h * 16 + name.length, month);
}
for (const connector of ['del', 'the']) {
  let h = 0;
  for (let k = 0; k < connector.length; k++) h = monthHashStep(h, connector.charCodeAt(k));
  if (MONTH_BY_HASH.has(h * 16 + connector.length)) throw new Error(`month hash clash: ${connector}`);
}

function isMonthLetter(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 0xc0 && c < 0x250);
}

/** Characters read for context before a date and after it. */
const BEFORE = 60;
const AFTER = 24;

function findDates(re: RegExp, text: string, out: number[], threshold: number, byName: boolean): void {
  re.lastIndex = 0;
  // The windows of successive dates overlap and move forward: one sliding window reads each character once.
  const st: SlidingContext = newSlidingContext();
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    if (!plausibleMatch(m[0])) continue;
    const start = m.index;
    const end = start + m[0].length;
    const ctx = slideContext(text, Math.max(0, start - BEFORE), Math.min(text.length, end + AFTER), DOB_CONTEXT, st);
    let score = DATE_SCORE;
    if ((ctx & POSITIVE) !== 0 || byName) score += BIRTH_BOOST;
    if ((ctx & NEGATIVE) !== 0) score -= ORG_PENALTY;
    if (score >= threshold) out.push(start, end);
  }
}

export const dateOfBirth: Detector = {
  name: 'date_of_birth',
  description: 'date of birth (a date with a birth context: field name or nearby word, 7 languages)',
  threshold: DEFAULT_THRESHOLD,
  // A date has 5+ digits; without a field name, a birth word needs letters (a bare number column skips the scan).
  applies: (s, hint) => s.digits >= 5 && (hint !== undefined || s.length - s.digits >= 3),
  find: (text, out, hint, threshold = DEFAULT_THRESHOLD) => {
    const byName = hint !== undefined && DOB_CONTEXT.hint.test(hint);
    // Without a birth word or field name, a date scores DATE_SCORE at most.
    if (DATE_SCORE < threshold && !byName && !ANY_BIRTH_WORD.test(text)) return;
    now = Date.now();
    findDates(DATE_NUMBER, text, out, threshold, byName);
    findDates(DATE_MONTH, text, out, threshold, byName);
    // The two scans each report in order; the engine sorts hits by position.
  },
};
