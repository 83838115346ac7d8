/**
 * Azure Storage Shared Key and Shared Key Lite authorization ("Authorize with Shared Key"): the string to
 * sign from the verb, the standard headers, the canonicalized x-ms-* headers and the canonicalized resource
 * (`/<account><path>` plus the query parameters), HMAC-SHA256 with the base64-decoded account key.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export type SharedKeyScheme = 'SharedKey' | 'SharedKeyLite';

export interface BlobAuthorization {
  scheme: SharedKeyScheme;
  account: string;
  signature: string;
}

/** What the signature covers: the request as the service sees it. */
export interface SignableRequest {
  method: string;
  /** The URL path exactly as sent (percent-encoded), starting with '/'. */
  path: string;
  /** The raw query string without '?', or ''. */
  query: string;
  /** Lower-cased header names; repeated headers joined with ', '. */
  headers: Record<string, string | undefined>;
}

/** How far `x-ms-date`/`Date` may be from the proxy's clock (the service's own window). */
export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;

/** Parse `SharedKey account:signature` / `SharedKeyLite account:signature`; null for anything else. */
export function parseBlobAuthorization(header: string | undefined): BlobAuthorization | null {
  if (!header) return null;
  const m = /^(SharedKey|SharedKeyLite)\s+([^:\s]+):(\S+)$/.exec(header.trim());
  if (!m) return null;
  return { scheme: m[1] as SharedKeyScheme, account: m[2]!, signature: m[3]! };
}

/** Query parameters as the canonicalized resource wants them: decoded lower-case name -> sorted decoded values. */
export function canonicalQuery(query: string): Array<[string, string[]]> {
  const params = new Map<string, string[]>();
  if (query === '') return [];
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const rawName = eq < 0 ? pair : pair.slice(0, eq);
    const rawValue = eq < 0 ? '' : pair.slice(eq + 1);
    const name = safeDecode(rawName).toLowerCase();
    const value = safeDecode(rawValue.replace(/\+/g, '%20'));
    const list = params.get(name);
    if (list) list.push(value);
    else params.set(name, [value]);
  }
  return [...params.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([k, v]) => [k, v.sort()]);
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * Order header names the way the service's culture-aware comparer does for the ASCII names in use:
 * hyphens are ignored first (so `x-ms-blob-type` sorts by "xmsblobtype"), ties broken ordinally.
 */
export function compareHeaderNames(a: string, b: string): number {
  const ka = a.replace(/-/g, '');
  const kb = b.replace(/-/g, '');
  if (ka !== kb) return ka < kb ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `name:value\n` for every x-ms-* header, lower-cased names in service order, values unfolded and trimmed. */
export function canonicalHeaders(headers: Record<string, string | undefined>): string {
  const names = Object.keys(headers).filter((n) => n.startsWith('x-ms-') && headers[n] !== undefined);
  names.sort(compareHeaderNames);
  let out = '';
  for (const n of names) out += `${n}:${headers[n]!.replace(/\s+/g, ' ').trim()}\n`;
  return out;
}

/** `/<account><path>` followed by `\nname:v1,v2` per query parameter (Shared Key, version 2009-09-19 and later). */
export function canonicalResource(account: string, path: string, query: string): string {
  let out = `/${account}${path || '/'}`;
  for (const [name, values] of canonicalQuery(query)) out += `\n${name}:${values.join(',')}`;
  return out;
}

/** Shared Key Lite keeps only `?comp=...` of the query. */
export function canonicalResourceLite(account: string, path: string, query: string): string {
  const comp = canonicalQuery(query).find(([n]) => n === 'comp');
  return `/${account}${path || '/'}${comp ? `?comp=${comp[1].join(',')}` : ''}`;
}

/**
 * The string to sign. `swapLanguageEncoding` reproduces clients that put Content-Language before
 * Content-Encoding (the JS SDK does); with either empty both orders are the same text.
 */
export function blobStringToSign(
  scheme: SharedKeyScheme,
  account: string,
  req: SignableRequest,
  swapLanguageEncoding = false,
): string {
  const h = req.headers;
  const v = (name: string): string => h[name] ?? '';
  if (scheme === 'SharedKeyLite') {
    return (
      [req.method.toUpperCase(), v('content-md5'), v('content-type'), v('date')].join('\n') +
      '\n' +
      canonicalHeaders(h) +
      canonicalResourceLite(account, req.path, req.query)
    );
  }
  const length = v('content-length') === '0' ? '' : v('content-length');
  const first = swapLanguageEncoding ? [v('content-language'), v('content-encoding')] : [v('content-encoding'), v('content-language')];
  return (
    [
      req.method.toUpperCase(),
      ...first,
      length,
      v('content-md5'),
      v('content-type'),
      v('date'),
      v('if-modified-since'),
      v('if-match'),
      v('if-none-match'),
      v('if-unmodified-since'),
      v('range'),
    ].join('\n') +
    '\n' +
    canonicalHeaders(h) +
    canonicalResource(account, req.path, req.query)
  );
}

export function hmacBase64(key: Buffer, text: string): string {
  return createHmac('sha256', key).update(text, 'utf8').digest('base64');
}

function equal(a: string, b: string): boolean {
  const ba = Buffer.from(a);
  const bb = Buffer.from(b);
  return ba.length === bb.length && timingSafeEqual(ba, bb);
}

/**
 * Verify a client's signature with `key`. Returns the header order variant that matched (so re-signing
 * reproduces what the client signed), or null.
 */
export function verifyBlobSignature(auth: BlobAuthorization, key: Buffer, req: SignableRequest): { swap: boolean } | null {
  if (equal(hmacBase64(key, blobStringToSign(auth.scheme, auth.account, req, false)), auth.signature)) return { swap: false };
  if (auth.scheme === 'SharedKey' && req.headers['content-language'] && req.headers['content-encoding']) {
    if (equal(hmacBase64(key, blobStringToSign(auth.scheme, auth.account, req, true)), auth.signature)) return { swap: true };
  }
  return null;
}

/** The Authorization header for `req` signed as `account` with `key`. */
export function signBlobRequest(scheme: SharedKeyScheme, account: string, key: Buffer, req: SignableRequest, swap = false): string {
  return `${scheme} ${account}:${hmacBase64(key, blobStringToSign(scheme, account, req, swap))}`;
}

/** Whether an HTTP date is within the allowed skew of `now`. */
export function blobDateIsFresh(date: string | undefined, now = Date.now()): boolean {
  if (!date) return false;
  const t = Date.parse(date);
  return Number.isFinite(t) && Math.abs(now - t) <= MAX_CLOCK_SKEW_MS;
}
