/**
 * The RU/s budget: dgf answers 429 with x-ms-retry-after-ms when the listener's token bucket is empty, and
 * @azure/cosmos backs off and retries by itself until every request succeeds.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { CosmosClient } from '@azure/cosmos';
import { request } from 'undici';
import { readAudit, startDgf, type TestDgf } from '../../helpers/dgf.js';
import { expectedAuthorization } from './verifying-upstream.js';

const key = (s: string): string => Buffer.from(s.padEnd(32, '#')).toString('base64');
const REAL_KEY = key('the-real-account-key');
const APP_KEY = key('app-key');

describe('cosmos: request unit quota', () => {
  let dgf: TestDgf;
  let endpoint: string;
  const dbId = `dgf-ru-${randomUUID().slice(0, 8)}`;

  before(async () => {
    dgf = await startDgf({
      roles: [{ match: { user: 'app' }, role: 'admin' }],
      listeners: [
        {
          name: 'cosmos',
          protocol: 'cosmos',
          listen: '127.0.0.1:0',
          upstream: { endpoint: 'https://127.0.0.1:8081', key: REAL_KEY, insecureSkipVerify: true },
          users: [{ name: 'app', key: APP_KEY }],
          quota: { preset: 'cosmos-free', limits: { requestUnitsPerSecond: 20 } },
        },
      ],
    });
    endpoint = `http://127.0.0.1:${dgf.listener('cosmos').address.port}`;
  });

  after(async () => {
    await new CosmosClient({ endpoint, key: APP_KEY }).database(dbId).delete().catch(() => undefined);
    await dgf?.stop();
  });

  test('a burst beyond 20 RU/s is throttled with 429 + retry-after, and the SDK succeeds after backing off', async () => {
    const client = new CosmosClient({ endpoint, key: APP_KEY });
    const { database } = await client.databases.createIfNotExists({ id: dbId });
    const { container } = await database.containers.createIfNotExists({ id: 'c', partitionKey: { paths: ['/pk'] } });
    await container.items.upsert({ id: 'x', pk: 'p', n: 1 });
    const started = Date.now();
    const results = await Promise.all(Array.from({ length: 60 }, () => container.item('x', 'p').read()));
    const elapsed = Date.now() - started;
    assert.ok(results.every((r) => r.statusCode === 200 && r.resource?.n === 1));
    // 60+ RU at 20 RU/s (one second of burst) needs about two seconds.
    assert.ok(elapsed >= 1500, `finished in ${elapsed} ms: the bucket did not throttle`);
    const retries = results.reduce((n, r) => n + Number(r.headers['x-ms-throttle-retry-count'] ?? 0), 0);
    assert.ok(retries > 0, 'the SDK retried throttled requests');
    const audit = await readAudit(dgf.auditFile);
    const throttled = audit.filter((r) => (r.extra as Record<string, unknown> | undefined)?.throttled === true);
    assert.ok(throttled.length > 0);
    assert.match(throttled[0]!.error as string, /request unit quota exceeded/);
  });

  test('the raw 429 carries x-ms-retry-after-ms and x-ms-substatus 3200', async () => {
    // 60 requests at once: far more than one second of a 20 RU/s budget, however slow the machine is.
    const answers = await Promise.all(
      Array.from({ length: 60 }, async () => {
        const date = new Date().toUTCString();
        const res = await request(`${endpoint}/dbs/${dbId}`, {
          headers: { 'x-ms-date': date, 'x-ms-version': '2020-07-15', authorization: encodeURIComponent(expectedAuthorization(APP_KEY, 'GET', `/dbs/${dbId}`, date)) },
        });
        return { status: res.statusCode, headers: res.headers, body: (await res.body.json()) as { code: string; message: string } };
      }),
    );
    const throttled = answers.find((a) => a.status === 429);
    assert.ok(throttled, 'no 429 among 60 concurrent requests at 20 RU/s');
    assert.ok(answers.some((a) => a.status === 200));
    assert.equal(throttled.body.code, 'TooManyRequests');
    assert.ok(Number(throttled.headers['x-ms-retry-after-ms']) > 0);
    assert.equal(throttled.headers['x-ms-substatus'], '3200');
    const usage = (await (await fetch(`${dgf.adminUrl}/api/v1/monitoring/usage`)).json()) as unknown;
    assert.ok(JSON.stringify(usage).includes('request_units'));
  });
});
