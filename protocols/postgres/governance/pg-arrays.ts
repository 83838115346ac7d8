/**
 * Arrays of text-like elements (text[], varchar[], bpchar[], name[]) are masked element by element, in both wire
 * formats, so a masked array is still an array the driver parses: `{ada@example.com,"b c"}` becomes
 * `{a***@example.com,"b c"}`, never a redacted string in place of the array literal.
 */
import type { FieldPlan, MaskableValue, MaskStats } from '../../../src/policy/types.js';

/** Array type OID -> element type OID, for the arrays masked element by element. */
export const TEXT_ARRAY_TYPES: ReadonlyMap<number, number> = new Map([
  [1009, 25], // text[]
  [1015, 1043], // varchar[]
  [1014, 1042], // bpchar[]
  [1003, 19], // name[]
]);

function elementText(v: MaskableValue): string | null {
  if (v === null || v === undefined) return null;
  return typeof v === 'string' ? v : String(v);
}

/**
 * Binary array (array_send: ndim, has-null flag, element OID, per dimension size and lower bound, then each
 * element as int32 length + bytes). Returns the new bytes, or undefined when no element changed.
 */
export function maskBinaryTextArray(buf: Buffer, start: number, end: number, plan: FieldPlan, stats: MaskStats): Buffer | undefined {
  if (end - start < 12) return undefined;
  const ndim = buf.readInt32BE(start);
  if (ndim < 0 || ndim > 6) throw new Error('malformed binary array');
  let at = start + 12 + ndim * 8;
  let count = ndim === 0 ? 0 : 1;
  for (let d = 0; d < ndim; d++) count *= buf.readInt32BE(start + 12 + d * 8);
  const parts: Buffer[] = [];
  let from = start;
  let changed = false;
  let hasNull = false;
  for (let i = 0; i < count; i++) {
    if (at + 4 > end) throw new Error('malformed binary array');
    const len = buf.readInt32BE(at);
    const dataEnd = len < 0 ? at + 4 : at + 4 + len;
    if (dataEnd > end) throw new Error('malformed binary array');
    if (len < 0) {
      hasNull = true;
      at = dataEnd;
      continue;
    }
    const value = buf.toString('utf8', at + 4, dataEnd);
    const masked = plan.apply(value, stats);
    if (masked !== value) {
      const text = elementText(masked);
      parts.push(buf.subarray(from, at));
      const head = Buffer.allocUnsafe(4);
      if (text === null) {
        head.writeInt32BE(-1);
        parts.push(head);
        hasNull = true;
      } else {
        const body = Buffer.from(text, 'utf8');
        head.writeInt32BE(body.length);
        parts.push(head, body);
      }
      from = dataEnd;
      changed = true;
    }
    at = dataEnd;
  }
  if (!changed) return undefined;
  parts.push(buf.subarray(from, end));
  const out = Buffer.concat(parts);
  out.writeInt32BE(hasNull ? 1 : 0, 4);
  return out;
}

/**
 * Text array literal as array_out writes it: optional `[l:u]=` dimensions, braces, ',' between elements, elements
 * bare or double-quoted with backslash escapes, bare NULL for a null element. Returns the new literal, or undefined
 * when no element changed.
 */
export function maskTextArray(literal: string, plan: FieldPlan, stats: MaskStats): string | undefined {
  let i = 0;
  let out = '';
  let from = 0;
  let changed = false;
  const n = literal.length;
  // Skip the optional dimension decoration: it contains no elements.
  if (literal[0] === '[') {
    const eq = literal.indexOf('=');
    if (eq < 0) return undefined;
    i = eq + 1;
  }
  while (i < n) {
    const c = literal[i]!;
    if (c === '{' || c === '}' || c === ',' || c === ' ') {
      i++;
      continue;
    }
    const elementStart = i;
    let value: string;
    let isNull = false;
    if (c === '"') {
      i++;
      value = '';
      while (i < n && literal[i] !== '"') {
        if (literal[i] === '\\' && i + 1 < n) i++;
        value += literal[i]!;
        i++;
      }
      i++; // closing quote
    } else {
      while (i < n && literal[i] !== ',' && literal[i] !== '}') i++;
      value = literal.slice(elementStart, i).trim();
      isNull = value.toUpperCase() === 'NULL';
    }
    if (isNull) continue;
    const masked = plan.apply(value, stats);
    if (masked === value) continue;
    out += literal.slice(from, elementStart) + quoteElement(elementText(masked));
    from = i;
    changed = true;
  }
  return changed ? out + literal.slice(from) : undefined;
}

/** An element as array_out writes it: quoted when it could be misread. */
function quoteElement(v: string | null): string {
  if (v === null) return 'NULL';
  if (v !== '' && !/[{}," \\\t\n\r\v\f]/.test(v) && v.toUpperCase() !== 'NULL') return v;
  return `"${v.replace(/["\\]/g, (m) => `\\${m}`)}"`;
}
