/**
 * Every metric dgf exports, declared once (SPEC "Metrics", prefix `dgf_`). One registry per process;
 * listeners are told apart by the `listener` label.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { LabelledCounter, LabelledHistogram } from './labelled.js';

/** The process-wide metrics registry served on GET /metrics. */
export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'dgf_' });

export const clientConnections = new Gauge({
  name: 'dgf_client_connections',
  help: 'Open client connections to a listener.',
  labelNames: ['listener', 'protocol'] as const,
  registers: [registry],
});

/** Each listener's upstream pool size, read when the metrics are scraped (it changes at every pool hand-over). */
export const upstreamPoolSizes = new Map<string, { active: number; idle: number }>();

export const upstreamConnections = new Gauge({
  name: 'dgf_upstream_connections',
  help: 'Upstream connections held by a listener, by state (active, idle).',
  labelNames: ['listener', 'state'] as const,
  registers: [registry],
  collect() {
    for (const [listener, size] of upstreamPoolSizes) {
      this.set({ listener, state: 'active' }, size.active);
      this.set({ listener, state: 'idle' }, size.idle);
    }
  },
});

/** Hot path: take a child per label set once (`queriesTotal.child(listener, protocol, operation, outcome)`). */
export const queriesTotal = new LabelledCounter(
  'dgf_queries_total',
  'Operations handled, by outcome (ok, error, denied).',
  ['listener', 'protocol', 'operation', 'outcome'],
  registry,
);

/** phase="total": client-observed time; phase="proxy": time added by dgf (total minus upstream time). */
export const queryDuration = new LabelledHistogram(
  'dgf_query_duration_seconds',
  'Operation duration in seconds; phase=total end to end, phase=proxy the part added by dgf.',
  ['listener', 'protocol', 'phase'],
  [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5],
  registry,
);

export const poolWait = new LabelledHistogram(
  'dgf_pool_wait_seconds',
  'Time a client waited for an upstream connection.',
  ['listener'],
  [0.0001, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
  registry,
);

export const maskedValues = new LabelledCounter(
  'dgf_masked_values_total',
  'Values masked, by label and method.',
  ['listener', 'label', 'method'],
  registry,
);

export const policyDenials = new Counter({
  name: 'dgf_policy_denials_total',
  help: 'Operations denied by a policy rule.',
  labelNames: ['listener', 'rule'] as const,
  registers: [registry],
});

/** Counted once per flushed batch: a LabelledCounter, as prom-client's `inc` was ~1.5% of dgf's CPU at one client. */
export const auditRecords = new LabelledCounter('dgf_audit_records_total', 'Audit records by sink and outcome (kept, dropped, failed).', ['sink', 'outcome'], registry);

export const auditQueueDepth = new Gauge({
  name: 'dgf_audit_queue_depth',
  help: 'Audit records waiting to be written and fsynced.',
  registers: [registry],
});

export const quotaUsageRatio = new Gauge({
  name: 'dgf_quota_usage_ratio',
  help: 'Quota use as a fraction of the limit, by resource.',
  labelNames: ['listener', 'resource'] as const,
  registers: [registry],
});

export const quotaRejections = new Counter({
  name: 'dgf_quota_rejections_total',
  help: 'Operations refused (or, with onExceed warn, let through over the limit) by a quota.',
  labelNames: ['listener', 'resource'] as const,
  registers: [registry],
});
