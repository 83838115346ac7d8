/** Check-digit algorithms used by the value detectors and by the `fake` mask (which must produce valid values). */

/** Luhn (mod 10) over the ASCII digits of a string; other characters (separators) are skipped. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let dbl = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) continue;
    if (dbl) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    dbl = !dbl;
  }
  return sum % 10 === 0;
}

/** The Luhn check digit to append to `payload` (ASCII digits). */
export function luhnCheckDigit(payload: string): number {
  for (let d = 0; d < 10; d++) if (luhnValid(payload + d)) return d;
  return 0;
}

/** ISO 7064 mod 97-10 over an alphanumeric string (letters A=10..Z=35), as used by IBAN. */
export function mod97(s: string): number {
  let rem = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) rem = (rem * 10 + (c - 48)) % 97;
    else if (c >= 65 && c <= 90) rem = (rem * 100 + (c - 55)) % 97;
    else return -1;
  }
  return rem;
}

/** IBAN validity of a compact (no spaces, upper-case) string: country length and mod-97 == 1. */
export function ibanValid(compact: string): boolean {
  const len = IBAN_LENGTHS[compact.slice(0, 2)];
  if (len === undefined || compact.length !== len) return false;
  return mod97(compact.slice(4) + compact.slice(0, 4)) === 1;
}

/** IBAN check digits ("02".."98") for a country code and BBAN. */
export function ibanCheckDigits(country: string, bban: string): string {
  const check = 98 - mod97(bban + country + '00');
  return check < 10 ? `0${check}` : String(check);
}

/** NHS number (10 digits) mod 11 check. */
export function nhsValid(digits: string): boolean {
  if (digits.length !== 10) return false;
  let sum = 0;
  for (let i = 0; i < 9; i++) sum += (digits.charCodeAt(i) - 48) * (10 - i);
  let check = 11 - (sum % 11);
  if (check === 11) check = 0;
  if (check === 10) return false;
  return check === digits.charCodeAt(9) - 48;
}

/** US NPI (10 digits): Luhn over the number prefixed with the card issuer prefix 80840. */
export function npiValid(digits: string): boolean {
  if (digits.length !== 10) return false;
  const first = digits.charCodeAt(0);
  if (first !== 49 && first !== 50) return false; // NPIs start with 1 or 2
  return luhnValid('80840' + digits);
}

/** Card network by prefix and length (Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay). */
export function cardNetwork(digits: string): string | null {
  // Every network needs 13 digits or more, so a shorter string has none.
  return digits.length < 13 ? null : cardNetworkOf(Number(digits.slice(0, 6)), digits.length);
}

/**
 * `cardNetwork` of an `n`-digit number whose first six digits are `p6` (as a number), so a scanner can test a
 * candidate in place without building its digit string.
 */
export function cardNetworkOf(p6: number, n: number): string | null {
  const p2 = Math.floor(p6 / 10000);
  const p3 = Math.floor(p6 / 1000);
  const p4 = Math.floor(p6 / 100);
  if (p6 >= 400000 && p6 < 500000) return n === 13 || n === 16 || n === 19 ? 'visa' : null;
  if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return n === 16 ? 'mastercard' : null;
  if (p2 === 34 || p2 === 37) return n === 15 ? 'amex' : null;
  if (p4 === 6011 || (p3 >= 644 && p3 <= 649) || p2 === 65 || (p6 >= 622126 && p6 <= 622925)) return n >= 16 && n <= 19 ? 'discover' : null;
  if (p4 >= 3528 && p4 <= 3589) return n >= 16 && n <= 19 ? 'jcb' : null;
  if ((p3 >= 300 && p3 <= 305) || p2 === 36 || p2 === 38 || p2 === 39) return n >= 14 && n <= 19 ? 'diners' : null;
  if (p2 === 62) return n >= 16 && n <= 19 ? 'unionpay' : null;
  return null;
}

/** Country code -> IBAN length (SWIFT IBAN registry). */
export const IBAN_LENGTHS: Readonly<Record<string, number>> = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BI: 27, BR: 29, BY: 28, CH: 21, CR: 22,
  CY: 28, CZ: 24, DE: 22, DJ: 27, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18, FK: 18, FO: 18, FR: 27, GB: 22,
  GE: 22, GI: 23, GL: 18, GR: 27, GT: 28, HR: 21, HU: 28, IE: 22, IL: 23, IQ: 23, IS: 26, IT: 27, JO: 30, KW: 30,
  KZ: 20, LB: 28, LC: 32, LI: 21, LT: 20, LU: 20, LV: 21, LY: 25, MC: 27, MD: 24, ME: 22, MK: 19, MN: 20, MR: 27,
  MT: 31, MU: 30, NI: 28, NL: 18, NO: 15, OM: 23, PK: 24, PL: 28, PS: 29, PT: 25, QA: 29, RO: 24, RS: 22, RU: 33,
  SA: 24, SC: 31, SD: 18, SE: 24, SI: 19, SK: 24, SM: 27, SO: 23, ST: 25, SV: 28, TL: 23, TN: 24, TR: 26, UA: 29,
  VA: 22, VG: 24, XK: 20, YE: 30,
};
