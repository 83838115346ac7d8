/** `payment_card`: 12-19 digit card numbers (separators space or dash) with a known network prefix and a valid Luhn digit. */
import { cardNetwork, luhnValid } from './checksums.js';
import { digitsOf, findAll, type Detector } from './types.js';

const CARD = /(?<![\w-])\d(?:[ -]?\d){11,18}(?![\w]|-\d)/g;

/** Whether a compact digit string is a plausible card number. */
export function cardValid(d: string): boolean {
  return d.length >= 12 && d.length <= 19 && cardNetwork(d) !== null && luhnValid(d);
}

function cardMatchValid(m: string): boolean {
  return cardValid(digitsOf(m));
}

export const paymentCard: Detector = {
  name: 'payment_card',
  description: 'payment card number (network prefix + Luhn)',
  applies: (s) => s.digits >= 12,
  find: (text, out) => findAll(CARD, text, out, cardMatchValid),
};
