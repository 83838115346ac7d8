/** The built-in value detectors, by the name policy files use (`values: payment_card`). */
import { dateOfBirth } from './date-of-birth.js';
import { email } from './email.js';
import { ukNhs, usNpi } from './health.js';
import { iban } from './iban.js';
import { ipv4, ipv6 } from './ip.js';
import { paymentCard } from './payment-card.js';
import { phone } from './phone.js';
import { apiKey, awsAccessKey, jwt } from './secrets.js';
import { usSsn } from './us-ssn.js';
import type { Detector, TextStats } from './types.js';

export type { Detector, TextStats } from './types.js';
export { DEFAULT_THRESHOLD, textStats, textStatsUtf8 } from './types.js';

/**
 * Every built-in detector, in priority order: when two detectors find overlapping spans, the earlier one wins
 * (the more specific checksum beats the looser shape, e.g. a card beats a phone number).
 */
export const DETECTORS: readonly Detector[] = [
  jwt,
  apiKey,
  awsAccessKey,
  email,
  iban,
  paymentCard,
  usSsn,
  usNpi,
  ukNhs,
  ipv6,
  ipv4,
  dateOfBirth,
  phone,
];

/** Names of the built-in value detectors, in SPEC order. */
export const DETECTOR_NAMES: readonly string[] = [
  'email', 'phone', 'us_ssn', 'payment_card', 'iban', 'ipv4', 'ipv6', 'date_of_birth', 'uk_nhs', 'us_npi', 'jwt', 'api_key', 'aws_access_key',
];

const byName = new Map(DETECTORS.map((d) => [d.name, d]));

/** The built-in detector called `name`, if any. */
export function detectorByName(name: string): Detector | undefined {
  return byName.get(name);
}

/** Priority of a detector (lower wins overlaps); custom regex classifiers come after every built-in. */
export function detectorPriority(name: string): number {
  const i = DETECTORS.findIndex((d) => d.name === name);
  return i < 0 ? DETECTORS.length : i;
}

/**
 * A necessary condition for any built-in detector to match (the weakest of their `applies` prefilters, which
 * the detector tests check against every detector): most values (names, words, prose) fail it in a few
 * comparisons, so they are rejected without calling thirteen prefilters or decoding the value at all.
 * - >= 4 digits: ipv4 (the fewest digits of the digit-based detectors: card, ssn, phone, iban, nhs, npi, dob);
 * - '@': email; a '.' and 2 digits: a URL-encoded email (`%40`); two ':': ipv6; a 15-character token run: jwt,
 *   api_key, aws_access_key.
 */
export function anyDetectorMayMatch(s: TextStats): boolean {
  return s.digits >= 4 || s.at > 0 || s.colons >= 2 || s.tokenRun >= 15 || (s.dots > 0 && s.digits >= 2);
}

/**
 * `anyDetectorMayMatch(textStatsUtf8(bytes, start, end))` without building the statistics: stops at the first
 * byte that makes a match possible, and counts only what the test reads (the hot path of wire protocols,
 * which call it on every scanned value before decoding it). The detector tests check both agree.
 */
export function anyDetectorMayMatchUtf8(bytes: Uint8Array, start: number, end: number): boolean {
  let digits = 0;
  let colons = 0;
  let run = 0;
  let dot = false;
  for (let i = start; i < end; i++) {
    const c = bytes[i]!;
    // Lower-case letters and spaces first: they are most of the bytes of prose.
    if (c >= 97) {
      if (c <= 122) {
        if (++run >= 15) return true;
      } else {
        run = 0;
      }
    } else if (c === 32) {
      run = 0;
    } else if (c >= 65 ? c <= 90 || c === 95 : c === 46 || c === 45) {
      if (c === 46) {
        dot = true;
        if (digits >= 2) return true;
      }
      if (++run >= 15) return true;
    } else if (c >= 48 && c <= 57) {
      if (++digits >= 4 || (dot && digits >= 2) || ++run >= 15) return true;
    } else {
      run = 0;
      if (c === 64) return true;
      if (c === 58 && ++colons >= 2) return true;
    }
  }
  return false;
}
