/**
 * One Blob Storage request from client to upstream and back: verify the client's Shared Key signature
 * against the key dgf issued, decide by policy, count the transaction, re-sign for the real account, stream
 * the body through (classifying uploads as they pass), mask what a role with masks downloads (whole blobs judged
 * by their bytes and masked at the same length, ranges cut from the masked whole; metadata, tags, listings), audit,
 * answer.
 */
import { createHash } from 'node:crypto';
import type http from 'node:http';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { ListenerContext } from '../../src/listener.js';
import type { Operation } from '../../src/governance/operation.js';
import type { CompiledPolicy, Identity } from '../../src/policy/types.js';
import { BodyError, hasBody, pipeBody, readBounded } from '../shared/http-body.js';
import { forwardHeaders, headerValue, responseHeaders, type UpstreamTarget } from '../shared/http-upstream.js';
import { UploadScanner, contentKind } from './content.js';
import { MaskCache, RecordingStats, replayStats, type MaskedEntry } from './mask-cache.js';
import { maskBlobContent } from './mask-content.js';
import { maskListingXml, maskMetaHeaders, type MetaMaskContext } from './mask-metadata.js';
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
  /**
   * `container/blob` globs whose content is declared free of classified data: served as stored to every role.
   * (Interim listener option until the policy carries the setting.)
   */
  cleanObjects: string[];
  /** `container/blob` globs declared binary-only: binary content served as stored; content that is text is still masked. */
  binaryOnlyObjects: string[];
  /** Memory budget of masked whole blobs kept for ranged reads; default 64 MiB. */
  maskCacheBytes: number;
}

/** A glob over `container/blob` (`*` matches any run of characters, `/` included; `?` one character). */
export function objectGlob(patterns: readonly string[]): (object: string) => boolean {
  if (patterns.length === 0) return () => false;
  const res = patterns.map((p) => new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 's'));
  return (object) => res.some((r) => r.test(object));
}

/** Request headers that select a window of the blob: a masked read fetches the whole blob and cuts the window itself. */
const RANGE_HEADERS = ['range', 'x-ms-range', 'x-ms-range-get-content-md5', 'x-ms-range-get-content-crc64'];
const DROP_RANGE_REQUEST = new Set(['authorization', ...RANGE_HEADERS]);
/** Answers whose XML carries metadata, tags or names a writer chose. */
const LISTING_OPERATIONS = new Set(['list-blobs', 'list-containers', 'get-blob-tags', 'find-blobs-by-tags']);

const DROP_REQUEST = new Set(['authorization']);
const DROP_MASKED_RESPONSE = new Set(['content-length', 'content-md5', 'x-ms-content-crc64', 'x-ms-blob-content-md5', 'content-range', 'accept-ranges']);
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
  private readonly cleanByOption: (object: string) => boolean;
  private readonly binaryOnlyByOption: (object: string) => boolean;
  readonly maskCache: MaskCache;

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
    this.cleanByOption = objectGlob(options.cleanObjects);
    this.binaryOnlyByOption = objectGlob(options.binaryOnlyObjects);
    this.maskCache = new MaskCache(options.maskCacheBytes);
  }

  readonly handle = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    this.serve(req, res).catch((err: unknown) => {
      this.gov.logger.error({ err }, 'blob request failed');
      sendBlobError(res, 500, 'InternalError', 'dgf failed to process the request', { close: true });
    });
  };

  /** Declared clean (policy `content.clean`, or the listener option `cleanObjects`): served as it is. */
  private isClean(object: string): boolean {
    return this.gov.policy().contentClass(object) === 'clean' || this.cleanByOption(object);
  }

  /** Declared binary-only (policy `content.binaryOnly`, or the listener option `binaryOnlyObjects`). */
  private isBinaryOnly(object: string): boolean {
    return this.gov.policy().contentClass(object) === 'binary-only' || this.binaryOnlyByOption(object);
  }

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
    if (copySource !== undefined && object !== null && parsed.blob !== null && policy.masksAnyFor(role) && (this.isClean(object) || this.isBinaryOnly(object))) {
      // A path declared clean or binary-only is served without masking: a role with masks may not copy other content into it.
      const source = this.sourceObject(copySource);
      const allowed = source !== null && (this.isClean(source) || (this.isBinaryOnly(object) && this.isBinaryOnly(source)));
      if (!allowed) {
        const message = `copying into ${object} is refused for role "${role}": the path is declared ${this.isClean(object) ? 'clean' : 'binary-only'} and the source is not`;
        if (!(await this.finish(op, res, head, { error: message }))) return;
        return fail(403, 'AuthorizationPermissionMismatch', message);
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
    const masks = policy.masksAnyFor(role) && !(object !== null && parsed.blob !== null && this.isClean(object));
    if (masks && parsed.operation === 'query-blob') {
      const message = `Query Blob Contents is refused for role "${role}": dgf cannot mask the rows the service computes; download the blob instead`;
      if (!(await this.finish(op, res, head, { error: message }))) return;
      return fail(403, 'DgfQueryNotMaskable', message);
    }
    const kept = op.intent();
    if (kept !== null) {
      // Write-ahead: nothing goes upstream before the intent record is kept.
      try {
        await kept;
      } catch (err) {
        const message = `the audit record of this request could not be kept (audit failMode closed); it was not run: ${(err as Error).message}`;
        await this.finish(op, res, head, { error: 'audit record could not be kept' });
        return fail(503, 'ServerBusy', message);
      }
    }
    if (masks && parsed.operation === 'get-blob' && object !== null) {
      const sign = (h: Record<string, string>): string =>
        signBlobRequest('SharedKey', this.account, this.accountKey, { method, path: upstreamPath, query, headers: h }, scheme === 'SharedKey' && swap);
      return this.maskedRead(req, res, parsed, op, role, policy, object, upstreamPath, query, signable.headers, user === '' ? null : sign);
    }
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

    const outHeaders = responseHeaders(up.headers, NO_DROP);
    if (policy.masksAnyFor(role) && !(object !== null && parsed.blob !== null && this.isClean(object))) {
      // Metadata, tags and names a writer chose reach the role masked; hashes of stored content are not sent.
      const meta: MetaMaskContext = { policy, role, stats: op, object: object ?? '' };
      maskMetaHeaders(outHeaders, meta, parsed.blob !== null && (parsed.operation.startsWith('get-') || parsed.operation === 'get-blob-properties'));
      if (parsed.operation === 'get-blob-properties' && ok) {
        // A masked, re-encoded blob that could not keep the stored length: the length the role's reads return.
        const entry = this.maskCache.get(maskKey(policy, role, upstreamPath, query));
        if (entry?.body && !entry.sameLength && entry.etag === headerValue(up.headers, 'etag')) outHeaders['content-length'] = String(entry.body.length);
      }
      if (ok && !head && LISTING_OPERATIONS.has(parsed.operation)) {
        let xml: Buffer;
        try {
          xml = await readBounded(up.body, this.ctx.config.maxMessageBytes, this.options.bodyIdleTimeoutMs, 'upstream listing');
        } catch (err) {
          if (!(await this.finish(op, res, head, { error: (err as Error).message, extra }))) return;
          return sendBlobError(res, 502, 'DgfListingNotMaskable', (err as Error).message);
        }
        const out = Buffer.from(maskListingXml(xml.toString('utf8'), meta), 'utf8');
        delete outHeaders['content-md5'];
        outHeaders['content-length'] = String(out.length);
        if (!(await this.finish(op, res, head, { error, upstreamMs: performance.now() - started, extra }))) return;
        res.writeHead(status, outHeaders);
        res.end(out);
        return;
      }
    }
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

  /**
   * Get Blob for a role with masks: the whole blob addressed (base, snapshot or version) is fetched, decoded, sniffed
   * and masked at the same byte length (`maskBlobContent`), kept in the mask cache by (address, ETag, role), and the
   * window the client asked for is cut from the masked whole. A blob dgf cannot parse is refused.
   */
  private async maskedRead(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    parsed: BlobRequest,
    op: Operation,
    role: string,
    policy: CompiledPolicy,
    object: string,
    upstreamPath: string,
    query: string,
    clientHeaders: Record<string, string | undefined>,
    sign: ((h: Record<string, string>) => string) | null,
  ): Promise<void> {
    const started = performance.now();
    const key = maskKey(policy, role, upstreamPath, query);
    const extra: Record<string, unknown> = {};
    await this.maskCache.settled(key);
    let cached = this.maskCache.get(key);
    const release = cached ? null : this.maskCache.start(key);
    try {
      const headers = forwardHeaders(req.rawHeaders, DROP_RANGE_REQUEST);
      const signHeaders = { ...clientHeaders } as Record<string, string>;
      for (const h of ['authorization', ...RANGE_HEADERS]) delete signHeaders[h];
      const revalidate = cached !== undefined && headers['if-none-match'] === undefined && headers['if-modified-since'] === undefined;
      if (revalidate) headers['if-none-match'] = signHeaders['if-none-match'] = cached!.etag;
      if (sign) headers.authorization = sign(signHeaders);
      let up: Dispatcher.ResponseData;
      try {
        up = await this.upstream.pool.request({ path: upstreamPath + (query ? `?${query}` : ''), method: 'GET', headers });
      } catch (err) {
        const message = `upstream unavailable: ${(err as Error).message}`;
        if (!(await this.finish(op, res, false, { error: message, upstreamMs: performance.now() - started }))) return;
        return sendBlobError(res, 503, 'ServerBusy', message);
      }
      const upstreamMs = (): number => performance.now() - started;
      const meta: MetaMaskContext = { policy, role, stats: op, object };
      let outHeaders = responseHeaders(up.headers, DROP_MASKED_RESPONSE);
      maskMetaHeaders(outHeaders, meta, true);
      extra.status = up.statusCode;
      let entry: MaskedEntry;
      if (up.statusCode === 304 && revalidate) {
        await up.body.dump();
        entry = cached!;
        outHeaders = { ...entry.headers, ...pick(outHeaders, ['date', 'x-ms-request-id', 'x-ms-version']) };
        replayStats(entry, op);
        extra.cached = true;
      } else if (up.statusCode !== 200) {
        // Errors, 304 of the client's own condition, 412: no content to mask; forwarded as the service sent them.
        const errorHeaders = responseHeaders(up.headers, NO_DROP);
        maskMetaHeaders(errorHeaders, meta, true);
        const body = await readBounded(up.body, this.ctx.config.maxMessageBytes, this.options.bodyIdleTimeoutMs, 'upstream answer').catch(() => Buffer.alloc(0));
        const error = up.statusCode >= 400 ? `upstream answered ${up.statusCode} ${headerValue(up.headers, 'x-ms-error-code') ?? ''}`.trim() : null;
        if (!(await this.finish(op, res, false, { error, upstreamMs: upstreamMs(), extra }))) return;
        errorHeaders['content-length'] = String(body.length);
        res.writeHead(up.statusCode, errorHeaders);
        res.end(body);
        return;
      } else {
        const etag = headerValue(up.headers, 'etag') ?? '';
        const length = Number(headerValue(up.headers, 'content-length') ?? 'NaN');
        let stored: Buffer | null = null;
        let refused: string | null = null;
        if (Number.isFinite(length) && length > this.options.maxMaskBytes) {
          await up.body.dump({ limit: 1 }).catch(() => undefined);
          if (this.isBinaryOnly(object)) {
            // Too large to sniff, in a path the policy declares binary-only: the request goes through as sent.
            return await this.passThrough(req, res, op, upstreamPath, query, clientHeaders, sign, meta, started);
          }
          refused = `it is ${length} bytes, more than the ${this.options.maxMaskBytes} bytes dgf masks`;
        } else {
          try {
            stored = await readBounded(up.body, this.options.maxMaskBytes, this.options.bodyIdleTimeoutMs, 'upstream blob');
          } catch (err) {
            refused = (err as Error).message;
          }
        }
        const recording = new RecordingStats(op);
        entry = { etag, headers: { ...outHeaders }, body: null, refused, sameLength: true, stats: recording.calls };
        if (stored !== null) {
          const r = await maskBlobContent(stored, {
            policy,
            role,
            stats: recording,
            object,
            contentType: headerValue(up.headers, 'content-type'),
            contentEncoding: headerValue(up.headers, 'content-encoding'),
            blobName: parsed.blob,
            binaryOnly: this.isBinaryOnly(object),
            maxBytes: this.options.maxMaskBytes,
          });
          if (r.outcome === 'refused') entry.refused = r.reason;
          else if (r.outcome === 'unchanged') entry.body = stored;
          else {
            entry.body = r.body;
            entry.sameLength = r.sameLength;
          }
          extra.content = r.outcome === 'refused' ? 'refused' : r.detected;
        }
        if (etag !== '') this.maskCache.set(key, entry);
      }
      cached = entry;
      if (entry.refused !== null || entry.body === null) {
        const message = `${object} is not served to role "${role}": ${entry.refused ?? 'it cannot be masked'}. dgf refuses content it cannot mask; a policy may declare the path clean or binary-only`;
        if (!(await this.finish(op, res, false, { error: message, upstreamMs: upstreamMs(), extra }))) return;
        return sendBlobError(res, 403, 'DgfContentNotMaskable', message);
      }
      const body = entry.body;
      const total = body.length;
      const rangeHeader = clientHeaders['x-ms-range'] ?? clientHeaders.range;
      let status = 200;
      let out = body;
      if (rangeHeader !== undefined) {
        const m = /^\s*bytes\s*=\s*(\d+)\s*-\s*(\d*)\s*$/i.exec(rangeHeader);
        if (!m) {
          const message = `the range "${rangeHeader}" is not one dgf serves (bytes=start-end or bytes=start-)`;
          if (!(await this.finish(op, res, false, { error: message, upstreamMs: upstreamMs(), extra }))) return;
          return sendBlobError(res, 416, 'InvalidRange', message, { headers: { 'content-range': `bytes */${total}` } });
        }
        const start = Number(m[1]);
        const end = m[2] === '' ? total - 1 : Math.min(Number(m[2]), total - 1);
        if (!entry.sameLength && !(start === 0 && m[2] === '')) {
          const message = `a range read of ${object} is refused for role "${role}": its masked, re-encoded form is not the stored length, so ranges would not line up; download the whole blob`;
          if (!(await this.finish(op, res, false, { error: message, upstreamMs: upstreamMs(), extra }))) return;
          return sendBlobError(res, 403, 'DgfRangeNotMaskable', message);
        }
        if (start >= total || end < start) {
          const message = 'The range specified is invalid for the current size of the resource.';
          if (!(await this.finish(op, res, false, { error: message, upstreamMs: upstreamMs(), extra }))) return;
          return sendBlobError(res, 416, 'InvalidRange', message, { headers: { 'content-range': `bytes */${total}` } });
        }
        out = body.subarray(start, end + 1);
        status = 206;
        outHeaders['content-range'] = `bytes ${start}-${end}/${total}`;
        if ((clientHeaders['x-ms-range-get-content-md5'] ?? '').toLowerCase() === 'true') {
          outHeaders['content-md5'] = createHash('md5').update(out).digest('base64');
        }
      }
      outHeaders = { ...outHeaders };
      outHeaders['accept-ranges'] = 'bytes';
      outHeaders['content-length'] = String(out.length);
      extra.bytes = out.length;
      if (!(await this.finish(op, res, false, { upstreamMs: upstreamMs(), extra }))) return;
      res.writeHead(status, outHeaders);
      res.end(out);
    } finally {
      release?.();
    }
  }

  /** Forward a Get Blob as the client sent it (its range included) and stream the answer back, metadata masked. */
  private async passThrough(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    op: Operation,
    upstreamPath: string,
    query: string,
    clientHeaders: Record<string, string | undefined>,
    sign: ((h: Record<string, string>) => string) | null,
    meta: MetaMaskContext,
    started: number,
  ): Promise<void> {
    const headers = forwardHeaders(req.rawHeaders, DROP_REQUEST);
    const signHeaders = { ...clientHeaders } as Record<string, string>;
    delete signHeaders.authorization;
    if (sign) headers.authorization = sign(signHeaders);
    const up = await this.upstream.pool.request({ path: upstreamPath + (query ? `?${query}` : ''), method: 'GET', headers });
    const outHeaders = responseHeaders(up.headers, NO_DROP);
    maskMetaHeaders(outHeaders, meta, false);
    const extra: Record<string, unknown> = { status: up.statusCode, content: 'binary-only, not sniffed' };
    res.writeHead(up.statusCode, outHeaders);
    try {
      extra.bytes = await pipeBody(up.body, res);
    } catch (err) {
      await this.finish(op, res, false, { error: `transfer failed: ${(err as Error).message}`, extra }, true);
      res.destroy();
      return;
    }
    if (!(await this.finish(op, res, false, { upstreamMs: performance.now() - started, extra }, true))) return;
    res.end();
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

/** The mask cache key of what a Get Blob addresses: the blob, its snapshot or version, for one role and policy version. */
function maskKey(policy: CompiledPolicy, role: string, upstreamPath: string, query: string): string {
  const params = new URLSearchParams(query);
  return MaskCache.key(policy.version, role, `${upstreamPath}?snapshot=${params.get('snapshot') ?? ''}&versionid=${params.get('versionid') ?? ''}`);
}

function pick(h: Record<string, string | string[]>, names: readonly string[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const n of names) if (h[n] !== undefined) out[n] = h[n];
  return out;
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
