/** Health identifiers: `uk_nhs` (NHS number, mod 11) and `us_npi` (National Provider Identifier, Luhn with 80840). */
import { newSlidingContext, passesWithContext, wordSet, type ContextWords } from './context.js';
import { DEFAULT_THRESHOLD, type Detector } from './types.js';

/**
 * Both linear: fixed-length shapes, one attempt reads at most 13 characters. Run with `test` and checked in
 * place, each in its own loop (one call site per check, which the compiler inlines): building the match and its
 * digit string, and a shared loop calling the checks through parameters, cost more than the regex on a value
 * packed with number-like groups that fail the check (100 000 a megabyte).
 */
const NHS = /(?<![\w+(-])\d{3}([ -]?)\d{3}\1\d{4}(?![\w]|-\d)/g;
const NPI = /(?<![\w+-])[12]\d{9}(?!\w|-\d)/g;

/**
 * NHS mod 11 (as `nhsValid`) over the ten digits of text[start, end) (`ddd?ddd?dddd`: the separators, if any,
 * are at start + 3 and start + 7), written out: on a value packed with ten-digit numbers this runs 100 000
 * times a megabyte, and the loop with its separator test cost as much as the regex.
 */
function nhsValidAt(text: string, start: number, end: number): boolean {
  const w = end - start === 12 ? 1 : 0;
  const s2 = start + 3 + w;
  const s3 = start + 6 + 2 * w;
  const sum =
    (text.charCodeAt(start) - 48) * 10 + (text.charCodeAt(start + 1) - 48) * 9 + (text.charCodeAt(start + 2) - 48) * 8 +
    (text.charCodeAt(s2) - 48) * 7 + (text.charCodeAt(s2 + 1) - 48) * 6 + (text.charCodeAt(s2 + 2) - 48) * 5 +
    (text.charCodeAt(s3) - 48) * 4 + (text.charCodeAt(s3 + 1) - 48) * 3 + (text.charCodeAt(s3 + 2) - 48) * 2;
  let check = 11 - (sum % 11);
  if (check === 11) check = 0;
  return check !== 10 && check === text.charCodeAt(end - 1) - 48;
}

/** Luhn weight of the prefix 80840 in front of ten digits (positions 15..11 from the right): 8 + 0*2 + 8 + 4*2 + 0. */
const NPI_PREFIX_SUM = 24;

/** Luhn's doubled digit: 2d, minus 9 when that is two digits. */
const DOUBLED = [0, 2, 4, 6, 8, 1, 3, 5, 7, 9];

/** `npiValid` (Luhn over `80840` + the ten digits of text[start, end)), written out for the same reason. */
function npiValidAt(text: string, start: number): boolean {
  const sum =
    NPI_PREFIX_SUM +
    DOUBLED[text.charCodeAt(start) - 48]! + (text.charCodeAt(start + 1) - 48) +
    DOUBLED[text.charCodeAt(start + 2) - 48]! + (text.charCodeAt(start + 3) - 48) +
    DOUBLED[text.charCodeAt(start + 4) - 48]! + (text.charCodeAt(start + 5) - 48) +
    DOUBLED[text.charCodeAt(start + 6) - 48]! + (text.charCodeAt(start + 7) - 48) +
    DOUBLED[text.charCodeAt(start + 8) - 48]! + (text.charCodeAt(start + 9) - 48);
  return sum % 10 === 0;
}

/**
 * Context of NHS numbers (context.ts): one in eleven ten-digit numbers passes mod 11, so a phone number, a
 * timestamp or a waybill number next to a word saying so is not reported (0.5 - 0.4); an NHS word raises it.
 */
const NHS_CONTEXT: ContextWords = {
  positive: wordSet('nhs chi hcn patient health hospital gp nhsno'),
  negative: wordSet(
    'phone telephone tel mobile cell fax call contact whatsapp telefon téléphone teléfono telefono telefoon telefone',
    'ts timestamp epoch unix created updated tracking waybill shipment parcel fedex ups usps dhl',
  ),
  hint: /nhs|chi_?n|health/i,
};
const NHS_SCORE = 0.5;

function findNhs(text: string, out: number[], hint: string | undefined, threshold: number): void {
  NHS.lastIndex = 0;
  const st = newSlidingContext(); // candidates come in order: one sliding context window reads each character once
  while (NHS.test(text)) {
    const end = NHS.lastIndex;
    // `ddd ddd dddd` (a separator 5 before the end) or ten digits.
    const c = text.charCodeAt(end - 5);
    const start = c === 32 || c === 45 ? end - 12 : end - 10;
    if (nhsValidAt(text, start, end) && passesWithContext(NHS_SCORE, threshold, text, start, end, hint, NHS_CONTEXT, st)) out.push(start, end);
  }
}

function findNpi(text: string, out: number[]): void {
  NPI.lastIndex = 0;
  while (NPI.test(text)) {
    const end = NPI.lastIndex;
    if (npiValidAt(text, end - 10)) out.push(end - 10, end);
  }
}

export const ukNhs: Detector = {
  name: 'uk_nhs',
  description: 'UK NHS number (mod 11; phone/timestamp context lowers it)',
  threshold: DEFAULT_THRESHOLD,
  applies: (s) => s.digits >= 10,
  find: (text, out, hint, threshold = DEFAULT_THRESHOLD) => findNhs(text, out, hint, threshold),
};

export const usNpi: Detector = {
  name: 'us_npi',
  description: 'US National Provider Identifier (Luhn with prefix 80840)',
  applies: (s) => s.digits >= 10,
  find: (text, out) => findNpi(text, out),
};
