/** The admin API's routes (SPEC "Admin HTTP API"), each answered from live state. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { auditFilesOf } from '../audit/sinks/file.js';
import { readAuditFiles, buildReport, type BadLine } from '../compliance/report.js';
import { renderReport, REPORT_FORMATS, type ReportFormat } from '../compliance/render.js';
import { normalizeFramework } from '../compliance/rules.js';
import { validateCompliance } from '../compliance/validate.js';
import type { Logger } from '../logger.js';
import { auditQueueDepth, registry } from '../metrics/index.js';
import type { CompiledPolicy, Explanation, LogicalType } from '../policy/types.js';
import type { ResourceUsage } from '../quota/types.js';
import { dashboardHtml } from './dashboard.js';
import type { HealthChecker } from './health.js';
import { HttpError, dateParam, intParam, readJsonBody, sendJson } from './http.js';
import type { AdminState } from './state.js';

export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  state: AdminState;
  health: HealthChecker;
  logger: Logger;
  maxBodyBytes: number;
  /** The admin API has a token (so this request carried it); without one it is open on loopback. */
  tokenRequired: boolean;
}

export interface Route {
  method: 'GET' | 'POST';
  path: string;
  handler(ctx: RouteContext): Promise<void> | void;
}

/** Most records one GET /api/v1/audit returns. */
const MAX_AUDIT_LIMIT = 1000;
/** Most names or values one POST /api/v1/classify may ask about. */
const MAX_CLASSIFY_ITEMS = 10_000;
const LOGICAL_TYPES = new Set<LogicalType>(['text', 'integer', 'numeric', 'boolean', 'date', 'timestamp', 'uuid', 'json', 'bytes']);
const STATUS_RANK: Record<ResourceUsage['status'], number> = { healthy: 0, warning: 1, exceeded: 2 };

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function worst(statuses: Iterable<ResourceUsage['status']>): ResourceUsage['status'] {
  let w: ResourceUsage['status'] = 'healthy';
  for (const s of statuses) if (STATUS_RANK[s] > STATUS_RANK[w]) w = s;
  return w;
}

async function health({ res, health: checker }: RouteContext): Promise<void> {
  sendJson(res, 200, await checker.check());
}

async function ready({ res, state, health: checker }: RouteContext): Promise<void> {
  if (!state.ready()) {
    sendJson(res, 503, { status: 'not_ready', reason: 'listeners are still starting', timestamp: new Date().toISOString() });
    return;
  }
  const h = await checker.check();
  const down = h.upstreams.filter((u) => u.status !== 'up');
  if (down.length > 0) {
    sendJson(res, 503, { status: 'not_ready', reason: 'an upstream does not answer', upstreams: h.upstreams, timestamp: h.timestamp });
    return;
  }
  sendJson(res, 200, { status: 'ready', upstreams: h.upstreams, timestamp: h.timestamp });
}

async function metrics({ res, state }: RouteContext): Promise<void> {
  // Gauges that are cheap to read but would cost a timer to keep fresh: refreshed at scrape time.
  auditQueueDepth.set(state.audit.queueDepth());
  for (const q of state.quotas()) q.usage();
  const text = await registry.metrics();
  res.writeHead(200, { 'content-type': registry.contentType, 'content-length': String(Buffer.byteLength(text)), 'cache-control': 'no-store' });
  res.end(text);
}

function policies({ res, url, state }: RouteContext): void {
  const raw = url.searchParams.get('framework') ?? '';
  let framework: string | undefined;
  if (raw !== '') {
    // Known names are normalized (ISO-27001 -> iso27001); packs may use others (pci), which filter as written.
    try {
      framework = normalizeFramework(raw);
    } catch {
      framework = raw.toLowerCase();
    }
  }
  const list = state.policies.current().summaries(framework);
  sendJson(res, 200, { policies: list, total_count: list.length, ...(framework ? { framework } : {}) });
}

async function validate({ req, res, state, maxBodyBytes }: RouteContext): Promise<void> {
  const body = await readJsonBody(req, maxBodyBytes);
  sendJson(res, 200, validateCompliance(body, state.policies.current()));
}

async function report({ res, url, state }: RouteContext): Promise<void> {
  const p = url.searchParams;
  const framework = normalizeFramework(p.get('framework') ?? '');
  const since = dateParam(p, 'since');
  const until = dateParam(p, 'until');
  const format = (p.get('format') || 'json') as ReportFormat;
  if (!REPORT_FORMATS.includes(format)) throw new HttpError(400, 'BAD_REQUEST', `format must be one of ${REPORT_FORMATS.join(', ')}`);
  const files: string[] = [];
  for (const f of state.auditFiles()) for (const x of await auditFilesOf(f)) if (!files.includes(x)) files.push(x);
  const problems: BadLine[] = [];
  const r = await buildReport(readAuditFiles(files, problems), {
    framework,
    problems,
    sources: files,
    ...(since ? { since } : {}),
    ...(until ? { until } : {}),
  });
  if (format === 'json') {
    sendJson(res, 200, r);
    return;
  }
  const text = renderReport(r, format);
  const type = format === 'html' ? 'text/html; charset=utf-8' : 'text/markdown; charset=utf-8';
  res.writeHead(200, { 'content-type': type, 'content-length': String(Buffer.byteLength(text)), 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
  res.end(text);
}

function usage({ res, state }: RouteContext): void {
  const protocols = new Map(state.listeners().map((l) => [l.name, l.protocol]));
  const listeners = state.quotas().map((q) => {
    const resources = q.usage();
    return {
      listener: q.listener,
      protocol: protocols.get(q.listener) ?? null,
      preset: q.preset ?? null,
      on_exceed: q.onExceed,
      status: worst(resources.map((r) => r.status)),
      resources,
    };
  });
  sendJson(res, 200, { status: worst(listeners.map((l) => l.status)), listeners, timestamp: new Date().toISOString() });
}

function inventory({ res, state }: RouteContext): void {
  const listeners = state.inventory.snapshot();
  let total = 0;
  for (const fields of Object.values(listeners)) total += fields.length;
  sendJson(res, 200, { listeners, total_fields: total, timestamp: new Date().toISOString() });
}

function audit({ res, url, state }: RouteContext): void {
  const limit = intParam(url.searchParams, 'limit', 100, 1, MAX_AUDIT_LIMIT);
  const since = dateParam(url.searchParams, 'since');
  const records = state.audit.recent(limit, since);
  sendJson(res, 200, { records, count: records.length });
}

/**
 * Masks whose output a caller could use to reverse or link values (a keyed hash or token of a chosen value is a
 * dictionary oracle; `fake` is deterministic too): computed for the admin token only.
 */
const ORACLE_METHODS = new Set(['hash', 'tokenize', 'fake']);

async function classify({ req, res, state, maxBodyBytes, tokenRequired }: RouteContext): Promise<void> {
  const body = await readJsonBody(req, maxBodyBytes);
  if (!isPlainObject(body)) throw new HttpError(400, 'BAD_REQUEST', 'request body must be a JSON object {role, fields} or {role, values}');
  const role = body.role ?? 'default';
  if (typeof role !== 'string' || role === '') throw new HttpError(400, 'BAD_REQUEST', 'role must be a non-empty string');
  let type: LogicalType | undefined;
  if (body.type !== undefined) {
    if (typeof body.type !== 'string' || !LOGICAL_TYPES.has(body.type as LogicalType)) {
      throw new HttpError(400, 'BAD_REQUEST', `type must be one of ${[...LOGICAL_TYPES].join(', ')}`);
    }
    type = body.type as LogicalType;
  }
  const policy = state.policies.current();
  const results: Array<Record<string, unknown>> = [];
  if (isPlainObject(body.fields)) {
    const entries = Object.entries(body.fields);
    if (entries.length > MAX_CLASSIFY_ITEMS) throw new HttpError(400, 'BAD_REQUEST', `at most ${MAX_CLASSIFY_ITEMS} fields per request`);
    for (const [name, value] of entries) {
      const e = policy.explain(role, name, value, type);
      results.push({ name, labels: e.labels, findings: e.findings, ...maskedOutput(e, role, policy, tokenRequired) });
    }
  } else if (Array.isArray(body.values)) {
    if (body.values.length > MAX_CLASSIFY_ITEMS) throw new HttpError(400, 'BAD_REQUEST', `at most ${MAX_CLASSIFY_ITEMS} values per request`);
    body.values.forEach((value: unknown, index: number) => {
      const e = policy.explain(role, undefined, value, type);
      results.push({ index, labels: e.labels, findings: e.findings, ...maskedOutput(e, role, policy, tokenRequired) });
    });
  } else {
    throw new HttpError(400, 'BAD_REQUEST', 'give either "fields" (an object of name: value) or "values" (an array)');
  }
  sendJson(res, 200, { role, version: policy.version, results });
}

/** The masked value, or, without the admin token, nothing where a hash/tokenize/fake mask computed it. */
function maskedOutput(e: Explanation, role: string, policy: CompiledPolicy, tokenRequired: boolean): { masked: unknown; withheld?: string } {
  if (tokenRequired) return { masked: e.masked };
  const labels = new Set([...e.labels, ...e.findings.map((f) => f.label)]);
  for (const label of labels) {
    const method = policy.maskMethodFor(role, label);
    if (method !== null && ORACLE_METHODS.has(method)) return { masked: null, withheld: `${method} outputs are computed for the admin token only (set admin.token)` };
  }
  return { masked: e.masked };
}

async function reload({ res, state, logger }: RouteContext): Promise<void> {
  const r = await state.policies.reload();
  if (r.ok) {
    sendJson(res, 200, { status: 'reloaded', version: r.version });
    return;
  }
  logger.warn({ errors: r.errors.length }, 'policy reload over the admin API rejected');
  throw new HttpError(400, 'INVALID_POLICIES', `the new policies are invalid (${r.errors.length} error(s)); the previous policies stay in force`, {
    errors: r.errors.map((e) => ({ message: e.message })),
    version: state.policies.current().version,
  });
}

function dashboard({ res }: RouteContext): void {
  const { html, nonce } = dashboardHtml();
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': String(Buffer.byteLength(html)),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    // Self-contained page: its own inline script (by nonce) and style, and calls back to this server only.
    'content-security-policy': `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
  });
  res.end(html);
}

/** Every route, matched on the exact path. */
export const ROUTES: readonly Route[] = [
  { method: 'GET', path: '/', handler: dashboard },
  { method: 'GET', path: '/health', handler: health },
  { method: 'GET', path: '/ready', handler: ready },
  { method: 'GET', path: '/metrics', handler: metrics },
  { method: 'GET', path: '/api/v1/governance/policies', handler: policies },
  { method: 'POST', path: '/api/v1/governance/compliance/validate', handler: validate },
  { method: 'GET', path: '/api/v1/governance/compliance/report', handler: report },
  { method: 'GET', path: '/api/v1/monitoring/usage', handler: usage },
  { method: 'GET', path: '/api/v1/inventory', handler: inventory },
  { method: 'GET', path: '/api/v1/audit', handler: audit },
  { method: 'POST', path: '/api/v1/classify', handler: classify },
  { method: 'POST', path: '/api/v1/policies/reload', handler: reload },
];
