import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../src/errors.js';
import { GB, MB, QUOTA_PRESETS, QUOTA_PRESET_NAMES, WARNING_THRESHOLDS, formatBytes, resolveQuotaLimits } from '../../../src/quota/presets.js';

describe('quota presets', () => {
  test('the five free tiers of the brief', () => {
    assert.deepEqual([...QUOTA_PRESET_NAMES].sort(), ['atlas-m0', 'blob-free', 'cosmos-free', 'redis-cloud-free', 'supabase-free']);
    assert.deepEqual(QUOTA_PRESETS['supabase-free']!.limits, { storageBytes: 500 * MB, connections: 2 });
    assert.deepEqual(QUOTA_PRESETS['atlas-m0']!.limits, { storageBytes: 512 * MB, connections: 100 });
    assert.deepEqual(QUOTA_PRESETS['redis-cloud-free']!.limits, { memoryBytes: 30 * MB, connections: 30 });
    assert.deepEqual(QUOTA_PRESETS['cosmos-free']!.limits, { requestUnitsPerSecond: 1000, storageBytes: 25 * GB });
    assert.deepEqual(QUOTA_PRESETS['blob-free']!.limits, { storageBytes: 5 * GB, transactionsPerMonth: 20_000 });
  });

  test('warning thresholds: 80% storage and requests, 75% connections, 85% memory', () => {
    assert.deepEqual({ ...WARNING_THRESHOLDS }, { storage: 0.8, request_units: 0.8, transactions: 0.8, connections: 0.75, memory: 0.85 });
  });

  test('resolveQuotaLimits merges overrides over the preset', () => {
    assert.deepEqual(resolveQuotaLimits({ preset: 'supabase-free', onExceed: 'reject' }), { storageBytes: 500 * MB, connections: 2 });
    assert.deepEqual(resolveQuotaLimits({ preset: 'supabase-free', onExceed: 'reject', limits: { connections: 5, memoryBytes: 10 } }), {
      storageBytes: 500 * MB,
      connections: 5,
      memoryBytes: 10,
    });
    assert.deepEqual(resolveQuotaLimits({ onExceed: 'warn' }), {});
    assert.deepEqual(resolveQuotaLimits({ onExceed: 'warn', limits: { transactionsPerMonth: 7 } }), { transactionsPerMonth: 7 });
  });

  test('the preset table is not shared with callers', () => {
    const limits = resolveQuotaLimits({ preset: 'atlas-m0', onExceed: 'reject' });
    limits.connections = 1;
    assert.equal(QUOTA_PRESETS['atlas-m0']!.limits.connections, 100);
  });

  test('unknown preset is a ConfigError naming the known ones', () => {
    assert.throws(
      () => resolveQuotaLimits({ preset: 'atlas-m10', onExceed: 'reject' }),
      (e: unknown) => e instanceof ConfigError && e.key === 'quota.preset' && /unknown quota preset "atlas-m10"/.test(e.message) && /supabase-free/.test(e.message),
    );
    // Not fooled by Object.prototype members.
    assert.throws(() => resolveQuotaLimits({ preset: 'constructor', onExceed: 'reject' }), ConfigError);
  });

  test('bad overrides are ConfigErrors', () => {
    assert.throws(() => resolveQuotaLimits({ onExceed: 'reject', limits: { connections: -1 } }), (e: unknown) => e instanceof ConfigError && e.key === 'quota.limits.connections');
    assert.throws(() => resolveQuotaLimits({ onExceed: 'reject', limits: { connections: Number.NaN } }), ConfigError);
    assert.throws(() => resolveQuotaLimits({ onExceed: 'reject', limits: { bogus: 1 } as never }), /unknown quota limit "bogus"/);
  });

  test('formatBytes', () => {
    assert.equal(formatBytes(500 * MB), '500 MB');
    assert.equal(formatBytes(512.3 * MB), '512.3 MB');
    assert.equal(formatBytes(25 * GB), '25 GB');
    assert.equal(formatBytes(800 * 1024), '800 KB');
    assert.equal(formatBytes(12), '12 B');
  });
});
