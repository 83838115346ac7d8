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
import type { Detector } from './types.js';

export type { Detector, TextStats } from './types.js';
export { textStats } from './types.js';

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
