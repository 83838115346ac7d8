import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../src/logger.js';
import { MonthlyCounter, monthKey } from '../../../src/quota/monthly-counter.js';

const NOV_15 = Date.UTC(2026, 10, 15, 12, 0, 0);
const DEC_1 = Date.UTC(2026, 11, 1, 0, 0, 0);

describe('MonthlyCounter', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dgf-quota-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('monthKey is the UTC calendar month', () => {
    assert.equal(monthKey(NOV_15), '2026-11');
    assert.equal(monthKey(DEC_1 - 1), '2026-11');
    assert.equal(monthKey(DEC_1), '2026-12');
    assert.equal(monthKey(Date.UTC(2027, 0, 1)), '2027-01');
  });

  test('persists across a simulated restart', async () => {
    const path = join(dir, 'restart.json');
    let now = NOV_15;
    const first = await MonthlyCounter.open({ path, logger: silentLogger, now: () => now });
    for (let i = 0; i < 42; i++) first.add();
    await first.close();
    const state = JSON.parse(await readFile(path, 'utf8')) as { month: string; count: number; v: number };
    assert.deepEqual({ v: state.v, month: state.month, count: state.count }, { v: 1, month: '2026-11', count: 42 });

    now += 3_600_000;
    const second = await MonthlyCounter.open({ path, logger: silentLogger, now: () => now });
    assert.equal(second.value(), 42);
    second.add();
    assert.equal(second.value(), 43);
    await second.close();
    assert.deepEqual((await readdir(dir)).filter((f) => f.startsWith('restart')), ['restart.json'], 'no temp file left behind');
  });

  test('resets at the month boundary while running', async () => {
    const path = join(dir, 'rollover.json');
    let now = DEC_1 - 10;
    const c = await MonthlyCounter.open({ path, logger: silentLogger, now: () => now });
    c.add();
    c.add();
    assert.equal(c.value(), 2);
    now = DEC_1;
    assert.equal(c.value(), 0);
    assert.equal(c.currentMonth(), '2026-12');
    c.add();
    await c.close();
    const state = JSON.parse(await readFile(path, 'utf8')) as { month: string; count: number };
    assert.deepEqual([state.month, state.count], ['2026-12', 1]);
  });

  test("a last month's state file counts as zero after a restart", async () => {
    const path = join(dir, 'stale.json');
    await writeFile(path, JSON.stringify({ v: 1, month: '2026-10', count: 19_999, updatedAt: '2026-10-31T23:59:59Z' }));
    const c = await MonthlyCounter.open({ path, logger: silentLogger, now: () => NOV_15 });
    assert.equal(c.value(), 0);
    await c.close();
    const state = JSON.parse(await readFile(path, 'utf8')) as { month: string; count: number };
    assert.deepEqual([state.month, state.count], ['2026-11', 0], 'the reset is written back');
  });

  test('a damaged state file does not stop it', async () => {
    for (const content of ['{"month": "2026-11", "cou', '[]', '{"month":"2026-11","count":-5}', '']) {
      const path = join(dir, 'damaged.json');
      await writeFile(path, content);
      const c = await MonthlyCounter.open({ path, logger: silentLogger, now: () => NOV_15 });
      assert.equal(c.value(), 0);
      c.add();
      await c.close();
      assert.equal((JSON.parse(await readFile(path, 'utf8')) as { count: number }).count, 1);
    }
  });

  test('writes are coalesced: at most one per interval, on its own', async () => {
    const path = join(dir, 'coalesce.json');
    const c = await MonthlyCounter.open({ path, logger: silentLogger, flushIntervalMs: 150 });
    c.add();
    await new Promise((r) => setTimeout(r, 40));
    const first = JSON.parse(await readFile(path, 'utf8')) as { count: number };
    assert.equal(first.count, 1, 'the first change is written without waiting');
    for (let i = 0; i < 100; i++) c.add();
    await new Promise((r) => setTimeout(r, 40));
    assert.equal((JSON.parse(await readFile(path, 'utf8')) as { count: number }).count, 1, 'not yet: within the interval');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((JSON.parse(await readFile(path, 'utf8')) as { count: number }).count, 101, 'written once the interval passed');
    await c.close();
  });
});
