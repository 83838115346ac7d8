/** The quota contract protocols use. Implementation: src/quota/tracker.ts. */

/** Resources a free tier limits. */
export type QuotaResource = 'storage' | 'connections' | 'memory' | 'request_units' | 'transactions';

/** Usage of one resource, as GET /api/v1/monitoring/usage reports it. */
export interface ResourceUsage {
  resource: QuotaResource;
  used: number;
  limit: number;
  unit: 'bytes' | 'count' | 'RU/s' | 'per_month';
  usage_percent: number;
  /** healthy below the warning threshold, warning at or above it, exceeded at or above the limit. */
  status: 'healthy' | 'warning' | 'exceeded';
}

/** Outcome of asking for quota. */
export interface QuotaCheck {
  ok: boolean;
  /** When not ok: a message naming the quota, for the protocol's own error. */
  message?: string;
  /** For rate limits: how long until enough budget is back, in ms. */
  retryAfterMs?: number;
}

/** Per-listener quota state. Gauges are fed by protocols (polled storage/memory), counters by traffic. */
export interface ListenerQuota {
  readonly listener: string;
  readonly onExceed: 'reject' | 'warn';
  /** Whether a limit applies to this resource at all. */
  limits(resource: QuotaResource): number | undefined;
  /** Set a polled gauge (storage bytes, memory bytes). */
  setUsage(resource: 'storage' | 'memory', used: number): void;
  /** Track open connections (client or upstream, as the protocol decides); returns the new count. */
  connectionOpened(): number;
  connectionClosed(): number;
  /**
   * May a write run now? Checks storage/memory gauges against their limits. With onExceed 'warn' always ok
   * (but counted and logged). Reads are never refused by storage/memory quotas.
   */
  checkWrite(): QuotaCheck;
  /**
   * Take `amount` request units from the token bucket (Cosmos RU/s); not ok with retryAfterMs when empty.
   * The bucket holds one second of budget. `takeRequestUnits(0)` is a pure admission gate: refused only while
   * the bucket is in debt (after large charges), so a protocol that only learns the cost afterwards gates with 0
   * and then calls `chargeRequestUnits(actual)`; one that takes an estimate charges only the difference.
   */
  takeRequestUnits(amount: number): QuotaCheck;
  /**
   * Charge RUs actually spent (from the response's charge header) after the fact. Never refused; the bucket
   * may go negative, and later requests wait until it has refilled. A negative amount refunds (capped at full).
   */
  chargeRequestUnits(amount: number): void;
  /** Count one transaction (Blob monthly counter, persisted). */
  countTransaction(): QuotaCheck;
  usage(): ResourceUsage[];
  /** The preset the limits came from, if any (e.g. 'supabase-free'). */
  readonly preset?: string;
  /**
   * May one more connection open now (connections gauge below its limit)? With onExceed 'warn' always ok
   * (but counted and logged). Call before `connectionOpened()` where the protocol can refuse a connection.
   */
  checkConnection?(): QuotaCheck;
  /** Persist counters (monthly transactions) and stop timers. */
  close?(): Promise<void>;
}
