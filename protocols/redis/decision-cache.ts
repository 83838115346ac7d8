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
    const key = this.keyOf(options, shapes);
    const hit = this.decisions.get(key);
    if (hit !== undefined) return this.gov.beginDecided(options, hit);
    const op = this.gov.begin(options);
    this.remember(key, op.decision);
    return op;
  }

  /** Only the decision `begin` would take (for a command audited as an entry of a batch record). */
  decide(options: BeginOptions, shapes: readonly string[]): Decision {
    const key = this.keyOf(options, shapes);
    const hit = this.decisions.get(key);
    if (hit !== undefined) return hit;
    const decision = this.gov.begin(options).decision;
    this.remember(key, decision);
    return decision;
  }

  /** The cache key of a request. */
  private keyOf(options: BeginOptions, shapes: readonly string[]): string {
    const policy = this.gov.policy();
    if (policy !== this.policy) this.reset(policy);
    const names = this.byShape ? shapes : (options.objects ?? []);
    let key = `${options.role}\u0000${options.operation}\u0000${options.kind}\u0000${options.identity.user ? 1 : 0}${options.encrypted ? 1 : 0}`;
    for (const n of names) key += '\u0001' + n;
    if (options.labels) for (const l of options.labels) key += '\u0002' + l;
    return key;
  }

  private remember(key: string, decision: Decision): void {
    // Bounded: clients inventing key shapes cannot grow memory; a full clear is cheaper than LRU bookkeeping.
    if (this.decisions.size >= MAX_ENTRIES) this.decisions.clear();
    this.decisions.set(key, decision);
  }

  private reset(policy: CompiledPolicy): void {
    this.policy = policy;
    this.decisions.clear();
    this.byShape = !policy.idsCanChangeDecisions();
  }
}
