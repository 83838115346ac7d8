/**
 * `dgf scan` for MongoDB: every user database and collection of the upstream, `$sample` of documents, each
 * field path classified by its name and by its sampled string values.
 */
import type { Document } from 'mongodb';
import type { InventoryRow, ListenerScanner } from '../../src/listener.js';
import type { CompiledPolicy } from '../../src/policy/types.js';
import { Upstream } from './upstream/client.js';

const SYSTEM_DBS = new Set(['admin', 'local', 'config']);
const MAX_FIELDS = 2000;

interface FieldStat {
  nameLabels: Set<string>;
  valueLabels: Set<string>;
  sampled: number;
}

function walk(policy: CompiledPolicy, value: unknown, path: string, out: Map<string, FieldStat>, depth: number): void {
  if (depth > 20) return;
  if (Array.isArray(value)) {
    for (const v of value) walk(policy, v, path, out, depth + 1);
    return;
  }
  if (value && typeof value === 'object' && !(value as { _bsontype?: unknown })._bsontype && !(value instanceof Date) && !(value instanceof Uint8Array)) {
    for (const [k, v] of Object.entries(value as Document)) walk(policy, v, path ? `${path}.${k}` : k, out, depth + 1);
    return;
  }
  if (!path) return;
  let stat = out.get(path);
  if (!stat) {
    if (out.size >= MAX_FIELDS) return;
    stat = { nameLabels: new Set(policy.labelsForName(path)), valueLabels: new Set(), sampled: 0 };
    out.set(path, stat);
  }
  stat.sampled++;
  if (typeof value === 'string') for (const f of policy.findEntities(value)) stat.valueLabels.add(f.label);
}

export const scan: ListenerScanner = async (config, policy, sample) => {
  const upstream = new Upstream(config.upstream, `dgf-scan/${config.name}`);
  const rows: InventoryRow[] = [];
  try {
    await upstream.connect();
    const client = upstream.client;
    const dbs = await client.db('admin').command({ listDatabases: 1, nameOnly: true });
    for (const { name: dbName } of (dbs.databases ?? []) as Array<{ name: string }>) {
      if (SYSTEM_DBS.has(dbName)) continue;
      const db = client.db(dbName);
      const collections = await db.listCollections({}, { nameOnly: true }).toArray();
      for (const { name: coll } of collections) {
        if (coll.startsWith('system.')) continue;
        const fields = new Map<string, FieldStat>();
        const docs = await db
          .collection(coll)
          .aggregate([{ $sample: { size: sample } }])
          .toArray()
          .catch(() => db.collection(coll).find({}).limit(sample).toArray());
        for (const d of docs) walk(policy, d, '', fields, 0);
        for (const [field, s] of fields) {
          const labels = [...new Set([...s.nameLabels, ...s.valueLabels])];
          if (labels.length === 0) continue;
          const source = s.nameLabels.size > 0 && s.valueLabels.size > 0 ? 'both' : s.nameLabels.size > 0 ? 'name' : 'value';
          rows.push({ object: `${dbName}.${coll}`, field, labels, source, sampled: s.sampled });
        }
      }
    }
  } finally {
    await upstream.close();
  }
  return rows;
};
