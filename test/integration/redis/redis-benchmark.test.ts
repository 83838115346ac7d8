import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readAudit, type TestDgf } from '../../helpers/dgf.js';
import { PASSWORD, startRedisDgf } from './helpers.js';

const run = promisify(execFile);

describe('redis-benchmark through dgf', () => {
  let dgf: TestDgf;
  let port: number;
  before(async () => {
    ({ dgf, port } = await startRedisDgf());
  });
  after(async () => {
    await dgf.stop();
  });

  test('GET and SET, 20 clients, pipeline 1 and 8, no errors', async () => {
    for (const P of ['1', '8']) {
      const { stdout } = await run('redis-benchmark', [
        '-h', '127.0.0.1', '-p', String(port), '--user', 'service', '-a', PASSWORD,
        '-t', 'get,set', '-n', '4000', '-c', '20', '-P', P, '--csv', '-r', '1000',
      ]);
      const rows = stdout.trim().split('\n').slice(1).map((l) => l.split(',').map((c) => c.replace(/"/g, '')));
      assert.deepEqual(rows.map((r) => r[0]), ['SET', 'GET']);
      for (const r of rows) assert.ok(Number(r[1]) > 100, `${r[0]} at -P ${P}: ${r[1]} requests/s`);
    }
    const records = await readAudit(dgf.auditFile);
    assert.ok(records.some((r) => r['operation'] === 'pipeline'));
    // Every command is audited once: as a record of its own or as an entry of a batch record.
    const counts = new Map<string, number>();
    for (const r of records) {
      for (const c of (r['entries'] as Array<Record<string, unknown>> | undefined) ?? [r]) {
        const op = String(c['operation']);
        counts.set(op, (counts.get(op) ?? 0) + 1);
        if (op === 'get') assert.match(String(c['object']), /^key:\d{12}$/);
      }
    }
    assert.equal(counts.get('get'), 8000);
    assert.equal(counts.get('set'), 8000);
  });
});
