/**
 * One governed operation (a statement, a command, a request) from decision to audit record.
 * Protocols create it with `ListenerGovernance.begin`, pass it as the MaskStats to every mask call,
 * and `finish` it before sending the final reply (with failMode closed, `finish` resolves only once the
 * audit record is kept, so the client never sees a result whose record could be lost).
 */
import type { AuditEntry, AuditLog } from '../audit/types.js';
import type { Decision, Identity, MaskMethod, MaskStats, OperationKind } from '../policy/types.js';
import { maskedValues, policyDenials, queriesTotal, queryDuration } from '../metrics/index.js';

/** What a protocol knows when an operation starts. */
export interface BeginOptions {
  identity: Identity;
  role: string;
  /** Lower-case verb: 'select', 'get', 'find', 'drop', 'flushall', 'deletemany-all'. */
  operation: string;
  kind: OperationKind;
  objects?: readonly string[];
  fields?: readonly string[];
  labels?: readonly string[];
  /** Normalized statement (literals replaced by placeholders). Never a clear sensitive value. */
  statement?: string | null;
  /** Whether both legs are encrypted, when the protocol knows it. */
  encrypted?: boolean;
}

/** What a protocol knows when an operation ends. */
export interface FinishOptions {
  rows?: number | null;
  /** Error text returned to the client (never values). */
  error?: string | null;
  /** Per-statement entries when one record covers a pipeline batch. */
  entries?: AuditEntry[];
  /** Extra facts (RU charge, TLS state). */
  extra?: Record<string, unknown>;
  /** Milliseconds spent waiting for the upstream, to compute the time dgf itself added. */
  upstreamMs?: number;
}

export class Operation implements MaskStats {
  private readonly startedAt = process.hrtime.bigint();
  private readonly labels = new Set<string>();
  private readonly maskedByLabel = new Map<string, number>();
  private readonly maskedByMethod = new Map<string, number>();
  private finished: Promise<void> | null = null;
  /** Rows returned or affected, accumulated by the protocol. */
  rows = 0;

  constructor(
    private readonly listener: string,
    private readonly protocol: string,
    private readonly audit: AuditLog,
    readonly options: BeginOptions,
    readonly decision: Decision,
  ) {
    for (const label of options.labels ?? []) this.labels.add(label);
  }

  get denied(): boolean {
    return this.decision.action === 'deny';
  }

  seen(label: string): void {
    this.labels.add(label);
  }

  masked(label: string, method: MaskMethod): void {
    this.labels.add(label);
    this.maskedByLabel.set(label, (this.maskedByLabel.get(label) ?? 0) + 1);
    const key = `${label}\u0000${method}`;
    this.maskedByMethod.set(key, (this.maskedByMethod.get(key) ?? 0) + 1);
  }

  /** Labels seen so far. */
  seenLabels(): string[] {
    return [...this.labels];
  }

  /** Masked counts so far, label -> count. */
  maskedCounts(): Record<string, number> {
    return Object.fromEntries(this.maskedByLabel);
  }

  /**
   * Record the operation: metrics now, audit record appended. Idempotent: a second call returns the first
   * call's promise. Rejects (failMode closed) when the audit record could not be kept.
   */
  finish(result: FinishOptions = {}): Promise<void> {
    if (this.finished) return this.finished;
    const totalMs = Number(process.hrtime.bigint() - this.startedAt) / 1e6;
    const error = result.error ?? null;
    const outcome = this.denied ? 'denied' : error ? 'error' : 'ok';
    queriesTotal.inc({ listener: this.listener, protocol: this.protocol, operation: this.options.operation, outcome });
    queryDuration.observe({ listener: this.listener, protocol: this.protocol, phase: 'total' }, totalMs / 1000);
    if (result.upstreamMs !== undefined) {
      queryDuration.observe(
        { listener: this.listener, protocol: this.protocol, phase: 'proxy' },
        Math.max(0, totalMs - result.upstreamMs) / 1000,
      );
    }
    if (this.denied) policyDenials.inc({ listener: this.listener, rule: this.decision.ruleId ?? 'unknown' });
    for (const [key, count] of this.maskedByMethod) {
      const sep = key.indexOf('\u0000');
      maskedValues.inc({ listener: this.listener, label: key.slice(0, sep), method: key.slice(sep + 1) }, count);
    }
    const objects = this.options.objects ?? [];
    this.finished = this.audit.append({
      listener: this.listener,
      protocol: this.protocol,
      identity: this.options.identity,
      role: this.options.role,
      operation: this.options.operation,
      object: objects.length > 0 ? objects.join(',') : null,
      statement: this.options.statement ?? null,
      labels: [...this.labels],
      masked: Object.fromEntries(this.maskedByLabel),
      rows: result.rows !== undefined ? result.rows : this.denied ? null : this.rows,
      decision: this.decision.action,
      rules: [...this.decision.rules],
      duration_ms: Math.round(totalMs * 1000) / 1000,
      error,
      ...(result.entries ? { entries: result.entries } : {}),
      ...(result.extra || this.options.encrypted !== undefined
        ? { extra: { ...(this.options.encrypted !== undefined ? { tls: this.options.encrypted } : {}), ...result.extra } }
        : {}),
    });
    return this.finished;
  }
}
