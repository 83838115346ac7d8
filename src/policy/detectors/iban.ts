/** `iban`: International Bank Account Numbers, compact or in groups of four, with the country length table and mod-97. */
import { ibanValid } from './checksums.js';
import { findAll, type Detector } from './types.js';

const IBAN = /(?<![\w])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?!\w)/g;

function ibanMatchValid(m: string): boolean {
  return ibanValid(m.replace(/ /g, ''));
}

export const iban: Detector = {
  name: 'iban',
  description: 'IBAN (country length + mod-97)',
  applies: (s) => s.upper >= 2 && s.digits >= 6 && s.length >= 15,
  find: (text, out) => findAll(IBAN, text, out, ibanMatchValid),
};
