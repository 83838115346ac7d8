/**
 * Field-name matching. Names and globs are normalised the same way so matching is case-, snake- and
 * camel-insensitive: `firstName`, `FIRST_NAME`, `first-name` -> `first_name`. A dotted path (`contact.email`)
 * or key (`user:42:email`) is matched per segment and as a whole (separators `.`, `:` and `/` all become `.`).
 */

const GLOB_BAD = /[[\]{}()|\\^+!,]/;

/** Normalise one name segment: camelCase and acronyms split, non-alphanumerics to `_`, lower-case. */
export function normalizeSegment(seg: string, keepWildcards = false): string {
  // Fast path: already snake/lower case, the usual shape of SQL column names.
  if (/^[a-z0-9]+(?:_[a-z0-9]+)*$/.test(seg)) return seg;
  let out = '';
  const n = seg.length;
  for (let i = 0; i < n; i++) {
    const ch = seg[i]!;
    const c = seg.charCodeAt(i);
    const isUpper = c >= 65 && c <= 90;
    const isLower = c >= 97 && c <= 122;
    const isDigit = c >= 48 && c <= 57;
    if (isUpper) {
      const prev = i > 0 ? seg.charCodeAt(i - 1) : 0;
      const next = i + 1 < n ? seg.charCodeAt(i + 1) : 0;
      const prevLowerOrDigit = (prev >= 97 && prev <= 122) || (prev >= 48 && prev <= 57);
      const prevUpper = prev >= 65 && prev <= 90;
      const nextLower = next >= 97 && next <= 122;
      if (out.length > 0 && !out.endsWith('_') && (prevLowerOrDigit || (prevUpper && nextLower))) out += '_';
      out += ch.toLowerCase();
    } else if (isLower || isDigit || (keepWildcards && (ch === '*' || ch === '?'))) {
      out += ch;
    } else if (c > 127) {
      out += ch.toLowerCase();
    } else if (!out.endsWith('_')) {
      out += '_';
    }
  }
  return trimUnderscores(out);
}

function trimUnderscores(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && s.charCodeAt(a) === 95) a++;
  while (b > a && s.charCodeAt(b - 1) === 95) b--;
  return a === 0 && b === s.length ? s : s.slice(a, b);
}

/** Split a name into normalised segments (`contact.workEmail` -> ['contact', 'work_email']). */
export function nameSegments(name: string, keepWildcards = false): string[] {
  const parts = name.split(/[.:/]/);
  const out: string[] = [];
  for (const p of parts) {
    const s = normalizeSegment(p, keepWildcards);
    if (s.length > 0) out.push(s);
  }
  return out;
}

/** The whole-name normal form: segments joined by `.`. */
export function normalizeName(name: string): string {
  return nameSegments(name).join('.');
}

/** Why `glob` is not a valid name glob, or null when it is. */
export function globProblem(glob: string): string | null {
  if (glob.trim().length === 0) return 'empty glob';
  if (GLOB_BAD.test(glob)) return `invalid glob "${glob}": only letters, digits, _ - . : / and the wildcards * ? are allowed`;
  if (nameSegments(glob, true).length === 0) return `invalid glob "${glob}": matches no name`;
  return null;
}

interface WildGlob {
  re: RegExp;
  labels: number[];
}

/**
 * Name globs compiled once: exact globs in a Map, wildcard globs as anchored RegExps. `match` returns the indexes
 * (in declaration order) of the labels a name carries; results are cached per name in a bounded cache.
 */
export class NameMatcher {
  private readonly exact = new Map<string, number[]>();
  private readonly wild: WildGlob[] = [];
  private readonly cache = new Map<string, readonly string[]>();
  private static readonly CACHE_MAX = 50_000;
  private static readonly EMPTY: readonly string[] = Object.freeze([]);

  constructor(private readonly labels: readonly string[]) {}

  /** Register `glob` for the label at `labelIndex`. */
  add(glob: string, labelIndex: number): void {
    const norm = nameSegments(glob, true).join('.');
    if (!/[*?]/.test(norm)) {
      const list = this.exact.get(norm) ?? [];
      if (!list.includes(labelIndex)) list.push(labelIndex);
      this.exact.set(norm, list);
      return;
    }
    const body = norm.replace(/[.]/g, '\\.').replace(/\*/g, '.*').replace(/\?/g, '.');
    const existing = this.wild.find((w) => w.re.source === `^${body}$`);
    if (existing) {
      if (!existing.labels.includes(labelIndex)) existing.labels.push(labelIndex);
    } else {
      this.wild.push({ re: new RegExp(`^${body}$`), labels: [labelIndex] });
    }
  }

  /** Labels carried by `name` (cached). */
  match(name: string): readonly string[] {
    const hit = this.cache.get(name);
    if (hit !== undefined) return hit;
    const result = this.compute(name);
    // Bounded: a client inventing names cannot grow memory; a full clear is cheaper than LRU bookkeeping.
    if (this.cache.size >= NameMatcher.CACHE_MAX) this.cache.clear();
    this.cache.set(name, result);
    return result;
  }

  private compute(name: string): readonly string[] {
    const segs = nameSegments(name);
    if (segs.length === 0) return NameMatcher.EMPTY;
    const found = new Set<number>();
    const test = (candidate: string): void => {
      const ex = this.exact.get(candidate);
      if (ex) for (const i of ex) found.add(i);
      for (const w of this.wild) if (w.re.test(candidate)) for (const i of w.labels) found.add(i);
    };
    if (segs.length > 1) test(segs.join('.'));
    for (const s of segs) test(s);
    if (found.size === 0) return NameMatcher.EMPTY;
    return Object.freeze([...found].sort((a, b) => a - b).map((i) => this.labels[i]!));
  }
}
