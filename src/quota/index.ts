/** Quotas' public interface: what the server, protocols (types only) and the admin API import. */
export type { ListenerQuota, QuotaCheck, QuotaResource, ResourceUsage } from './types.js';
export {
  GB,
  LIMIT_KEYS,
  MB,
  QUOTA_PRESETS,
  QUOTA_PRESET_NAMES,
  WARNING_THRESHOLDS,
  formatBytes,
  resolveQuotaLimits,
  type QuotaPreset,
} from './presets.js';
export { QuotaTracker, createListenerQuota, quotaStatePath, statusOf, type ListenerQuotaOptions } from './tracker.js';
export { TokenBucket, type Clock } from './token-bucket.js';
export { MonthlyCounter, monthKey } from './monthly-counter.js';
