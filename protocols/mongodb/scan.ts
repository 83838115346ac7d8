/** `dgf scan` for MongoDB: every collection of the URL's database (or all user databases), sampled documents. */
import { MongoClient } from 'mongodb';
import type { ListenerScanner } from '../../src/listener.js';
import { ScanAccumulator } from '../../src/governance/scan-accumulator.js';

const SYSTEM_DBS = new Set(['admin', 'local', 'config']);

export const scan: ListenerScanner = async (config, policy, sample) => {
  const client = new MongoClient(config.upstream.url!, { appName: 'dgf-scan', serverSelectionTimeoutMS: 10_000 });
  await client.connect();
  try {
    const acc = new ScanAccumulator(policy);
    const named = new URL(config.upstream.url!.replace(/^mongodb\+srv:/, 'mongodb:')).pathname.slice(1);
    const dbs = named ? [named] : (await client.db('admin').admin().listDatabases()).databases.map((d) => d.name).filter((n) => !SYSTEM_DBS.has(n));
    for (const dbName of dbs) {
      const db = client.db(dbName);
      for (const { name } of await db.listCollections({}, { nameOnly: true }).toArray()) {
        if (name.startsWith('system.')) continue;
        const docs = await db.collection(name).find({}, { limit: sample }).toArray();
        for (const doc of docs) for (const [k, v] of Object.entries(doc)) acc.value(`${dbName}.${name}`, k, v);
      }
    }
    return acc.rows();
  } finally {
    await client.close();
  }
};
