/**
 * Per-listener cache of the policy's decisions by command shape, so a stream of commands on random keys
 * (`GET user:48213:email`, `SET key:000000012345`) does not run the rule loop and re-classify every key name
 * (the policy's own name cache is keyed by the exact name and misses on every fresh id).
 *
 * The decision is always the policy's: on a miss, `ListenerGovernance.begin` decides (requirements included) and
 * its Decision is kept; a hit reuses it for a request that the policy provably decides the same way:
 * - the request differs only in key segments that are all digits (`classificationName`), and no rule of the
 *   snapshot matches `objects` and no classifier name glob can tell ids apart (the policy's
 *   `idsCanChangeDecisions`); otherwise the exact key names are the cache key;
 * - everything else `decide` reads (role, operation, kind, labels, whether the client is anonymous, TLS) is in
 *   the key;
 * - a policy reload swaps the snapshot object, which empties the cache.
 */
import type { ListenerGovernance } from '../../src/governance/listener-governance.js';
import type { BeginOptions, Operation } from '../../src/governance/operation.js';
import type { CompiledPolicy, Decision } from '../../src/policy/types.js';

const MAX_ENTRIES = 10_000;
const NONE: readonly string[] = [];

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class DecisionCache {
  private policy: CompiledPolicy | null = null;
  private byShape = false;
  private readonly decisions = new Map<string, Decision>();

  constructor(private readonly gov: ListenerGovernance) {}

  /**
   * `gov.begin(options)`, reusing the decision of an earlier request of the same shape. `shapes` are the
   * classification names of `options.objects` (same order), computed by the caller for the labels anyway.
   */
  begin(options: BeginOptions, shapes: readonly string[]): Operation {
    const names = this.namesFor(options, shapes);
    const hit = this.lookup(options, names);
    if (hit !== undefined) return this.gov.beginDecided(options, hit);
    const op = this.gov.begin(options);
    this.remember(options, names, op.decision);
    return op;
  }

  /** Only the decision `begin` would take (for a command audited as an entry of a batch record). */
  decide(options: BeginOptions, shapes: readonly string[]): Decision {
    const names = this.namesFor(options, shapes);
    const hit = this.lookup(options, names);
    if (hit !== undefined) return hit;
    const decision = this.gov.begin(options).decision;
    this.remember(options, names, decision);
    return decision;
  }

  /** The names the cache key holds under the current snapshot (a new snapshot empties the cache first). */
  private namesFor(options: BeginOptions, shapes: readonly string[]): readonly string[] {
    const policy = this.gov.policy();
    if (policy !== this.policy) this.reset(policy);
    return this.byShape ? shapes : (options.objects ?? []);
  }

  // The last lookup, compared field by field before any key is built: the commands of a pipeline batch mostly
  // repeat one shape (building and hashing the key string was ~5% of the CPU at pipeline 16).
  private lastOptions: BeginOptions | null = null;
  private lastNames: readonly string[] = [];
  private lastDecision: Decision | null = null;

  private lookup(options: BeginOptions, names: readonly string[]): Decision | undefined {
    if (this.lastDecision !== null && this.sameAsLast(options, names)) return this.lastDecision;
    const hit = this.decisions.get(this.keyOf(options, names));
    if (hit !== undefined) this.setLast(options, names, hit);
    return hit;
  }

  /** Everything the key holds, compared with the last lookup's. */
  private sameAsLast(options: BeginOptions, names: readonly string[]): boolean {
    const last = this.lastOptions!;
    if (
      options.operation !== last.operation ||
      options.role !== last.role ||
      options.kind !== last.kind ||
      !options.identity.user !== !last.identity.user ||
      !options.encrypted !== !last.encrypted ||
      !sameStrings(names, this.lastNames)
    ) {
      return false;
    }
    return sameStrings(options.labels ?? NONE, last.labels ?? NONE);
  }

  private setLast(options: BeginOptions, names: readonly string[], decision: Decision): void {
    this.lastOptions = options;
    this.lastNames = names;
    this.lastDecision = decision;
  }

  /** The cache key of a request. */
  private keyOf(options: BeginOptions, names: readonly string[]): string {
    let key = `${options.role}\u0000${options.operation}\u0000${options.kind}\u0000${options.identity.user ? 1 : 0}${options.encrypted ? 1 : 0}`;
    for (const n of names) key += '\u0001' + n;
    if (options.labels) for (const l of options.labels) key += '\u0002' + l;
    return key;
  }

  private remember(options: BeginOptions, names: readonly string[], decision: Decision): void {
    // Bounded: clients inventing key shapes cannot grow memory; a full clear is cheaper than LRU bookkeeping.
    if (this.decisions.size >= MAX_ENTRIES) this.decisions.clear();
    this.decisions.set(this.keyOf(options, names), decision);
    this.setLast(options, names, decision);
  }

  private reset(policy: CompiledPolicy): void {
    this.policy = policy;
    this.lastDecision = null;
    this.lastOptions = null;
    this.decisions.clear();
    this.byShape = !policy.idsCanChangeDecisions();
  }
}
