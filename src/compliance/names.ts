/**
 * Field-name patterns of the product brief and how a field name is matched against them: case-, snake- and
 * camel-insensitively, "contains"-style (`customerEmail`, `EMAIL_ADDRESS`, `billing-zip-code` all match).
 * Patterns of three letters or fewer (`ssn`, `tax`) must be a whole word of the name, so `classname` is not an SSN.
 */

/** Personal data (GDPR-001). */
export const PERSONAL_PATTERNS = [
  'email', 'phone', 'ssn', 'social_security', 'passport', 'license', 'first_name', 'last_name', 'full_name',
  'address', 'zip_code', 'birth_date', 'date_of_birth', 'credit_card', 'bank_account',
] as const;

/** Protected health information (HIPAA-001, HIPAA-002). */
export const PHI_PATTERNS = [
  'patient_id', 'medical_record', 'diagnosis', 'treatment', 'medication', 'insurance', 'provider_id', 'health_plan',
  'prescription',
] as const;

/** Financial data (SOX-001, SOX-002). The brief names no list; these are the usual ledger/payment field names. */
export const FINANCIAL_PATTERNS = [
  'amount', 'balance', 'salary', 'payroll', 'revenue', 'income', 'expense', 'profit', 'invoice', 'payment',
  'transaction', 'ledger', 'account_number', 'bank_account', 'routing_number', 'iban', 'credit_card', 'card_number',
  'price', 'cost', 'tax',
] as const;

/** Words of a name: `customerFirstName` / `customer_first_name` / `Customer-First-Name` -> customer, first, name. */
export function nameWords(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
}

interface Compiled {
  pattern: string;
  joined: string;
  short: boolean;
}

function compile(patterns: readonly string[]): Compiled[] {
  return patterns.map((p) => {
    const joined = nameWords(p).join('');
    return { pattern: p, joined, short: joined.length <= 3 };
  });
}

const personal = compile(PERSONAL_PATTERNS);
const phi = compile(PHI_PATTERNS);
const financial = compile(FINANCIAL_PATTERNS);

function matchOne(list: Compiled[], name: string): string | null {
  const words = nameWords(name);
  const joined = words.join('');
  for (const c of list) {
    if (c.short ? words.includes(c.joined) : joined.includes(c.joined)) return c.pattern;
  }
  return null;
}

/** The brief's pattern a field name matches, or null. */
export const personalPattern = (name: string): string | null => matchOne(personal, name);
export const phiPattern = (name: string): string | null => matchOne(phi, name);
export const financialPattern = (name: string): string | null => matchOne(financial, name);

/** Look a field up in a map keyed by field name, exactly first, then by normalized name. */
export function lookupField<T>(map: Record<string, T> | undefined, field: string): T | undefined {
  if (!map) return undefined;
  if (Object.prototype.hasOwnProperty.call(map, field)) return map[field];
  const want = nameWords(field).join('');
  for (const [k, v] of Object.entries(map)) if (nameWords(k).join('') === want) return v;
  return undefined;
}
