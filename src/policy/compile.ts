/**
 * Policy files -> a CompiledPolicy. Every problem becomes a ConfigError naming the file, the line and the key;
 * all problems of all files are collected and reported together.
 */
import { Ajv, type ErrorObject } from 'ajv';
import { ConfigError, ConfigErrors } from '../errors.js';
import { pointerToPath, type YamlSource } from '../config/yaml-source.js';
import { DETECTOR_NAMES, detectorByName } from './detectors/index.js';
import { MASK_METHODS, type MaskSpec } from './mask/index.js';
import { globProblem } from './names.js';
import { POLICY_SCHEMA, UNKNOWN_LINEAGE_ACTIONS } from './schema.js';
import type { MaskMethod, Requirement } from './types.js';

/** Options for compiling policy sources. */
export interface CompileOptions {
  /** Key for the hash, tokenize and fake masks; default: a development key. */
  hashKey?: string;
  /** Version number of the compiled set; default 1. */
  version?: number;
  /**
   * Sources (by file name) that are user policies rather than shipped packs: their masks are consulted before
   * the packs' masks so a user file can override a pack. Default: none.
   */
  userFiles?: ReadonlySet<string>;
}

/** A classifier after validation. */
export interface ClassifierDef {
  label: string;
  frameworks: string[];
  names: string[];
  detector: string | null;
  /** Score the detector's findings must reach for this classifier (`threshold:`); null: the detector's own. */
  threshold: number | null;
  regex: RegExp | null;
  description: string;
  file: string;
}

/** A mask after validation. */
export interface MaskDef {
  labels: string[];
  spec: MaskSpec;
  except: string[];
  roles: string[] | null;
  user: boolean;
}

/** A rule after validation. */
export interface RuleDef {
  id: string;
  name: string;
  description: string;
  framework: string | null;
  severity: 'critical' | 'high' | 'medium' | 'low';
  match: {
    role: string[] | null;
    operation: string[] | null;
    kind: string[] | null;
    objects: string[] | null;
    labels: string[] | null;
    /** true: only roles with at least one masked label; false: only roles without; null: any role. */
    maskedRole: boolean | null;
    /** true: only operations that read values the role sees masked; false: only those that do not; null: any. */
    readsMasked: boolean | null;
  };
  except: string[];
  action: 'deny' | 'allow' | null;
  message: string;
  requires: Requirement[];
}

/** What to do with an output dgf cannot trace to its sources (policy setting `onUnknownLineage`). */
export type UnknownLineageAction = (typeof UNKNOWN_LINEAGE_ACTIONS)[number];

/** The validated content of a policy set, before it is turned into matchers. */
export interface PolicyDefs {
  classifiers: ClassifierDef[];
  masks: MaskDef[];
  rules: RuleDef[];
  /**
   * `onUnknownLineage` of every file merged in load order: role (or `default`) -> action. A later file's mapping
   * overrides earlier values key by key; a later file's string form stands for every role and replaces them all.
   */
  onUnknownLineage: Map<string, UnknownLineageAction>;
  /** `content` of every file, concatenated: objects declared clean or binary-only. */
  content: { clean: string[]; binaryOnly: string[] };
  /** `scripts` of every file: allow-listed script SHA1 (lower case) -> the labels its output may carry. */
  scripts: Map<string, string[]>;
}

const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });
const validateSchema = ajv.compile(POLICY_SCHEMA);
const LABEL = /^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$/;
const LABEL_GLOB = /^[a-z0-9_.*?]+$/;

function ajvMessage(e: ErrorObject): { message: string; extra?: string } {
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = (e.params as { additionalProperty: string }).additionalProperty;
      const allowed = Object.keys((e.parentSchema as { properties?: object } | undefined)?.properties ?? {});
      return { message: `unknown key "${key}"${allowed.length ? ` (allowed: ${allowed.join(', ')})` : ''}`, extra: key };
    }
    case 'required':
      return { message: `missing required key "${(e.params as { missingProperty: string }).missingProperty}"` };
    case 'enum':
      return { message: `must be one of ${((e.params as { allowedValues: unknown[] }).allowedValues).join(', ')}` };
    case 'type': {
      const t = (e.params as { type: string | string[] }).type;
      const list = Array.isArray(t) ? t : String(t).split(',');
      const words = list.map((x) => (x === 'array' ? 'a list' : x === 'object' ? 'a mapping' : `a ${x}`));
      return { message: `must be ${words.join(' or ')}` };
    }
    default:
      return { message: e.message ?? 'invalid' };
  }
}

function list(v: unknown): string[] | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  return null;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Validate every source; returns the definitions and every error found. */
export function validateSources(sources: readonly YamlSource[], userFiles: ReadonlySet<string> = new Set()): { defs: PolicyDefs; errors: ConfigError[] } {
  const errors: ConfigError[] = [];
  const defs: PolicyDefs = { classifiers: [], masks: [], rules: [], onUnknownLineage: new Map(), content: { clean: [], binaryOnly: [] }, scripts: new Map() };
  const ruleIds = new Map<string, string>();

  for (const src of sources) {
    const data = src.data ?? {};
    if (!validateSchema(data)) {
      for (const e of validateSchema.errors ?? []) {
        // `values` is string-or-mapping: a string fails the mapping's `required`, which is noise.
        if (e.keyword !== 'type' && /\/values$/.test(e.instancePath) && typeof (e.data as unknown) === 'string') continue;
        const { message, extra } = ajvMessage(e);
        const path = pointerToPath(e.instancePath);
        errors.push(src.error(message, extra !== undefined ? [...path, extra] : path));
      }
    }
    if (!isObj(data)) continue;
    const user = userFiles.has(src.file);

    // classifiers
    const classifiers = Array.isArray(data.classifiers) ? data.classifiers : [];
    classifiers.forEach((c: unknown, i) => {
      if (!isObj(c) || typeof c.label !== 'string') return;
      const at = (...k: (string | number)[]): (string | number)[] => ['classifiers', i, ...k];
      if (!LABEL.test(c.label)) errors.push(src.error(`invalid label "${c.label}": use a dotted lower-case taxonomy like pii.email`, at('label')));
      const names = list(c.names) ?? [];
      names.forEach((g, j) => {
        const p = globProblem(g);
        if (p) errors.push(src.error(p, at('names', j)));
      });
      let detector: string | null = null;
      let regex: RegExp | null = null;
      if (typeof c.values === 'string') {
        if (detectorByName(c.values)) detector = c.values;
        else errors.push(src.error(`unknown detector "${c.values}" (one of ${DETECTOR_NAMES.join(', ')})`, at('values')));
      } else if (isObj(c.values) && typeof c.values.regex === 'string') {
        const flags = typeof c.values.flags === 'string' ? c.values.flags : '';
        try {
          if (/[gy]/.test(flags)) throw new Error('flags g and y are not allowed');
          regex = new RegExp(c.values.regex, `${flags}g`);
          if (regex.test('')) {
            errors.push(src.error(`bad regex /${c.values.regex}/: matches the empty string`, at('values', 'regex')));
            regex = null;
          }
        } catch (err) {
          errors.push(src.error(`bad regex /${c.values.regex}/: ${(err as Error).message}`, at('values', 'regex')));
        }
      }
      if (names.length === 0 && c.values === undefined) errors.push(src.error('a classifier needs names, values or both', at()));
      const threshold = typeof c.threshold === 'number' ? c.threshold : null;
      if (threshold !== null && typeof c.values !== 'string') errors.push(src.error('threshold applies to a built-in detector: give it with values: <detector name>', at('threshold')));
      defs.classifiers.push({
        label: c.label,
        frameworks: list(c.frameworks) ?? [],
        names,
        detector,
        threshold,
        regex,
        description: typeof c.description === 'string' ? c.description : '',
        file: src.file,
      });
    });

    // masks
    const masks = Array.isArray(data.masks) ? data.masks : [];
    masks.forEach((m: unknown, i) => {
      if (!isObj(m)) return;
      const at = (...k: (string | number)[]): (string | number)[] => ['masks', i, ...k];
      const labels = list(m.labels) ?? [];
      labels.forEach((g, j) => {
        if (!LABEL_GLOB.test(g)) errors.push(src.error(`invalid label glob "${g}"`, typeof m.labels === 'string' ? at('labels') : at('labels', j)));
      });
      if (typeof m.method !== 'string') return;
      if (!(MASK_METHODS as readonly string[]).includes(m.method)) {
        errors.push(src.error(`unknown mask method "${m.method}" (one of ${MASK_METHODS.join(', ')})`, at('method')));
        return;
      }
      const method = m.method as MaskMethod;
      if (m.keep !== undefined && method !== 'partial') errors.push(src.error(`"keep" applies to method partial only`, at('keep')));
      if ((m.granularity !== undefined || m.bucket !== undefined) && method !== 'generalize') {
        errors.push(src.error(`"granularity" and "bucket" apply to method generalize only`, at(m.granularity !== undefined ? 'granularity' : 'bucket')));
      }
      const keep = isObj(m.keep) ? { first: typeof m.keep.first === 'number' ? m.keep.first : 0, last: typeof m.keep.last === 'number' ? m.keep.last : 0 } : undefined;
      const spec: MaskSpec = {
        method,
        ...(keep ? { keep } : {}),
        ...(m.granularity === 'month' || m.granularity === 'year' ? { granularity: m.granularity } : {}),
        ...(typeof m.bucket === 'number' ? { bucket: m.bucket } : {}),
        ...(typeof m.kind === 'string' ? { kind: m.kind } : {}),
      };
      defs.masks.push({ labels, spec, except: list(m.except) ?? [], roles: list(m.roles), user });
    });

    // rules
    const rules = Array.isArray(data.rules) ? data.rules : [];
    rules.forEach((r: unknown, i) => {
      if (!isObj(r) || typeof r.id !== 'string') return;
      const at = (...k: (string | number)[]): (string | number)[] => ['rules', i, ...k];
      const seen = ruleIds.get(r.id);
      if (seen !== undefined) errors.push(src.error(`duplicate rule id "${r.id}" (first defined at ${seen})`, at('id')));
      else ruleIds.set(r.id, `${src.file}:${src.lineOf(at('id')) ?? '?'}`);
      const match = isObj(r.match) ? r.match : {};
      for (const key of ['role', 'operation', 'kind', 'objects', 'labels'] as const) {
        const globs = list(match[key]) ?? [];
        globs.forEach((g, j) => {
          if (g.trim().length === 0 || /[[\]{}()|\\^+]/.test(g)) {
            errors.push(src.error(`invalid glob "${g}"`, typeof match[key] === 'string' ? at('match', key) : at('match', key, j)));
          }
        });
      }
      if (r.action === 'deny' && typeof r.message !== 'string') errors.push(src.error('a deny rule needs a message', at()));
      const action = r.action === 'deny' || r.action === 'allow' ? r.action : null;
      const severity = r.severity === 'critical' || r.severity === 'high' || r.severity === 'low' ? r.severity : 'medium';
      defs.rules.push({
        id: r.id,
        name: typeof r.name === 'string' ? r.name : r.id,
        description: typeof r.description === 'string' ? r.description : '',
        framework: typeof r.framework === 'string' ? r.framework : null,
        severity,
        match: {
          role: list(match.role),
          operation: list(match.operation),
          kind: list(match.kind),
          objects: list(match.objects),
          labels: list(match.labels),
          maskedRole: typeof match.maskedRole === 'boolean' ? match.maskedRole : null,
          readsMasked: typeof match.readsMasked === 'boolean' ? match.readsMasked : null,
        },
        except: list(r.except) ?? [],
        action,
        message: typeof r.message === 'string' ? r.message : action === 'deny' ? `denied by rule ${r.id}` : '',
        requires: (Array.isArray(r.require) ? r.require : []).filter((x): x is Requirement => ['identity', 'audit', 'tls', 'approval'].includes(x as string)),
      });
    });

    if (Array.isArray(data.scripts)) {
      for (const entry of data.scripts) {
        if (isObj(entry) && typeof entry.sha1 === 'string') defs.scripts.set(entry.sha1.toLowerCase(), list(entry.labels) ?? []);
      }
    }
    if (isObj(data.content)) {
      defs.content.clean.push(...(list(data.content.clean) ?? []));
      defs.content.binaryOnly.push(...(list(data.content.binaryOnly) ?? []));
    }

    // onUnknownLineage: the schema checked the type and a mapping's values; a string's value is checked here
    const unknown = data.onUnknownLineage;
    if (typeof unknown === 'string') {
      if (isUnknownLineageAction(unknown)) {
        defs.onUnknownLineage.clear();
        defs.onUnknownLineage.set('default', unknown);
      } else {
        errors.push(src.error(`must be one of ${UNKNOWN_LINEAGE_ACTIONS.join(', ')} (or a mapping of role to ${UNKNOWN_LINEAGE_ACTIONS.join(' or ')})`, ['onUnknownLineage']));
      }
    } else if (isObj(unknown)) {
      for (const [role, action] of Object.entries(unknown)) {
        if (typeof action === 'string' && isUnknownLineageAction(action)) defs.onUnknownLineage.set(role, action);
      }
    }
  }
  // Report in reading order: file by file, line by line.
  const fileOrder = new Map(sources.map((s, i) => [s.file, i]));
  const order = (e: ConfigError): number => (fileOrder.get(e.file ?? '') ?? 0) * 1e7 + (e.line ?? 0);
  errors.sort((a, b) => order(a) - order(b));
  return { defs, errors };
}

function isUnknownLineageAction(v: string): v is UnknownLineageAction {
  return (UNKNOWN_LINEAGE_ACTIONS as readonly string[]).includes(v);
}

/** Throw ConfigErrors when `errors` is not empty. */
export function throwIfErrors(errors: ConfigError[]): void {
  if (errors.length > 0) throw new ConfigErrors(errors);
}
