/**
 * One governed operation (a statement, a command, a request) from decision to audit record.
 * Protocols create it with `ListenerGovernance.begin`, pass it as the MaskStats to every mask call,
 * and `finish` it before sending the final reply (with failMode closed, `finish` resolves only once the
 * audit record is kept, so the client never sees a result whose record could be lost).
 */
import type { AuditEntry, AuditLog } from '../audit/types.js';
import type { Decision, Identity, MaskMethod, MaskStats, OperationKind } from '../policy/types.js';
import { maskedValues, policyDenials, queriesTotal, queryDuration } from '../metrics/index.js';
import type { CounterChild, HistogramChild } from '../metrics/labelled.js';

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

/** The metric children of one listener, resolved once (label hashing per call was a measurable cost). */
class ListenerMetrics {
  readonly total: HistogramChild;
  readonly proxy: HistogramChild;
  private readonly queries = new Map<string, CounterChild>();
  private readonly masked = new Map<string, CounterChild>();

  constructor(
    private readonly listener: string,
    private readonly protocol: string,
  ) {
    this.total = queryDuration.child(listener, protocol, 'total');
    this.proxy = queryDuration.child(listener, protocol, 'proxy');
  }

  query(operation: string, outcome: string): CounterChild {
    const key = operation + '\u0000' + outcome;
    let c = this.queries.get(key);
    if (!c) this.queries.set(key, (c = queriesTotal.child(this.listener, this.protocol, operation, outcome)));
    return c;
  }

  maskedBy(label: string, method: string): CounterChild {
    const key = label + '\u0000' + method;
    let c = this.masked.get(key);
    if (!c) this.masked.set(key, (c = maskedValues.child(this.listener, label, method)));
    return c;
  }
}

const listenerMetrics = new Map<string, ListenerMetrics>();

function metricsOf(listener: string, protocol: string): ListenerMetrics {
  const key = listener + '\u0000' + protocol;
  let m = listenerMetrics.get(key);
  if (!m) listenerMetrics.set(key, (m = new ListenerMetrics(listener, protocol)));
  return m;
}

const NO_LABELS: readonly string[] = [];

interface MaskedCount {
  total: number;
  byMethod: Map<string, number>;
}

function maskedRecord(byLabel: Map<string, MaskedCount> | null): Record<string, number> {
  const out: Record<string, number> = {};
  if (byLabel) for (const [label, m] of byLabel) out[label] = m.total;
  return out;
}

export class Operation implements MaskStats {
  private readonly startedAt = performance.now();
  // Created on first use: most operations classify nothing, and these were three allocations per statement.
  private labels: Set<string> | null = null;
  /** label -> values masked, in total and per method (nested: no key string built per masked value). */
  private maskedByLabel: Map<string, MaskedCount> | null = null;
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
    if (options.labels && options.labels.length > 0) this.labels = new Set(options.labels);
  }

  get denied(): boolean {
    return this.decision.action === 'deny';
  }

  seen(label: string): void {
    (this.labels ??= new Set()).add(label);
  }

  masked(label: string, method: MaskMethod): void {
    const byLabel = (this.maskedByLabel ??= new Map());
    let m = byLabel.get(label);
    if (!m) {
      this.seen(label);
      byLabel.set(label, (m = { total: 0, byMethod: new Map() }));
    }
    m.total++;
    m.byMethod.set(method, (m.byMethod.get(method) ?? 0) + 1);
  }

  /** Labels seen so far. */
  seenLabels(): string[] {
    return this.labels ? [...this.labels] : [];
  }

  /** Masked counts so far, label -> count. */
  maskedCounts(): Record<string, number> {
    return maskedRecord(this.maskedByLabel);
  }

  /**
   * Record the operation: metrics now, audit record appended. Idempotent: a second call returns the first
   * call's promise. Rejects (failMode closed) when the audit record could not be kept.
   */
  finish(result: FinishOptions = {}): Promise<void> {
    if (this.finished) return this.finished;
    const totalMs = performance.now() - this.startedAt;
    const error = result.error ?? null;
    const outcome = this.denied ? 'denied' : error ? 'error' : 'ok';
    const metrics = metricsOf(this.listener, this.protocol);
    metrics.query(this.options.operation, outcome).inc();
    metrics.total.observe(totalMs / 1000);
    if (result.upstreamMs !== undefined) metrics.proxy.observe(Math.max(0, totalMs - result.upstreamMs) / 1000);
    if (this.denied) policyDenials.inc({ listener: this.listener, rule: this.decision.ruleId ?? 'unknown' });
    if (this.maskedByLabel) {
      for (const [label, m] of this.maskedByLabel) for (const [method, count] of m.byMethod) metrics.maskedBy(label, method).inc(count);
    }
    const objects = this.options.objects ?? NO_LABELS;
    const tls = this.options.encrypted;
    this.finished = this.audit.append({
      listener: this.listener,
      protocol: this.protocol,
      identity: this.options.identity,
      role: this.options.role,
      operation: this.options.operation,
      object: objects.length === 0 ? null : objects.length === 1 ? objects[0]! : objects.join(','),
      statement: this.options.statement ?? null,
      labels: this.seenLabels(),
      masked: this.maskedCounts(),
      rows: result.rows !== undefined ? result.rows : this.denied ? null : this.rows,
      decision: this.decision.action,
      // Shared, never mutated: the audit chain memoizes its JSON per decision.
      rules: this.decision.rules as string[],
      duration_ms: Math.round(totalMs * 1000) / 1000,
      error,
      ...(result.entries ? { entries: result.entries } : {}),
      ...(result.extra || tls !== undefined ? { extra: { ...(tls !== undefined ? { tls } : {}), ...result.extra } } : {}),
    });
    return this.finished;
  }
}
