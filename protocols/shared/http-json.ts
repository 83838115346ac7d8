/**
 * JSON glue shared by the HTTP protocols: classify a written document (labels by field path and by value,
 * for the inventory and the audit record) and mask a parsed JSON body for a role.
 */
import type { CompiledPolicy, MaskStats } from '../../src/policy/types.js';

/** Fields found labelled in a document: dotted path (array indices dropped) -> labels. */
export interface Classification {
  fields: Array<{ name: string; labels: string[] }>;
  labels: Set<string>;
}

/** Stop walking a document after this many leaves: classification is a sample, never a denial of service. */
const MAX_LEAVES = 10_000;
const MAX_DEPTH = 64;

/** Walk `doc` and collect labels by path name and by string value. `prefix` roots the paths (patch ops). */
export function classifyDocument(policy: CompiledPolicy, doc: unknown, into?: Classification, prefix = ''): Classification {
  const result: Classification = into ?? { fields: [], labels: new Set() };
  const byName = new Map<string, Set<string>>();
  for (const f of result.fields) byName.set(f.name, new Set(f.labels));
  let leaves = 0;
  const add = (path: string, labels: Iterable<string>): void => {
    let set = byName.get(path);
    for (const l of labels) {
      if (!set) byName.set(path, (set = new Set()));
      set.add(l);
      result.labels.add(l);
    }
  };
  const walk = (value: unknown, path: string, depth: number): void => {
    if (leaves >= MAX_LEAVES || depth > MAX_DEPTH) return;
    if (Array.isArray(value)) {
      for (const v of value) walk(v, path, depth + 1);
      return;
    }
    if (value !== null && typeof value === 'object') {
      for (const key of Object.keys(value)) {
        // Cosmos system properties carry no user data.
        if (depth === 0 && key.startsWith('_')) continue;
        const child = path ? `${path}.${key}` : key;
        const nameLabels = policy.labelsForName(child);
        if (nameLabels.length > 0) add(child, nameLabels);
        walk((value as Record<string, unknown>)[key], child, depth + 1);
      }
      return;
    }
    leaves++;
    if (typeof value === 'string' && value.length >= 5 && path) {
      const found = policy.findEntities(value);
      if (found.length > 0) add(path, found.map((f) => f.label));
    }
  };
  walk(doc, prefix, 0);
  result.fields = [...byName].map(([name, labels]) => ({ name, labels: [...labels] }));
  return result;
}

/**
 * Mask a parsed JSON value for `role`. Returns the same value (===) when nothing had to change, so the caller
 * can forward the original bytes.
 */
export function maskJson(policy: CompiledPolicy, role: string, value: unknown, stats: MaskStats, object: string): unknown {
  return policy.maskDocument(role, value, stats, object);
}

/** Parse JSON text from a Buffer; undefined when it is not JSON. */
export function parseJsonBuffer(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}
