/**
 * Reading libpg-query's JSON parse trees: a node is `{ NodeType: { ...fields } }`. Shared by statement analysis
 * (analyze.ts) and lineage (lineage.ts).
 */

/** A parse-tree node as JSON: `{ NodeType: { ...fields } }`. */
export type PgNode = Record<string, unknown>;
/** The fields of a node. */
export type Fields = Record<string, unknown>;

/** The one key of a node object and its fields; null for anything else. */
export function unwrap(node: unknown): [string, Fields] | null {
  if (node === null || typeof node !== 'object' || Array.isArray(node)) return null;
  for (const key in node as PgNode) {
    const value = (node as PgNode)[key];
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) return [key, value as Fields];
    return null;
  }
  return null;
}

/** Names from a list of String nodes (`[{String:{sval}}]`); other nodes are skipped. */
export function stringList(items: unknown): string[] {
  const out: string[] = [];
  if (!Array.isArray(items)) return out;
  for (const item of items) {
    const u = unwrap(item);
    if (u && u[0] === 'String' && typeof u[1]['sval'] === 'string') out.push(u[1]['sval']);
  }
  return out;
}
