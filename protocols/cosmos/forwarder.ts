/**
 * One Cosmos DB request from client to upstream and back: verify the client's master-key signature against
 * the keys dgf issued, decide by policy, take request units, re-sign with the real key, forward over the
 * keep-alive pool, charge the RUs the service reports, mask documents for the caller's role, audit, answer.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';
import type http from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Dispatcher } from 'undici';
import type { ListenerContext } from '../../src/listener.js';
import type { CompiledPolicy, Identity } from '../../src/policy/types.js';
import type { Operation } from '../../src/governance/operation.js';
import { BodyError, hasBody, readBounded } from '../shared/http-body.js';
import { classifyDocument, parseJsonBuffer, type Classification } from '../shared/http-json.js';
import { forwardHeaders, headerValue, responseHeaders, type UpstreamTarget } from '../shared/http-upstream.js';
import { rewriteAccount } from './account.js';
import { sendCosmosError, type CosmosErrorStatus } from './errors.js';
import { traceQuery, type QueryLineage } from './lineage.js';
import { maskCosmosBody, maskQueryPage } from './masking.js';
import { CosmosRequestError, normalizeQuery, parseCosmosRequest, signingResource, type CosmosRequest } from './request.js';
import { authorizationHeader, dateIsFresh, findSigner, parseAuthorization, type IssuedKey } from './signing.js';

/** Options of a cosmos listener (`options:` in the listener config). */
export interface CosmosOptions {
  /** Endpoint advertised in the account document; default: the scheme and Host header the client used. */
  publicEndpoint?: string;
  /** A request or response body that sends nothing for this long is abandoned (408 / 502); default 30000 ms. */
  bodyIdleTimeoutMs: number;
  /** Largest upstream response dgf reads (it buffers responses to mask them); default maxMessageBytes. */
  maxResponseBytes: number;
  /** Request units assumed for a write before the service reports the charge; default 5 per KiB. */
  writeEstimatePerKiB: number;
}

/** Request headers never forwarded as the client sent them. */
const DROP_REQUEST = new Set(['authorization', 'content-length']);
/** Response headers dgf recomputes or that name the upstream's address. */
const DROP_RESPONSE = new Set(['content-length', 'content-location']);
const VALID_HOST = /^[A-Za-z0-9.\-_[\]:]{1,255}$/;
/** The rule id of a refusal by lineage (an output dgf cannot trace, code it cannot see): in the audit trail. */
const LINEAGE_RULE = 'dgf-lineage';
const TRIGGER_HEADERS = ['x-ms-documentdb-pre-trigger-include', 'x-ms-documentdb-post-trigger-include'];
/** Prefix of a continuation token dgf sealed (the service's own tokens can carry ORDER BY values). */
const SEALED = 'dgf1.';

export class CosmosForwarder {
  private readonly gov: ListenerContext['governance'];
  private readonly keys: IssuedKey[];
  private readonly upstreamOrigins: string[];
  /** Documents size (bytes) per container, from the service's usage headers. */
  private readonly storageByContainer = new Map<string, number>();
  private throttleWindowStart = 0;
  /** Units of requests told to retry within the current window. */
  private throttledUnits = 0;
  /** Key that seals query continuation tokens (derived from the account key: tokens survive a restart). */
  private readonly tokenKey: Buffer;

  constructor(
    private readonly ctx: ListenerContext,
    private readonly upstream: UpstreamTarget,
    private readonly masterKey: Buffer,
    private readonly scheme: 'http' | 'https',
    private readonly options: CosmosOptions,
  ) {
    this.gov = ctx.governance;
    this.keys = ctx.config.users
      .filter((u) => typeof u.key === 'string' && u.key.length > 0)
      .map((u) => ({ user: u.name, key: Buffer.from(u.key!, 'base64') }));
    this.upstreamOrigins = [upstream.origin, upstream.origin.replace('://127.0.0.1', '://localhost')];
    this.tokenKey = createHmac('sha256', masterKey).update('dgf cosmos continuation token').digest();
  }

  /**
   * A query's continuation token, sealed: the service's tokens may carry the values a page ended on (the ORDER BY
   * items of cosmosdb-server's `RTD`), which would show a masked field in clear. The client gets them encrypted
   * and authenticated, and hands them back as they are; dgf opens them before forwarding.
   */
  private sealToken(token: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.tokenKey, iv);
    const body = Buffer.concat([cipher.update(token, 'utf8'), cipher.final()]);
    return SEALED + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
  }

  /** The token inside a sealed one; null when it is not one dgf sealed with this key. */
  private openToken(sealed: string): string | null {
    try {
      const raw = Buffer.from(sealed.slice(SEALED.length), 'base64url');
      if (raw.length < 28) return null;
      const decipher = createDecipheriv('aes-256-gcm', this.tokenKey, raw.subarray(0, 12));
      decipher.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
    } catch {
      return null;
    }
  }

  /** The http server's request handler. */
  readonly handle = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    this.serve(req, res).catch((err: unknown) => {
      this.gov.logger.error({ err }, 'cosmos request failed');
      sendCosmosError(res, 500, 'dgf failed to process the request', {}, true);
    });
  };

  private async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const pathname = q < 0 ? url : url.slice(0, q);
    const bodyExpected = hasBody(req.headers);

    let parsed: CosmosRequest;
    try {
      parsed = parseCosmosRequest(method, pathname, req.headers);
    } catch (err) {
      if (err instanceof CosmosRequestError) return sendCosmosError(res, 400, err.message, {}, bodyExpected);
      throw err;
    }

    // Key isolation: the client proves it holds a key dgf issued; the real key never leaves dgf.
    const auth = parseAuthorization(headerValue(req.headers, 'authorization'));
    if (!auth) return this.unauthorized(res, 'missing or malformed authorization header (expected type=master&ver=1.0&sig=...)', bodyExpected);
    if (auth.type === 'resource') {
      return this.unauthorized(res, 'resource tokens are not accepted by dgf: sign requests with the master-key style key dgf issued to you', bodyExpected);
    }
    if (auth.type !== 'master') return this.unauthorized(res, `authorization type "${auth.type}" is not supported by dgf`, bodyExpected);
    const date = headerValue(req.headers, 'x-ms-date') ?? headerValue(req.headers, 'date');
    if (!date) return this.unauthorized(res, 'the x-ms-date header is missing', bodyExpected);
    if (!dateIsFresh(date)) {
      return this.unauthorized(res, `the request date "${date}" is more than 15 minutes away from the proxy's clock`, bodyExpected);
    }
    const links = [parsed.resourceLink];
    const raw = signingResource(pathname.replace(/^\/+|\/+$/g, '').split('/').filter((s) => s !== ''));
    if (raw.resourceLink !== parsed.resourceLink) links.push(raw.resourceLink);
    const signer = findSigner(this.keys, auth.signature, method, parsed.resourceType, links, date);
    if (!signer) {
      return this.unauthorized(
        res,
        'the authorization signature does not match any key dgf issued for this listener (wrong key, or verb, resource or date signed differently)',
        bodyExpected,
      );
    }

    const identity: Identity = {
      user: signer.user,
      ...(req.headers['user-agent'] ? { application: req.headers['user-agent'] } : {}),
      ...(req.socket.remoteAddress ? { address: req.socket.remoteAddress } : {}),
    };
    const role = this.gov.roleOf(identity);
    const policy = this.gov.policy();

    let body: Buffer | null = null;
    if (bodyExpected) {
      try {
        body = await readBounded(req, this.ctx.config.maxMessageBytes, this.options.bodyIdleTimeoutMs);
      } catch (err) {
        if (err instanceof BodyError) return sendCosmosError(res, err.status as CosmosErrorStatus, err.message, {}, true);
        throw err;
      }
    }

    let statement: string | null = null;
    let queryText: string | null = null;
    let queryParameters: Array<{ name?: unknown; value?: unknown }> = [];
    let classification: Classification | null = null;
    const object = parsed.objects[0] ?? null;
    const isQuery = parsed.operation === 'query' || parsed.operation === 'query-plan';
    if (body && body.length > 0 && (isQuery || parsed.writesDocuments)) {
      const json = parseJsonBuffer(body);
      if (json === undefined) return sendCosmosError(res, 400, 'the request body is not valid JSON');
      if (isQuery) {
        const text = (json as { query?: unknown }).query;
        statement = typeof text === 'string' ? normalizeQuery(text) : null;
        queryText = typeof text === 'string' ? text : null;
        const params = (json as { parameters?: unknown }).parameters;
        if (Array.isArray(params)) queryParameters = params as Array<{ name?: unknown; value?: unknown }>;
      } else {
        classification = classifyWritten(policy, parsed.operation, json);
      }
    }

    const op = this.gov.begin({
      identity,
      role,
      operation: parsed.operation,
      kind: parsed.kind,
      objects: parsed.objects,
      statement,
      ...(classification && classification.labels.size > 0
        ? { labels: [...classification.labels], fields: classification.fields.map((f) => f.name) }
        : {}),
      encrypted: this.scheme === 'https' && this.upstream.origin.startsWith('https:'),
    });
    if (classification && classification.fields.length > 0) this.gov.recordFields(object, classification.fields);

    // The masking guarantee: a masked role's query is traced output by output; what cannot be traced is refused or
    // masked whole; code that runs on the service (UDFs, stored procedures, triggers) is refused.
    let lineage: QueryLineage | null = null;
    if (!op.denied && policy.masksAnyFor(role)) {
      const refusal = this.lineageRefusal(parsed, req.headers, body, queryText, queryParameters, policy, role);
      if (refusal.lineage) lineage = refusal.lineage;
      if (refusal.message) op.denyBy(LINEAGE_RULE, refusal.message);
    }

    if (op.denied) {
      const message = op.decision.message ?? `denied by rule ${op.decision.ruleId ?? ''}`;
      if (!(await this.finish(op, res, { error: message }))) return;
      return sendCosmosError(res, 403, message);
    }

    if (parsed.kind === 'write' || parsed.kind === 'ddl') {
      const check = this.gov.quota.checkWrite();
      if (!check.ok) {
        const message = check.message ?? 'storage quota exceeded';
        if (!(await this.finish(op, res, { error: message }))) return;
        return sendCosmosError(res, 403, message, { 'x-ms-substatus': '1014' });
      }
    }
    const estimate = this.estimateCharge(parsed, body);
    const budget = this.gov.quota.takeRequestUnits(estimate);
    if (!budget.ok) {
      const retryMs = this.spreadRetry(budget.retryAfterMs ?? 100, estimate);
      const message = budget.message ?? 'request rate is large: the RU/s budget of this listener is spent';
      if (!(await this.finish(op, res, { error: message, extra: { requestCharge: 0, throttled: true } }))) return;
      return sendCosmosError(res, 429, message, {
        'x-ms-retry-after-ms': String(retryMs),
        'x-ms-substatus': '3200',
      });
    }

    const headers = forwardHeaders(req.rawHeaders, DROP_REQUEST);
    const continuation = headers['x-ms-continuation'];
    if (continuation !== undefined && continuation.startsWith(SEALED)) {
      const opened = this.openToken(continuation);
      if (opened === null) {
        this.gov.quota.chargeRequestUnits(-estimate);
        const message = 'the x-ms-continuation token was not issued by this dgf (or was altered)';
        if (!(await this.finish(op, res, { error: message }))) return;
        return sendCosmosError(res, 400, message);
      }
      headers['x-ms-continuation'] = opened;
    }
    headers.authorization = authorizationHeader(this.masterKey, method, parsed.resourceType, signer.link, date);
    const kept = op.intent();
    if (kept !== null) {
      // Write-ahead: nothing goes upstream before the intent record is kept.
      try {
        await kept;
      } catch (err) {
        this.gov.quota.chargeRequestUnits(-estimate);
        const message = `the audit record of this request could not be kept (audit failMode closed); it was not run: ${(err as Error).message}`;
        await this.finish(op, res, { error: 'audit record could not be kept' });
        return sendCosmosError(res, 503, message);
      }
    }
    const started = performance.now();
    let upstreamRes: Dispatcher.ResponseData;
    let responseBody: Buffer;
    try {
      upstreamRes = await this.upstream.pool.request({
        path: this.upstream.basePath + url,
        method: method as Dispatcher.HttpMethod,
        headers,
        body: body ?? null,
      });
      responseBody = await readBounded(upstreamRes.body, this.options.maxResponseBytes, this.options.bodyIdleTimeoutMs, 'upstream response');
    } catch (err) {
      this.gov.quota.chargeRequestUnits(-estimate);
      const message = err instanceof BodyError ? err.message : `upstream unavailable: ${(err as Error).message}`;
      if (!(await this.finish(op, res, { error: message, upstreamMs: performance.now() - started }))) return;
      return sendCosmosError(res, err instanceof BodyError ? 502 : 503, message);
    }
    const upstreamMs = performance.now() - started;
    const status = upstreamRes.statusCode;
    const charge = Number.parseFloat(headerValue(upstreamRes.headers, 'x-ms-request-charge') ?? '0') || 0;
    this.gov.quota.chargeRequestUnits(charge - estimate);
    this.trackStorage(parsed, upstreamRes.headers);

    let out = responseBody;
    let rows = 0;
    const ok = status >= 200 && status < 300 && responseBody.length > 0;
    if (ok && (parsed.shape !== 'other' || lineage !== null)) {
      const json = parseJsonBuffer(responseBody);
      if (json === undefined) {
        const message = 'the upstream response is not valid JSON: dgf does not forward documents it cannot inspect and mask';
        if (!(await this.finish(op, res, { error: message, upstreamMs, extra: { requestCharge: charge, status } }))) return;
        return sendCosmosError(res, 502, message);
      }
      if (parsed.shape === 'account') {
        out = Buffer.from(JSON.stringify(rewriteAccount(json, this.endpointFor(req), this.upstreamOrigins)));
      } else {
        const masked = lineage
          ? maskQueryPage(json, lineage.item, policy, role, op, object ?? '')
          : maskCosmosBody(parsed.shape, json, policy, role, op, object ?? '');
        rows = masked.rows;
        if (masked.body !== json) out = Buffer.from(JSON.stringify(masked.body));
      }
    }
    const error = status >= 400 ? `upstream answered ${status}${cosmosCode(responseBody)}` : null;
    if (!(await this.finish(op, res, { rows, error, upstreamMs, extra: { requestCharge: charge, status } }))) return;

    const outHeaders = responseHeaders(upstreamRes.headers, DROP_RESPONSE);
    outHeaders['content-length'] = String(out.length);
    const nextToken = headerValue(upstreamRes.headers, 'x-ms-continuation');
    if (nextToken && (parsed.operation === 'query' || parsed.operation === 'query-plan')) outHeaders['x-ms-continuation'] = this.sealToken(nextToken);
    res.writeHead(status, outHeaders);
    res.end(out);
  }

  /** Why a masked role's request is refused by lineage (null message: allowed), and the query's lineage. */
  private lineageRefusal(
    parsed: CosmosRequest,
    headers: http.IncomingHttpHeaders,
    body: Buffer | null,
    queryText: string | null,
    parameters: Array<{ name?: unknown; value?: unknown }>,
    policy: CompiledPolicy,
    role: string,
  ): { message: string | null; lineage: QueryLineage | null } {
    if (parsed.operation === 'execute-stored-procedure') {
      return { message: `dgf refuses stored procedure execution for role ${role}: its code reads and answers data dgf cannot trace`, lineage: null };
    }
    if (parsed.resourceType === 'conflicts') {
      return { message: `dgf refuses conflict records for role ${role}: they carry document content dgf does not mask`, lineage: null };
    }
    for (const h of TRIGGER_HEADERS) {
      if (headerValue(headers, h)) {
        return { message: `dgf refuses triggers (${h}) for role ${role}: their code reads and answers data dgf cannot trace`, lineage: null };
      }
    }
    // A query-plan request carries the query too: a service that runs it (cosmosdb-server does) answers documents.
    if (parsed.operation !== 'query' && parsed.operation !== 'query-plan') return { message: null, lineage: null };
    if (queryText === null) {
      return { message: body && body.length > 0 ? 'dgf cannot trace this query: the body has no query text' : null, lineage: null };
    }
    const lineage = traceQuery(queryText, parameters);
    if (lineage.udfs.length > 0) {
      return {
        message: `dgf refuses user-defined functions for role ${role}: ${lineage.udfs.join(', ')} run code whose output dgf cannot trace`,
        lineage,
      };
    }
    if (lineage.unknown !== null && policy.onUnknownLineage(role) === 'deny') {
      return { message: `dgf cannot trace the output of this query: ${lineage.unknown}`, lineage };
    }
    return { message: null, lineage };
  }

  /** Finish the audit record; false (after answering 503) when failMode closed could not keep it. */
  private async finish(op: Operation, res: http.ServerResponse, result: Parameters<Operation['finish']>[0]): Promise<boolean> {
    try {
      await op.finish(result);
      return true;
    } catch (err) {
      this.gov.logger.error({ err }, 'audit record could not be kept; result withheld');
      sendCosmosError(res, 503, 'the audit record could not be kept; dgf withholds the result');
      return false;
    }
  }

  private unauthorized(res: http.ServerResponse, message: string, close: boolean): void {
    sendCosmosError(res, 401, message, {}, close);
  }

  /**
   * Retry-after for a throttled request. The bucket alone would tell every request of a burst the same short
   * wait, so they would all come back together and fail again; queueing each behind the units already told
   * to wait spreads the retries over the time the budget needs to serve them (as the service does).
   */
  private spreadRetry(bucketMs: number, units: number): number {
    const now = performance.now();
    const rate = this.gov.quota.limits('request_units') ?? 1000;
    if (now - this.throttleWindowStart > 1000) {
      this.throttleWindowStart = now;
      this.throttledUnits = 0;
    }
    const queued = (this.throttledUnits / rate) * 1000;
    this.throttledUnits += units;
    return Math.max(1, Math.ceil(bucketMs + queued));
  }

  /** What to take from the RU bucket before the service reports the real charge. */
  private estimateCharge(parsed: CosmosRequest, body: Buffer | null): number {
    if (parsed.kind === 'read') return parsed.operation === 'query' ? 2 : 1;
    const kib = Math.max(1, Math.ceil((body?.length ?? 0) / 1024));
    return parsed.writesDocuments ? kib * this.options.writeEstimatePerKiB : 1;
  }

  /** The endpoint the client reached dgf at, for the rewritten account document. */
  private endpointFor(req: http.IncomingMessage): string {
    if (this.options.publicEndpoint) return this.options.publicEndpoint;
    const host = req.headers.host;
    if (host && VALID_HOST.test(host)) return `${this.scheme}://${host}/`;
    const a = req.socket.localAddress ?? '127.0.0.1';
    return `${this.scheme}://${a.includes(':') ? `[${a}]` : a}:${req.socket.localPort ?? 0}/`;
  }

  /** Storage from `x-ms-resource-usage: documentsSize=<KB>;...` on container reads, where the service sends it. */
  private trackStorage(parsed: CosmosRequest, headers: Record<string, string | string[] | undefined>): void {
    const usage = headerValue(headers, 'x-ms-resource-usage');
    if (!usage || !parsed.objects[0]) return;
    const m = /documentsSize=(\d+)/i.exec(usage);
    if (!m) return;
    this.storageByContainer.set(parsed.objects[0], Number(m[1]) * 1024);
    let total = 0;
    for (const v of this.storageByContainer.values()) total += v;
    this.gov.quota.setUsage('storage', total);
  }
}

/** The documents a write carries, classified by path and value. */
function classifyWritten(policy: CompiledPolicy, operation: string, json: unknown): Classification {
  const result: Classification = { fields: [], labels: new Set() };
  if (operation === 'batch' && Array.isArray(json)) {
    for (const entry of json) {
      const e = entry as { resourceBody?: unknown; operations?: unknown };
      if (e && typeof e === 'object' && e.resourceBody !== undefined) classifyDocument(policy, e.resourceBody, result);
    }
    return result;
  }
  if (operation === 'patch') {
    const ops = (json as { operations?: unknown }).operations;
    if (Array.isArray(ops)) {
      for (const o of ops as Array<{ path?: unknown; value?: unknown }>) {
        if (typeof o?.path !== 'string') continue;
        const path = o.path.replace(/^\//, '').split('/').filter((s) => !/^\d+$/.test(s)).join('.');
        const labels = policy.labelsForName(path);
        if (labels.length > 0) {
          result.fields.push({ name: path, labels: [...labels] });
          for (const l of labels) result.labels.add(l);
        }
        if (o.value !== undefined) classifyDocument(policy, o.value, result, path);
      }
    }
    return result;
  }
  return classifyDocument(policy, json, result);
}

function cosmosCode(body: Buffer): string {
  if (body.length === 0 || body.length > 4096) return '';
  const json = parseJsonBuffer(body) as { code?: unknown } | undefined;
  return json && typeof json.code === 'string' ? ` ${json.code}` : '';
}
