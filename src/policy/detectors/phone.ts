/**
 * `phone`: telephone numbers, validated with libphonenumber's metadata (`libphonenumber-js`, max metadata: the
 * number ranges of every region, not only their lengths).
 *
 * The hot path is a hand-written pre-scan, linear in the text: it walks runs of phone characters (digits, one
 * separator ` .-/` between them, parentheses, a leading `+`) that stand apart from words, and keeps those with
 * 7 to 17 digits. Only those reach libphonenumber:
 * - international form (`+44 20 7946 0958`, `0033 1 42 68 53 00`): a valid number scores 0.75, a possible one
 *   (a calling code, and a length and shape of one of its regions: `+1 415 555 0134`) 0.5;
 * - national form (`06 12 34 56 78`, `030 1234567`, `(415) 555-2671`): tried in the regions of NATIONAL_REGIONS
 *   whose national lengths fit the digit count; valid in one scores 0.55 when written with separators, 0.3 as a
 *   bare run of digits (an id, an amount, a timestamp as often as a phone number); the grouped shapes dgf
 *   accepted before (`555-123-4567`, `020 7946 0958`) keep 0.5 even where no region calls them valid;
 * - vanity numbers (`1-800-FLOWERS`): the letters read as keypad digits, 0.6.
 * Context (context.ts) then adds 0.35 for a phone word nearby or a phone field name, and takes 0.4 off for a
 * word or symbol that says quantity, amount, SIM card or tracking number (`+12 345 678 EUR`). Runs glued to
 * letters (IBAN and tracking groups), runs of more than 17 digits (ICCIDs, tracking numbers), dates, SSNs,
 * IPv4 addresses and version strings are never candidates.
 */
import { getCountries, getCountryCallingCode, Metadata, parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';
import { afterIbanGroups, contextSliding, CONTEXT_BOOST, CONTEXT_PENALTY, NEGATIVE, newSlidingContext, POSITIVE, wordSet, type ContextWords, type SlidingContext } from './context.js';
import { DEFAULT_THRESHOLD, type Detector } from './types.js';

/**
 * Regions a national-form number is tried in, most common first: Europe, the Americas, and the largest other
 * markets. A number in the national form of a region not listed is missed unless written internationally.
 */
export const NATIONAL_REGIONS: readonly CountryCode[] = [
  'US', 'GB', 'FR', 'DE', 'ES', 'IT', 'NL', 'BE', 'PT', 'CH', 'AT', 'IE', 'LU', 'SE', 'NO', 'DK', 'FI', 'IS', 'PL', 'CZ', 'SK', 'HU',
  'RO', 'BG', 'GR', 'HR', 'SI', 'RS', 'EE', 'LV', 'LT', 'MT', 'CY', 'UA', 'TR', 'MX', 'BR', 'AR', 'CL', 'CO', 'PE', 'VE', 'UY', 'PY',
  'BO', 'EC', 'CR', 'PA', 'GT', 'DO', 'CA', 'AU', 'NZ', 'IN', 'ZA', 'JP', 'KR', 'SG', 'IL', 'AE',
];

/** A region's numbering plan as the quick test needs it: its national number lengths and general pattern. */
interface Plan {
  region: CountryCode;
  /** Bit n set: n-digit national (significant) numbers are possible. */
  lengths: number;
  /** libphonenumber's general national number pattern of the region, anchored. */
  pattern: RegExp;
}

/** Plans of every region by calling code (`44` -> GB, GG, IM, JE), and of the national-form regions in order. */
const PLANS_BY_CODE = new Map<string, Plan[]>();
const NATIONAL_PLANS: Plan[] = [];
{
  const md = new Metadata();
  const byRegion = new Map<string, Plan>();
  for (const region of getCountries()) {
    md.selectNumberingPlan(region);
    // nationalNumberPattern is in the metadata class but not in its type declarations.
    const plan = md.numberingPlan as unknown as { possibleLengths(): number[] | undefined; nationalNumberPattern(): string } | undefined;
    if (plan === undefined) continue;
    const code = getCountryCallingCode(region);
    let lengths = 0;
    for (const len of plan.possibleLengths() ?? []) lengths |= 1 << len;
    const p: Plan = { region, lengths, pattern: new RegExp(`^(?:${plan.nationalNumberPattern()})$`) };
    byRegion.set(region, p);
    const list = PLANS_BY_CODE.get(code) ?? [];
    list.push(p);
    PLANS_BY_CODE.set(code, list);
  }
  for (const r of NATIONAL_REGIONS) {
    const p = byRegion.get(r);
    if (p) NATIONAL_PLANS.push(p);
  }
}

/**
 * Whether `nsn` (digits) fits the plan's lengths and general pattern, or does after dropping a trunk '0'. A
 * regex test on a string of at most 17 digits: the cheap half of validation, run before libphonenumber's full
 * parse (which costs 20 us), and in place of it once a value has used up its parse budget.
 */
function fitsPlan(p: Plan, nsn: string): boolean {
  if ((p.lengths & (1 << nsn.length)) !== 0 && p.pattern.test(nsn)) return true;
  return nsn.charCodeAt(0) === 48 && (p.lengths & (1 << (nsn.length - 1))) !== 0 && p.pattern.test(nsn.slice(1));
}

/**
 * Full libphonenumber parses left for the current `find` call. A value made of thousands of phone-like numbers
 * (a log, an export) would otherwise cost 20 us each; past the budget, a number that fits a region's general
 * pattern is taken as valid (masked rather than missed: the safe side for a masking proxy).
 */
let parseBudget = 0;
const PARSE_BUDGET = 64;

/** Whether libphonenumber calls `text` (in `region`'s national form, or international) a valid number. */
function validFull(text: string, region: CountryCode | undefined): boolean {
  if (parseBudget <= 0) return true;
  parseBudget--;
  const p = parsePhoneNumberFromString(text, region);
  return p !== undefined && p.isValid();
}

const PHONE_CONTEXT: ContextWords = {
  positive: wordSet(
    'phone phones telephone tel tele mobile mob cell cellphone fax call calls called calling ring whatsapp sms contact hotline landline dial ext',
    'téléphone tél portable appeler joindre', 'telefon handy rufnummer anrufen mobil festnetz', 'teléfono móvil celular llamar tfno',
    'telefono cellulare chiamare cell', 'telefoon mobiel bellen', 'telefone celular ligar telemóvel',
  ),
  negative: wordSet(
    'eur usd gbp chf jpy cad aud brl mxn inr units unit pcs pieces items kg g km lb qty quantity total amount balance price sum',
    'iccid imei sim tracking waybill shipment parcel serial sku version build isbn iban account',
    'zip postal postcode part model oid fedex ups usps dhl',
    'montant prix quantité', 'betrag preis menge', 'importe precio cantidad', 'importo prezzo quantità', 'bedrag prijs aantal', 'valor preço quantidade',
  ),
  hint: /phone|mobile|cell|tel|fax/i,
};

const INTERNATIONAL_VALID = 0.75;
const INTERNATIONAL_POSSIBLE = 0.5;
const NATIONAL_GROUPED = 0.6;
const NATIONAL_VALID = 0.5;
const OLD_SHAPE = 0.5;
const BARE = 0.3;
const VANITY = 0.6;

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** `\w` (ASCII) or any letter beyond ASCII: a run glued to either is part of a word or a code. */
function isWordish(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || c === 95 || (c >= 0xc0 && c < 0x2000);
}

/** ` .-/` */
function isSep(c: number): boolean {
  return c === 32 || c === 46 || c === 45 || c === 47;
}

/**
 * End of the run of phone characters from `i` (a '+', '(' or digit): digits, parentheses, and a separator only
 * between a digit or ')' and a digit or '('. Reads each character once.
 */
function runEnd(text: string, i: number, n: number): number {
  let j = i;
  if (text.charCodeAt(j) === 43) j++;
  while (j < n) {
    const c = text.charCodeAt(j);
    if (isDigit(c)) {
      j++;
    } else if (c === 40 && j + 1 < n && isDigit(text.charCodeAt(j + 1))) {
      j++; // '(' only before a digit
    } else if (c === 41 && j > i && isDigit(text.charCodeAt(j - 1))) {
      j++; // ')' only after a digit
    } else if (isSep(c) && j + 2 < n && j > i) {
      const d = text.charCodeAt(j + 1);
      const p = text.charCodeAt(j - 1);
      if ((isDigit(d) || (d === 40 && isDigit(text.charCodeAt(j + 2)))) && (isDigit(p) || p === 41)) j += 2;
      else break;
    } else {
      break;
    }
  }
  // A trailing ')' without its '(' in the run is punctuation, not part of the number.
  if (j > i && text.charCodeAt(j - 1) === 41 && !hasOpen(text, i, j)) j--;
  return j;
}

function hasOpen(text: string, i: number, j: number): boolean {
  for (let k = i; k < j; k++) if (text.charCodeAt(k) === 40) return true;
  return false;
}

/** Results of validateRun, memoized by run text: the same number recurs in a batch of values (bounded; cleared when full). */
const memo = new Map<string, number>();
const MEMO_MAX = 4096;

/**
 * Shapes that are never phone numbers, though made of phone characters: dates, SSNs, ZIP+4 codes, IPv4
 * addresses, versions and OIDs (dotted, with a group of 5+ digits or 4+ groups of one digit), card-style groups.
 * Linear: anchored, and every alternative reads the run once.
 */
const NOT_PHONE_SHAPE =
  /^(?:\d{1,2}[./-]\d{1,2}[./-]\d{2,4}(?: \d{1,2})?|\d{4}[./-]\d{1,2}[./-]\d{1,2}(?: \d{1,2})?|\d{3}([- ])\d{2}\1\d{4}|\d{5}-\d{4}|\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}|(?=[\d.]*\.)(?:\d+\.)*\d{5,}(?:\.\d+)*|(?:\d\.){3,}\d+(?:\.\d+)*|\d{4}[ -]\d{6}[ -]\d{4,5})$/;

function groupCount(r: string): number {
  return (r.match(/\d+/g) ?? []).length;
}

/** Whether `a` and `b` group their digits alike (the same lengths of digit runs, whatever the separators). */
function sameGroups(a: string, b: string): boolean {
  const ga = a.match(/\d+/g) ?? [];
  const gb = b.match(/\d+/g) ?? [];
  if (ga.length !== gb.length) return false;
  for (let k = 0; k < ga.length; k++) if (ga[k]!.length !== gb[k]!.length) return false;
  return true;
}
/** The shapes dgf took for phone numbers before it used libphonenumber (kept: fictional 555 numbers are common in data). */
const OLD_NATIONAL = /^(?:\(\d{2,5}\)[ .-]?\d{3,4}[ .-]?\d{3,4}|\d{3}[.-]\d{3}[.-]\d{4}|0\d{2,4}[ -]\d{3,4}[ -]?\d{3,4}|\d{3} \d{3} \d{4})$/;

/** Score of the run `r` (with `digits` digits) before context, or 0 when it is no phone number. */
function validateRun(r: string, digits: number): number {
  const c0 = r.charCodeAt(0);
  const all = r.replace(NON_DIGITS, '');
  if (c0 === 43 || (c0 === 48 && r.charCodeAt(1) === 48 && digits >= 10)) {
    const intl = c0 === 43 ? all : all.slice(2);
    if (intl.charCodeAt(0) === 48) return 0; // no country calling code starts with 0
    for (let len = 1; len <= 3; len++) {
      const plans = PLANS_BY_CODE.get(intl.slice(0, len));
      if (plans === undefined) continue;
      const nsn = intl.slice(len);
      for (const p of plans) if (fitsPlan(p, nsn)) return validFull(`+${intl}`, undefined) ? INTERNATIONAL_VALID : INTERNATIONAL_POSSIBLE;
      return 0; // a calling code, but no number of its regions has this length and shape
    }
    return 0;
  }
  const first0 = c0 === 48 || (c0 === 40 && r.charCodeAt(1) === 48);
  // National numbers have at most 12 digits (13 with a trunk 0): longer runs are card, account or tracking numbers.
  if (digits > (first0 ? 13 : 12) || NOT_PHONE_SHAPE.test(r)) return 0;
  const formatted = digits !== r.length;
  let best = 0;
  for (const p of NATIONAL_PLANS) {
    const nsn = p.region === 'US' && digits === 11 && c0 === 49 ? all.slice(1) : all;
    if (!fitsPlan(p, nsn) || !validFull(r, p.region)) continue;
    if (!formatted) return BARE;
    // Written as some region writes its numbers (the same digit groups), or long enough to be unlikely anything
    // else. Two groups (`5220 5568`) are as much a code's as a phone number's: the region's grouping counts from three.
    if ((digits >= 9 || first0 || groupCount(r) >= 3) && sameGroups(r, nationalFormat(r, p.region))) return NATIONAL_GROUPED;
    best = Math.max(best, digits >= 9 || first0 ? NATIONAL_VALID : BARE);
  }
  if (OLD_NATIONAL.test(r)) best = Math.max(best, OLD_SHAPE);
  return best > 0 ? best : !formatted && digits >= 10 ? BARE : 0;
}

const NON_DIGITS = /\D/g;

/** libphonenumber's national format of `r` in `region` ('' when it cannot parse it; `r` itself past the parse budget). */
function nationalFormat(r: string, region: CountryCode): string {
  if (parseBudget <= 0) return r;
  parseBudget--;
  return parsePhoneNumberFromString(r, region)?.formatNational() ?? '';
}

function memoScore(r: string, digits: number): number {
  let s = memo.get(r);
  if (s === undefined) {
    s = validateRun(r, digits);
    if (memo.size >= MEMO_MAX) memo.clear();
    memo.set(r, s);
  }
  return s;
}

/** A currency symbol within a few characters after the run or just before it: an amount, not a number to call. */
function currencyNear(text: string, start: number, end: number): boolean {
  for (let i = end; i < Math.min(text.length, end + 8); i++) if (isCurrency(text.charCodeAt(i))) return true;
  for (let i = Math.max(0, start - 3); i < start; i++) if (isCurrency(text.charCodeAt(i))) return true;
  return false;
}

function isCurrency(c: number): boolean {
  return c === 36 || c === 0x20ac || c === 0xa3 || c === 0xa5 || c === 0x20b9 || c === 0x20bd;
}

/** Keypad digit of each upper-case letter. */
const KEYPAD = '22233344455566677778889999';

/**
 * Vanity numbers of the North American toll-free codes (`1-800-FLOWERS`, `1-877-KARS-4-KIDS`). Linear: an
 * attempt reads at most 40 characters (bounded groups, each followed by '-' or the end test).
 */
const VANITY_RE = /(?<![\w-])(?:1[ -]?)?(?:\(8(?:00|33|44|55|66|77|88)\)|8(?:00|33|44|55|66|77|88))[ -](?=[A-Z0-9-]{0,20}[A-Z])[A-Z0-9]{1,10}(?:-[A-Z0-9]{1,10}){0,3}(?![\w-])/g;

/** vanityOk through the run memo (a vanity number holds letters, a run never does: the keys cannot clash). */
function vanityMemo(m: string): boolean {
  const key = m;
  let ok = memo.get(key);
  if (ok === undefined) {
    ok = vanityOk(m) ? 1 : 0;
    if (memo.size >= MEMO_MAX) memo.clear();
    memo.set(key, ok);
  }
  return ok === 1;
}

function vanityOk(m: string): boolean {
  let chars = m.replace(/[^A-Z0-9]/g, '');
  if (chars.charCodeAt(0) === 49) chars = chars.slice(1);
  if (chars.length < 10 || chars.length > 13 || !/[A-Z].*[A-Z].*[A-Z]/.test(chars)) return false;
  // Extra letters after the tenth are allowed (1-800-CONTACTS): the keypad number is the first ten.
  const digits = chars.slice(0, 10).replace(/[A-Z]/g, (ch) => KEYPAD[ch.charCodeAt(0) - 65]!);
  return validFull(`+1${digits}`, undefined);
}

/** Whether the candidate's score with context reaches `threshold` (candidates in order: one sliding window). */
function passes(base: number, threshold: number, text: string, start: number, end: number, hint: string | undefined, st: SlidingContext): boolean {
  const ctx = contextSliding(text, start, end, PHONE_CONTEXT, st);
  let score = base;
  if ((ctx & POSITIVE) !== 0 || (hint !== undefined && PHONE_CONTEXT.hint.test(hint))) score += CONTEXT_BOOST;
  if (((ctx & NEGATIVE) !== 0 && (ctx & POSITIVE) === 0) || currencyNear(text, start, end)) score -= CONTEXT_PENALTY;
  return score >= threshold;
}

/**
 * Whether some positive phone word is anywhere in the text (whole word, any case): read once per `find` call,
 * lazily, so that a value packed with candidates that need a positive word and have none nearby (there is none
 * at all) reads no window per candidate. Linear: literals only.
 */
const ANY_PHONE_WORD = new RegExp(`(?<![A-Za-z\\u00C0-\\u024F])(?:${[...PHONE_CONTEXT.positive].sort((a, b) => b.length - a.length).join('|')})(?![A-Za-z\\u00C0-\\u024F])`, 'i');
let anyPhoneWord = -1; // -1: not read yet for this call; 0 or 1

function findPhones(text: string, out: number[], hint: string | undefined, threshold: number): void {
  parseBudget = PARSE_BUDGET;
  anyPhoneWord = -1;
  const named = hint !== undefined && PHONE_CONTEXT.hint.test(hint);
  const st = newSlidingContext();
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (!(isDigit(c) || c === 43 || c === 40)) {
      i++;
      continue;
    }
    const e = runEnd(text, i, n);
    if (e <= i) {
      i++;
      continue;
    }
    const start = i;
    i = e; // runs never overlap: the scan resumes after this one
    if (e - start < 7) continue; // fewer than 7 characters hold fewer than 7 digits (most runs in `1:1:1:...`)
    const prev = start > 0 ? text.charCodeAt(start - 1) : 32;
    // Glued to a word or to a number (`DE89...`, `x1234`, `1,234 567`, `C++11`, `ORD-2024-584813`), or signed
    // (`-68 042 835`): not a phone number.
    if (isWordish(prev) || prev === 43 || prev === 45 || prev === 0x2212 || prev === 47 || prev === 46 || (prev === 44 && start >= 2 && isDigit(text.charCodeAt(start - 2)))) continue;
    if (e < n && (isWordish(text.charCodeAt(e)) || text.charCodeAt(e) === 43)) continue;
    // A time follows (`2024-03-05 10:00`): the run is a date and an hour.
    if (e + 1 < n && text.charCodeAt(e) === 58 && isDigit(text.charCodeAt(e + 1))) continue;
    // Digits, and the shortest digit group after the first: numbers written with dots group their digits by
    // two or more (`01.42.68.53.00`, `555.123.4567`); a one-digit group between dots is a version or an OID.
    let digits = 0;
    let dots = false;
    let group = 0;
    let shortGroup = false;
    let groups = 0;
    for (let k = start; k < e; k++) {
      const d = text.charCodeAt(k);
      if (isDigit(d)) {
        digits++;
        group++;
      } else {
        if (d === 46) dots = true;
        if (group > 0 && ++groups > 1 && group < 2) shortGroup = true;
        group = 0;
      }
    }
    if (group > 0 && ++groups > 1 && group < 2) shortGroup = true;
    if (digits < 7 || digits > 17 || (dots && shortGroup)) continue;
    if (afterIbanGroups(text, start)) continue;
    const base = memoScore(text.slice(start, e), digits);
    if (base === 0 || base + CONTEXT_BOOST < threshold) continue;
    if (base < threshold && !named) {
      if (anyPhoneWord < 0) anyPhoneWord = ANY_PHONE_WORD.test(text) ? 1 : 0;
      if (anyPhoneWord === 0) continue;
    }
    if (passes(base, threshold, text, start, e, hint, st)) out.push(start, e);
  }
}

function findVanity(text: string, out: number[], hint: string | undefined, threshold: number): void {
  parseBudget = Math.max(parseBudget, PARSE_BUDGET / 4);
  VANITY_RE.lastIndex = 0;
  const st = newSlidingContext();
  let m: RegExpExecArray | null;
  while ((m = VANITY_RE.exec(text)) !== null) {
    // A vanity number is no amount or code: it needs no negative window, only a positive one above its score.
    if (vanityMemo(m[0]) && (VANITY >= threshold || passes(VANITY, threshold, text, m.index, m.index + m[0].length, hint, st))) out.push(m.index, m.index + m[0].length);
  }
}

export const phone: Detector = {
  name: 'phone',
  description: 'telephone number (libphonenumber: international, national forms of 60 regions, vanity; context-scored)',
  threshold: DEFAULT_THRESHOLD,
  applies: (s) => s.digits >= 7 || (s.digits >= 4 && s.upper >= 3),
  find: (text, out, hint, threshold = DEFAULT_THRESHOLD) => {
    findPhones(text, out, hint, threshold);
    if (text.indexOf('8') >= 0) findVanity(text, out, hint, threshold);
  },
};
