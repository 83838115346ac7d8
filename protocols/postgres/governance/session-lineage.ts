/**
 * One client's lineage state: the cursors (DECLARE) and SQL prepared statements (PREPARE) it created through dgf,
 * so FETCH and EXECUTE are masked by what the cursor or statement was defined to return, and the verdicts for the
 * statements it sends. A FETCH or EXECUTE of a name dgf did not see defined is untraceable: refused for masked roles.
 */
import type { CompiledPolicy } from '../../../src/policy/types.js';
import { bodyEffects, type StatementInfo } from './analyze.js';
import type { CatalogCache } from './catalog.js';
import { NO_VERDICT, type LineageCache, type LineageVerdict, type VerdictCache } from './lineage-plan.js';
import { parseSearchPath, type OutputItem, type StatementLineage } from './lineage.js';

const UNTRACED: StatementLineage = Object.freeze({
  outputs: [{ kind: 'spread', lineage: { sources: [], plain: null, unknown: 'dgf could not parse this statement' }, byName: null }],
  reads: [],
  readsUnknown: true,
  unknownRelations: [],
  constantSensitive: false,
  writes: [],
  sinks: [],
  uses: null,
  defines: null,
  forgets: null,
}) as StatementLineage;

export class SessionLineage {
  private readonly cursors = new Map<string, { outputs: readonly OutputItem[] | null; hold: boolean }>();
  private readonly prepared = new Map<string, readonly OutputItem[] | null>();
  /** Temporary tables this client created (the catalog never lists them: they are classified by column name). */
  private readonly temps = new Set<string>();

  constructor(
    private readonly cache: LineageCache,
    private readonly verdictCache: VerdictCache,
  ) {}

  private readonly stored = (kind: 'cursor' | 'prepared', name: string): readonly OutputItem[] | null | undefined =>
    kind === 'cursor' ? this.cursors.get(name)?.outputs : this.prepared.get(name);

  /**
   * The verdict of each of the `count` statements of `sql` for `role`; null when the role has no mask (it sees
   * everything its rules allow, and tracing would only cost time). Cursor and prepared-statement definitions are
   * recorded as they go, so `declare c ...; fetch c` in one Query is traced.
   */
  verdicts(sql: string, count: number, policy: CompiledPolicy, role: string, searchPath: string | null): LineageVerdict[] | null {
    if (!policy.masksAnyFor(role)) return null;
    const lineages = this.cache.trace(sql, searchPath);
    const out: LineageVerdict[] = new Array(count);
    for (let i = 0; i < count; i++) {
      const lineage = lineages[i] ?? UNTRACED;
      const verdict = this.verdictCache.get(lineage, policy, role, this.stored);
      this.remember(lineage, verdict);
      out[i] = verdict;
    }
    return out;
  }

  /** The verdict of a protocol-level prepared statement's text (one statement). */
  verdictOf(sql: string, policy: CompiledPolicy, role: string, searchPath: string | null): LineageVerdict {
    return this.verdicts(sql, 1, policy, role, searchPath)?.[0] ?? NO_VERDICT;
  }

  private remember(lineage: StatementLineage, verdict: LineageVerdict): void {
    if (lineage.defines) {
      if (lineage.defines.kind === 'cursor') this.cursors.set(lineage.defines.name, { outputs: verdict.outputs, hold: lineage.defines.hold });
      else this.prepared.set(lineage.defines.name, verdict.outputs);
    }
    const f = lineage.forgets;
    if (f) {
      if (f.kind !== 'prepared') {
        if (f.name === null) this.cursors.clear();
        else this.cursors.delete(f.name);
      }
      if (f.kind !== 'cursor') {
        if (f.name === null) this.prepared.clear();
        else this.prepared.delete(f.name);
      }
    }
  }

  /** A temporary table this client created (`pg_temp.name` as the analysis names it). */
  createdTemp(object: string | undefined): void {
    if (object !== undefined) this.temps.add(object.slice(object.indexOf('.') + 1));
  }

  /** Whether every relation the catalog missed in this verdict's statement is a temporary table of this client. */
  onlyTempRelations(verdict: LineageVerdict): boolean {
    return verdict.unknownRelations.every((o) => this.temps.has(o.slice(o.indexOf('.') + 1)));
  }

  /** Cursors without HOLD end with their transaction; a later one of the same name is another cursor. */
  transactionEnded(): void {
    for (const [name, c] of this.cursors) if (!c.hold) this.cursors.delete(name);
    this.pathInTransaction = undefined;
  }

  // ---- the firewall's view of a statement (issue #18) ------------------------------------------------------------

  /**
   * A search_path set in the current transaction (SET, SET LOCAL, set_config): the session applies non-local ones
   * to its settings only when the transaction ends, but PostgreSQL resolves names with it from the next statement
   * on. UNRESOLVED: set to something dgf cannot read.
   */
  private pathInTransaction: string | null | typeof UNRESOLVED | undefined = undefined;
  /** The session-level path was set to something dgf cannot read, until a reset (RESET, DISCARD ALL, a readable SET). */
  private pathUnresolved = false;
  /** A statement of this client may have left session state dgf cannot see or replay (see takeLeftState). */
  private mayHaveLeftState = false;

  /**
   * The statement as the firewall judges it: unqualified relation names resolved through the session's search_path
   * (the same resolution lineage uses: the first schema on the path that has the relation in the catalog, else the
   * first schema; a path dgf cannot read lists every schema that has one). Records what the statement does to the
   * path and whether it may leave session state behind. Returns `info` itself whenever the names resolve as the
   * analysis assumed (the common case): decisions cached per analysis stay shared.
   */
  firewall(info: StatementInfo, searchPath: string | null): StatementInfo {
    const out = info.bare === undefined ? info : this.resolve(info, searchPath);
    if (info.session === 'unknown-state' || (info.calls !== undefined && callsStatefulFunction(this.catalog, info))) this.mayHaveLeftState = true;
    const s = info.setting;
    if (s !== undefined && (s.name === 'search_path' || s.name === 'all')) {
      const unresolved = info.tags?.includes('set-unresolved') === true;
      this.pathInTransaction = unresolved ? UNRESOLVED : s.value;
      if (!s.local) this.pathUnresolved = unresolved;
    } else if (info.session === 'discard') {
      this.pathInTransaction = null;
      this.pathUnresolved = false;
    }
    return out;
  }

  /** Whether this client may have left state on its connection since the last call: the pool then resets it. */
  get leftState(): boolean {
    return this.mayHaveLeftState;
  }

  /** leftState, cleared: the connection is being reset (DISCARD ALL also resets a path dgf could not read). */
  takeLeftState(): boolean {
    const left = this.mayHaveLeftState;
    if (left) {
      this.mayHaveLeftState = false;
      this.pathUnresolved = false;
    }
    return left;
  }

  private get catalog(): CatalogCache {
    return this.cache.catalog;
  }

  private resolve(info: StatementInfo, searchPath: string | null): StatementInfo {
    const catalog = this.catalog;
    const inTx = this.pathInTransaction;
    const unresolved = inTx === UNRESOLVED || (inTx === undefined && this.pathUnresolved);
    const text = unresolved ? null : ((inTx === undefined ? searchPath : (inTx as string | null)) ?? catalog.defaultSearchPath);
    const bare = info.bare!;
    const usesTemp = this.temps.size > 0 && bare.some((b) => b !== null && this.temps.has(b));
    // Keyed by the setting's text: the hot path (a cached statement, an unchanged path) parses and builds nothing.
    const gen = catalog.generation;
    const key = unresolved ? UNRESOLVED : text;
    if (!usesTemp) {
      const hit = RESOLVED.get(info);
      if (hit !== undefined && hit.gen === gen && hit.key === key) return hit.info;
    }
    const path = unresolved ? null : parseSearchPath(text);
    const objects: string[] = [];
    const seen = new Set<string>();
    const add = (o: string): void => {
      if (seen.has(o)) return;
      seen.add(o);
      objects.push(o);
    };
    info.objects.forEach((o, i) => {
      const name = bare[i] ?? null;
      if (name === null) add(o);
      else if (this.temps.has(name)) add(`pg_temp.${name}`);
      else if (path === null) {
        // Where the name resolves cannot be known: every relation of that name is a candidate (fail closed).
        for (const schema of catalog.schemasOf(name)) add(`${schema}.${name}`);
        add(o);
      } else add(`${path.find((schema) => catalog.relation(schema, name) !== undefined) ?? path[0] ?? 'public'}.${name}`);
    });
    const same = objects.length === info.objects.length && objects.every((o, i) => o === info.objects[i]);
    const resolved = same ? info : Object.freeze({ ...info, objects: Object.freeze(objects) as string[] });
    if (!usesTemp) RESOLVED.set(info, { gen, key, info: resolved });
    return resolved;
  }
}

const UNRESOLVED = Symbol('unresolved search_path');

/** The last resolution of each analysis (catalog generation and path as key), shared by every session. */
const RESOLVED = new WeakMap<StatementInfo, { gen: number; key: string | null | typeof UNRESOLVED; info: StatementInfo }>();

/** Per catalog and generation: whether a user function of this name may leave session state when called. */
const STATEFUL = new WeakMap<CatalogCache, { gen: number; byName: Map<string, boolean> }>();

/**
 * Whether one of the called functions is a user function (in the catalog, not an extension's) that may leave session
 * state: its body sets, locks, listens, creates temporary tables, runs code dgf cannot read, or calls such a
 * function. Built-ins are not in the catalog (it lists no pg_catalog function); their session effects (set_config,
 * advisory locks) are found by the statement analysis itself.
 */
function callsStatefulFunction(catalog: CatalogCache, info: StatementInfo): boolean {
  // One WeakMap lookup per statement on the hot path (most statements call count(), lower(), now(), ...).
  const hit = CALLS.get(info);
  if (hit !== undefined && hit.gen === catalog.generation && hit.catalog === catalog) return hit.stateful;
  let result = false;
  for (const name of info.calls!) if (stateful(catalog, name, 0)) result = true;
  CALLS.set(info, { catalog, gen: catalog.generation, stateful: result });
  return result;
}

/** Per analysis: whether it calls a stateful user function, for one catalog generation. */
const CALLS = new WeakMap<StatementInfo, { catalog: CatalogCache; gen: number; stateful: boolean }>();

function stateful(catalog: CatalogCache, name: string, depth: number): boolean {
  let memo = STATEFUL.get(catalog);
  if (memo === undefined || memo.gen !== catalog.generation) STATEFUL.set(catalog, (memo = { gen: catalog.generation, byName: new Map() }));
  const known = memo.byName.get(name);
  if (known !== undefined) return known;
  const fns = catalog.functions(name).filter((f) => !f.extension);
  if (fns.length === 0) return false;
  // Recursion (a function calling itself or a cycle) counts as stateful until proven otherwise: fail closed.
  memo.byName.set(name, true);
  let result = false;
  for (const f of fns) {
    const e = bodyEffects(f.language, f.body);
    if (e.state || (depth < 4 && e.calls.some((c) => c !== name && stateful(catalog, c, depth + 1)))) {
      result = true;
      break;
    }
  }
  memo.byName.set(name, result);
  return result;
}
