/**
 * `us_ssn`: US Social Security numbers `123-45-6789` / `123 45 6789` with the SSA rules: area not 000, 666 or
 * 900-999; group not 00; serial not 0000. A bare 9-digit run counts only when the field name says ssn.
 */
import { findAll, type Detector } from './types.js';

const DASHED = /(?<![\w-])\d{3}([- ])\d{2}\1\d{4}(?![\w]|-\d)/g;
const BARE = /(?<!\w)\d{9}(?!\w)/g;
const SSN_HINT = /ssn|social/i;

/** SSA validity of the 9 digits (separators removed). */
export function ssnValid(d: string): boolean {
  const area = Number(d.slice(0, 3));
  const group = Number(d.slice(3, 5));
  const serial = Number(d.slice(5));
  return area !== 0 && area !== 666 && area < 900 && group !== 0 && serial !== 0;
}

function dashedSsnValid(m: string): boolean {
  return ssnValid(m.slice(0, 3) + m.slice(4, 6) + m.slice(7));
}

export const usSsn: Detector = {
  name: 'us_ssn',
  description: 'US Social Security number (area/group/serial rules)',
  applies: (s) => s.digits >= 9,
  find: (text, out, hint) => {
    findAll(DASHED, text, out, dashedSsnValid);
    if (hint !== undefined && SSN_HINT.test(hint)) findAll(BARE, text, out, ssnValid);
  },
};
