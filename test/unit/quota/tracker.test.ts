import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { QuotaConfig } from '../../../src/config/types.js';
import { ConfigError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/logger.js';
import { registry } from '../../../src/metrics/index.js';
import { MB } from '../../../src/quota/presets.js';
import { createListenerQuota, quotaStatePath, statusOf } from '../../../src/quota/tracker.js';

function captureLogger(): { logger: pino.Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

async function metricValue(name: string, labels: Record<string, string>): Promise<number | undefined> {
  const m = await registry.getSingleMetric(name)!.get();
  return m.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val))?.value;
}

describe('QuotaTracker', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dgf-tracker-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const make = (listener: string, quota: QuotaConfig, extra: { now?: () => number; logger?: pino.Logger } = {}) =>
    createListenerQuota({ listener, quota, stateDir: dir, logger: extra.logger ?? silentLogger, ...(extra.now ? { now: extra.now } : {}) });

  test('unknown preset is a ConfigError', async () => {
    await assert.rejects(make('x', { preset: 'nope', onExceed: 'reject' }), ConfigError);
  });

  test('status thresholds per resource', () => {
    assert.equal(statusOf('storage', 0.79), 'healthy');
    assert.equal(statusOf('storage', 0.8), 'warning');
    assert.equal(statusOf('storage', 0.999), 'warning');
    assert.equal(statusOf('storage', 1), 'exceeded');
    assert.equal(statusOf('connections', 0.74), 'healthy');
    assert.equal(statusOf('connections', 0.75), 'warning');
    assert.equal(statusOf('memory', 0.84), 'healthy');
    assert.equal(statusOf('memory', 0.85), 'warning');
    assert.equal(statusOf('transactions', 0.8), 'warning');
    assert.equal(statusOf('request_units', 0.8), 'warning');
  });

  test('storage gauge: checkWrite refuses at the limit with a message naming the quota', async () => {
    const q = await make('sb', { preset: 'supabase-free', onExceed: 'reject' });
    assert.equal(q.preset, 'supabase-free');
    assert.equal(q.limits('storage'), 500 * MB);
    assert.equal(q.limits('memory'), undefined);
    q.setUsage('storage', 100 * MB);
    assert.deepEqual(q.checkWrite(), { ok: true });
    q.setUsage('storage', 512.3 * MB);
    const r = q.checkWrite();
    assert.equal(r.ok, false);
    assert.equal(r.message, 'storage quota exceeded: 512.3 MB used of 500 MB (supabase-free)');
    assert.equal(await metricValue('dgf_quota_rejections_total', { listener: 'sb', resource: 'storage' }), 1);
    assert.equal(await metricValue('dgf_quota_usage_ratio', { listener: 'sb', resource: 'storage' }), 512.3 / 500);
    q.setUsage('storage', 500 * MB);
    assert.equal(q.checkWrite().ok, false, 'at the limit counts as over');
    q.setUsage('storage', 499 * MB);
    assert.equal(q.checkWrite().ok, true);
    await q.close();
  });

  test('memory gauge (redis-cloud-free)', async () => {
    const q = await make('cache', { preset: 'redis-cloud-free', onExceed: 'reject' });
    q.setUsage('memory', 31 * MB);
    assert.equal(q.checkWrite().message, 'memory quota exceeded: 31 MB used of 30 MB (redis-cloud-free)');
    q.setUsage('memory', Number.NaN);
    assert.equal(q.checkWrite().ok, false, 'a garbage gauge reading is ignored');
    await q.close();
  });

  test('onExceed warn lets through but counts and logs (once per burst)', async () => {
    const { logger, lines } = captureLogger();
    const q = await make('warned', { preset: 'supabase-free', onExceed: 'warn' }, { logger });
    q.setUsage('storage', 600 * MB);
    for (let i = 0; i < 5; i++) assert.deepEqual(q.checkWrite(), { ok: true });
    assert.equal(await metricValue('dgf_quota_rejections_total', { listener: 'warned', resource: 'storage' }), 5);
    const over = lines.filter((l) => typeof l.msg === 'string' && l.msg.includes('storage quota exceeded'));
    assert.equal(over.length, 1);
    assert.match(over[0]!.msg as string, /onExceed: warn/);
    assert.ok(lines.some((l) => l.msg === 'quota storage at exceeded level'));
    await q.close();
  });

  test('connections: count, warning at 75%, checkConnection', async () => {
    const q = await make('conns', { preset: 'atlas-m0', onExceed: 'reject', limits: { connections: 4 } });
    assert.equal(q.connectionOpened(), 1);
    assert.equal(q.connectionOpened(), 2);
    assert.equal(q.usage().find((u) => u.resource === 'connections')!.status, 'healthy');
    assert.equal(q.connectionOpened(), 3);
    const c = q.usage().find((u) => u.resource === 'connections')!;
    assert.deepEqual(c, { resource: 'connections', used: 3, limit: 4, unit: 'count', usage_percent: 75, status: 'warning' });
    assert.equal(q.checkConnection().ok, true);
    q.connectionOpened();
    const refused = q.checkConnection();
    assert.equal(refused.ok, false);
    assert.equal(refused.message, 'connection quota exceeded: 4 open of 4 (atlas-m0)');
    assert.equal(q.usage().find((u) => u.resource === 'connections')!.status, 'exceeded');
    for (let i = 0; i < 10; i++) q.connectionClosed();
    assert.equal(q.connectionOpened(), 1, 'never below zero');
    await q.close();
  });

  test('RU/s token bucket with an injected clock: refuse with retryAfterMs, charge after the fact', async () => {
    let now = 1_000_000;
    const q = await make('cosmos', { preset: 'cosmos-free', onExceed: 'reject' }, { now: () => now });
    assert.deepEqual(q.takeRequestUnits(0), { ok: true });
    q.chargeRequestUnits(900);
    assert.equal(q.usage().find((u) => u.resource === 'request_units')!.status, 'warning');
    assert.ok(q.takeRequestUnits(100).ok);
    const refused = q.takeRequestUnits(50);
    assert.equal(refused.ok, false);
    assert.equal(refused.retryAfterMs, 50);
    assert.match(refused.message!, /^request unit quota exceeded: 1000 RU\/s \(cosmos-free\); retry after 50 ms$/);
    now += 50;
    assert.ok(q.takeRequestUnits(50).ok);
    q.chargeRequestUnits(3000);
    const u = q.usage().find((x) => x.resource === 'request_units')!;
    assert.equal(u.status, 'exceeded');
    assert.equal(u.unit, 'RU/s');
    assert.equal(q.takeRequestUnits(0).retryAfterMs, 3000);
    now += 3000;
    assert.ok(q.takeRequestUnits(0).ok);
    now += 10_000;
    assert.equal(q.usage().find((x) => x.resource === 'request_units')!.usage_percent, 0);
    await q.close();
  });

  test('RU/s with warn: runs and spends the units', async () => {
    let now = 0;
    const q = await make('cosmos-warn', { preset: 'cosmos-free', onExceed: 'warn' }, { now: () => now });
    q.chargeRequestUnits(1000);
    assert.deepEqual(q.takeRequestUnits(200), { ok: true });
    assert.equal(q.usage().find((x) => x.resource === 'request_units')!.used, 1200);
    now += 1;
    await q.close();
  });

  test('without a preset nothing is limited', async () => {
    const q = await make('free', { onExceed: 'reject' });
    q.setUsage('storage', 1e15);
    assert.deepEqual(q.checkWrite(), { ok: true });
    assert.deepEqual(q.takeRequestUnits(1e9), { ok: true });
    assert.deepEqual(q.countTransaction(), { ok: true });
    assert.deepEqual(q.usage(), []);
    await q.close();
  });

  test('monthly transactions: refused at the limit, persisted across a restart, reset next month', async () => {
    let now = Date.UTC(2026, 10, 30, 23, 0, 0);
    const quota: QuotaConfig = { preset: 'blob-free', onExceed: 'reject', limits: { transactionsPerMonth: 10 } };
    const q1 = await make('blob', quota, { now: () => now });
    for (let i = 0; i < 7; i++) assert.ok(q1.countTransaction().ok);
    assert.deepEqual(q1.usage().find((u) => u.resource === 'transactions'), {
      resource: 'transactions',
      used: 7,
      limit: 10,
      unit: 'per_month',
      usage_percent: 70,
      status: 'healthy',
    });
    await q1.close();

    const saved = JSON.parse(await readFile(quotaStatePath(dir, 'blob'), 'utf8')) as { month: string; count: number };
    assert.deepEqual([saved.month, saved.count], ['2026-11', 7]);

    const q2 = await make('blob', quota, { now: () => now });
    assert.equal(q2.usage().find((u) => u.resource === 'transactions')!.used, 7, 'the count survived the restart');
    for (let i = 0; i < 3; i++) assert.ok(q2.countTransaction().ok);
    assert.equal(q2.usage().find((u) => u.resource === 'transactions')!.status, 'exceeded');
    const refused = q2.countTransaction();
    assert.equal(refused.ok, false);
    assert.equal(refused.message, 'transaction quota exceeded: 10 of 10 this month (blob-free)');
    assert.equal(q2.usage().find((u) => u.resource === 'transactions')!.used, 10, 'a refused one is not counted');

    now = Date.UTC(2026, 11, 1, 0, 0, 1);
    assert.ok(q2.countTransaction().ok, 'a new month starts from zero');
    assert.equal(q2.transactionsMonth(), '2026-12');
    assert.equal(q2.usage().find((u) => u.resource === 'transactions')!.used, 1);
    await q2.close();
    const after = JSON.parse(await readFile(quotaStatePath(dir, 'blob'), 'utf8')) as { month: string; count: number };
    assert.deepEqual([after.month, after.count], ['2026-12', 1]);
  });

  test('state file names are safe for odd listener names', () => {
    assert.equal(quotaStatePath('/s', 'a/../b c'), join('/s', 'quota-a_.._b_c.json'));
  });
});
