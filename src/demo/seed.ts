/**
 * Sample data for the demo: customers, orders and patients that look real to every detector (Luhn-valid card
 * numbers, SSNs that follow the area/group/serial rules, Luhn-valid NPIs) but are fake. Generated from a fixed
 * seed, so every demo run shows the same rows.
 */

/** Luhn-valid payment card numbers published by card networks and processors for testing: no real account. */
const TEST_CARDS = [
  '4111111111111111',
  '5555555555554444',
  '4012888888881881',
  '378282246310005',
  '6011111111111117',
  '5105105105105100',
  '4242424242424242',
  '371449635398431',
  '5200828282828210',
  '4000056655665556',
];

const FIRST = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Frances', 'Ken', 'Margaret', 'Linus', 'Radia', 'Dennis', 'Hedy', 'John', 'Katherine', 'Niklaus', 'Sophie', 'Tim', 'Lynn', 'Whitfield'];
const LAST = ['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Allen', 'Thompson', 'Hamilton', 'Torvalds', 'Perlman', 'Ritchie', 'Lamarr', 'McCarthy', 'Johnson', 'Wirth', 'Wilson', 'Berners-Lee', 'Conway', 'Diffie'];
const DOMAINS = ['example.com', 'example.org', 'example.net', 'mail.example.com'];
const STATUSES = ['pending', 'paid', 'paid', 'paid', 'shipped', 'shipped', 'refunded'];
const DIAGNOSES = [
  'Type 2 diabetes mellitus without complications (E11.9)',
  'Essential (primary) hypertension (I10)',
  'Asthma, mild intermittent (J45.20)',
  'Major depressive disorder, single episode (F32.9)',
  'Hyperlipidemia, unspecified (E78.5)',
  'Migraine without aura (G43.009)',
  'Hypothyroidism, unspecified (E03.9)',
  'Chronic kidney disease, stage 3 (N18.30)',
];
const MEDICATIONS = ['Metformin 500 mg', 'Lisinopril 10 mg', 'Albuterol inhaler', 'Sertraline 50 mg', 'Atorvastatin 20 mg', 'Sumatriptan 50 mg', 'Levothyroxine 75 mcg', 'Losartan 25 mg'];
const INSURERS = ['Acme Health PPO', 'Northwind Care HMO', 'Contoso Medical EPO', 'Fabrikam Mutual PPO'];

/** A small deterministic PRNG (mulberry32): the demo shows the same data on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function luhnCheckDigit(digits: string): number {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 0) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return (10 - (sum % 10)) % 10;
}

/** A 10-digit NPI: Luhn over the '80840' prefix plus the first nine digits, as CMS defines it. */
function fakeNpi(rand: () => number): string {
  const body = `1${String(Math.floor(rand() * 1e8)).padStart(8, '0')}`;
  return body + String(luhnCheckDigit(`80840${body}`));
}

/** An SSN that passes the area/group/serial rules (area not 000, 666 or 9xx; group not 00; serial not 0000). */
function fakeSsn(rand: () => number): string {
  let area = 100 + Math.floor(rand() * 565);
  if (area === 666) area = 667;
  const group = 1 + Math.floor(rand() * 99);
  const serial = 1 + Math.floor(rand() * 9999);
  return `${area}-${String(group).padStart(2, '0')}-${String(serial).padStart(4, '0')}`;
}

/** A US number in the 555-01xx block reserved for fiction. */
function fakePhone(rand: () => number): string {
  const area = [202, 212, 312, 415, 617, 713][Math.floor(rand() * 6)]!;
  return `+1 ${area} 555 01${String(Math.floor(rand() * 100)).padStart(2, '0')}`;
}

function pick<T>(rand: () => number, list: readonly T[]): T {
  return list[Math.floor(rand() * list.length)]!;
}

function sql(value: string | number | null): string {
  if (value === null) return 'NULL';
  if (typeof value === 'number') return String(value);
  return `'${value.replace(/'/g, "''")}'`;
}

/** Row counts of the demo tables. */
export const DEMO_ROWS = { customers: 200, orders: 800, patients: 120 } as const;

/** The schema and data of the demo database, as one SQL script. */
export function demoSeedSql(): string {
  const rand = prng(20261124);
  const parts: string[] = [
    `create table customers (
  id integer primary key,
  full_name text not null,
  email text not null,
  phone text,
  ssn text,
  card_number text,
  date_of_birth date,
  balance numeric(12,2) not null default 0,
  notes text,
  profile jsonb
);`,
    `create table orders (
  id integer primary key,
  customer_id integer not null references customers(id),
  amount numeric(10,2) not null,
  status text not null,
  created_at timestamptz not null
);`,
    `create table patients (
  id integer primary key,
  patient_id text not null unique,
  full_name text not null,
  diagnosis text,
  medication text,
  insurance text,
  provider_id text
);`,
  ];

  const customers: string[] = [];
  for (let id = 1; id <= DEMO_ROWS.customers; id++) {
    const first = pick(rand, FIRST);
    const last = pick(rand, LAST);
    const email = `${first}.${last}${id}@${pick(rand, DOMAINS)}`.toLowerCase().replace(/[^a-z0-9.@-]/g, '');
    const card = TEST_CARDS[id % TEST_CARDS.length]!;
    const year = 1950 + Math.floor(rand() * 54);
    const dob = `${year}-${String(1 + Math.floor(rand() * 12)).padStart(2, '0')}-${String(1 + Math.floor(rand() * 28)).padStart(2, '0')}`;
    const balance = (Math.floor(rand() * 2_000_000) / 100).toFixed(2);
    // Now and then a card number or an e-mail hides in free text: only value detectors find those.
    let notes: string | null;
    const r = rand();
    if (r < 0.15) notes = `Customer called about a charge on card ${card.replace(/(\d{4})(?=\d)/g, '$1 ')}; refund issued.`;
    else if (r < 0.3) notes = `Prefers to be contacted at ${first.toLowerCase()}.backup${id}@example.org after 5pm.`;
    else if (r < 0.4) notes = null;
    else notes = pick(rand, ['Loyal customer since 2019.', 'Asked for paper invoices.', 'VIP: handle with care.', 'Moved to the annual plan.']);
    const profile = JSON.stringify({
      tier: pick(rand, ['bronze', 'silver', 'gold']),
      newsletter: rand() < 0.5,
      contact: { email, secondary: rand() < 0.3 ? `${last.toLowerCase()}.${id}@example.net` : null },
      tags: [pick(rand, ['retail', 'wholesale', 'partner'])],
    });
    customers.push(
      `(${id}, ${sql(`${first} ${last}`)}, ${sql(email)}, ${sql(fakePhone(rand))}, ${sql(fakeSsn(rand))}, ${sql(card)}, ${sql(dob)}, ${balance}, ${sql(notes)}, ${sql(profile)})`,
    );
  }
  parts.push(`insert into customers (id, full_name, email, phone, ssn, card_number, date_of_birth, balance, notes, profile) values\n${customers.join(',\n')};`);

  const orders: string[] = [];
  const start = Date.UTC(2025, 0, 1);
  for (let id = 1; id <= DEMO_ROWS.orders; id++) {
    const customer = 1 + Math.floor(rand() * DEMO_ROWS.customers);
    const amount = (5 + Math.floor(rand() * 99_500) / 100).toFixed(2);
    const created = new Date(start + Math.floor(rand() * 690 * 86_400_000)).toISOString();
    orders.push(`(${id}, ${customer}, ${amount}, ${sql(pick(rand, STATUSES))}, ${sql(created)})`);
  }
  parts.push(`insert into orders (id, customer_id, amount, status, created_at) values\n${orders.join(',\n')};`);

  const patients: string[] = [];
  for (let id = 1; id <= DEMO_ROWS.patients; id++) {
    const name = `${pick(rand, FIRST)} ${pick(rand, LAST)}`;
    const insurance = `${pick(rand, INSURERS)} #${String(Math.floor(rand() * 1e9)).padStart(9, '0')}`;
    patients.push(
      `(${id}, ${sql(`P-${String(100000 + id)}`)}, ${sql(name)}, ${sql(pick(rand, DIAGNOSES))}, ${sql(pick(rand, MEDICATIONS))}, ${sql(insurance)}, ${sql(fakeNpi(rand))})`,
    );
  }
  parts.push(`insert into patients (id, patient_id, full_name, diagnosis, medication, insurance, provider_id) values\n${patients.join(',\n')};`);
  parts.push('analyze;');
  return parts.join('\n\n');
}
