/** `payment_card`: 12-19 digit card numbers (separators space or dash) with a known network prefix and a valid Luhn digit. */
import { cardNetworkOf, luhnValid } from './checksums.js';
import { findAll, type Detector } from './types.js';

/**
 * Linear: one attempt reads at most 19 digits and 18 separators, and backs off over at most 8 group counts,
 * each tested in one step (`[ -]?\d` can match a character one way only).
 */
const CARD = /(?<![\w-])\d(?:[ -]?\d){11,18}(?![\w]|-\d)/g;

/** Whether a compact digit string is a plausible card number. */
export function cardValid(d: string): boolean {
  return d.length >= 12 && d.length <= 19 && cardNetworkOf(Number(d.slice(0, 6)), d.length) !== null && luhnValid(d);
}

/**
 * `cardValid` of the match's digits, read in place: building the digit string cost more than the regex on a
 * value packed with card-like groups (a 1 MB one held 50 000).
 */
function cardMatchValid(m: string): boolean {
  let count = 0;
  let p6 = 0;
  for (let i = 0; i < m.length; i++) {
    const c = m.charCodeAt(i);
    if (c < 48 || c > 57) continue;
    if (count < 6) p6 = p6 * 10 + (c - 48);
    count++;
  }
  return count >= 12 && count <= 19 && cardNetworkOf(p6, count) !== null && luhnValid(m);
}

export const paymentCard: Detector = {
  name: 'payment_card',
  description: 'payment card number (network prefix + Luhn)',
  applies: (s) => s.digits >= 12,
  find: (text, out) => findAll(CARD, text, out, cardMatchValid),
};
