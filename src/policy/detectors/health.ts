/** Health identifiers: `uk_nhs` (NHS number, mod 11) and `us_npi` (National Provider Identifier, Luhn with 80840). */
import { nhsValid, npiValid } from './checksums.js';
import { digitsOf, findAll, type Detector } from './types.js';

const NHS = /(?<![\w+(-])\d{3}([ -]?)\d{3}\1\d{4}(?![\w]|-\d)/g;
const NPI = /(?<![\w+-])[12]\d{9}(?!\w|-\d)/g;

function nhsMatchValid(m: string): boolean {
  return nhsValid(digitsOf(m));
}

export const ukNhs: Detector = {
  name: 'uk_nhs',
  description: 'UK NHS number (mod 11)',
  applies: (s) => s.digits >= 10,
  find: (text, out) => findAll(NHS, text, out, nhsMatchValid),
};

export const usNpi: Detector = {
  name: 'us_npi',
  description: 'US National Provider Identifier (Luhn with prefix 80840)',
  applies: (s) => s.digits >= 10,
  find: (text, out) => findAll(NPI, text, out, npiValid),
};
