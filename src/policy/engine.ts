/**
 * The compiled, immutable policy set: classification (names + values), masking per role, and decisions.
 * Pure and synchronous; everything expensive is compiled once or cached per (role, name).
 */
import { globToRegExp } from '../glob.js';
import { DEFAULT_THRESHOLD, DETECTORS, anyDetectorMayMatch, anyDetectorMayMatchUtf8, detectorByName, detectorPriority, textStats, type Detector } from './detectors/index.js';
import { Keyring, REDACTED, detokenizeValue, maskSpan, maskValue, runtimeType, type MaskSpec } from './mask/index.js';
import { NameMatcher, normalizeSegment } from './names.js';
import type { ClassifierDef, MaskDef, PolicyDefs, RuleDef, UnknownLineageAction } from './compile.js';
import type {
  CompiledPolicy,
  Decision,
  Explanation,
  FieldPlan,
  FieldRef,
  Finding,
  LogicalType,
  MaskMethod,
  MaskStats,
  MaskableValue,
  OperationRequest,
  PolicySummary,
  Requirement,
} from './types.js';
import { DYNAMIC_CODE_TAG, RENAME_OBJECT_TAG, RUNS_TAG_PREFIX, UNTRACED_LABEL } from './types.js';

/** The role of identities no mapping matched: masked for everything classified unless a mask exempts it. */
export const DEFAULT_ROLE = 'default';

/** Lower rank = stronger: when a field carries several masked labels, the strongest method wins. */
const METHOD_RANK: Record<MaskMethod, number> = { null: 0, redact: 1, hash: 2, tokenize: 3, fake: 4, generalize: 5, email: 6, partial: 7, last4: 8 };

/** The whole-value mask of a derived text or json value (see `derivedPlan`). */
const REDACT: MaskSpec = Object.freeze({ method: 'redact' });

const EMPTY_FINDINGS: Finding[] = [];
const EMPTY: readonly string[] = Object.freeze([]);

interface ActiveDetector {
  detector: Detector;
  labels: string[];
  priority: number;
  /** Score its findings must reach (the classifier's `threshold:`, else the detector's own). */
  threshold: number;
}

interface RegexClassifier {
  re: RegExp;
  label: string;
  priority: number;
}

interface Scanner {
  detectors: ActiveDetector[];
  regexes: RegexClassifier[];
}

interface RolePlan {
  /** label -> mask for this role (only masked labels). */
  masks: Map<string, MaskSpec>;
  scanner: Scanner;
  scans: boolean;
}

type GlobList = RegExp[] | null;

interface CompiledRule {
  def: RuleDef;
  role: GlobList;
  operation: GlobList;
  kind: GlobList;
  objects: GlobList;
  labels: GlobList;
  except: Set<string>;
}

interface CompiledMask {
  def: MaskDef;
  labels: RegExp[];
  except: Set<string>;
  roles: Set<string> | null;
}

function globs(list: string[] | null): GlobList {
  return list === null ? null : list.map((g) => globToRegExp(g.toLowerCase(), true));
}

function anyMatch(res: RegExp[], value: string): boolean {
  for (const re of res) if (re.test(value)) return true;
  return false;
}

const scratch: number[] = [];
const scratchStats = textStats('');

interface Hit {
  start: number;
  end: number;
  priority: number;
  detector: string;
  labels: string[];
}

/** No detector matches fewer characters. */
const MIN_ENTITY_LENGTH = 5;

/** Run a scanner over `text`; overlapping hits resolved by detector priority. */
function scanText(scanner: Scanner, text: string, hint: string | undefined): Hit[] | null {
  if (text.length < MIN_ENTITY_LENGTH) return null;
  const stats = textStats(text, scratchStats); // reused: scanText is synchronous and never re-entered
  // One test rejects most values before the detectors' thirteen prefilters are called.
  if (scanner.regexes.length === 0 && !anyDetectorMayMatch(stats)) return null;
  let hits: Hit[] | null = null;
  for (const a of scanner.detectors) {
    if (!a.detector.applies(stats, hint)) continue;
    scratch.length = 0;
    a.detector.find(text, scratch, hint, a.threshold);
    for (let i = 0; i < scratch.length; i += 2) {
      (hits ??= []).push({ start: scratch[i]!, end: scratch[i + 1]!, priority: a.priority, detector: a.detector.name, labels: a.labels });
    }
  }
  for (const r of scanner.regexes) {
    r.re.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = r.re.exec(text)) !== null) {
      if (m[0].length === 0) {
        r.re.lastIndex++;
        continue;
      }
      (hits ??= []).push({ start: m.index, end: m.index + m[0].length, priority: r.priority, detector: 'regex', labels: [r.label] });
    }
  }
  if (hits === null || hits.length === 1) return hits;
  // Longest span first (an E.164 phone beats the NHS-looking digits inside it, an IBAN the digit runs inside
  // it); among equal spans the more specific detector wins.
  hits.sort((a, b) => b.end - b.start - (a.end - a.start) || a.priority - b.priority || a.start - b.start);
  const kept = hits.length <= FEW_HITS ? keepFew(hits) : keepMany(hits, text.length);
  kept.sort((a, b) => a.start - b.start);
  return kept;
}

/** Up to this many hits, comparing each with those kept is cheaper than marking the text. */
const FEW_HITS = 32;

/** Keep the hits (longest first) that overlap none kept before; a same-span hit of the same detector adds its labels. */
function keepFew(hits: readonly Hit[]): Hit[] {
  const kept: Hit[] = [];
  for (const h of hits) {
    let overlaps = false;
    for (const k of kept) {
      if (h.start < k.end && k.start < h.end) {
        if (h.detector === k.detector && h.start === k.start && h.end === k.end) k.labels = [...new Set([...k.labels, ...h.labels])];
        overlaps = true;
        break;
      }
    }
    if (!overlaps) kept.push(h);
  }
  return kept;
}

/**
 * The same choice as keepFew in time linear in the text: the characters of kept spans are marked, so a hit is
 * checked against its own span only (a value packed with entities has thousands of them: comparing each with every
 * kept one was quadratic, 11 s for a megabyte of NHS numbers).
 */
function keepMany(hits: readonly Hit[], length: number): Hit[] {
  const covered = new Uint8Array(length);
  const byStart = new Map<number, Hit>();
  const kept: Hit[] = [];
  for (const h of hits) {
    let overlaps = false;
    for (let i = h.start; i < h.end; i++) {
      if (covered[i] !== 0) {
        overlaps = true;
        break;
      }
    }
    if (overlaps) {
      const same = byStart.get(h.start);
      if (same !== undefined && same.end === h.end && same.detector === h.detector) same.labels = [...new Set([...same.labels, ...h.labels])];
      continue;
    }
    covered.fill(1, h.start, h.end);
    byStart.set(h.start, h);
    kept.push(h);
  }
  return kept;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return (proto === Object.prototype || proto === null) && (v as { _bsontype?: unknown })._bsontype === undefined;
}

const WILDCARD = /[*?]/;
const DIGIT_OR_ONE_CHAR = /[0-9?]/;
const ALL_DIGITS = /^[0-9]+$/;

/**
 * A rule matching `objects`, a wildcard name glob with a digit or `?` (`*10`, `user??`), or an exact glob with a
 * digit-only segment (`code.10`) can tell ids apart. A wildcard glob without digits and `?` matches `a:123:b`
 * exactly when it matches `a:0:b`; an exact glob like `icd10` cannot equal a name, or a segment, that has a
 * digit-only segment.
 */
function idsCanChange(defs: PolicyDefs): boolean {
  if (defs.rules.some((r) => r.match.objects !== null && r.match.objects.length > 0)) return true;
  for (const c of defs.classifiers) {
    for (const glob of c.names) {
      if (WILDCARD.test(glob) ? DIGIT_OR_ONE_CHAR.test(glob) : glob.split(/[.:/]/).some((seg) => ALL_DIGITS.test(normalizeSegment(seg)))) return true;
    }
  }
  return false;
}

/** The CompiledPolicy implementation. Build with `compilePolicySources` (or PolicyStore). */
export class PolicyImpl implements CompiledPolicy {
  readonly keys: Keyring;
  private readonly labelList: string[];
  private readonly matcher: NameMatcher;
  private readonly frameworks = new Map<string, string[]>();
  private readonly allScanner: Scanner;
  private readonly masks: CompiledMask[];
  private readonly rules: CompiledRule[];
  private readonly rolePlans = new Map<string, RolePlan>();
  private readonly plans = new Map<string, FieldPlan>();
  private readonly derivedPlans = new Map<string, FieldPlan>();
  private static readonly PLAN_CACHE_MAX = 20_000;

  constructor(
    readonly version: number,
    readonly defs: PolicyDefs,
    hashKey?: string,
  ) {
    this.keys = new Keyring(hashKey);
    const labels: string[] = [];
    const index = new Map<string, number>();
    for (const c of defs.classifiers) {
      if (!index.has(c.label)) {
        index.set(c.label, labels.length);
        labels.push(c.label);
      }
      const fw = this.frameworks.get(c.label) ?? [];
      for (const f of c.frameworks) if (!fw.includes(f)) fw.push(f);
      this.frameworks.set(c.label, fw);
    }
    this.labelList = labels;
    this.matcher = new NameMatcher(labels);
    for (const c of defs.classifiers) for (const g of c.names) this.matcher.add(g, index.get(c.label)!);
    this.allScanner = this.buildScanner(defs.classifiers, () => true);
    // User files' masks first so they can override a pack; then packs in load order.
    const ordered = [...defs.masks.filter((m) => m.user), ...defs.masks.filter((m) => !m.user)];
    this.masks = ordered.map((def) => ({
      def,
      labels: def.labels.map((g) => globToRegExp(g, true)),
      except: new Set(def.except),
      roles: def.roles ? new Set(def.roles) : null,
    }));
    this.rules = defs.rules.map((def) => ({
      def,
      role: globs(def.match.role),
      operation: globs(def.match.operation),
      kind: globs(def.match.kind),
      objects: globs(def.match.objects),
      labels: globs(def.match.labels),
      except: new Set(def.except),
    }));
  }

  private buildScanner(classifiers: readonly ClassifierDef[], keep: (label: string) => boolean): Scanner {
    // Labels by detector and threshold: classifiers that set different thresholds for one detector run it once each.
    const byDetector = new Map<string, Map<number, string[]>>();
    const regexes: RegexClassifier[] = [];
    for (const c of classifiers) {
      if (!keep(c.label)) continue;
      if (c.detector) {
        const byThreshold = byDetector.get(c.detector) ?? new Map<number, string[]>();
        const threshold = c.threshold ?? detectorByName(c.detector)?.threshold ?? DEFAULT_THRESHOLD;
        const l = byThreshold.get(threshold) ?? [];
        if (!l.includes(c.label)) l.push(c.label);
        byThreshold.set(threshold, l);
        byDetector.set(c.detector, byThreshold);
      } else if (c.regex) {
        regexes.push({ re: new RegExp(c.regex.source, c.regex.flags), label: c.label, priority: detectorPriority('') });
      }
    }
    const detectors: ActiveDetector[] = [];
    for (const d of DETECTORS) {
      for (const [threshold, labels] of byDetector.get(d.name) ?? []) detectors.push({ detector: d, labels, priority: detectorPriority(d.name), threshold });
    }
    return { detectors, regexes };
  }

  /** Every label defined by a classifier, in declaration order. */
  labels(): readonly string[] {
    return this.labelList;
  }

  /** The mask `role` gets for `label`, or null when the role sees it clear. */
  maskFor(role: string, label: string): MaskSpec | null {
    return this.rolePlan(role).masks.get(label) ?? null;
  }

  maskMethodFor(role: string, label: string): MaskMethod | null {
    return this.maskFor(role, label)?.method ?? null;
  }

  private resolveMask(role: string, label: string): MaskSpec | null {
    for (const m of this.masks) {
      if (!anyMatch(m.labels, label)) continue;
      if (m.roles !== null && !m.roles.has(role)) continue;
      if (m.except.has(role)) return null;
      return m.def.spec.kind !== undefined ? m.def.spec : { ...m.def.spec, kind: label };
    }
    // Fail closed: unmapped identities never see classified data in clear unless a mask exempts them.
    return role === DEFAULT_ROLE ? { method: 'redact', kind: label } : null;
  }

  private rolePlan(role: string): RolePlan {
    let plan = this.rolePlans.get(role);
    if (plan) return plan;
    const masks = new Map<string, MaskSpec>();
    for (const label of this.labelList) {
      const spec = this.resolveMask(role, label);
      if (spec) masks.set(label, spec);
    }
    const scanner = this.buildScanner(this.defs.classifiers, (l) => masks.has(l));
    plan = { masks, scanner, scans: scanner.detectors.length + scanner.regexes.length > 0 };
    if (this.rolePlans.size < 1000) this.rolePlans.set(role, plan);
    return plan;
  }

  labelsForName(name: string): readonly string[] {
    return this.matcher.match(name);
  }

  findEntities(text: string, nameHint?: string): Finding[] {
    const hits = scanText(this.allScanner, text, nameHint);
    if (hits === null) return EMPTY_FINDINGS;
    const out: Finding[] = [];
    for (const h of hits) for (const label of h.labels) out.push({ label, detector: h.detector, start: h.start, end: h.end });
    return out;
  }

  private idsMatter: boolean | undefined;

  idsCanChangeDecisions(): boolean {
    return (this.idsMatter ??= idsCanChange(this.defs));
  }

  scansValuesFor(role: string): boolean {
    return this.rolePlan(role).scans;
  }

  masksAnyFor(role: string): boolean {
    return this.rolePlan(role).masks.size > 0;
  }

  private contentGlobs: { clean: RegExp[]; binaryOnly: RegExp[] } | null = null;

  scriptLabels(sha1: string): readonly string[] | null {
    return this.defs.scripts.get(sha1.toLowerCase()) ?? null;
  }

  contentClass(object: string): 'clean' | 'binary-only' | null {
    const g = (this.contentGlobs ??= {
      clean: this.defs.content.clean.map((p) => globToRegExp(p, false)),
      binaryOnly: this.defs.content.binaryOnly.map((p) => globToRegExp(p, false)),
    });
    if (g.clean.length > 0 && anyMatch(g.clean, object)) return 'clean';
    if (g.binaryOnly.length > 0 && anyMatch(g.binaryOnly, object)) return 'binary-only';
    return null;
  }

  onUnknownLineage(role: string): UnknownLineageAction {
    const set = this.defs.onUnknownLineage;
    return set.get(role) ?? set.get(DEFAULT_ROLE) ?? 'deny';
  }

  /** Scan `text` for `role` and mask the entities whose labels the role may not see; same string when none. */
  maskText(role: string, text: string, hint?: string, stats?: MaskStats): string | null {
    const plan = this.rolePlan(role);
    if (!plan.scans) return text;
    return this.scanMask(plan, text, hint, stats);
  }

  private scanMask(plan: RolePlan, text: string, hint: string | undefined, stats: MaskStats | undefined): string | null {
    const hits = scanText(plan.scanner, text, hint);
    if (hits === null) return text;
    let out = '';
    let pos = 0;
    for (const h of hits) {
      let spec: MaskSpec | null = null;
      let specLabel = '';
      for (const label of h.labels) {
        stats?.seen(label);
        const s = plan.masks.get(label);
        if (s && (spec === null || METHOD_RANK[s.method] < METHOD_RANK[spec.method])) {
          spec = s;
          specLabel = label;
        }
      }
      if (spec === null) continue;
      stats?.masked(specLabel, spec.method);
      const kindSpec: MaskSpec = spec.kind === specLabel ? { ...spec, kind: h.detector } : spec;
      if (h.start === 0 && h.end === text.length) return maskValue(kindSpec, text, 'text', this.keys) as string | null;
      out += text.slice(pos, h.start) + maskSpan(kindSpec, text.slice(h.start, h.end), this.keys);
      pos = h.end;
    }
    if (pos === 0) return text;
    return out + text.slice(pos);
  }

  fieldPlan(role: string, field: FieldRef): FieldPlan {
    const key = `${role}\u0000${field.name}\u0000${field.sourceName ?? ''}\u0000${field.type}`;
    let plan = this.plans.get(key);
    if (plan) return plan;
    plan = this.buildPlan(role, field);
    // Bounded: a client inventing column aliases cannot grow memory; clearing is cheaper than LRU bookkeeping.
    if (this.plans.size >= PolicyImpl.PLAN_CACHE_MAX) this.plans.clear();
    this.plans.set(key, plan);
    return plan;
  }

  private buildPlan(role: string, field: FieldRef): FieldPlan {
    let labels = this.labelsForName(field.name);
    if (field.sourceName !== undefined && field.sourceName !== field.name) {
      const more = this.labelsForName(field.sourceName);
      if (more.length > 0) labels = Object.freeze([...new Set([...labels, ...more])]);
    }
    return this.planForLabels(role, labels, field.type, field.sourceName ?? field.name);
  }

  labelPlan(role: string, labels: readonly string[], type: LogicalType): FieldPlan {
    return this.labelSetPlan('label', role, labels, type, (sorted) => this.planForLabels(role, sorted, type, undefined));
  }

  /** A plan per (kind, role, label set, type), cached and bounded like the field plans. */
  private labelSetPlan(kind: string, role: string, labels: readonly string[], type: LogicalType, build: (sorted: readonly string[]) => FieldPlan): FieldPlan {
    const sorted = [...new Set(labels)].sort();
    const key = JSON.stringify([kind, role, type, ...sorted]);
    let plan = this.derivedPlans.get(key);
    if (plan) return plan;
    plan = build(Object.freeze(sorted));
    if (this.derivedPlans.size >= PolicyImpl.PLAN_CACHE_MAX) this.derivedPlans.clear();
    this.derivedPlans.set(key, plan);
    return plan;
  }

  /** The strongest mask the role has for any of `labels` (lowest METHOD_RANK; the first such label), or null. */
  private strongestMask(rp: RolePlan, labels: readonly string[]): { label: string; spec: MaskSpec } | null {
    let best: { label: string; spec: MaskSpec } | null = null;
    for (const label of labels) {
      const spec = rp.masks.get(label);
      if (spec && (best === null || METHOD_RANK[spec.method] < METHOD_RANK[best.spec.method])) best = { label, spec };
    }
    return best;
  }

  /** The plan of a field that carries `labels`: the strongest mask the role has for them, else scan or clear. */
  private planForLabels(role: string, labels: readonly string[], type: LogicalType, hint: string | undefined): FieldPlan {
    const rp = this.rolePlan(role);
    const strongest = this.strongestMask(rp, labels);
    if (strongest === null) return this.unmaskedPlan(role, rp, labels, type, hint);
    const { spec } = strongest;
    const keys = this.keys;
    return maskPlan(labels, strongest.label, spec.method, (value) => maskValue(spec, value, type, keys));
  }

  /** The plan of a value none of whose `labels` the role has masked: 'scan' for text/json when the role scans, else 'clear'. */
  private unmaskedPlan(role: string, rp: RolePlan, labels: readonly string[], type: LogicalType, hint: string | undefined): FieldPlan {
    if (rp.scans && (type === 'text' || type === 'json')) {
      // Custom regex classifiers have no prefilter, and JSON text is parsed and walked: both always decode.
      const bytesPrefilter = type === 'text' && rp.scanner.regexes.length === 0;
      return {
        mode: 'scan',
        labels,
        scanNeededUtf8(bytes: Uint8Array, start: number, end: number): boolean {
          if (!bytesPrefilter) return true;
          if (end - start < MIN_ENTITY_LENGTH) return false; // bytes >= characters: a necessary condition
          return anyDetectorMayMatchUtf8(bytes, start, end);
        },
        apply: (value: MaskableValue, stats?: MaskStats): MaskableValue => {
          if (stats) for (const l of labels) stats.seen(l);
          if (typeof value === 'string') {
            if (type === 'json') {
              const c = value.charCodeAt(0);
              if (c === 123 || c === 91) {
                let parsed: unknown;
                try {
                  parsed = JSON.parse(value);
                } catch {
                  return this.scanMask(rp, value, hint, stats); // not JSON: scan as text
                }
                const out = this.maskDocument(role, parsed, stats, undefined);
                return out === parsed ? value : JSON.stringify(out);
              }
            }
            return this.scanMask(rp, value, hint, stats);
          }
          if (type === 'json' && typeof value === 'object' && value !== null) return this.maskDocument(role, value, stats);
          return value;
        },
      };
    }
    return {
      mode: 'clear',
      labels,
      apply(value, stats) {
        if (stats) for (const l of labels) stats.seen(l);
        return value;
      },
    };
  }

  derivedPlan(role: string, labels: readonly string[], type: LogicalType): FieldPlan {
    return this.labelSetPlan('derived', role, labels, type, (sorted) => this.buildDerivedPlan(role, sorted, type));
  }

  private buildDerivedPlan(role: string, labels: readonly string[], type: LogicalType): FieldPlan {
    const rp = this.rolePlan(role);
    let label = this.strongestMask(rp, labels)?.label ?? null;
    // A value dgf could not trace may hold anything: masked for every role that has a masked label (counted under
    // the untraced label only when no classified source is masked).
    if (label === null && rp.masks.size > 0 && labels.includes(UNTRACED_LABEL)) label = UNTRACED_LABEL;
    // No name: value detectors run without a hint, as for a computed column.
    if (label === null) return this.unmaskedPlan(role, rp, labels, type, undefined);
    const keys = this.keys;
    const whole = type === 'text' || type === 'json';
    return maskPlan(labels, label, whole ? 'redact' : 'null', (value) => (whole ? redactWhole(value, type, keys) : null));
  }

  maskDocument(role: string, doc: unknown, stats?: MaskStats, object?: string): unknown {
    void object; // paths are matched on their own; the object name is kept for future object-scoped classifiers
    const rp = this.rolePlan(role);
    if (rp.masks.size === 0) return doc;
    return this.walk(rp, doc, '', stats);
  }

  private walk(rp: RolePlan, value: unknown, path: string, stats: MaskStats | undefined): unknown {
    if (typeof value === 'string') return rp.scans ? this.scanMask(rp, value, path || undefined, stats) : value;
    if (typeof value !== 'object' || value === null) return value;
    if (Array.isArray(value)) {
      let out: unknown[] | null = null;
      for (let i = 0; i < value.length; i++) {
        const v = value[i] as unknown;
        const m = this.walk(rp, v, path, stats);
        if (m !== v) {
          out ??= value.slice();
          out[i] = m;
        }
      }
      return out ?? value;
    }
    if (!isPlainObject(value)) return value; // Date, Buffer, BSON values: only masked when their name is classified
    let out: Record<string, unknown> | null = null;
    for (const key of Object.keys(value)) {
      const v = value[key];
      const childPath = path ? `${path}.${key}` : key;
      const labels = this.labelsForName(childPath);
      let spec: MaskSpec | null = null;
      let specLabel = '';
      for (const l of labels) {
        stats?.seen(l);
        const s = rp.masks.get(l);
        if (s && (spec === null || METHOD_RANK[s.method] < METHOD_RANK[spec.method])) {
          spec = s;
          specLabel = l;
        }
      }
      let m: unknown;
      if (spec !== null && v !== null && v !== undefined) {
        stats?.masked(specLabel, spec.method);
        m = maskDeep(spec, v, this.keys);
      } else {
        m = this.walk(rp, v, childPath, stats);
      }
      if (m !== v) {
        out ??= { ...value };
        out[key] = m;
      }
    }
    return out ?? value;
  }

  decide(req: OperationRequest): Decision {
    let labels: Set<string> | null = null;
    const labelSet = (): Set<string> => {
      if (labels) return labels;
      labels = new Set(req.labels ?? []);
      for (const f of req.fields ?? []) for (const l of this.labelsForName(f)) labels.add(l);
      for (const o of req.objects) for (const l of this.labelsForName(o)) labels.add(l);
      return labels;
    };
    const op = req.operation.toLowerCase();
    const allTags = req.tags && req.tags.length > 0 ? req.tags.map((t) => t.toLowerCase()) : null;
    // The operation's own tags, and what it runs inside it (RUNS_TAG_PREFIX): the latter match all but allow rules.
    let tags: string[] | null = allTags;
    let runs: string[] | null = null;
    if (allTags !== null && allTags.some((t) => t.startsWith(RUNS_TAG_PREFIX))) {
      tags = allTags.filter((t) => !t.startsWith(RUNS_TAG_PREFIX));
      runs = allTags.filter((t) => t.startsWith(RUNS_TAG_PREFIX)).map((t) => t.slice(RUNS_TAG_PREFIX.length));
    }
    const readsMasked = req.readsMasked === true;
    // Code dgf cannot read (DYNAMIC_CODE_TAG): a deny rule it could evade matches it (see dynamicVerbs).
    const mayDo = tags !== null && tags.includes(DYNAMIC_CODE_TAG) && !this.allowsDynamicCode(req.role) ? dynamicVerbs(tags) : null;
    const renames = (tags !== null && tags.includes(RENAME_OBJECT_TAG)) || (runs !== null && runs.includes(RENAME_OBJECT_TAG));
    let masksAny: boolean | undefined;
    const matched: string[] = [];
    const requires = new Set<Requirement>();
    let decided: CompiledRule | null = null;
    for (const r of this.rules) {
      if (r.except.has(req.role)) continue;
      if (r.role && !anyMatch(r.role, req.role)) continue;
      const widen = mayDo !== null && r.def.action === 'deny' && (!r.operation || mayDo.some((v) => anyMatch(r.operation!, v)));
      if (!widen) {
        // Renaming an object a deny rule names would take it out of the rule's reach: the rule applies to the renaming.
        const renamed = renames && r.def.action === 'deny' && r.objects !== null;
        if (
          r.operation &&
          !renamed &&
          !anyMatch(r.operation, op) &&
          !anyMatch(r.operation, req.kind) &&
          !(tags !== null && tags.some((t) => anyMatch(r.operation!, t))) &&
          !(runs !== null && r.def.action !== 'allow' && runs.some((t) => anyMatch(r.operation!, t)))
        )
          continue;
        if (r.kind && !renamed && !anyMatch(r.kind, req.kind)) continue;
        if (r.objects && !req.objects.some((o) => objectMatches(r.objects!, o))) continue;
        if (r.def.match.readsMasked !== null && r.def.match.readsMasked !== readsMasked) continue;
      } else if (r.kind && !mayDo.some((v) => anyMatch(r.kind!, v))) continue;
      if (r.def.match.maskedRole !== null && r.def.match.maskedRole !== (masksAny ??= this.masksAnyFor(req.role))) continue;
      if (r.labels && !widen) {
        let hit = false;
        for (const l of labelSet()) if (anyMatch(r.labels, l)) { hit = true; break; }
        if (!hit) continue;
      }
      matched.push(r.def.id);
      for (const q of r.def.requires) requires.add(q);
      if (r.def.action !== null && decided === null) {
        decided = r;
        if (r.def.action === 'deny') break;
      }
    }
    if (decided !== null && decided.def.action === 'deny') {
      return { action: 'deny', ruleId: decided.def.id, message: decided.def.message, rules: matched, requires: [...requires] };
    }
    return { action: 'allow', rules: matched, requires: [...requires] };
  }

  private readonly dynamicAllowed = new Map<string, boolean>();

  /** Whether a rule allows code dgf cannot read for `role`: an allow rule whose operation names `dynamic-code`. */
  private allowsDynamicCode(role: string): boolean {
    let v = this.dynamicAllowed.get(role);
    if (v === undefined) {
      v = this.rules.some((r) => r.def.action === 'allow' && !r.except.has(role) && (!r.role || anyMatch(r.role, role)) && r.operation !== null && anyMatch(r.operation, DYNAMIC_CODE_TAG));
      this.dynamicAllowed.set(role, v);
    }
    return v;
  }

  explain(role: string, name: string | undefined, value: MaskableValue, type: LogicalType = 'text'): Explanation {
    const nameLabels = name ? this.labelsForName(name) : EMPTY;
    const findings = typeof value === 'string' ? this.findEntities(value, name) : [];
    const labels = [...new Set([...nameLabels, ...findings.map((f) => f.label)])];
    const plan = this.fieldPlan(role, { name: name ?? '', type });
    const masked = plan.mode === 'clear' ? value : plan.apply(value);
    return { labels, findings, masked };
  }

  summaries(framework?: string): PolicySummary[] {
    const fw = framework?.toLowerCase();
    return this.rules
      .filter((r) => r.def.framework !== null && (fw === undefined || r.def.framework.toLowerCase() === fw))
      .map((r) => ({ id: r.def.id, framework: r.def.framework!, name: r.def.name, description: r.def.description, severity: r.def.severity }));
  }

  frameworksOf(label: string): readonly string[] {
    return this.frameworks.get(label) ?? EMPTY;
  }

  /** Invert the tokenize mask with this policy's key. */
  detokenize(value: MaskableValue, type: LogicalType = 'text'): MaskableValue {
    return detokenizeValue(value, type, this.keys);
  }
}

/**
 * A derived text or json value redacted whole: text becomes the redaction, JSON text the JSON string of the
 * redaction (a parsed JSON value: the redaction as a JSON string value). Bytes handed for text stay bytes (the
 * UTF-8 of the redacted text); no part of the value, not even its structure or length, survives.
 */
/** A 'mask' plan: null passes; each value counts every label as seen and one value masked under `label` with `method`. */
function maskPlan(labels: readonly string[], label: string, method: MaskMethod, transform: (value: MaskableValue) => MaskableValue): FieldPlan {
  return {
    mode: 'mask',
    labels,
    apply(value, stats) {
      if (value === null || value === undefined) return value;
      if (stats) {
        for (const l of labels) stats.seen(l);
        stats.masked(label, method);
      }
      return transform(value);
    },
  };
}

function redactWhole(value: MaskableValue, type: LogicalType, keys: Keyring): MaskableValue {
  // The text mask of the whole value, read as text whatever it holds (JSON text included): never walked.
  const text = typeof value === 'string' ? (maskValue(REDACT, value, 'text', keys) as string) : REDACTED;
  const out = type === 'json' && (typeof value === 'string' || value instanceof Uint8Array) ? JSON.stringify(text) : text;
  if (value instanceof Uint8Array) return Buffer.isBuffer(value) ? Buffer.from(out) : new TextEncoder().encode(out);
  return out;
}

/**
 * The verbs code dgf cannot read may run, from its `may:<verb>` tags (the protocol lists its own verbs). A deny rule
 * that names one of them (or names no operation) matches the request whatever its kind, objects, labels or
 * readsMasked say: dgf cannot know what the code touches, so every rule it could evade applies (fail closed). Rules
 * that name only other protocols' verbs do not match. Allow rules match it as any request (by its operation and its
 * other tags); a role for which some allow rule names `dynamic-code` is not widened at all.
 */
function dynamicVerbs(tags: readonly string[]): string[] {
  const out: string[] = [];
  for (const t of tags) if (t.startsWith('may:')) out.push(t.slice(4));
  return out;
}

function objectMatches(res: RegExp[], object: string): boolean {
  if (anyMatch(res, object)) return true;
  const cut = Math.max(object.lastIndexOf('.'), object.lastIndexOf('/'));
  return cut >= 0 && anyMatch(res, object.slice(cut + 1));
}

interface BsonLike {
  _bsontype: string;
  constructor: unknown;
}

/** Mask every leaf of `v` (a classified subtree), keeping JS and BSON types. */
function maskDeep(spec: MaskSpec, v: unknown, keys: Keyring): unknown {
  if (v === null || v === undefined) return v;
  if (Array.isArray(v)) return v.map((x) => maskDeep(spec, x, keys));
  if (typeof v === 'object' && typeof (v as BsonLike)._bsontype === 'string') return maskBson(spec, v as BsonLike, keys);
  if (isPlainObject(v)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v)) out[k] = maskDeep(spec, v[k], keys);
    return out;
  }
  return maskValue(spec, v, runtimeType(v), keys);
}

type Ctor = (new (...args: unknown[]) => unknown) & Record<string, unknown>;

/** BSON values come back as the same class (duck-typed on `_bsontype`, rebuilt with their own constructor). */
function maskBson(spec: MaskSpec, v: BsonLike, keys: Keyring): unknown {
  if (spec.method === 'null') return null;
  const ctor = v.constructor as Ctor;
  const any = v as unknown as Record<string, unknown> & { toString(): string };
  try {
    switch (v._bsontype) {
      case 'Int32': {
        const n = maskValue(spec, Number(any.value), 'integer', keys) as number | null;
        return n === null ? null : new ctor(Math.max(-2147483648, Math.min(2147483647, n)));
      }
      case 'Double': {
        const n = maskValue(spec, Number(any.value), 'numeric', keys) as number | null;
        return n === null ? null : new ctor(n);
      }
      case 'Long': {
        const r = maskValue(spec, BigInt(any.toString()), 'integer', keys) as bigint | null;
        if (r === null) return null;
        const clamped = r > 9223372036854775807n ? 9223372036854775807n : r < -9223372036854775808n ? -9223372036854775808n : r;
        return (ctor.fromBigInt as (b: bigint) => unknown)(clamped);
      }
      case 'Decimal128': {
        const s = maskValue(spec, any.toString(), 'numeric', keys) as string | null;
        return s === null ? null : (ctor.fromString as (s: string) => unknown)(s);
      }
      case 'ObjectId':
      case 'ObjectID': {
        const hex = (any.toHexString as () => string).call(v);
        const uuid = maskValue(spec, hex + '00000000', 'uuid', keys) as string | null;
        if (uuid === null) return null;
        return new ctor(uuid.replace(/-/g, '').slice(0, 24));
      }
      case 'Binary': {
        const buf = any.buffer as Uint8Array;
        const out = maskValue(spec, buf, 'bytes', keys) as Uint8Array | null;
        return out === null ? null : new ctor(out, any.sub_type);
      }
      default:
        return null; // Code, Timestamp, regex, DBRef...: no faithful masked form, so fail closed
    }
  } catch {
    return null; // a BSON class we could not rebuild: fail closed rather than leak
  }
}

export { REDACTED };
