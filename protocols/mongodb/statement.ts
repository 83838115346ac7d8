/**
 * The audit statement of a command: its shape with every value replaced by `?`, e.g.
 * `find app.users {email: ?}`. Field names and operators stay (they say what was asked); values never
 * enter the audit trail. Pipeline field references (`'$email'`) are names, so they stay too.
 */

const MAX_LEN = 512;
const MAX_DEPTH = 8;
const MAX_KEYS = 24;

function isPlain(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && (v as { _bsontype?: unknown })._bsontype === undefined && !(v instanceof Date) && !(v instanceof Uint8Array);
}

/** Shape of a filter/update/pipeline value. `refs`: keep `$field` strings (pipelines), not in filters. */
export function shape(value: unknown, refs = false, depth = 0): string {
  if (depth > MAX_DEPTH) return '…';
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    const items = value.slice(0, MAX_KEYS).map((v) => shape(v, refs, depth + 1));
    // Arrays of literals collapse: `{$in: [?]}` says as much as the values' count would leak.
    if (items.every((i) => i === '?')) return '[?]';
    return `[${items.join(', ')}${value.length > MAX_KEYS ? ', …' : ''}]`;
  }
  if (isPlain(value)) {
    const keys = Object.keys(value);
    if (keys.length === 0) return '{}';
    const parts = keys.slice(0, MAX_KEYS).map((k) => `${k}: ${shape(value[k], refs, depth + 1)}`);
    return `{${parts.join(', ')}${keys.length > MAX_KEYS ? ', …' : ''}}`;
  }
  if (refs && typeof value === 'string' && value.startsWith('$') && /^\$\$?[A-Za-z_][\w.]*$/.test(value)) return value;
  return '?';
}

/** Cap a statement's length. */
export function capStatement(s: string): string {
  return s.length > MAX_LEN ? `${s.slice(0, MAX_LEN - 1)}…` : s;
}
