/**
 * `fake`: a deterministic, realistic stand-in of the same kind, seeded by a keyed HMAC of the clear value
 * (same input -> same fake, so joins keep working; the clear value cannot be recovered).
 */
import { IBAN_LENGTHS, ibanCheckDigits, luhnCheckDigit } from '../detectors/checksums.js';
import type { Keyring } from './keyring.js';

const FIRST = ['Alex', 'Maria', 'James', 'Sofia', 'Liam', 'Emma', 'Noah', 'Olivia', 'Lucas', 'Mia', 'Ethan', 'Ava', 'Leo', 'Chloe', 'Omar', 'Nora', 'Ivan', 'Zoe', 'Hugo', 'Lena'];
const LAST = ['Smith', 'Garcia', 'Müller', 'Rossi', 'Dubois', 'Novak', 'Silva', 'Jensen', 'Kowalski', 'Brown', 'Tanaka', 'Kim', 'Nguyen', 'Patel', 'Cohen', 'Haddad', 'Larsen', 'Moreau', 'Costa', 'Weber'];
const STREETS = ['Oak Street', 'Maple Avenue', 'High Street', 'Station Road', 'Park Lane', 'Mill Road', 'Church Street', 'Elm Drive'];
const DOMAINS = ['example.com', 'example.org', 'example.net'];

/** Kinds of realistic values `fake` knows; anything else gets a shape-preserving substitution. */
export type FakeKind = 'email' | 'phone' | 'card' | 'ssn' | 'iban' | 'ipv4' | 'ipv6' | 'date' | 'first_name' | 'last_name' | 'name' | 'address' | 'generic';

/** Map a detector name or label to the kind of fake value to produce. */
export function fakeKindOf(hint: string | undefined): FakeKind {
  if (!hint) return 'generic';
  const h = hint.toLowerCase();
  if (h.includes('email')) return 'email';
  if (h.includes('phone') || h.includes('mobile')) return 'phone';
  if (h.includes('card') || h.endsWith('.pan')) return 'card';
  if (h.includes('ssn') || h.includes('social')) return 'ssn';
  if (h.includes('iban')) return 'iban';
  if (h.includes('ipv6')) return 'ipv6';
  if (h.includes('ip')) return 'ipv4';
  if (h.includes('dob') || h.includes('birth') || h.includes('date')) return 'date';
  if (h.includes('first_name')) return 'first_name';
  if (h.includes('last_name') || h.includes('surname')) return 'last_name';
  if (h.includes('name')) return 'name';
  if (h.includes('address') || h.includes('street')) return 'address';
  return 'generic';
}

class Rng {
  private i = 0;
  constructor(private readonly bytes: Buffer) {}
  next(n: number): number {
    const b = this.bytes;
    const v = (b[this.i % 32]! << 8) | b[(this.i + 1) % 32]!;
    this.i += 2;
    return v % n;
  }
}

/** Replace digits with digits and letters with letters of the same case, keeping everything else. */
export function shapeSubstitute(s: string, rng: { next(n: number): number }, nonZeroFirst = false): string {
  let out = '';
  let firstDigit = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      out += String(firstDigit && nonZeroFirst ? 1 + rng.next(9) : rng.next(10));
      firstDigit = false;
    } else if (c >= 97 && c <= 122) out += String.fromCharCode(97 + rng.next(26));
    else if (c >= 65 && c <= 90) out += String.fromCharCode(65 + rng.next(26));
    else out += s[i];
  }
  return out;
}

function pad(n: number, w: number): string {
  return String(n).padStart(w, '0');
}

/** A fake value of `kind` for the clear text `s`. */
export function fakeText(s: string, kind: FakeKind, keys: Keyring): string {
  const rng = new Rng(keys.seed(`${kind}|${s}`));
  switch (kind) {
    case 'email': {
      const first = FIRST[rng.next(FIRST.length)]!.toLowerCase();
      const last = LAST[rng.next(LAST.length)]!.toLowerCase().replace('ü', 'u');
      return `${first}.${last}${rng.next(1000)}@${DOMAINS[rng.next(DOMAINS.length)]}`;
    }
    case 'first_name':
      return FIRST[rng.next(FIRST.length)]!;
    case 'last_name':
      return LAST[rng.next(LAST.length)]!;
    case 'name':
      return `${FIRST[rng.next(FIRST.length)]} ${LAST[rng.next(LAST.length)]}`;
    case 'address':
      return `${1 + rng.next(999)} ${STREETS[rng.next(STREETS.length)]}`;
    case 'phone':
      return shapeSubstitute(s, rng, true);
    case 'card': {
      // Same length and separators; a Visa prefix and a valid Luhn digit so downstream validators accept it.
      const digits = s.replace(/\D/g, '');
      if (digits.length < 12) return shapeSubstitute(s, rng);
      let payload = '4';
      while (payload.length < digits.length - 1) payload += String(rng.next(10));
      const card = payload + luhnCheckDigit(payload);
      let k = 0;
      return s.replace(/\d/g, () => card[k++]!);
    }
    case 'ssn': {
      const ssn = pad(100 + rng.next(565), 3) + pad(1 + rng.next(99), 2) + pad(1 + rng.next(9999), 4);
      let k = 0;
      return /^\d{3}([- ]?)\d{2}\1\d{4}$/.test(s) ? s.replace(/\d/g, () => ssn[k++]!) : shapeSubstitute(s, rng);
    }
    case 'iban': {
      const compact = s.replace(/ /g, '');
      const country = compact.slice(0, 2).toUpperCase();
      if (IBAN_LENGTHS[country] === undefined) return shapeSubstitute(s, rng);
      const bban = shapeSubstitute(compact.slice(4), rng).toUpperCase();
      const iban = country + ibanCheckDigits(country, bban) + bban;
      if (s.includes(' ')) return iban.replace(/(.{4})(?=.)/g, '$1 ');
      return iban;
    }
    case 'ipv4':
      return `10.${rng.next(256)}.${rng.next(256)}.${1 + rng.next(254)}`;
    case 'ipv6':
      return `2001:db8::${rng.next(65536).toString(16)}:${rng.next(65536).toString(16)}`;
    case 'date': {
      const m = /^(\d{4})-(\d{2})-(\d{2})/.exec(s);
      const y = 1940 + rng.next(66);
      const mo = 1 + rng.next(12);
      const d = 1 + rng.next(28);
      if (m) return `${y}-${pad(mo, 2)}-${pad(d, 2)}` + s.slice(10).replace(/\d/g, '0');
      return shapeSubstitute(s, rng);
    }
    default:
      return shapeSubstitute(s, rng);
  }
}

/** Deterministic pseudo-random digits for fake/hash numbers. */
export function fakeRng(keys: Keyring, data: string): { next(n: number): number } {
  return new Rng(keys.seed(data));
}
