/**
 * One client's lineage state: the cursors (DECLARE) and SQL prepared statements (PREPARE) it created through dgf,
 * so FETCH and EXECUTE are masked by what the cursor or statement was defined to return, and the verdicts for the
 * statements it sends. A FETCH or EXECUTE of a name dgf did not see defined is untraceable: refused for masked roles.
 */
import type { CompiledPolicy } from '../../../src/policy/types.js';
import { NO_VERDICT, type LineageCache, type LineageVerdict, type VerdictCache } from './lineage-plan.js';
import type { OutputItem, StatementLineage } from './lineage.js';

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
  }
}
