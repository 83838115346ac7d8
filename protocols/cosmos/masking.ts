/**
 * Masking of Cosmos response bodies by shape: one document, a feed page (query results including
 * `SELECT VALUE` scalars and aggregates, read feeds, change feed pages) and batch answers. Each document goes
 * through `maskDocument` (by JSON path and by value, type-preserving); system properties stay intact.
 */
import type { CompiledPolicy, MaskStats } from '../../src/policy/types.js';
import type { CosmosBodyShape } from './request.js';

/** Feed pages name their item array after the resource type. */
const FEED_KEYS = ['Documents', 'Conflicts'];

export interface MaskOutcome {
  /** The masked body, === the input when nothing changed. */
  body: unknown;
  /** Items returned (documents or scalars), for the audit record. */
  rows: number;
}

function maskOne(policy: CompiledPolicy, role: string, doc: unknown, stats: MaskStats, object: string): unknown {
  return policy.maskDocument(role, doc, stats, object);
}

/** Mask a parsed response body of `shape` for `role`. */
export function maskCosmosBody(
  shape: CosmosBodyShape,
  body: unknown,
  policy: CompiledPolicy,
  role: string,
  stats: MaskStats,
  object: string,
): MaskOutcome {
  if (shape === 'document') {
    return { body: maskOne(policy, role, body, stats, object), rows: 1 };
  }
  if (shape === 'feed' && body !== null && typeof body === 'object' && !Array.isArray(body)) {
    const page = body as Record<string, unknown>;
    for (const key of FEED_KEYS) {
      const items = page[key];
      if (!Array.isArray(items)) continue;
      let changed: unknown[] | null = null;
      for (let i = 0; i < items.length; i++) {
        const masked = maskOne(policy, role, items[i], stats, object);
        if (masked !== items[i]) {
          changed ??= items.slice();
          changed[i] = masked;
        }
      }
      return { body: changed ? { ...page, [key]: changed } : body, rows: items.length };
    }
    return { body, rows: 0 };
  }
  if (shape === 'batch' && Array.isArray(body)) {
    let changed: unknown[] | null = null;
    for (let i = 0; i < body.length; i++) {
      const entry = body[i] as Record<string, unknown> | null;
      if (entry === null || typeof entry !== 'object' || entry.resourceBody === undefined) continue;
      const masked = maskOne(policy, role, entry.resourceBody, stats, object);
      if (masked !== entry.resourceBody) {
        changed ??= body.slice();
        changed[i] = { ...entry, resourceBody: masked };
      }
    }
    return { body: changed ?? body, rows: body.length };
  }
  return { body, rows: 0 };
}
