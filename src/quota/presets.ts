/**
 * Free-tier quota presets (SPEC "Configuration", BRIEF "Free tiers") and the warning thresholds of the brief.
 * Sizes use binary units: 1 MB = 1,048,576 bytes, 1 GB = 1,073,741,824 bytes, as the providers' consoles count.
 */
import type { QuotaConfig, QuotaLimits } from '../config/types.js';
import { ConfigError } from '../errors.js';
import type { QuotaResource } from './types.js';

export const MB = 1024 * 1024;
export const GB = 1024 * MB;

/** A named free tier. */
export interface QuotaPreset {
  /** Preset name as written in `quota.preset`. */
  readonly name: string;
  /** The provider's tier it models. */
  readonly description: string;
  readonly limits: Readonly<Partial<QuotaLimits>>;
}

/** Every preset, by name. */
export const QUOTA_PRESETS: Readonly<Record<string, QuotaPreset>> = Object.freeze({
  'supabase-free': {
    name: 'supabase-free',
    description: 'Supabase free tier (PostgreSQL): 500 MB storage, 2 concurrent connections',
    limits: { storageBytes: 500 * MB, connections: 2 },
  },
  'atlas-m0': {
    name: 'atlas-m0',
    description: 'MongoDB Atlas M0: 512 MB storage, 100 connections',
    limits: { storageBytes: 512 * MB, connections: 100 },
  },
  'redis-cloud-free': {
    name: 'redis-cloud-free',
    description: 'Redis Cloud free: 30 MB memory, 30 connections',
    limits: { memoryBytes: 30 * MB, connections: 30 },
  },
  'cosmos-free': {
    name: 'cosmos-free',
    description: 'Azure Cosmos DB free tier: 1000 RU/s, 25 GB storage',
    limits: { requestUnitsPerSecond: 1000, storageBytes: 25 * GB },
  },
  'blob-free': {
    name: 'blob-free',
    description: 'Azure Blob Storage free: 5 GB storage (LRS), 20,000 transactions a month',
    limits: { storageBytes: 5 * GB, transactionsPerMonth: 20_000 },
  },
});

/** Preset names, for config validation messages. */
export const QUOTA_PRESET_NAMES: readonly string[] = Object.freeze(Object.keys(QUOTA_PRESETS));

/**
 * Fraction of a limit at which a resource turns from `healthy` to `warning` (BRIEF: 80% storage and
 * requests, 75% connections, 85% memory). At 100% it is `exceeded`.
 */
export const WARNING_THRESHOLDS: Readonly<Record<QuotaResource, number>> = Object.freeze({
  storage: 0.8,
  request_units: 0.8,
  transactions: 0.8,
  connections: 0.75,
  memory: 0.85,
});

/** Which `QuotaLimits` key limits which resource. */
export const LIMIT_KEYS: Readonly<Record<QuotaResource, keyof QuotaLimits>> = Object.freeze({
  storage: 'storageBytes',
  connections: 'connections',
  memory: 'memoryBytes',
  request_units: 'requestUnitsPerSecond',
  transactions: 'transactionsPerMonth',
});

const LIMIT_NAMES = new Set<string>(Object.values(LIMIT_KEYS));

/**
 * The limits a listener's quota config yields: the preset's limits with `limits` overrides on top.
 * No preset and no overrides: no limits at all. Throws ConfigError for an unknown preset or a bad override.
 */
export function resolveQuotaLimits(quota: QuotaConfig): Partial<QuotaLimits> {
  const out: Partial<QuotaLimits> = {};
  if (quota.preset !== undefined) {
    const preset = Object.hasOwn(QUOTA_PRESETS, quota.preset) ? QUOTA_PRESETS[quota.preset] : undefined;
    if (!preset) {
      throw new ConfigError(`unknown quota preset "${quota.preset}" (known: ${QUOTA_PRESET_NAMES.join(', ')})`, null, null, 'quota.preset');
    }
    Object.assign(out, preset.limits);
  }
  for (const [key, value] of Object.entries(quota.limits ?? {})) {
    if (!LIMIT_NAMES.has(key)) {
      throw new ConfigError(`unknown quota limit "${key}" (known: ${[...LIMIT_NAMES].join(', ')})`, null, null, `quota.limits.${key}`);
    }
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw new ConfigError('must be a positive number', null, null, `quota.limits.${key}`);
    }
    out[key as keyof QuotaLimits] = value;
  }
  return out;
}

/** `512.3 MB`, `25 GB`, `800 KB`: how quota messages show a byte count. */
export function formatBytes(bytes: number): string {
  const [value, unit] = bytes >= GB ? [bytes / GB, 'GB'] : bytes >= MB ? [bytes / MB, 'MB'] : bytes >= 1024 ? [bytes / 1024, 'KB'] : [bytes, 'B'];
  const rounded = Math.round(value * 10) / 10;
  return `${Number.isInteger(rounded) ? rounded.toFixed(0) : rounded.toFixed(1)} ${unit}`;
}
