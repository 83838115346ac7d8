/**
 * The abstract values of the aggregation tracer: what an expression or a stage's output document is made of, in
 * terms of the input document's field paths. Field paths are dotted names without array indices, as MongoDB names
 * them (`contact.email`, `visits.diagnosis`), so arrays are transparent: an array's value is the value of its
 * elements.
 *
 *  - `ref`: an unchanged copy of the input document's value at `path` ('' is the whole document). A path under it is
 *    a plain copy of the path under `path`: it keeps its source's own (format-preserving) mask.
 *  - `obj`: a document with known fields (a `$project`, a literal `{...}`, `$setField`); any other field comes from
 *    `rest` (null: there is none).
 *  - `any`: one of several values (a `$cond`, an `$ifNull`, a `$unionWith`, `$mergeObjects`, the elements of an
 *    array): a path under it is plain only when every alternative is the same plain copy.
 *  - `der`: a computed value (`$concat`, `$substrCP`, `$sum`): every part of it may hold data of `sources`; it gets
 *    the derived mask. `unknown` says why it cannot be traced at all. `der` with no sources is a constant.
 *  - `taint`: `val`, chosen by conditions that read `by` (`$cond`, `$filter`, an index chosen from data): derived.
 *  - `wild`: a document whose fields, of names dgf cannot know, each hold `val` (`$arrayToObject` of computed names).
 */

export type Val = Ref | Obj | Any | Der | Taint | Wild;

export interface Ref {
  readonly k: 'ref';
  readonly path: string;
}

export interface Obj {
  readonly k: 'obj';
  readonly fields: ReadonlyMap<string, Val>;
  readonly rest: Val | null;
}

export interface Any {
  readonly k: 'any';
  readonly of: readonly Val[];
}

export interface Der {
  readonly k: 'der';
  readonly sources: ReadonlySet<string>;
  readonly unknown: string | null;
}

export interface Taint {
  readonly k: 'taint';
  readonly val: Val;
  readonly by: Der;
}

export interface Wild {
  readonly k: 'wild';
  readonly val: Val;
}

/** What can flow into one output value, for the planner. */
export interface Lineage {
  /** Every input path whose data can reach the value. */
  readonly sources: readonly string[];
  /** The value is exactly the value of this input path (its own mask applies); null when derived. */
  readonly plain: string | null;
  /** Why the value cannot be traced; null when it can. */
  readonly unknown: string | null;
}

/**
 * Work allowed for one trace (evaluation steps and field copies): a command built to make the tracer work
 * exponentially (nested `$reduce`, thousands of dotted fields) is untraceable instead of a denial of service.
 */
export const WORK = { left: 0, active: false };
export const MAX_WORK = 100_000;

export class TraceTooComplex extends Error {}

export function spend(n: number): void {
  if (!WORK.active) return; // the planner resolving paths after a trace is not metered
  WORK.left -= n;
  if (WORK.left < 0) throw new TraceTooComplex('a command too complex to trace');
}

const NO_SOURCES: ReadonlySet<string> = Object.freeze(new Set<string>());
/** A constant: nothing of any source. */
export const LIT: Der = Object.freeze({ k: 'der', sources: NO_SOURCES, unknown: null });
/** The input document itself. */
export const ROOT: Ref = Object.freeze({ k: 'ref', path: '' });
/** A path whose value cannot exist (a field a `$project` did not keep). */
export const ABSENT = null;

export function ref(path: string): Ref {
  return path === '' ? ROOT : { k: 'ref', path };
}

export function unknown(why: string): Der {
  return { k: 'der', sources: NO_SOURCES, unknown: why };
}

export function isLit(v: Val): boolean {
  return v.k === 'der' && v.sources.size === 0 && v.unknown === null;
}

export function obj(fields: ReadonlyMap<string, Val>, rest: Val | null): Obj {
  return { k: 'obj', fields, rest };
}

export function wild(val: Val): Val {
  return isLit(val) ? LIT : { k: 'wild', val };
}

/** Join two paths (`''` is the document itself). */
export function join(a: string, b: string): string {
  return a === '' ? b : b === '' ? a : `${a}.${b}`;
}

/** One of `vals`: nested choices flattened, computed values merged, duplicates dropped. */
export function any(vals: readonly (Val | null)[]): Val {
  const out: Val[] = [];
  let derSources: Set<string> | null = null;
  let derUnknown: string | null = null;
  let hasDer = false;
  const seenRefs = new Set<string>();
  const add = (v: Val): void => {
    spend(1);
    if (v.k === 'any') {
      for (const x of v.of) add(x);
      return;
    }
    if (v.k === 'der') {
      hasDer = true;
      if (v.sources.size > 0) {
        derSources ??= new Set();
        for (const s of v.sources) derSources.add(s);
      }
      derUnknown ??= v.unknown;
      return;
    }
    if (v.k === 'ref') {
      if (seenRefs.has(v.path)) return;
      seenRefs.add(v.path);
    } else if (out.includes(v)) {
      return;
    }
    out.push(v);
  };
  for (const v of vals) if (v !== null) add(v);
  if (hasDer) out.push(derSources === null && derUnknown === null ? LIT : { k: 'der', sources: derSources ?? NO_SOURCES, unknown: derUnknown });
  if (out.length === 0) return LIT;
  if (out.length === 1) return out[0]!;
  return { k: 'any', of: out };
}

/**
 * A value computed from `vals`. `content`: the computation reads whole documents (it serializes or sizes them), so a
 * copy of a subdocument whose field names dgf cannot know is untraceable; otherwise a copy counts as the scalar at
 * its path (a string operator given a document errors, it shows nothing of it).
 */
export function derive(vals: readonly (Val | null)[], content = false): Der {
  const sources = new Set<string>();
  let why: string | null = null;
  const walk = (v: Val, depth: number): void => {
    spend(1);
    if (depth > 200) {
      why ??= 'an expression nested too deeply to trace';
      return;
    }
    switch (v.k) {
      case 'ref':
        if (content || v.path === '') why ??= v.path === '' ? 'a computation over the whole document' : `a computation over the whole of '${v.path}', whose fields dgf cannot know`;
        else sources.add(v.path);
        return;
      case 'obj':
        for (const f of v.fields.values()) walk(f, depth + 1);
        if (v.rest) walk(v.rest, depth + 1);
        return;
      case 'any':
        for (const x of v.of) walk(x, depth + 1);
        return;
      case 'der':
        for (const s of v.sources) sources.add(s);
        why ??= v.unknown;
        return;
      case 'taint':
        walk(v.val, depth + 1);
        walk(v.by, depth + 1);
        return;
      case 'wild':
        walk(v.val, depth + 1);
        return;
    }
  };
  for (const v of vals) if (v !== null) walk(v, 0);
  if (sources.size === 0 && why === null) return LIT;
  return { k: 'der', sources, unknown: why };
}

/** `val`, chosen by what `by` read: unchanged when the choice read nothing. */
export function taint(val: Val, by: Der): Val {
  if (by.sources.size === 0 && by.unknown === null) return val;
  if (val.k === 'der') return derive([val, by]);
  if (val.k === 'taint') return { k: 'taint', val: val.val, by: derive([val.by, by]) };
  return { k: 'taint', val, by };
}

/** The value of field `name` (one segment) of `v`; null when it cannot exist. */
export function field(v: Val, name: string): Val | null {
  switch (v.k) {
    case 'ref':
      return ref(join(v.path, name));
    case 'obj': {
      const f = v.fields.get(name);
      if (f !== undefined) return f;
      return v.rest ? field(v.rest, name) : ABSENT;
    }
    case 'any': {
      const parts: Val[] = [];
      for (const x of v.of) {
        const f = field(x, name);
        if (f !== null) parts.push(f);
      }
      return parts.length === 0 ? ABSENT : any(parts);
    }
    case 'der':
      return v;
    case 'taint': {
      const f = field(v.val, name);
      return f === null ? ABSENT : taint(f, v.by);
    }
    case 'wild':
      return v.val;
  }
}

/** The value at dotted `path` under `v` (`''`: `v` itself); null when it cannot exist. */
export function at(v: Val, path: string): Val | null {
  if (path === '') return v;
  if (v.k === 'ref') return ref(join(v.path, path));
  let cur: Val | null = v;
  for (const seg of path.split('.')) {
    if (cur === null) return ABSENT;
    cur = field(cur, seg);
  }
  return cur;
}

/**
 * The values of the fields of `v`, whatever their names (`$objectToArray`'s `v`, a `$getField` of a computed name): a
 * copy of a document whose fields dgf cannot know is untraceable.
 */
export function valuesOf(v: Val, by: string): Val {
  switch (v.k) {
    case 'ref':
      return unknown(v.path === '' ? `${by} of the whole document: the values of every field, under names dgf cannot know` : `${by} of '${v.path}': the values of its fields, under names dgf cannot know`);
    case 'obj':
      return any([...v.fields.values(), v.rest ? valuesOf(v.rest, by) : null]);
    case 'any':
      return any(v.of.map((x) => valuesOf(x, by)));
    case 'der':
      return v;
    case 'taint':
      return taint(valuesOf(v.val, by), v.by);
    case 'wild':
      return v.val;
  }
}

/** `fields` with `value` set at dotted `path` (intermediate documents created, merged with what `base` has there). */
export function setPath(fields: Map<string, Val>, path: string, value: Val, base: Val | null): void {
  const dot = path.indexOf('.');
  if (dot < 0) {
    fields.set(path, value);
    return;
  }
  const head = path.slice(0, dot);
  const restPath = path.slice(dot + 1);
  const existing = fields.get(head);
  let inner: Map<string, Val>;
  let innerRest: Val | null;
  if (existing !== undefined && existing.k === 'obj') {
    spend(existing.fields.size);
    inner = new Map(existing.fields);
    innerRest = existing.rest;
  } else {
    inner = new Map();
    innerRest = existing ?? (base ? field(base, head) : null);
  }
  setPath(inner, restPath, value, innerRest);
  fields.set(head, obj(inner, innerRest));
}

// ---- resolution: the lineage of one output path ---------------------------------------------------------------

const EMPTY: readonly string[] = Object.freeze([]);

/** The lineage of the value at `path` of output `v`; null when the model says it cannot exist. */
export function lineageAt(v: Val, path: string): Lineage | null {
  const leaf = at(v, path);
  return leaf === null ? null : lineageOf(leaf);
}

/**
 * The lineage of a value. A document of known fields (`obj`) is structure, not a value: its own lineage is empty (each
 * of its fields is looked at on its own), so it is classified by its output name.
 */
export function lineageOf(v: Val): Lineage {
  switch (v.k) {
    case 'ref':
      return { sources: [v.path], plain: v.path, unknown: null };
    case 'der':
      return { sources: v.sources.size === 0 ? EMPTY : [...v.sources], plain: null, unknown: v.unknown };
    case 'obj':
      return { sources: EMPTY, plain: null, unknown: null };
    case 'wild':
      return { sources: EMPTY, plain: null, unknown: null };
    case 'taint': {
      const inner = lineageOf(v.val);
      const sources = new Set([...inner.sources, ...v.by.sources]);
      return { sources: [...sources], plain: null, unknown: inner.unknown ?? v.by.unknown };
    }
    case 'any': {
      let plain: string | null | undefined;
      const sources = new Set<string>();
      let why: string | null = null;
      let structural = true;
      for (const x of v.of) {
        const l = lineageOf(x);
        if (x.k !== 'obj') structural = false;
        for (const s of l.sources) sources.add(s);
        why ??= l.unknown;
        if (x.k === 'obj') continue;
        if (plain === undefined) plain = l.plain;
        else if (plain !== l.plain) plain = null;
      }
      if (structural) return { sources: EMPTY, plain: null, unknown: null };
      // One plain copy of the same path, or documents beside it: still that copy.
      if (plain !== undefined && plain !== null && why === null && sources.size === 1) return { sources: [plain], plain, unknown: null };
      return { sources: [...sources], plain: null, unknown: why };
    }
  }
}

/** The first untraceable part reachable in output `v`, with the output path it sits at (`*`: any field name). */
export function firstUnknown(v: Val, path = '', depth = 0): { path: string; why: string } | null {
  if (depth > 200) return { path: path || '(document)', why: 'a result nested too deeply to trace' };
  switch (v.k) {
    case 'ref':
      return null;
    case 'der':
      return v.unknown === null ? null : { path: path || '(document)', why: v.unknown };
    case 'obj': {
      for (const [name, f] of v.fields) {
        const u = firstUnknown(f, join(path, name), depth + 1);
        if (u) return u;
      }
      return v.rest ? firstUnknown(v.rest, path, depth + 1) : null;
    }
    case 'any':
      for (const x of v.of) {
        const u = firstUnknown(x, path, depth + 1);
        if (u) return u;
      }
      return null;
    case 'taint':
      return firstUnknown(v.val, path, depth + 1) ?? (v.by.unknown === null ? null : { path: path || '(document)', why: v.by.unknown });
    case 'wild':
      return firstUnknown(v.val, join(path, '*'), depth + 1);
  }
}

/** A canonical text of a value, to compare fixed-point iterations. */
export function keyOf(v: Val, depth = 0): string {
  spend(1);
  if (depth > 60) return '…';
  switch (v.k) {
    case 'ref':
      return `r(${v.path})`;
    case 'der':
      return `d(${[...v.sources].sort().join(',')}${v.unknown === null ? '' : '|?'})`;
    case 'obj':
      return `o{${[...v.fields].map(([n, f]) => `${n}:${keyOf(f, depth + 1)}`).join(',')}}${v.rest ? `+${keyOf(v.rest, depth + 1)}` : ''}`;
    case 'any':
      return `a[${v.of.map((x) => keyOf(x, depth + 1)).sort().join(',')}]`;
    case 'taint':
      return `t(${keyOf(v.val, depth + 1)};${keyOf(v.by, depth + 1)})`;
    case 'wild':
      return `w(${keyOf(v.val, depth + 1)})`;
  }
}
