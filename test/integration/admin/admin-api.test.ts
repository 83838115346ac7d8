/**
 * The admin API over real HTTP, backed by a real PolicyStore (shipped packs + a user policy dir), a real audit
 * log writing and fsyncing a file, real quota trackers and a real inventory. Listeners are stand-ins whose
 * upstream check opens a real TCP connection to a server the test controls.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAuditLog } from '../../../src/audit/log.js';
import type { AuditEvent, AuditLog } from '../../../src/audit/types.js';
import { Inventory } from '../../../src/governance/inventory.js';
import type { RunningListener, UpstreamHealth } from '../../../src/listener.js';
import { silentLogger } from '../../../src/logger.js';
import { PolicyStore } from '../../../src/policy/index.js';
import { MB } from '../../../src/quota/presets.js';
import { createListenerQuota, type QuotaTracker } from '../../../src/quota/tracker.js';
import { startAdminServer, type AdminServer } from '../../../src/admin/server.js';
import type { AdminState } from '../../../src/admin/state.js';

const TOKEN = 'admin-token-0123456789';
const AUTH = { authorization: `Bearer ${TOKEN}` };

/** A listener whose upstream check is a real TCP connect to host:port. */
function tcpListener(name: string, protocol: string, port: () => number): RunningListener {
  return {
    name,
    protocol,
    address: { host: '127.0.0.1', port: 6432 },
    checkUpstream: () =>
      new Promise<UpstreamHealth>((resolve) => {
        const s = createConnection({ host: '127.0.0.1', port: port() });
        s.once('connect', () => {
          s.destroy();
          resolve({ name, status: 'up' });
        });
        s.once('error', (e) => resolve({ name, status: 'down', detail: e.message }));
      }),
    close: async () => undefined,
  };
}

function event(over: Partial<AuditEvent>): AuditEvent {
  return {
    listener: 'pg',
    protocol: 'postgres',
    identity: { user: 'analyst', address: '127.0.0.1' },
    role: 'analyst',
    operation: 'select',
    object: 'public.customers',
    statement: 'select * from customers where id = $1',
    labels: ['pii.email'],
    masked: { 'pii.email': 3 },
    rows: 3,
    decision: 'allow',
    rules: ['GDPR-001'],
    duration_ms: 1.5,
    error: null,
    ...over,
  };
}

describe('admin API', () => {
  let dir: string;
  let policyDir: string;
  let auditFile: string;
  let store: PolicyStore;
  let audit: AuditLog;
  let upstream: Server;
  let upstreamPort = 0;
  let quotas: QuotaTracker[];
  let inventory: Inventory;
  let listeners: RunningListener[];
  let isReady = true;
  let admin: AdminServer;
  let base: string;

  const state = (): AdminState => ({
    policies: {
      current: () => store.current(),
      reload: async () => {
        const r = await store.reload();
        return r.ok ? r : { ok: false, errors: r.errors.map((e) => ({ message: e.message })) };
      },
    },
    audit,
    auditFiles: () => [auditFile],
    listeners: () => listeners,
    quotas: () => quotas,
    inventory,
    ready: () => isReady,
  });

  const get = (path: string, headers: Record<string, string> = AUTH): Promise<Response> => fetch(base + path, { headers });
  const post = (path: string, body: unknown, headers: Record<string, string> = AUTH): Promise<Response> =>
    fetch(base + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const json = async (r: Response): Promise<Record<string, unknown>> => (await r.json()) as Record<string, unknown>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dgf-admin-'));
    policyDir = join(dir, 'policies');
    auditFile = join(dir, 'audit', 'audit.jsonl');
    await rm(policyDir, { recursive: true, force: true });
    const { mkdir } = await import('node:fs/promises');
    await mkdir(policyDir, { recursive: true });
    await writeFile(
      join(policyDir, 'local.yaml'),
      ['classifiers:', '  - label: pii.loyalty_id', '    frameworks: [gdpr]', '    names: ["loyalty_id"]', ''].join('\n'),
    );
    store = await PolicyStore.load({ dir: policyDir, hashKey: 'test-hash-key' });
    audit = await createAuditLog({ failMode: 'closed', sinks: [{ type: 'file', path: auditFile, fsyncMs: 2 }] }, { chainKey: 'chain-key' });
    upstream = createServer((s) => s.destroy());
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    upstreamPort = (upstream.address() as { port: number }).port;
    listeners = [tcpListener('pg', 'postgres', () => upstreamPort)];
    quotas = [
      await createListenerQuota({ listener: 'pg', quota: { preset: 'supabase-free', onExceed: 'reject' }, stateDir: dir, logger: silentLogger }),
      await createListenerQuota({ listener: 'blob', quota: { preset: 'blob-free', onExceed: 'warn' }, stateDir: dir, logger: silentLogger }),
    ];
    inventory = new Inventory();
    inventory.record('pg', 'public.customers', 'email', ['pii.email']);
    inventory.record('pg', 'public.customers', 'email', ['pii.email']);
    inventory.record('pg', 'public.customers', 'card_number', ['financial.card']);
    await Promise.all([
      audit.append(event({})),
      audit.append(event({ operation: 'drop', object: 'public.customers', labels: [], masked: {}, rows: null, decision: 'deny', rules: ['deny-destructive'], error: 'denied' })),
      audit.append(event({ identity: { user: 'dpo' }, role: 'dpo', masked: {} })),
    ]);
    admin = await startAdminServer(state(), { listen: '127.0.0.1:0', token: TOKEN, healthTimeoutMs: 500 }, silentLogger);
    base = `http://127.0.0.1:${admin.address.port}`;
  });

  after(async () => {
    await admin?.close();
    await Promise.all(quotas.map((q) => q.close()));
    await audit?.close();
    await new Promise<void>((r) => upstream.close(() => r()));
    await rm(dir, { recursive: true, force: true });
  });

  test('binds to a free port on loopback', () => {
    assert.equal(admin.address.host, '127.0.0.1');
    assert.ok(admin.address.port > 0);
  });

  describe('auth', () => {
    test('/api/* needs the bearer token', async () => {
      const none = await get('/api/v1/inventory', {});
      assert.equal(none.status, 401);
      assert.equal(none.headers.get('www-authenticate'), 'Bearer realm="dgf"');
      assert.deepEqual(((await json(none)).error as { code: string }).code, 'UNAUTHORIZED');
      assert.equal((await get('/api/v1/inventory', { authorization: `Bearer ${TOKEN}x` })).status, 401);
      assert.equal((await get('/api/v1/inventory', { authorization: 'Bearer' })).status, 401);
      assert.equal((await get('/api/v1/inventory', { authorization: `Basic ${TOKEN}` })).status, 401);
      assert.equal((await post('/api/v1/policies/reload', {}, {})).status, 401, 'also for POST');
      assert.equal((await get('/api/nope', {})).status, 401, 'unknown /api routes are not revealed');
      assert.equal((await get('/api/v1/inventory', { authorization: `bearer ${TOKEN}` })).status, 200, 'scheme is case-insensitive');
    });

    test('/health, /ready, /metrics and the dashboard stay open', async () => {
      for (const p of ['/health', '/ready', '/metrics', '/']) assert.equal((await get(p, {})).status, 200, p);
    });
  });

  describe('health and readiness', () => {
    test('/health lists listeners and upstreams', async () => {
      const r = await get('/health', {});
      const body = await json(r);
      assert.equal(body.status, 'healthy');
      assert.deepEqual(body.listeners, [{ name: 'pg', protocol: 'postgres', address: '127.0.0.1:6432' }]);
      assert.deepEqual(body.upstreams, [{ name: 'pg', status: 'up' }]);
      assert.ok(!Number.isNaN(Date.parse(body.timestamp as string)));
    });

    test('a down upstream makes /health degraded and /ready 503', async () => {
      const dead = createServer();
      await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
      const deadPort = (dead.address() as { port: number }).port;
      await new Promise<void>((r) => dead.close(() => r()));
      listeners.push(tcpListener('gone', 'redis', () => deadPort));
      try {
        const h = await json(await get('/health', {}));
        assert.equal(h.status, 'degraded');
        const gone = (h.upstreams as UpstreamHealth[]).find((u) => u.name === 'gone')!;
        assert.equal(gone.status, 'down');
        assert.match(gone.detail!, /ECONNREFUSED/);
        const ready = await get('/ready', {});
        assert.equal(ready.status, 503);
        assert.equal((await json(ready)).status, 'not_ready');
      } finally {
        listeners.pop();
      }
      assert.equal((await get('/ready', {})).status, 200);
    });

    test('a hanging upstream check times out instead of hanging /health', async () => {
      listeners.push({ ...tcpListener('hang', 'mongodb', () => upstreamPort), checkUpstream: () => new Promise(() => undefined) });
      try {
        const t0 = Date.now();
        const h = await json(await get('/health', {}));
        assert.ok(Date.now() - t0 < 3000, 'bounded by the 500 ms check timeout');
        assert.equal(h.status, 'degraded');
        assert.deepEqual((h.upstreams as UpstreamHealth[])[1], { name: 'hang', status: 'down', detail: 'no answer within 500 ms' });
      } finally {
        listeners.pop();
      }
    });

    test('a throwing upstream check is reported as down', async () => {
      listeners.push({
        ...tcpListener('boom', 'cosmos', () => upstreamPort),
        checkUpstream: () => {
          throw new Error('kaput');
        },
      });
      try {
        const h = await json(await get('/health', {}));
        assert.deepEqual((h.upstreams as UpstreamHealth[])[1], { name: 'boom', status: 'down', detail: 'kaput' });
      } finally {
        listeners.pop();
      }
    });

    test('/ready is 503 while listeners are still starting', async () => {
      isReady = false;
      try {
        const r = await get('/ready', {});
        assert.equal(r.status, 503);
      } finally {
        isReady = true;
      }
    });

    test('HEAD /health answers without a body', async () => {
      const r = await fetch(base + '/health', { method: 'HEAD' });
      assert.equal(r.status, 200);
      assert.equal(await r.text(), '');
    });
  });

  test('/metrics is Prometheus text with dgf_ metrics, quota ratios and the audit queue depth', async () => {
    quotas[0]!.setUsage('storage', 450 * MB);
    const r = await get('/metrics', {});
    assert.match(r.headers.get('content-type')!, /^text\/plain/);
    const text = await r.text();
    for (const name of ['dgf_audit_queue_depth', 'dgf_audit_records_total', 'dgf_quota_usage_ratio', 'dgf_quota_rejections_total', 'dgf_queries_total', 'dgf_process_cpu_seconds_total']) {
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name);
    }
    assert.match(text, /^dgf_quota_usage_ratio\{listener="pg",resource="storage"\} 0\.9$/m);
    assert.match(text, /^dgf_audit_queue_depth 0$/m);
    assert.match(text, /^dgf_audit_records_total\{sink="[^"]+",outcome="kept"\} \d+$/m);
  });

  describe('governance', () => {
    test('policies, all and by framework', async () => {
      const all = await json(await get('/api/v1/governance/policies'));
      const list = all.policies as Array<{ id: string; framework: string; severity: string }>;
      assert.equal(all.total_count, list.length);
      for (const id of ['SOX-001', 'SOX-002', 'GDPR-001', 'GDPR-002', 'HIPAA-001', 'HIPAA-002', 'ISO-001']) assert.ok(list.some((p) => p.id === id), id);
      const gdpr = await json(await get('/api/v1/governance/policies?framework=GDPR'));
      const ids = (gdpr.policies as Array<{ id: string; framework: string }>).map((p) => p.id).sort();
      assert.deepEqual(ids, ['GDPR-001', 'GDPR-002']);
      assert.equal(gdpr.total_count, 2);
      assert.equal((await json(await get('/api/v1/governance/policies?framework=nosuch'))).total_count, 0);
    });

    test('validate: brief shapes and scoring', async () => {
      const r = await post('/api/v1/governance/compliance/validate', {
        framework: 'gdpr',
        data: { email: 'alice@example.com', nickname: 'al' },
        context: { user_id: 'u1', audit_enabled: true, field_classifications: {} },
      });
      assert.equal(r.status, 200);
      const body = await json(r);
      assert.equal(body.framework, 'gdpr');
      assert.equal(body.status, 'non_compliant');
      const v = body.violations as Record<string, Array<{ rule_id: string; field: string }>>;
      assert.deepEqual(Object.keys(v).sort(), ['critical', 'high', 'low', 'medium']);
      assert.ok(v.high!.some((x) => x.rule_id === 'GDPR-001' && x.field === 'email'));
      const counted = v.critical!.length + v.high!.length + v.medium!.length + v.low!.length;
      assert.equal(body.total_violations, counted);
      assert.equal(body.score, Math.max(0, 100 - 25 * v.critical!.length - 15 * v.high!.length - 10 * v.medium!.length - 5 * v.low!.length));
      assert.ok(!JSON.stringify(body).includes('alice@example.com'), 'values are never echoed');
    });

    test('validate: unknown framework is a 400', async () => {
      const r = await post('/api/v1/governance/compliance/validate', { framework: 'pci-dss', data: {} });
      assert.equal(r.status, 400);
      const err = (await json(r)).error as { code: string; message: string };
      assert.equal(err.code, 'VALIDATION_ERROR');
      assert.match(err.message, /unknown framework/);
    });

    test('report from the audit file', async () => {
      const r = await get('/api/v1/governance/compliance/report?framework=gdpr');
      assert.equal(r.status, 200);
      const rep = await json(r);
      assert.equal(rep.framework, 'gdpr');
      const source = rep.source as { files: string[]; records_read: number };
      assert.deepEqual(source.files, [auditFile]);
      assert.ok(source.records_read >= 3);
      assert.equal(typeof rep.score, 'number');
      assert.ok(Array.isArray(rep.data_touched));
      const future = await json(await get('/api/v1/governance/compliance/report?framework=gdpr&since=2999-01-01T00:00:00Z'));
      assert.equal((future.source as { records_in_period: number }).records_in_period, 0);
      const md = await get('/api/v1/governance/compliance/report?framework=sox&format=md');
      assert.match(md.headers.get('content-type')!, /markdown/);
      assert.ok((await md.text()).length > 0);
    });

    test('report: bad parameters are 400s', async () => {
      for (const q of ['', '?framework=nope', '?framework=gdpr&since=yesterday', '?framework=gdpr&format=pdf']) {
        const r = await get('/api/v1/governance/compliance/report' + q);
        assert.equal(r.status, 400, q);
        assert.equal(typeof ((await json(r)).error as { message: string }).message, 'string');
      }
    });
  });

  test('usage: per listener, usage_percent and status', async () => {
    quotas[0]!.setUsage('storage', 420 * MB);
    quotas[0]!.connectionOpened();
    for (let i = 0; i < 3; i++) quotas[1]!.countTransaction();
    const body = await json(await get('/api/v1/monitoring/usage'));
    const ls = body.listeners as Array<{ listener: string; protocol: string | null; preset: string; on_exceed: string; status: string; resources: Array<Record<string, unknown>> }>;
    const pg = ls.find((l) => l.listener === 'pg')!;
    assert.equal(pg.preset, 'supabase-free');
    assert.equal(pg.protocol, 'postgres');
    assert.equal(pg.on_exceed, 'reject');
    assert.deepEqual(pg.resources.find((r) => r.resource === 'storage'), {
      resource: 'storage',
      used: 420 * MB,
      limit: 500 * MB,
      unit: 'bytes',
      usage_percent: 84,
      status: 'warning',
    });
    assert.deepEqual(pg.resources.find((r) => r.resource === 'connections'), {
      resource: 'connections',
      used: 1,
      limit: 2,
      unit: 'count',
      usage_percent: 50,
      status: 'healthy',
    });
    assert.equal(pg.status, 'warning');
    const blob = ls.find((l) => l.listener === 'blob')!;
    assert.equal(blob.resources.find((r) => r.resource === 'transactions')!.used, 3);
    assert.equal(body.status, 'warning');
    quotas[0]!.connectionClosed();
  });

  test('inventory: labels seen per listener, object and field', async () => {
    const body = await json(await get('/api/v1/inventory'));
    const pg = (body.listeners as Record<string, Array<{ object: string; field: string; labels: Record<string, number> }>>).pg!;
    assert.deepEqual(pg.find((f) => f.field === 'email')!.labels, { 'pii.email': 2 });
    assert.equal(pg.find((f) => f.field === 'card_number')!.object, 'public.customers');
    assert.equal(body.total_fields, 2);
  });

  test('audit tail with limit and since', async () => {
    const all = await json(await get('/api/v1/audit'));
    const records = all.records as Array<{ seq: number; operation: string; hash: string; ts: string }>;
    assert.equal(all.count, records.length);
    assert.ok(records.length >= 3);
    assert.deepEqual(records.slice(0, 3).map((r) => r.operation), ['select', 'drop', 'select']);
    assert.ok(records.every((r) => /^[0-9a-f]{64}$/.test(r.hash)));
    const last = await json(await get('/api/v1/audit?limit=1'));
    assert.equal((last.records as unknown[]).length, 1);
    assert.equal((last.records as Array<{ seq: number }>)[0]!.seq, records[records.length - 1]!.seq);
    const none = await json(await get('/api/v1/audit?since=2999-01-01T00:00:00Z'));
    assert.equal(none.count, 0);
    assert.equal((await get('/api/v1/audit?limit=abc')).status, 400);
    assert.equal((await get('/api/v1/audit?since=not-a-date')).status, 400);
  });

  describe('classify', () => {
    test('finds a card inside free text and masks only that span', async () => {
      const r = await post('/api/v1/classify', { role: 'analyst', fields: { notes: 'card 4111 1111 1111 1111 ok', email: 'alice@example.com' } });
      assert.equal(r.status, 200);
      const body = await json(r);
      const results = body.results as Array<{ name: string; labels: string[]; masked: string; findings: Array<{ detector: string }> }>;
      const notes = results.find((x) => x.name === 'notes')!;
      assert.deepEqual(notes.labels, ['financial.card']);
      assert.equal(notes.findings[0]!.detector, 'payment_card');
      assert.ok(notes.masked.startsWith('card ') && notes.masked.endsWith(' ok'), notes.masked);
      assert.ok(!notes.masked.includes('4111 1111 1111 1111'));
      const email = results.find((x) => x.name === 'email')!;
      assert.deepEqual(email.labels, ['pii.email']);
      assert.notEqual(email.masked, 'alice@example.com');
    });

    test('values by index; a cleared role sees them in clear', async () => {
      const body = await json(await post('/api/v1/classify', { role: 'dpo', values: ['alice@example.com', 'nothing here', 42] }));
      const results = body.results as Array<{ index: number; labels: string[]; masked: unknown }>;
      assert.deepEqual(results.map((x) => x.index), [0, 1, 2]);
      assert.deepEqual(results[0]!.labels, ['pii.email']);
      assert.equal(results[0]!.masked, 'alice@example.com');
      assert.deepEqual(results[1]!.labels, []);
      assert.equal(results[2]!.masked, 42);
    });

    test('bad bodies are 400s', async () => {
      for (const b of [[], { role: 'analyst' }, { role: 7, values: [] }, { role: 'analyst', values: 'x' }, { role: 'analyst', fields: {}, type: 'float' }, 'null']) {
        const r = await post('/api/v1/classify', b);
        assert.equal(r.status, 400, JSON.stringify(b));
        assert.equal(((await json(r)).error as { code: string }).code, 'BAD_REQUEST');
      }
    });
  });

  describe('policy reload', () => {
    test('an invalid policy dir is rejected with its errors and the old set stays', async () => {
      const before = store.current().version;
      await writeFile(join(policyDir, 'broken.yaml'), ['classifiers:', '  - label: pii.x', '    names: ["x"]', '    values: no_such_detector', ''].join('\n'));
      try {
        const r = await post('/api/v1/policies/reload', {});
        assert.equal(r.status, 400);
        const err = (await json(r)).error as { code: string; message: string; errors: Array<{ message: string }>; version: number };
        assert.equal(err.code, 'INVALID_POLICIES');
        assert.ok(err.errors.length >= 1);
        assert.ok(err.errors.some((e) => e.message.includes('broken.yaml') && /no_such_detector/.test(e.message)), JSON.stringify(err.errors));
        assert.equal(err.version, before);
        assert.equal(store.current().version, before);
        const still = await json(await post('/api/v1/classify', { role: 'analyst', fields: { loyalty_id: 'L-1' } }));
        assert.deepEqual((still.results as Array<{ labels: string[] }>)[0]!.labels, ['pii.loyalty_id'], 'the old set still classifies');
      } finally {
        await unlink(join(policyDir, 'broken.yaml'));
      }
      const ok = await post('/api/v1/policies/reload', {});
      assert.equal(ok.status, 200);
      assert.deepEqual(await json(ok), { status: 'reloaded', version: before + 1 });
    });

    test('a reload picks up a new user classifier', async () => {
      await writeFile(join(policyDir, 'more.yaml'), ['classifiers:', '  - label: pii.member_no', '    names: ["member_no"]', ''].join('\n'));
      try {
        assert.equal((await post('/api/v1/policies/reload', {})).status, 200);
        const body = await json(await post('/api/v1/classify', { role: 'analyst', fields: { member_no: '77' } }));
        assert.deepEqual((body.results as Array<{ labels: string[] }>)[0]!.labels, ['pii.member_no']);
      } finally {
        await unlink(join(policyDir, 'more.yaml'));
        await post('/api/v1/policies/reload', {});
      }
    });
  });

  describe('errors', () => {
    test('bad JSON is a 400 with a message', async () => {
      for (const path of ['/api/v1/classify', '/api/v1/governance/compliance/validate']) {
        const r = await post(path, '{"role": "analyst", ');
        assert.equal(r.status, 400);
        const err = (await json(r)).error as { code: string; message: string };
        assert.equal(err.code, 'BAD_JSON');
        assert.match(err.message, /not valid JSON/);
      }
      const empty = await post('/api/v1/classify', '');
      assert.equal(empty.status, 400);
    });

    test('an oversized body is a 413', async () => {
      const big = JSON.stringify({ role: 'analyst', values: ['x'.repeat(1024 * 1024 + 10)] });
      const r = await post('/api/v1/classify', big);
      assert.equal(r.status, 413);
      assert.equal(((await json(r)).error as { code: string }).code, 'PAYLOAD_TOO_LARGE');
    });

    test('an oversized chunked body (no Content-Length) is a 413 too', async () => {
      const chunk = new TextEncoder().encode('"' + 'y'.repeat(64 * 1024));
      let sent = 0;
      const stream = new ReadableStream<Uint8Array>({
        pull(c) {
          if (sent++ < 40) c.enqueue(chunk);
          else c.close();
        },
      });
      const r = await fetch(base + '/api/v1/classify', { method: 'POST', headers: { ...AUTH, 'content-type': 'application/json' }, body: stream, duplex: 'half' } as RequestInit);
      assert.equal(r.status, 413);
    });

    test('unknown route 404, wrong method 405, all JSON', async () => {
      const nf = await get('/api/v1/nothing');
      assert.equal(nf.status, 404);
      assert.equal(((await json(nf)).error as { code: string }).code, 'NOT_FOUND');
      assert.equal((await get('/nothing', {})).status, 404);
      const wm = await get('/api/v1/classify');
      assert.equal(wm.status, 405);
      assert.equal(wm.headers.get('allow'), 'POST');
      assert.equal(((await json(wm)).error as { code: string }).code, 'METHOD_NOT_ALLOWED');
      const del = await fetch(base + '/health', { method: 'DELETE' });
      assert.equal(del.status, 405);
      assert.equal(del.headers.get('allow'), 'GET, HEAD');
    });

    test('a garbage request line does not take the server down', async () => {
      const answer = await new Promise<string>((resolve) => {
        const s = createConnection({ host: '127.0.0.1', port: admin.address.port });
        let data = '';
        s.on('data', (d) => (data += d.toString()));
        s.on('close', () => resolve(data));
        s.on('error', () => resolve(data));
        s.write('\x00\x01GARBAGE / HTTP/9.9\r\n\r\n');
      });
      assert.match(answer, /^HTTP\/1\.1 400/);
      assert.equal((await get('/health', {})).status, 200);
    });
  });

  test('the dashboard is one self-contained page', async () => {
    const r = await get('/', {});
    assert.match(r.headers.get('content-type')!, /^text\/html/);
    const csp = r.headers.get('content-security-policy')!;
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /connect-src 'self'/);
    const html = await r.text();
    assert.match(html, /^<!doctype html>/);
    assert.ok(!/(src|href)="(https?:)?\/\//.test(html), 'no external assets');
    for (const path of ['/health', '/api/v1/monitoring/usage', '/api/v1/inventory', '/api/v1/audit?limit=50', '/metrics']) assert.ok(html.includes(path), path);
    assert.ok(html.includes('sessionStorage'));
    const nonce = /nonce-([^']+)'/.exec(csp)![1]!;
    assert.ok(html.includes(`<script nonce="${nonce}">`));
  });
});

describe('admin API without a token', () => {
  test('/api/* is open, and close() ends keep-alive connections', async () => {
    const store = await PolicyStore.load({ hashKey: 'k' });
    const dir = await mkdtemp(join(tmpdir(), 'dgf-admin-open-'));
    const audit = await createAuditLog({ failMode: 'open', sinks: [{ type: 'file', path: join(dir, 'a.jsonl') }] }, { chainKey: 'k' });
    const admin = await startAdminServer(
      {
        policies: { current: () => store.current(), reload: async () => ({ ok: true, version: 1 }) },
        audit,
        auditFiles: () => [],
        listeners: () => [],
        quotas: () => [],
        inventory: new Inventory(),
        ready: () => true,
      },
      { listen: '127.0.0.1:0' },
      silentLogger,
    );
    try {
      const base = `http://127.0.0.1:${admin.address.port}`;
      const usage = (await (await fetch(base + '/api/v1/monitoring/usage')).json()) as { status: string; listeners: unknown[] };
      assert.deepEqual([usage.status, usage.listeners], ['healthy', []]);
      const health = (await (await fetch(base + '/health')).json()) as { status: string; listeners: unknown[] };
      assert.deepEqual([health.status, health.listeners], ['healthy', []]);
      assert.equal((await fetch(base + '/ready')).status, 200);
      const report = (await (await fetch(base + '/api/v1/governance/compliance/report?framework=hipaa')).json()) as { source: { records_read: number } };
      assert.equal(report.source.records_read, 0);
    } finally {
      const t0 = Date.now();
      await admin.close();
      assert.ok(Date.now() - t0 < 3000, 'close does not wait for idle keep-alive clients');
      await audit.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a port in use is a clear error', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const store = await PolicyStore.load({ hashKey: 'k' });
      await assert.rejects(
        startAdminServer(
          {
            policies: { current: () => store.current(), reload: async () => ({ ok: true, version: 1 }) },
            audit: { failMode: 'open', durability: 'write', append: async () => undefined, note: () => undefined, recent: () => [], queueDepth: () => 0, appendedAtTurnEnd: () => undefined, close: async () => undefined },
            auditFiles: () => [],
            listeners: () => [],
            quotas: () => [],
            inventory: new Inventory(),
            ready: () => true,
          },
          { listen: `127.0.0.1:${port}` },
          silentLogger,
        ),
        /admin API cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/,
      );
    } finally {
      await new Promise<void>((r) => blocker.close(() => r()));
    }
  });
});
