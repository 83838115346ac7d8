/**
 * One listener's quota state (src/quota/types.ts): gauges fed by the protocol (storage, memory), a connection
 * count, a token bucket for RU/s and a monthly transaction counter persisted in `<stateDir>/quota-<listener>.json`.
 * Every check is synchronous and allocation-light: it sits on the hot path of every write.
 */
import { join } from 'node:path';
import type { QuotaConfig, QuotaLimits } from '../config/types.js';
import type { Logger } from '../logger.js';
import { quotaRejections, quotaUsageRatio } from '../metrics/index.js';
import { MonthlyCounter } from './monthly-counter.js';
import { LIMIT_KEYS, WARNING_THRESHOLDS, formatBytes, resolveQuotaLimits } from './presets.js';
import { TokenBucket } from './token-bucket.js';
import type { ListenerQuota, QuotaCheck, QuotaResource, ResourceUsage } from './types.js';

export interface ListenerQuotaOptions {
  listener: string;
  quota: QuotaConfig;
  /** Directory of the state file for the monthly counter. */
  stateDir: string;
  logger: Logger;
  /** Clock in epoch ms for the token bucket and the month; default Date.now / performance.now. For tests. */
  now?: () => number;
  /** Least time between two state-file writes; default 1000 ms. */
  flushIntervalMs?: number;
}

const OK: QuotaCheck = Object.freeze({ ok: true });
/** Resources in the order usage() lists them. */
const RESOURCES: readonly QuotaResource[] = ['storage', 'memory', 'connections', 'request_units', 'transactions'];
const UNITS: Record<QuotaResource, ResourceUsage['unit']> = {
  storage: 'bytes',
  memory: 'bytes',
  connections: 'count',
  request_units: 'RU/s',
  transactions: 'per_month',
};
/** Least time between two "over the limit" log lines per resource, so a flood of refused writes logs once. */
const LOG_EVERY_MS = 10_000;

/** File name of a listener's quota state; the listener name is made safe for any file system. */
export function quotaStatePath(stateDir: string, listener: string): string {
  return join(stateDir, `quota-${listener.replace(/[^A-Za-z0-9_.-]/g, '_')}.json`);
}

/** healthy below the warning threshold, warning at or above it, exceeded at or above the limit. */
export function statusOf(resource: QuotaResource, ratio: number): ResourceUsage['status'] {
  if (ratio >= 1) return 'exceeded';
  if (ratio >= WARNING_THRESHOLDS[resource]) return 'warning';
  return 'healthy';
}

export class QuotaTracker implements ListenerQuota {
  readonly listener: string;
  readonly onExceed: 'reject' | 'warn';
  readonly preset?: string;
  private readonly limitOf: Partial<Record<QuotaResource, number>> = {};
  private storage = 0;
  private memory = 0;
  private connections = 0;
  private readonly bucket: TokenBucket | null;
  private readonly lastLog = new Map<string, number>();
  private readonly lastStatus = new Map<QuotaResource, ResourceUsage['status']>();
  private readonly now: () => number;
  private readonly logger: Logger;

  constructor(
    opts: ListenerQuotaOptions,
    limits: Partial<QuotaLimits>,
    private readonly transactions: MonthlyCounter,
  ) {
    this.listener = opts.listener;
    this.onExceed = opts.quota.onExceed ?? 'reject';
    if (opts.quota.preset !== undefined) this.preset = opts.quota.preset;
    this.logger = opts.logger;
    this.now = opts.now ?? Date.now;
    for (const r of RESOURCES) {
      const v = limits[LIMIT_KEYS[r]];
      if (v !== undefined) this.limitOf[r] = v;
    }
    this.bucket = this.limitOf.request_units ? new TokenBucket(this.limitOf.request_units, opts.now) : null;
    for (const r of RESOURCES) this.publish(r);
  }

  limits(resource: QuotaResource): number | undefined {
    return this.limitOf[resource];
  }

  setUsage(resource: 'storage' | 'memory', used: number): void {
    if (!Number.isFinite(used) || used < 0) return;
    if (resource === 'storage') this.storage = used;
    else this.memory = used;
    this.publish(resource);
  }

  connectionOpened(): number {
    this.connections++;
    this.publish('connections');
    return this.connections;
  }

  connectionClosed(): number {
    if (this.connections > 0) this.connections--;
    this.publish('connections');
    return this.connections;
  }

  checkConnection(): QuotaCheck {
    const limit = this.limitOf.connections;
    if (limit === undefined || this.connections < limit) return OK;
    return this.exceeded('connections', `connection quota exceeded: ${this.connections} open of ${limit}${this.suffix()}`);
  }

  checkWrite(): QuotaCheck {
    const s = this.limitOf.storage;
    if (s !== undefined && this.storage >= s) {
      const r = this.exceeded('storage', `storage quota exceeded: ${formatBytes(this.storage)} used of ${formatBytes(s)}${this.suffix()}`);
      if (!r.ok) return r;
    }
    const m = this.limitOf.memory;
    if (m !== undefined && this.memory >= m) {
      return this.exceeded('memory', `memory quota exceeded: ${formatBytes(this.memory)} used of ${formatBytes(m)}${this.suffix()}`);
    }
    return OK;
  }

  takeRequestUnits(amount: number): QuotaCheck {
    if (!this.bucket) return OK;
    const res = this.bucket.take(Number.isFinite(amount) ? amount : 0);
    if (res.ok) {
      this.publish('request_units');
      return OK;
    }
    const limit = this.bucket.ratePerSecond;
    const check = this.exceeded(
      'request_units',
      `request unit quota exceeded: ${limit} RU/s${this.suffix()}; retry after ${res.retryAfterMs} ms`,
      res.retryAfterMs,
    );
    // With warn the request runs anyway, so its units are spent.
    if (check.ok) this.bucket.charge(amount);
    this.publish('request_units');
    return check;
  }

  chargeRequestUnits(amount: number): void {
    if (!this.bucket || !Number.isFinite(amount)) return;
    this.bucket.charge(amount);
    this.publish('request_units');
  }

  countTransaction(): QuotaCheck {
    const limit = this.limitOf.transactions;
    if (limit !== undefined && this.transactions.value() >= limit) {
      const check = this.exceeded(
        'transactions',
        `transaction quota exceeded: ${this.transactions.value()} of ${limit} this month${this.suffix()}`,
      );
      // A refused transaction never reached the provider, so it is not counted.
      if (!check.ok) return check;
    }
    this.transactions.add();
    this.publish('transactions');
    return OK;
  }

  usage(): ResourceUsage[] {
    const out: ResourceUsage[] = [];
    for (const r of RESOURCES) {
      const limit = this.limitOf[r];
      if (limit === undefined) continue;
      const used = this.used(r);
      const ratio = used / limit;
      out.push({
        resource: r,
        used: r === 'request_units' ? Math.round(used * 100) / 100 : used,
        limit,
        unit: UNITS[r],
        usage_percent: Math.round(ratio * 10_000) / 100,
        status: statusOf(r, ratio),
      });
      quotaUsageRatio.set({ listener: this.listener, resource: r }, ratio);
    }
    return out;
  }

  /** The UTC month the transaction count belongs to (`YYYY-MM`). */
  transactionsMonth(): string {
    return this.transactions.currentMonth();
  }

  async close(): Promise<void> {
    await this.transactions.close();
  }

  private used(r: QuotaResource): number {
    switch (r) {
      case 'storage':
        return this.storage;
      case 'memory':
        return this.memory;
      case 'connections':
        return this.connections;
      case 'request_units':
        return this.bucket ? this.bucket.used() : 0;
      case 'transactions':
        return this.transactions.value();
    }
  }

  /** Update the ratio gauge and log when a resource changes status (not on every change). */
  private publish(r: QuotaResource): void {
    const limit = this.limitOf[r];
    if (limit === undefined) return;
    const ratio = this.used(r) / limit;
    quotaUsageRatio.set({ listener: this.listener, resource: r }, ratio);
    const status = statusOf(r, ratio);
    const before = this.lastStatus.get(r) ?? 'healthy';
    if (status === before) return;
    this.lastStatus.set(r, status);
    // The token bucket swings with every request; its transitions are reported through refusals instead.
    if (r === 'request_units') return;
    const fields = { listener: this.listener, resource: r, usage_percent: Math.round(ratio * 10_000) / 100, preset: this.preset };
    if (status === 'healthy') this.logger.info(fields, `quota ${r} back below the warning level`);
    else this.logger.warn(fields, `quota ${r} at ${status} level`);
  }

  /** Refuse (reject) or let through and count (warn). */
  private exceeded(resource: QuotaResource, message: string, retryAfterMs?: number): QuotaCheck {
    quotaRejections.inc({ listener: this.listener, resource });
    const t = this.now();
    const last = this.lastLog.get(resource) ?? -Infinity;
    if (t - last >= LOG_EVERY_MS) {
      this.lastLog.set(resource, t);
      const fields = { listener: this.listener, resource, onExceed: this.onExceed };
      if (this.onExceed === 'warn') this.logger.warn(fields, `${message} (onExceed: warn, let through)`);
      else this.logger.info(fields, message);
    }
    if (this.onExceed === 'warn') return OK;
    return retryAfterMs === undefined ? { ok: false, message } : { ok: false, message, retryAfterMs };
  }

  private suffix(): string {
    return this.preset ? ` (${this.preset})` : ` (listener ${this.listener})`;
  }
}

/**
 * Create a listener's quota from its config: validates the preset (ConfigError when unknown), and loads this
 * month's transaction count from the state file.
 */
export async function createListenerQuota(opts: ListenerQuotaOptions): Promise<QuotaTracker> {
  const limits = resolveQuotaLimits(opts.quota);
  const counter = await MonthlyCounter.open({
    path: quotaStatePath(opts.stateDir, opts.listener),
    logger: opts.logger,
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.flushIntervalMs !== undefined ? { flushIntervalMs: opts.flushIntervalMs } : {}),
  });
  return new QuotaTracker(opts, limits, counter);
}
