/**
 * Shared set-up of the Cosmos masking suites: a database seeded DIRECTLY on cosmosdb-server (the "direct
 * connection"), dgf in front of it with a masked role (analyst) and an exempt one (admin), and clients for both.
 */
import https from 'node:https';
import { randomUUID } from 'node:crypto';
import { CosmosClient, type Container } from '@azure/cosmos';
import { startDgf, type TestDgf } from '../../helpers/dgf.js';

const key = (s: string): string => Buffer.from(s.padEnd(32, '#')).toString('base64');
export const REAL_KEY = key('the-real-account-key');
export const USERS = [
  { name: 'admin', key: key('admin-key') },
  { name: 'analyst', key: key('analyst-key') },
];

export interface Patient {
  id: string;
  pk: string;
  full_name: string;
  diagnosis: string;
  ssn: string;
  email: string;
  city: string;
  n: number;
  contact: { email: string; phone: string; city: string };
  tags: Array<{ label: string; diagnosis: string }>;
}

/** Seed documents: every classified value is distinctive, so a window of it in an answer is a leak. */
export function patients(): Patient[] {
  const names = ['Zelda Quarrington', 'Barnaby Wexford', 'Ottoline Pemberley', 'Ignatius Fairweather', 'Marisol Kettering', 'Thaddeus Ravensworth'];
  const diagnoses = ['Hyperthyroidism', 'Sarcoidosis', 'Endometriosis', 'Fibromyalgia', 'Narcolepsy', 'Toxoplasmosis'];
  return names.map((full_name, i) => ({
    id: `p${i}`,
    pk: i % 2 === 0 ? 'north' : 'south',
    full_name,
    diagnosis: diagnoses[i]!,
    ssn: `987-65-43${String(i).padStart(2, '0')}`,
    email: `${full_name.split(' ')[1]!.toLowerCase()}${i}@secretmail.test`,
    city: ['Lisbon', 'Porto', 'Faro'][i % 3]!,
    n: i,
    contact: { email: `alt.${full_name.split(' ')[0]!.toLowerCase()}${i}@othermail.test`, phone: `+1 415 555 01${10 + i}`, city: 'Braga' },
    tags: [
      { label: `tag-${i}`, diagnosis: `Comorbid${diagnoses[(i + 1) % 6]!}` },
      { label: `extra-${i}`, diagnosis: `Secondary${diagnoses[(i + 2) % 6]!}` },
    ],
  }));
}

/** The secret strings of the seed: every classified value, an email's local part without its (kept) domain. */
export function secretsOf(docs: readonly Patient[]): string[] {
  const out: string[] = [];
  for (const d of docs) {
    out.push(d.full_name, d.diagnosis, d.ssn, d.email.split('@')[0]!, d.contact.email.split('@')[0]!, d.contact.phone);
    for (const t of d.tags) out.push(t.diagnosis);
  }
  return out;
}

const WINDOW = 6;

/**
 * Where `answer` shows a clear value of a secret: a window of WINDOW characters of the secret (or of its reverse),
 * case-insensitively, in the JSON text of the answer (JSON escapes removed). Null when there is none.
 */
export function findLeak(answer: unknown, secrets: readonly string[]): string | null {
  const text = JSON.stringify(answer ?? null).replace(/\\"/g, '"').replace(/\\\\/g, '\\').toLowerCase();
  const squashed = text.replace(/[^a-z0-9]/g, '');
  for (const s of secrets) {
    for (const form of [s.toLowerCase(), [...s.toLowerCase()].reverse().join('')]) {
      for (let i = 0; i + WINDOW <= form.length; i++) {
        const w = form.slice(i, i + WINDOW);
        if (text.includes(w)) return `"${w}" of ${s}`;
      }
      const alnum = form.replace(/[^a-z0-9]/g, '');
      for (let i = 0; i + WINDOW + 2 <= alnum.length; i++) {
        const w = alnum.slice(i, i + WINDOW + 2);
        if (/[a-z]/.test(w) && squashed.includes(w)) return `"${w}" of ${s} (punctuation removed)`;
      }
    }
  }
  return null;
}

export interface Fixture {
  dgf: TestDgf;
  dbId: string;
  direct: Container;
  asAnalyst: Container;
  asAdmin: Container;
  docs: Patient[];
  stop(): Promise<void>;
}

export async function startFixture(policyOptions: Record<string, unknown> = {}): Promise<Fixture> {
  const dbId = `dgf-mask-${randomUUID().slice(0, 8)}`;
  const directClient = new CosmosClient({
    endpoint: 'https://127.0.0.1:8081',
    key: REAL_KEY,
    agent: new https.Agent({ rejectUnauthorized: false, keepAlive: true }),
  });
  const { database } = await directClient.databases.createIfNotExists({ id: dbId });
  const { container: direct } = await database.containers.createIfNotExists({ id: 'patients', partitionKey: { paths: ['/pk'] } });
  const docs = patients();
  for (const d of docs) await direct.items.upsert(d);

  const dgf = await startDgf({
    roles: [
      { match: { user: 'analyst' }, role: 'analyst' },
      { match: { user: 'admin' }, role: 'admin' },
    ],
    ...policyOptions,
    listeners: [
      {
        name: 'cosmos',
        protocol: 'cosmos',
        listen: '127.0.0.1:0',
        upstream: { endpoint: 'https://127.0.0.1:8081', key: REAL_KEY, insecureSkipVerify: true },
        users: USERS,
      },
    ],
  });
  const endpoint = `http://127.0.0.1:${dgf.listener('cosmos').address.port}`;
  const through = (user: string): Container =>
    new CosmosClient({ endpoint, key: USERS.find((u) => u.name === user)!.key }).database(dbId).container('patients');
  return {
    dgf,
    dbId,
    direct,
    asAnalyst: through('analyst'),
    asAdmin: through('admin'),
    docs,
    async stop() {
      await dgf.stop();
      await database.delete().catch(() => undefined);
    },
  };
}

/** The SDK error's HTTP status, or null when the call succeeded. */
export async function statusOf(p: Promise<unknown>): Promise<{ status: number | null; value: unknown; message: string }> {
  try {
    const value = await p;
    return { status: null, value, message: '' };
  } catch (err) {
    const e = err as { code?: number; statusCode?: number; message?: string; body?: { message?: string } };
    return { status: e.code ?? e.statusCode ?? -1, value: undefined, message: e.body?.message ?? e.message ?? '' };
  }
}
