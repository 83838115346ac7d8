/**
 * `payment_card`: 12-19 digit card numbers (separators space or dash) with a valid Luhn digit and an issuer
 * range of the maintained `credit-card-type` table (Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay,
 * Maestro, Mir, Elo, Troy, Verve, Hiper, Hipercard, Naranja), plus the issuers it lacks (RuPay, Dankort) and the
 * ranges dgf recognized before (cardNetworkOf). Scored: a valid number scores 0.8; a nearby word that says
 * what else it is (order, tracking, IMEI, ISBN, ...) lowers it under the default threshold, a card word raises it.
 */
import creditCardType from 'credit-card-type';
import { cardNetworkOf, luhnValid } from './checksums.js';
import { afterIbanGroups, newSlidingContext, passesWithContext, wordSet, type ContextWords } from './context.js';
import { DEFAULT_THRESHOLD, type Detector } from './types.js';

/**
 * Linear: one attempt reads at most 19 digits and 18 separators, and backs off over at most 8 group counts,
 * each tested in one step (`[ -]?\d` can match a character one way only).
 */
const CARD = /(?<![\w-])\d(?:[ -]?\d){11,18}(?![\w]|-\d)/g;

/** One issuer range: numbers whose first `digits` digits lie in [lo, hi], with a length bit set in `lengths`. */
interface IssuerRange {
  digits: number;
  lo: number;
  hi: number;
  /** Bit n set: n-digit numbers. */
  lengths: number;
}

/** Issuer ranges by the first digit of their numbers (a range 5018-5020 under 5; a range spanning digits under each). */
const RANGES: IssuerRange[][] = Array.from({ length: 10 }, () => []);
function addRange(pattern: number | [number, number], lengths: readonly number[]): void {
  const [lo, hi] = typeof pattern === 'number' ? [pattern, pattern] : pattern;
  let mask = 0;
  for (const n of lengths) mask |= 1 << n;
  const digits = String(lo).length;
  const range = { digits, lo, hi, lengths: mask };
  const first = Math.floor(lo / 10 ** (digits - 1));
  const last = Math.floor(hi / 10 ** (String(hi).length - 1));
  for (let d = first; d <= last; d++) RANGES[d]!.push(range);
}
for (const type of Object.values(creditCardType.types)) {
  const info = creditCardType.getTypeInfo(type);
  for (const p of info.patterns) addRange(p as number | [number, number], info.lengths);
}
// Issuers credit-card-type does not list (their public IIN ranges): RuPay, Dankort.
for (const p of [60, 652, 508, 81, 82, 353, 356]) addRange(p, [16]);
addRange(5019, [16]);

const POW10 = [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000];

/** Whether an `n`-digit number whose first eight digits are `p8` (as a number) has a known issuer. */
function issuerOf(p8: number, n: number): boolean {
  if (cardNetworkOf(Math.floor(p8 / 100), n) !== null) return true;
  const bit = 1 << n;
  for (const r of RANGES[Math.floor(p8 / 10000000)]!) {
    if ((r.lengths & bit) === 0) continue;
    const p = Math.floor(p8 / POW10[8 - r.digits]!);
    if (p >= r.lo && p <= r.hi) return true;
  }
  return false;
}

/** Whether a compact digit string is a plausible card number. */
export function cardValid(d: string): boolean {
  return d.length >= 12 && d.length <= 19 && luhnValid(d) && issuerOf(Number(d.slice(0, 8).padEnd(8, '0')), d.length);
}

/**
 * `cardValid` of the match's digits, read in place: building the digit string cost more than the regex on a
 * value packed with card-like groups (a 1 MB one held 50 000).
 */
function cardMatchValid(m: string): boolean {
  let count = 0;
  let p8 = 0;
  for (let i = 0; i < m.length; i++) {
    const c = m.charCodeAt(i);
    if (c < 48 || c > 57) continue;
    if (count < 8) p8 = p8 * 10 + (c - 48);
    count++;
  }
  return count >= 12 && count <= 19 && luhnValid(m) && issuerOf(p8, count);
}

/** Score of a number with a valid Luhn digit and a known issuer, before context. */
const BASE_SCORE = 0.8;

const CARD_CONTEXT: ContextWords = {
  positive: wordSet(
    'card cards credit debit visa mastercard amex maestro jcb discover unionpay mir rupay elo troy verve dankort diners pan cc ccn cvv expiry exp',
    'carte bancaire cb paiement', 'karte kreditkarte kartennummer', 'tarjeta crédito débito', 'carta credito', 'kaart creditcard betaalpas', 'cartão crédito',
  ),
  negative: wordSet(
    // Only identifiers that have their own number formats: a card number after "order" is still masked.
    'tracking imei iccid isbn ean gtin upc waybill barcode fedex ups usps dhl iban sku',
  ),
  hint: /card|pan\b|^cc|credit|debit/i,
};

function findCards(text: string, out: number[], hint: string | undefined, threshold: number): void {
  CARD.lastIndex = 0;
  const st = newSlidingContext(); // candidates come in order: one sliding context window reads each character once
  let m: RegExpExecArray | null;
  while ((m = CARD.exec(text)) !== null) {
    const s = m[0];
    if (!cardMatchValid(s)) continue;
    const start = m.index;
    if (afterIbanGroups(text, start)) continue;
    const end = start + s.length;
    if (passesWithContext(BASE_SCORE, threshold, text, start, end, hint, CARD_CONTEXT, st)) out.push(start, end);
  }
}

export const paymentCard: Detector = {
  name: 'payment_card',
  description: 'payment card number (issuer range + Luhn; context lowers order/tracking/IMEI numbers)',
  threshold: DEFAULT_THRESHOLD,
  applies: (s) => s.digits >= 12,
  find: (text, out, hint, threshold = DEFAULT_THRESHOLD) => findCards(text, out, hint, threshold),
};
