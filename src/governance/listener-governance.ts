/**
 * The one small interface a protocol uses to reach the policy engine, audit trail, quotas, metrics and
 * inventory. A protocol holds one ListenerGovernance per listener; it never imports those modules' internals.
 */
import type { AuditLog } from '../audit/types.js';
import type { ListenerConfig } from '../config/types.js';
import type { Logger } from '../logger.js';
import type { CompiledPolicy, Decision, Identity } from '../policy/types.js';
import type { ListenerQuota } from '../quota/types.js';
import { clientConnections, poolWait, upstreamPoolSizes } from '../metrics/index.js';
import type { HistogramChild } from '../metrics/labelled.js';
import type { Inventory } from './inventory.js';
import { Operation, type BeginOptions } from './operation.js';
import type { RoleResolver } from './roles.js';

/** Anything that hands out the current compiled policy (PolicyStore); reloads swap what it returns. */
export interface PolicySource {
  current(): CompiledPolicy;
}

export interface GovernanceDeps {
  policies: PolicySource;
  audit: AuditLog;
  quota: ListenerQuota;
  roles: RoleResolver;
  inventory: Inventory;
  logger: Logger;
}

export class ListenerGovernance {
  readonly name: string;
  readonly protocol: string;
  readonly quota: ListenerQuota;
  readonly logger: Logger;
  readonly audit: AuditLog;

  constructor(
    readonly config: ListenerConfig,
    private readonly deps: GovernanceDeps,
  ) {
    this.name = config.name;
    this.protocol = config.protocol;
    this.quota = deps.quota;
    this.audit = deps.audit;
    this.logger = deps.logger.child({ listener: config.name, protocol: config.protocol });
  }

  /** The current policy snapshot. Take it once per operation/result shape; reloads swap it atomically. */
  policy(): CompiledPolicy {
    return this.deps.policies.current();
  }

  /** The role an identity maps to (config `roles`, first match; else "default"). */
  roleOf(identity: Identity): string {
    return this.deps.roles.resolve(identity, this.name);
  }

  /**
   * Decide and start recording one operation. Check `op.denied` and, if denied, answer the client with
   * `op.decision.message` in the protocol's own error format, then `await op.finish()`.
   *
   * `shape`: an object that stands for this operation's decision inputs (operation, kind, objects, fields,
   * labels), such as a parsed statement shared by every execution of the same SQL shape. The decision for
   * (shape, role) is then computed once per policy snapshot instead of once per operation (the policy's
   * decide() reads only those inputs and the role, never the identity or the connection).
   */
  begin(options: BeginOptions, shape?: object): Operation {
    const policy = this.policy();
    let decision: Decision;
    if (shape) {
      if (policy !== this.decidedWith) {
        this.decidedWith = policy;
        this.decisions = new WeakMap();
      }
      let byRole = this.decisions.get(shape);
      if (!byRole) this.decisions.set(shape, (byRole = new Map()));
      let cached = byRole.get(options.role);
      if (!cached) byRole.set(options.role, (cached = this.decide(policy, options)));
      decision = cached;
    } else {
      decision = this.decide(policy, options);
    }
    return new Operation(this.name, this.protocol, this.deps.audit, options, this.enforceRequirements(decision, options));
  }

  /**
   * An operation with a decision this governance gave earlier (`op.decision`) for the same inputs: for a caller
   * that caches decisions by its own request shape (the Redis decision cache).
   */
  beginDecided(options: BeginOptions, decision: Decision): Operation {
    return new Operation(this.name, this.protocol, this.deps.audit, options, decision);
  }

  private decidedWith: CompiledPolicy | null = null;
  private decisions = new WeakMap<object, Map<string, Decision>>();

  private decide(policy: CompiledPolicy, options: BeginOptions): Decision {
    return policy.decide({
      listener: this.name,
      protocol: this.protocol,
      identity: options.identity,
      role: options.role,
      operation: options.operation,
      kind: options.kind,
      objects: options.objects ?? [],
      ...(options.fields ? { fields: options.fields } : {}),
      ...(options.labels ? { labels: options.labels } : {}),
      ...(options.encrypted !== undefined ? { encrypted: options.encrypted } : {}),
      ...(options.tags ? { tags: options.tags } : {}),
      ...(options.readsMasked ? { readsMasked: true } : {}),
    });
  }

  /** `require: [identity]` cannot be met by an anonymous client: turn that into a denial. */
  private enforceRequirements(decision: Decision, options: BeginOptions): Decision {
    if (decision.action === 'allow' && decision.requires.includes('identity') && !options.identity.user) {
      const ruleId = decision.rules[decision.rules.length - 1] ?? 'identity-required';
      return { ...decision, action: 'deny', ruleId, message: `${ruleId}: this operation requires an authenticated identity` };
    }
    return decision;
  }

  /** Record the labels classified on an object's fields (once per result shape, not per row). */
  recordFields(object: string | null | undefined, fields: ReadonlyArray<{ name: string; labels: readonly string[] }>): void {
    for (const f of fields) this.deps.inventory.record(this.name, object, f.name, f.labels);
  }

  clientOpened(): void {
    clientConnections.inc({ listener: this.name, protocol: this.protocol });
  }

  clientClosed(): void {
    clientConnections.dec({ listener: this.name, protocol: this.protocol });
  }

  /**
   * Report the upstream pool's current size. Called at every hand-over of a pooled connection (each transaction),
   * so it only stores the numbers; the gauge reads them when scraped (label hashing per call showed in profiles).
   */
  setUpstreamConnections(active: number, idle: number): void {
    let size = upstreamPoolSizes.get(this.name);
    if (size === undefined) upstreamPoolSizes.set(this.name, (size = { active, idle }));
    size.active = active;
    size.idle = idle;
  }

  private poolWaitChild: HistogramChild | null = null;

  observePoolWait(seconds: number): void {
    (this.poolWaitChild ??= poolWait.child(this.name)).observe(seconds);
  }
}
