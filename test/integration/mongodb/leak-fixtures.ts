/**
 * The seeded data of the MongoDB masking suites (issue #16): people with classified fields of every kind the
 * shipped packs know (e-mail, SSN, card, phone, date of birth, full name, diagnosis, medication; nested and in
 * arrays) and unclassified ones (k, name, dept, age, city, tags) for the ordinary operations.
 */
import type { Db, Document } from 'mongodb';

export const PEOPLE: Document[] = [
  {
    k: 1, name: 'Ada', full_name: 'Adaline Lovelace', email: 'adaline.lovelace@example.com', ssn: '123-45-6789',
    card_number: '4111111111111111', phone: '+14155552671', dob: '1985-07-14', diagnosis: 'Type 2 diabetes mellitus',
    medication: 'Metformin', dept: 'sales', age: 41, contact: { email: 'ada.home@example.org', city: 'Lyon' },
    visits: [{ room: 3, diagnosis: 'Seasonal influenza' }], tags: ['vip', 'north'],
  },
  {
    k: 2, name: 'Bo', full_name: 'Bartholomew Quist', email: 'bartholomew.quist@example.com', ssn: '987-65-4321',
    card_number: '5500005555555559', phone: '+442071838750', dob: '1979-03-22', diagnosis: 'Chronic bronchitis',
    medication: 'Salbutamol', dept: 'ops', age: 47, contact: { email: 'bart.home@example.org', city: 'Nice' },
    visits: [{ room: 5, diagnosis: 'Sprained ankle' }], tags: ['south'],
  },
  {
    k: 3, name: 'Cy', full_name: 'Cyrielle Marchetti', email: 'cyrielle.marchetti@example.com', ssn: '456-12-7890',
    card_number: '340000000000009', phone: '+33142685300', dob: '1992-11-05', diagnosis: 'Migraine with aura',
    medication: 'Sumatriptan', dept: 'sales', age: 34, contact: { email: 'cyri.home@example.org', city: 'Lyon' },
    visits: [{ room: 3, diagnosis: 'Tonsillitis acute' }], tags: ['north'],
  },
  {
    k: 4, name: 'Di', full_name: 'Dmitrios Papadakis', email: 'dmitrios.papadakis@example.com', ssn: '321-54-9876',
    card_number: '6011000990139424', phone: '+12025550143', dob: '1968-06-30', diagnosis: 'Rheumatoid arthritis',
    medication: 'Methotrexate', dept: 'lab', age: 58, contact: { email: 'dmit.home@example.org', city: 'Porto' },
    visits: [], tags: [],
  },
  {
    k: 5, name: 'Ev', full_name: 'Evangelina Thornbury', email: 'evangelina.thornbury@example.com', ssn: '654-32-1098',
    card_number: '3530111333300000', phone: '+61293744000', dob: '2001-09-17', diagnosis: 'Celiac disease',
    medication: 'Levothyroxine', dept: 'ops', age: 24, contact: { email: 'evan.home@example.org', city: 'Nice' },
    visits: [{ room: 7, diagnosis: 'Gastroenteritis viral' }], tags: ['vip'],
  },
  {
    k: 6, name: 'Fu', full_name: 'Fujiwara Kenshiro', email: 'fujiwara.kenshiro@example.com', ssn: '789-01-2345',
    card_number: '4000056655665556', phone: '+81335812101', dob: '1990-02-11', diagnosis: 'Hypertension essential',
    medication: 'Lisinopril', dept: 'lab', age: 36, contact: { email: 'fuji.home@example.org', city: 'Porto' },
    visits: [{ room: 5, diagnosis: 'Conjunctivitis allergic' }], tags: ['north', 'vip'],
  },
];

/** Insert a fresh copy of the people (new objects: the driver adds `_id`s to what it inserts). */
export async function seedPeople(db: Db, coll: string): Promise<void> {
  await db.collection(coll).drop().catch(() => undefined);
  await db.collection(coll).insertMany(PEOPLE.map((p) => structuredClone(p)));
}
