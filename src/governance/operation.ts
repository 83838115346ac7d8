/**
 * One governed operation (a statement, a command, a request) from decision to audit records.
 * Protocols create it with `ListenerGovernance.begin`, and before anything goes upstream call `intent()`: with
 * failMode closed that appends the intent record (write-ahead) and returns the promise to wait for before
 * forwarding (rejected: the record could not be kept, refuse the operation). They pass it as the MaskStats to
 * every mask call and `finish` it when the result is complete: the outcome record, which nobody waits for.
 */
import { performance } from 'node:perf_hooks';
import type { AuditEntry, AuditEvent, AuditLog, IntentSlot } from '../audit/types.js';
import { QUEUED } from '../audit/log.js';
import { MaskTally, NO_LABELS_SEEN, NO_VALUES_MASKED } from '../policy/tally.js';
import type { Decision, Identity, OperationKind } from '../policy/types.js';
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
  /** More specific verbs (`create-view`, `do`, ...), matched by rules like the operation (OperationRequest.tags). */
  tags?: readonly string[];
  /** The operation reads sources this role sees masked (OperationRequest.readsMasked). */
  readsMasked?: boolean;
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
  /** With `entries`: each entry's total and upstream milliseconds (same order), for the per-command metrics. */
  entryMs?: readonly number[];
  entryUpstreamMs?: readonly number[];
  /** performance.now() at the start of what the record covers, when it began before this Operation. */
  startedAt?: number;
}

/** Distinct `operation` label values per listener; beyond them, operations are counted as OTHER_OPERATION. */
const MAX_OPERATION_SERIES = 256;
const OTHER_OPERATION = 'other';

/** The metric children of one listener, resolved once (label hashing per call was a measurable cost). */
class ListenerMetrics {
  readonly total: HistogramChild;
  readonly proxy: HistogramChild;
  /** By operation, then outcome: two lookups are cheaper than building a joined key per operation. */
  private readonly queries = new Map<string, Map<string, CounterChild>>();
  private readonly masked = new Map<string, CounterChild>();

  constructor(
    private readonly listener: string,
    private readonly protocol: string,
  ) {
    this.total = queryDuration.child(listener, protocol, 'total');
    this.proxy = queryDuration.child(listener, protocol, 'proxy');
  }

  query(operation: string, outcome: string): CounterChild {
    let byOutcome = this.queries.get(operation);
    if (!byOutcome) {
      // The operation can be a name the client chose (an unknown Redis command): past a bound, one series for all,
      // so a client cannot grow /metrics and dgf's memory without end (fuzzing made 27,000 series).
      if (this.queries.size >= MAX_OPERATION_SERIES && operation !== OTHER_OPERATION) return this.query(OTHER_OPERATION, outcome);
      this.queries.set(operation, (byOutcome = new Map()));
    }
    let c = byOutcome.get(outcome);
    if (!c) byOutcome.set(outcome, (c = queriesTotal.child(this.listener, this.protocol, operation, outcome)));
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
// The last listener's metrics, compared by its names before any key is built: operations mostly come from the
// listener of the one before.
let lastListener = '';
let lastProtocol = '';
let lastMetrics: ListenerMetrics | null = null;

function metricsOf(listener: string, protocol: string): ListenerMetrics {
  if (lastMetrics !== null && listener === lastListener && protocol === lastProtocol) return lastMetrics;
  lastMetrics = listenerMetricsOf(listener, protocol);
  lastListener = listener;
  lastProtocol = protocol;
  return lastMetrics;
}

function listenerMetricsOf(listener: string, protocol: string): ListenerMetrics {
  const key = listener + '\u0000' + protocol;
  let m = listenerMetrics.get(key);
  if (!m) listenerMetrics.set(key, (m = new ListenerMetrics(listener, protocol)));
  return m;
}

const NO_LABELS: readonly string[] = [];

/** The `extra` of most records, shared (the audit chain memoizes the JSON of shared objects). */
const TLS_EXTRA: Record<string, unknown> = Object.freeze({ tls: true });
const PLAIN_EXTRA: Record<string, unknown> = Object.freeze({ tls: false });

function extraOf(tls: boolean | undefined, extra: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (extra) return tls === undefined ? extra : { tls, ...extra };
  return tls === undefined ? undefined : tls ? TLS_EXTRA : PLAIN_EXTRA;
}

/** One governed operation; what masking saw is tallied by the MaskTally it extends. */
export class Operation extends MaskTally implements IntentSlot {
  private readonly startedAt = performance.now();
  private finished: Promise<void> | null = null;
  /** Rows returned or affected, accumulated by the protocol. */
  rows = 0;
  /** The seq of this operation's intent record once kept (0: none). */
  intentSeq = 0;
  /** An intent record was appended (failMode closed). */
  private intended = false;
  /** The intent record this operation's outcome names: its own, or a batch's that listed it (`continues`). */
  private intentOf: IntentSlot = this;
  /** Never goes upstream (answered by dgf): recorded once, nobody waits. */
  private answeredLocally = false;

  constructor(
    private readonly listener: string,
    private readonly protocol: string,
    private readonly audit: AuditLog,
    readonly options: BeginOptions,
    private decided: Decision,
  ) {
    super(options.labels);
  }

  get decision(): Decision {
    return this.decided;
  }

  get denied(): boolean {
    return this.decided.action === 'deny';
  }

  /**
   * Refuse an operation its rules allowed, for a reason only the protocol can see (an output it cannot trace, a
   * masked value written where the role could read it back): recorded as a denial by `ruleId`.
   */
  denyBy(ruleId: string, message: string): void {
    this.decided = { ...this.decided, action: 'deny', ruleId, message, rules: [...this.decided.rules, ruleId] };
  }

  /**
   * Write-ahead: with failMode closed, append this allowed operation's intent record (its identity, role,
   * operation, objects, statement, decision and rules; `entries` for a batch) and return the promise that
   * resolves once it is kept; nothing may go upstream before. Null when there is nothing to wait for: failMode
   * open, a denied operation (recorded once, by `finish`), or an intent already appended.
   */
  intent(entries?: AuditEntry[]): Promise<void> | null {
    if (this.intended || this.audit.failMode === 'open' || this.denied) return null;
    this.intended = true;
    return this.audit.append(this.eventOf(NO_LABELS_SEEN, NO_VALUES_MASKED, null, 0, null, entries, extraOf(this.options.encrypted, undefined), 'intent'), this);
  }

  /** Whether an intent record was appended (and so the outcome is a record nobody waits for). */
  get hasIntent(): boolean {
    return this.intended;
  }

  /** This operation's outcome follows the intent record `intent` wrote (a batch intent that listed it). */
  continues(intent: IntentSlot): void {
    this.intended = true;
    this.intentOf = intent;
  }

  /** dgf answers this operation itself (it never goes upstream): its one record is not waited for. */
  settleLocally(): void {
    this.answeredLocally = true;
  }

  private eventOf(
    labels: string[],
    masked: Record<string, number>,
    rows: number | null,
    totalMs: number,
    error: string | null,
    entries: AuditEntry[] | undefined,
    extra: Record<string, unknown> | undefined,
    phase: 'intent' | 'outcome' | undefined,
  ): AuditEvent {
    const objects = this.options.objects ?? NO_LABELS;
    return {
      listener: this.listener,
      protocol: this.protocol,
      identity: this.options.identity,
      role: this.options.role,
      operation: this.options.operation,
      object: objects.length === 0 ? null : objects.length === 1 ? objects[0]! : objects.join(','),
      statement: this.options.statement ?? null,
      labels,
      masked,
      rows,
      decision: this.decision.action,
      // Shared, never mutated: the audit chain memoizes its JSON per decision.
      rules: this.decision.rules as string[],
      duration_ms: Math.round(totalMs * 1000) / 1000,
      error,
      // Always present (undefined when absent): one object shape for every event, so the audit log's reads of it
      // stay monomorphic.
      entries,
      extra,
      phase,
      intent: phase === 'outcome' ? this.intentOf.intentSeq : undefined,
    };
  }

  /**
   * Record the operation: metrics now, its outcome record appended (or its only record, for a denial or in
   * failMode open). Idempotent. The promise resolves at once unless the operation went without an intent in
   * failMode closed (a path that is not write-ahead): then it resolves once the record is kept, and rejects when
   * it cannot be.
   */
  finish(result: FinishOptions = {}): Promise<void> {
    if (this.finished) return this.finished;
    const totalMs = performance.now() - (result.startedAt ?? this.startedAt);
    const error = result.error ?? null;
    const metrics = metricsOf(this.listener, this.protocol);
    if (result.entries !== undefined) {
      // A batch record: the metrics count its commands, not the record.
      this.countEntries(metrics, result.entries, result.entryMs, result.entryUpstreamMs);
    } else {
      metrics.query(this.options.operation, this.denied ? 'denied' : error ? 'error' : 'ok').inc();
      metrics.total.observe(totalMs / 1000);
      if (result.upstreamMs !== undefined) metrics.proxy.observe(Math.max(0, totalMs - result.upstreamMs) / 1000);
      if (this.denied) policyDenials.inc({ listener: this.listener, rule: this.decision.ruleId ?? 'unknown' });
    }
    if (this.hasMasked()) this.forEachMasked((label, method, count) => metrics.maskedBy(label, method).inc(count));
    const outcome = this.intended && this.intentOf.intentSeq > 0;
    const event = this.eventOf(
      this.hasLabels() ? this.seenLabels() : NO_LABELS_SEEN,
      this.hasMasked() ? this.maskedCounts() : NO_VALUES_MASKED,
      result.rows !== undefined ? result.rows : this.denied ? null : this.rows,
      totalMs,
      error,
      result.entries,
      extraOf(this.options.encrypted, result.extra),
      outcome ? 'outcome' : undefined,
    );
    if (this.intended || this.answeredLocally || this.denied || this.audit.failMode === 'open') {
      this.audit.note(event);
      this.finished = QUEUED;
    } else {
      this.finished = this.audit.append(event);
    }
    return this.finished;
  }

  private countEntries(
    metrics: ListenerMetrics,
    entries: readonly AuditEntry[],
    totalMs: readonly number[] | undefined,
    upstreamMs: readonly number[] | undefined,
  ): void {
    // Runs of one operation and outcome (a batch mostly repeats one command) are counted with one increment.
    let runOperation = '';
    let runOutcome = '';
    let run = 0;
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      const outcome = e.decision === 'deny' ? 'denied' : e.error !== null ? 'error' : 'ok';
      if (e.operation !== runOperation || outcome !== runOutcome) {
        if (run > 0) metrics.query(runOperation, runOutcome).inc(run);
        runOperation = e.operation;
        runOutcome = outcome;
        run = 0;
      }
      run++;
      // The engine stops at the denying rule: it is the last of the matched rules.
      if (outcome === 'denied') policyDenials.inc({ listener: this.listener, rule: e.rules[e.rules.length - 1] ?? 'unknown' });
      const ms = totalMs?.[i];
      if (ms !== undefined) {
        metrics.total.observe(ms / 1000);
        const up = upstreamMs?.[i];
        if (up !== undefined) metrics.proxy.observe(Math.max(0, ms - up) / 1000);
      }
    }
    if (run > 0) metrics.query(runOperation, runOutcome).inc(run);
  }
}
