/**
 * One Blob Storage request from client to upstream and back: verify the client's Shared Key signature
 * against the key dgf issued, decide by policy, count the transaction, re-sign for the real account, stream
 * the body through (classifying uploads as they pass), mask downloaded text/JSON/CSV for the caller's role,
 * audit, answer.
 */
import type http from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { ListenerContext } from '../../src/listener.js';
import type { Operation } from '../../src/governance/operation.js';
import type { CompiledPolicy, Identity } from '../../src/policy/types.js';
import { BodyError, hasBody, pipeBody, readBounded } from '../shared/http-body.js';
import { parseJsonBuffer } from '../shared/http-json.js';
import { forwardHeaders, headerValue, responseHeaders, type UpstreamTarget } from '../shared/http-upstream.js';
import { TextMasker, UploadScanner, contentKind, type ContentKind } from './content.js';
import { sendBlobError } from './errors.js';
import { BlobRequestError, parseBlobRequest, type BlobRequest } from './request.js';
import {
  blobDateIsFresh,
  parseBlobAuthorization,
  signBlobRequest,
  verifyBlobSignature,
  type SignableRequest,
} from './signing.js';
import type { StorageLedger } from './storage-ledger.js';
import { signedUpstreamRequest } from './storage-scan.js';

/** Options of a blob listener (`options:` in the listener config). */
export interface BlobOptions {
  /** Bodies that send nothing for this long are abandoned (408); default 30000 ms. */
  bodyIdleTimeoutMs: number;
  /** Largest single upload body (Put Blob / Put Block / Append Block); default 5000 MiB (the service's Put Blob limit). */
  maxUploadBytes: number;
  /** Uploads are classified up to this many bytes, then forwarded unscanned; default 64 MiB. */
  maxScanBytes: number;
  /** Largest download dgf masks in memory (JSON always; text/CSV to give a Content-Length); default maxMessageBytes. */
  maxMaskBytes: number;
  /** Let requests without Authorization through to the policy (forwarded unsigned); default false. */
  allowAnonymous: boolean;
  /** Store upload labels as blob metadata `dgflabels` (changes the blob's ETag once more); default false. */
  labelMetadata: boolean;
}

const DROP_REQUEST = new Set(['authorization']);
const DROP_MASKED_RESPONSE = new Set(['content-length', 'content-md5', 'x-ms-content-crc64', 'content-range', 'accept-ranges']);
const NO_DROP = new Set<string>();
/** Known classification of blobs, bounded: cleared when full (a miss only makes range reads stricter). */
const MAX_KNOWN = 100_000;

export class BlobForwarder {
  private readonly gov: ListenerContext['governance'];
  private readonly keys = new Map<string, Buffer>();
  /** container/blob -> labels found in its content ([] = scanned and clean). */
  private readonly known = new Map<string, string[]>();
  /** container/blob -> labels of uncommitted blocks, and whether every staged block was scanned whole. */
  private readonly pendingBlocks = new Map<string, { labels: Set<string>; complete: boolean }>();

  constructor(
    private readonly ctx: ListenerContext,
    private readonly upstream: UpstreamTarget,
    private readonly account: string,
    private readonly accountKey: Buffer,
    private readonly options: BlobOptions,
    readonly ledger: StorageLedger,
  ) {
    this.gov = ctx.governance;
    for (const u of ctx.config.users) if (u.key) this.keys.set(u.name, Buffer.from(u.key, 'base64'));
  }

  readonly handle = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    this.serve(req, res).catch((err: unknown) => {
      this.gov.logger.error({ err }, 'blob request failed');
      sendBlobError(res, 500, 'InternalError', 'dgf failed to process the request', { close: true });
    });
  };

  private async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const head = method === 'HEAD';
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const rawPath = q < 0 ? url : url.slice(0, q);
    const query = q < 0 ? '' : url.slice(q + 1);
    const bodyExpected = hasBody(req.headers);
    const fail = (status: number, code: string, message: string, close = bodyExpected): void =>
      sendBlobError(res, status, code, message, { head, close });

    let parsed: BlobRequest;
    try {
      parsed = parseBlobRequest(method, req.headers.host, rawPath, query, req.headers, (n) => this.keys.has(n));
    } catch (err) {
      if (err instanceof BlobRequestError) return fail(400, 'InvalidUri', err.message);
      throw err;
    }

    const signable: SignableRequest = { method, path: rawPath, query, headers: lowerHeaders(req.rawHeaders) };
    const authHeader = signable.headers.authorization;
    let user: string;
    let scheme: 'SharedKey' | 'SharedKeyLite' = 'SharedKey';
    let swap = false;
    if (authHeader === undefined) {
      if (/(^|&)sig=/i.test(query)) {
        return fail(403, 'AuthenticationFailed', 'SAS tokens are not accepted by dgf: sign requests with Shared Key using the key dgf issued to you');
      }
      if (!this.options.allowAnonymous) {
        return fail(401, 'NoAuthenticationInformation', 'anonymous requests are refused by dgf: sign requests with Shared Key using the key dgf issued to you');
      }
      user = '';
    } else {
      const auth = parseBlobAuthorization(authHeader);
      if (!auth) return fail(403, 'AuthenticationFailed', 'the Authorization header is not "SharedKey <account>:<signature>" (only Shared Key and Shared Key Lite are accepted)');
      const key = this.keys.get(auth.account);
      if (!key) return fail(403, 'AuthenticationFailed', `"${auth.account}" is not an account dgf issued a key for`);
      if (auth.account !== parsed.account) {
        return fail(403, 'AuthenticationFailed', `the URL addresses account "${parsed.account}" but the request is signed as "${auth.account}"`);
      }
      const verified = verifyBlobSignature(auth, key, signable);
      if (!verified) {
        return fail(403, 'AuthenticationFailed', 'Server failed to authenticate the request: the signature does not match the key dgf issued for this account');
      }
      if (!blobDateIsFresh(signable.headers['x-ms-date'] ?? signable.headers.date)) {
        return fail(403, 'AuthenticationFailed', 'the request date (x-ms-date) is missing or more than 15 minutes away from the proxy\'s clock');
      }
      user = auth.account;
      scheme = auth.scheme;
      swap = verified.swap;
    }

    const identity: Identity = {
      user,
      ...(req.headers['user-agent'] ? { application: req.headers['user-agent'] } : {}),
      ...(req.socket.remoteAddress ? { address: req.socket.remoteAddress } : {}),
    };
    const role = this.gov.roleOf(identity);
    const policy = this.gov.policy();
    const object = parsed.objects[0] ?? null;
    const op = this.gov.begin({
      identity,
      role,
      operation: parsed.operation,
      kind: parsed.kind,
      objects: parsed.objects,
      statement: `${method} ${parsed.operation}`,
      encrypted: (req.socket as { encrypted?: boolean }).encrypted === true && this.upstream.origin.startsWith('https:'),
    });
    if (!op.denied && parsed.operation === 'batch') {
      // Sub-requests of a batch carry their own signatures and verbs: dgf cannot govern or re-sign them.
      const message = 'blob batch requests are not supported by dgf: send the operations one by one';
      if (!(await this.finish(op, res, head, { error: message }))) return;
      return fail(400, 'DgfBatchNotSupported', message);
    }
    if (op.denied) {
      const message = op.decision.message ?? `denied by rule ${op.decision.ruleId ?? ''}`;
      if (!(await this.finish(op, res, head, { error: message }))) return;
      return fail(403, 'AuthorizationPermissionMismatch', message);
    }
    const copySource = signable.headers['x-ms-copy-source'];
    if (copySource !== undefined) {
      // A copy reads its source with the real key: the caller must be allowed to read it.
      const source = this.sourceObject(copySource);
      if (source !== null) {
        const read = this.gov.begin({ identity, role, operation: 'get-blob', kind: 'read', objects: [source], statement: `copy source of ${object ?? ''}` });
        const message = read.denied ? (read.decision.message ?? 'reading the copy source is not allowed') : null;
        if (!(await this.finish(read, res, head, { rows: null, error: message }))) return;
        if (message !== null) {
          if (!(await this.finish(op, res, head, { error: `copy source ${source}: ${message}` }))) return;
          return fail(403, 'AuthorizationPermissionMismatch', `copy source ${source}: ${message}`);
        }
      }
    }
    if (parsed.uploadsContent || copySource !== undefined) {
      const check = this.gov.quota.checkWrite();
      if (!check.ok) {
        const message = check.message ?? 'storage quota exceeded';
        if (!(await this.finish(op, res, head, { error: message }))) return;
        return fail(403, 'StorageQuotaExceeded', message);
      }
    }
    const tx = this.gov.quota.countTransaction();
    if (!tx.ok) {
      const message = tx.message ?? 'monthly transaction quota exceeded';
      if (!(await this.finish(op, res, head, { error: message }))) return;
      return fail(403, 'TransactionQuotaExceeded', message);
    }

    // Re-sign for the real account: same headers, the upstream's path and account name.
    const upstreamPath = this.upstream.basePath + parsed.resourcePath;
    const headers = forwardHeaders(req.rawHeaders, DROP_REQUEST);
    if (user !== '') {
      // Always full Shared Key upstream: every service version and emulator accepts it; Lite is not universal.
      headers.authorization = signBlobRequest(
        'SharedKey',
        this.account,
        this.accountKey,
        { method, path: upstreamPath, query, headers: signable.headers },
        scheme === 'SharedKey' && swap,
      );
    }
    let scanner: UploadScanner | null = null;
    let body: Readable | null = null;
    if (bodyExpected) {
      if (parsed.uploadsContent) {
        const limit = this.gov.quota.limits('storage');
        const remaining = limit !== undefined && this.gov.quota.onExceed === 'reject' ? Math.max(0, limit - this.ledger.total) : Infinity;
        scanner = new UploadScanner({
          policy,
          kind: contentKind(signable.headers['x-ms-blob-content-type'] ?? signable.headers['content-type'], parsed.blob),
          maxBytes: Math.min(this.options.maxUploadBytes, remaining),
          idleMs: this.options.bodyIdleTimeoutMs,
          maxScanBytes: this.options.maxScanBytes,
        });
        body = req.pipe(scanner);
        req.once('aborted', () => scanner?.destroy(new BodyError('upload aborted by the client', 400)));
      } else {
        // Small XML bodies (block lists, ACLs, tags): bounded like any other message.
        let buf: Buffer;
        try {
          buf = await readBounded(req, this.ctx.config.maxMessageBytes, this.options.bodyIdleTimeoutMs);
        } catch (err) {
          if (!(err instanceof BodyError)) throw err;
          if (!(await this.finish(op, res, head, { error: err.message }))) return;
          return fail(err.status, err.status === 413 ? 'RequestBodyTooLarge' : 'InvalidInput', err.message, true);
        }
        return this.forward(req, res, parsed, op, role, policy, object, upstreamPath, query, headers, buf, null);
      }
    }
    await this.forward(req, res, parsed, op, role, policy, object, upstreamPath, query, headers, body, scanner);
  }

  private async forward(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    parsed: BlobRequest,
    op: Operation,
    role: string,
    policy: CompiledPolicy,
    object: string | null,
    upstreamPath: string,
    query: string,
    headers: Record<string, string>,
    body: Readable | Buffer | null,
    scanner: UploadScanner | null,
  ): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const head = method === 'HEAD';
    const started = performance.now();
    let up: Dispatcher.ResponseData;
    try {
      up = await this.upstream.pool.request({
        path: upstreamPath + (query ? `?${query}` : ''),
        method: method as Dispatcher.HttpMethod,
        headers,
        body,
      });
    } catch (err) {
      const bodyErr = scanner?.destroyed && scanner.errored instanceof BodyError ? scanner.errored : err instanceof BodyError ? err : null;
      const message = bodyErr ? bodyErr.message : `upstream unavailable: ${(err as Error).message}`;
      if (!(await this.finish(op, res, head, { error: message, upstreamMs: performance.now() - started }))) return;
      if (bodyErr) {
        const code = bodyErr.status === 413 ? 'RequestBodyTooLarge' : bodyErr.status === 408 ? 'OperationTimedOut' : 'InvalidInput';
        return sendBlobError(res, bodyErr.status, code, bodyErr.message, { head, close: true });
      }
      return sendBlobError(res, 503, 'ServerBusy', message, { head, close: scanner !== null });
    }
    const status = up.statusCode;
    const ok = status >= 200 && status < 300;
    if (ok) this.afterSuccess(parsed, object, scanner, op);
    if (ok && this.options.labelMetadata && object !== null && (parsed.operation === 'put-blob' || parsed.operation === 'put-block-list')) {
      await this.writeLabelMetadata(parsed, object, req, up);
    }

    const extra: Record<string, unknown> = { status };
    if (scanner) extra.bytes = scanner.bytes;
    const error = status >= 400 ? `upstream answered ${status} ${headerValue(up.headers, 'x-ms-error-code') ?? ''}`.trim() : null;

    if (ok && parsed.downloadsContent && !head) {
      const kind = contentKind(headerValue(up.headers, 'content-type'), parsed.blob);
      if (kind !== null) {
        const handled = await this.maskDownload(req, res, op, role, policy, object ?? '', kind, up, performance.now() - started, extra);
        if (handled) return;
      }
    }

    const outHeaders = responseHeaders(up.headers, NO_DROP);
    res.writeHead(status, outHeaders);
    let sent = 0;
    try {
      if (!head) sent = await pipeBody(up.body, res);
      else await up.body.dump();
    } catch (err) {
      await this.finish(op, res, head, { error: `transfer failed: ${(err as Error).message}`, extra }, true);
      res.destroy();
      return;
    }
    if (parsed.downloadsContent) extra.bytes = sent;
    // The last byte leaves only once the audit record is kept.
    if (!(await this.finish(op, res, head, { error, upstreamMs: performance.now() - started, extra }, true))) return;
    res.end();
  }

  /** Mask a downloaded text/JSON/CSV blob for `role`; false when the role needs no masking (forward as is). */
  private async maskDownload(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    op: Operation,
    role: string,
    policy: CompiledPolicy,
    object: string,
    kind: ContentKind,
    up: Dispatcher.ResponseData,
    upstreamMs: number,
    extra: Record<string, unknown>,
  ): Promise<boolean> {
    const scans = policy.scansValuesFor(role);
    if (!scans && kind === 'text') return false;
    const isRange = up.statusCode === 206 || req.headers.range !== undefined || req.headers['x-ms-range'] !== undefined;
    const refuse = async (code: string, message: string): Promise<true> => {
      await up.body.dump({ limit: 1 }).catch(() => undefined);
      if (await this.finish(op, res, false, { error: message, upstreamMs, extra })) sendBlobError(res, 403, code, message);
      return true;
    };
    if (isRange) {
      // Only a blob dgf scanned whole and found clean may be read in ranges by a role that gets masked data.
      const stored = headerValue(up.headers, 'x-ms-meta-dgflabels');
      const labels = stored ? stored.split(',') : this.known.get(object);
      if (labels !== undefined && labels.length === 0) return false;
      return refuse(
        'DgfRangeNotMaskable',
        `a range read of ${object} is refused for role "${role}": the blob is ${labels ? 'classified' : 'not known to be free of sensitive data'} and a range cannot be masked safely; download the whole blob`,
      );
    }
    const length = Number(headerValue(up.headers, 'content-length') ?? 'NaN');
    const outHeaders = responseHeaders(up.headers, DROP_MASKED_RESPONSE);
    if (kind === 'json') {
      if (Number.isFinite(length) && length > this.options.maxMaskBytes) {
        return refuse('DgfContentNotMaskable', `${object} is ${length} bytes of JSON, more than the ${this.options.maxMaskBytes} bytes dgf masks; it is not served to role "${role}"`);
      }
      let raw: Buffer;
      try {
        raw = await readBounded(up.body, this.options.maxMaskBytes, this.options.bodyIdleTimeoutMs, 'upstream blob');
      } catch (err) {
        return refuse('DgfContentNotMaskable', (err as Error).message);
      }
      const doc = parseJsonBuffer(raw);
      if (doc === undefined) {
        return refuse('DgfContentNotMaskable', `${object} is declared as JSON but is not valid JSON; dgf cannot mask it and does not serve it to role "${role}"`);
      }
      const masked = policy.maskDocument(role, doc, op, object);
      const out = masked === doc ? raw : Buffer.from(JSON.stringify(masked), 'utf8');
      this.remember(object, op.seenLabels());
      extra.bytes = out.length;
      if (!(await this.finish(op, res, false, { upstreamMs, extra }))) return true;
      outHeaders['content-length'] = String(out.length);
      res.writeHead(up.statusCode, outHeaders);
      res.end(out);
      return true;
    }
    const masker = new TextMasker({ policy, role, kind, stats: op, object });
    const source = up.body.pipe(masker);
    up.body.once('error', (err) => masker.destroy(err));
    if (Number.isFinite(length) && length <= this.options.maxMaskBytes) {
      // The SDK's download() needs a Content-Length: mask into memory (bounded) and send it whole.
      let out: Buffer;
      try {
        out = await readBounded(source, this.options.maxMaskBytes * 2, this.options.bodyIdleTimeoutMs, 'masked blob');
      } catch (err) {
        return refuse('DgfContentNotMaskable', (err as Error).message);
      }
      this.remember(object, op.seenLabels());
      extra.bytes = out.length;
      if (!(await this.finish(op, res, false, { upstreamMs, extra }))) return true;
      outHeaders['content-length'] = String(out.length);
      res.writeHead(up.statusCode, outHeaders);
      res.end(out);
      return true;
    }
    res.writeHead(up.statusCode, outHeaders);
    try {
      extra.bytes = await pipeBody(source, res);
    } catch (err) {
      await this.finish(op, res, false, { error: `transfer failed: ${(err as Error).message}`, extra }, true);
      res.destroy();
      return true;
    }
    this.remember(object, op.seenLabels());
    if (!(await this.finish(op, res, false, { upstreamMs, extra }, true))) return true;
    res.end();
    return true;
  }

  /** 'container/blob' when a copy source URL names a blob of the upstream account, else null (another account). */
  private sourceObject(source: string): string | null {
    let url: URL;
    try {
      url = new URL(source);
    } catch {
      return null;
    }
    const upstream = new URL(this.upstream.origin);
    if (url.host.toLowerCase() !== upstream.host.toLowerCase()) return null;
    let path = url.pathname;
    if (this.upstream.basePath) {
      if (!path.startsWith(`${this.upstream.basePath}/`)) return null;
      path = path.slice(this.upstream.basePath.length);
    }
    const parts = path.replace(/^\/+/, '').split('/');
    if (parts.length < 2) return null;
    try {
      return `${decodeURIComponent(parts[0]!)}/${decodeURIComponent(parts.slice(1).join('/'))}`;
    } catch {
      return null;
    }
  }

  /**
   * Store the labels found in an upload as blob metadata (`x-ms-meta-dgflabels`), keeping the metadata the client
   * set, so a later process knows the blob is classified. The answer's ETag/Last-Modified become the new ones.
   */
  private async writeLabelMetadata(parsed: BlobRequest, object: string, req: http.IncomingMessage, up: Dispatcher.ResponseData): Promise<void> {
    const labels = this.known.get(object);
    if (!labels || labels.length === 0) return;
    const headers: Record<string, string> = { 'x-ms-meta-dgflabels': [...labels].sort().join(',') };
    for (const [name, value] of Object.entries(req.headers)) {
      if (typeof value !== 'string') continue;
      if ((name.startsWith('x-ms-meta-') && name !== 'x-ms-meta-dgflabels') || name === 'x-ms-lease-id') headers[name] = value;
    }
    try {
      const res = await signedUpstreamRequest(this.upstream, this.account, this.accountKey, 'PUT', parsed.resourcePath, 'comp=metadata', headers);
      await res.body.dump();
      if (res.statusCode >= 300) throw new Error(`set metadata answered ${res.statusCode}`);
      for (const h of ['etag', 'last-modified']) {
        const v = headerValue(res.headers, h);
        if (v !== undefined) up.headers[h] = v;
      }
    } catch (err) {
      this.gov.logger.warn({ err, object }, 'could not store classification labels as blob metadata');
    }
  }

  /** Bookkeeping after a successful write: classification, inventory, storage ledger. */
  private afterSuccess(
    parsed: BlobRequest,
    object: string | null,
    scanner: UploadScanner | null,
    op: Operation,
  ): void {
    if (object === null) return;
    switch (parsed.operation) {
      case 'put-blob':
        this.ledger.setBlob(object, scanner?.bytes ?? 0);
        if (scanner) this.classified(object, scanner, op, true);
        break;
      case 'append-block':
        this.ledger.addToBlob(object, scanner?.bytes ?? 0);
        if (scanner) this.classified(object, scanner, op, false);
        break;
      case 'put-block': {
        this.ledger.addPending(object, scanner?.bytes ?? 0);
        if (scanner) {
          let pending = this.pendingBlocks.get(object);
          if (!pending) this.pendingBlocks.set(object, (pending = { labels: new Set(), complete: true }));
          for (const l of scanner.labels) pending.labels.add(l);
          pending.complete &&= scanner.complete;
          for (const l of scanner.labels) op.seen(l);
          if (scanner.fieldLabels.size > 0) this.gov.recordFields(object, scanner.fields());
        }
        break;
      }
      case 'put-block-list': {
        this.ledger.commitPending(object);
        const pending = this.pendingBlocks.get(object);
        this.pendingBlocks.delete(object);
        // Blocks staged elsewhere (another process, from a URL) leave the content unknown unless labels were seen.
        if (pending && (pending.complete || pending.labels.size > 0)) this.remember(object, [...pending.labels]);
        else this.known.delete(object);
        if (pending) for (const l of pending.labels) op.seen(l);
        break;
      }
      case 'delete-blob':
        this.ledger.deleteBlob(object);
        this.known.delete(object);
        break;
      case 'delete-container':
        this.ledger.deleteContainer(object);
        break;
      case 'copy-blob':
        // The copy's size is not in the answer; the next storage scan counts it.
        this.known.delete(object);
        break;
      default:
        break;
    }
  }

  private classified(object: string, scanner: UploadScanner, op: Operation, replace: boolean): void {
    for (const l of scanner.labels) op.seen(l);
    if (scanner.fieldLabels.size > 0) this.gov.recordFields(object, scanner.fields());
    const prev = replace ? [] : (this.known.get(object) ?? null);
    if (prev === null || !scanner.complete) {
      // Appending to a blob dgf never scanned, or content past the scan limit: the rest is still unknown.
      if (scanner.labels.size > 0) this.remember(object, [...scanner.labels]);
      else if (replace) this.known.delete(object);
      return;
    }
    this.remember(object, [...new Set([...prev, ...scanner.labels])]);
  }

  /** Record what a full scan found in a blob ([] means scanned and clean). */
  private remember(object: string, labels: readonly string[]): void {
    if (this.known.size >= MAX_KNOWN) this.known.clear();
    this.known.set(object, [...labels]);
  }

  /** Finish the audit record; false (after answering 503, or cutting a streamed answer) when it cannot be kept. */
  private async finish(
    op: Operation,
    res: http.ServerResponse,
    head: boolean,
    result: Parameters<Operation['finish']>[0],
    streaming = false,
  ): Promise<boolean> {
    try {
      await op.finish(result);
      return true;
    } catch (err) {
      this.gov.logger.error({ err }, 'audit record could not be kept; result withheld');
      if (streaming || res.headersSent) res.destroy();
      else sendBlobError(res, 503, 'ServerBusy', 'the audit record could not be kept; dgf withholds the result', { head });
      return false;
    }
  }
}

/** Request headers as a lower-cased map (repeats joined), the form the signature rules read. */
function lowerHeaders(raw: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    const value = raw[i + 1]!;
    out[name] = out[name] === undefined ? value : `${out[name]},${value}`;
  }
  return out;
}
