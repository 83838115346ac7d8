/**
 * `phone`: E.164 (`+44 20 7946 0958`, `+15551234567`) and national forms with separators
 * (`(555) 123-4567`, `555-123-4567`, `020 7946 0958`). A bare run of digits is not a phone number (it is more
 * likely an id, an amount or a card), unless the field name says phone.
 */
import { anyMatch, digitsOf, findAll, type Detector } from './types.js';

const E164 = /(?<![\w+])\+[1-9]\d{0,3}(?:[ .-]?\(\d{1,4}\))?(?:[ .-]?\d{1,5}){1,5}(?!\w)/g;
const NATIONAL = /(?<![\w+.-])(?:\(\d{2,5}\)[ .-]?\d{3,4}[ .-]?\d{3,4}|\d{3}[.-]\d{3}[.-]\d{4}|0\d{2,4}[ -]\d{3,4}[ -]?\d{3,4}|\d{3} \d{3} \d{4})(?![\w]|[.-]\d)/g;
const BARE = /(?<![\w+])\d{10,15}(?!\w)/g;
const PHONE_HINT = /phone|mobile|cell|tel|fax/i;

function e164Ok(m: string): boolean {
  const n = digitsOf(m).length;
  return n >= 8 && n <= 15;
}

function nationalOk(m: string): boolean {
  const n = digitsOf(m).length;
  return n >= 9 && n <= 12;
}

export const phone: Detector = {
  name: 'phone',
  description: 'telephone number (E.164 or national form)',
  applies: (s) => s.digits >= 8,
  find: (text, out, hint) => {
    if (text.indexOf('+') >= 0) findAll(E164, text, out, e164Ok);
    findAll(NATIONAL, text, out, nationalOk);
    if (hint !== undefined && PHONE_HINT.test(hint)) findAll(BARE, text, out, anyMatch);
  },
};
