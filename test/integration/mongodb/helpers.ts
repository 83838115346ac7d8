/** Shared setup of the MongoDB integration tests: dgf in front of CongoDB (or a scripted upstream). */
import { MongoClient } from 'mongodb';
import { startDgf, type TestDgf } from '../../helpers/dgf.js';

export const CONGO_URL = 'mongodb://127.0.0.1:57017/';
export const PASSWORD = 'dgf-test-pw';

export const ROLES = [
  { match: { user: 'analyst' }, role: 'analyst' },
  { match: { user: 'dpo' }, role: 'dpo' },
  { match: { user: 'admin' }, role: 'admin' },
];

export const USERS = ['analyst', 'dpo', 'admin', 'app'].map((name) => ({ name, password: PASSWORD }));

export interface MongoDgf {
  dgf: TestDgf;
  port: number;
  /** `mongodb://user:pw@127.0.0.1:<port>/app`: the connection string applications use, no options. */
  url(user: string, db?: string): string;
  stop(): Promise<void>;
}

export async function startMongoDgf(opts: { upstreamUrl?: string; listener?: Record<string, unknown>; extra?: Record<string, unknown> } = {}): Promise<MongoDgf> {
  const dgf = await startDgf({
    listeners: [
      {
        name: 'mongo',
        protocol: 'mongodb',
        listen: '127.0.0.1:0',
        upstream: { url: opts.upstreamUrl ?? CONGO_URL },
        users: USERS,
        ...opts.listener,
      },
    ],
    roles: ROLES,
    ...opts.extra,
  });
  const port = dgf.listener('mongo').address.port;
  return {
    dgf,
    port,
    url: (user, db = 'app') => `mongodb://${user}:${PASSWORD}@127.0.0.1:${port}/${db}`,
    stop: () => dgf.stop(),
  };
}

/** A client straight to CongoDB, to check what really happened upstream. */
export function direct(): MongoClient {
  return new MongoClient(CONGO_URL, { directConnection: true, serverSelectionTimeoutMS: 5000 });
}

/** A collection name unique to one test run, so test files can run side by side. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6).toString(36)}`;
}
