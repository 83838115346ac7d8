/**
 * Cosmos DB master-key authorization (REST "Access control"): the `authorization` header is
 * url-encoded `type=master&ver=1.0&sig=<base64 HMAC-SHA256>` over
 * `${verb}\n${resourceType}\n${resourceLink}\n${date}\n\n` (verb, type and date lower-cased; the link as is).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** The parsed `authorization` header. */
export interface CosmosAuthorization {
  /** 'master' | 'resource' | 'aad' | ... */
  type: string;
  version: string;
  signature: string;
}

/** How far `x-ms-date` may be from the proxy's clock (the service's own window). */
export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;

/** Parse the header; null when it is not `type=...&ver=...&sig=...`. */
export function parseAuthorization(header: string | undefined): CosmosAuthorization | null {
  if (!header) return null;
  let text = header;
  if (text.includes('%')) {
    try {
      text = decodeURIComponent(text);
    } catch {
      return null;
    }
  }
  let type = '';
  let version = '';
  let signature: string | null = null;
  for (const part of text.split('&')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const k = part.slice(0, eq).trim().toLowerCase();
    const v = part.slice(eq + 1);
    if (k === 'type') type = v.toLowerCase();
    else if (k === 'ver') version = v;
    else if (k === 'sig') signature = v;
  }
  if (!type || signature === null) return null;
  return { type, version, signature };
}

/** The text the signature covers. */
export function stringToSign(verb: string, resourceType: string, resourceLink: string, date: string): string {
  return `${verb.toLowerCase()}\n${resourceType.toLowerCase()}\n${resourceLink}\n${date.toLowerCase()}\n\n`;
}

/** Base64 HMAC-SHA256 of the string to sign with the base64-decoded key. */
export function computeSignature(key: Buffer, verb: string, resourceType: string, resourceLink: string, date: string): string {
  return createHmac('sha256', key).update(stringToSign(verb, resourceType, resourceLink, date), 'utf8').digest('base64');
}

/** The header value the service expects (url-encoded, as the SDKs send it). */
export function authorizationHeader(key: Buffer, verb: string, resourceType: string, resourceLink: string, date: string): string {
  return encodeURIComponent(`type=master&ver=1.0&sig=${computeSignature(key, verb, resourceType, resourceLink, date)}`);
}

/** Constant-time comparison of two base64 signatures. */
export function signaturesEqual(a: string, b: string): boolean {
  const ba = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  return ba.length === bb.length && timingSafeEqual(ba, bb);
}

/** Whether an HTTP date is within the allowed skew of `now`. */
export function dateIsFresh(date: string, now = Date.now(), maxSkewMs = MAX_CLOCK_SKEW_MS): boolean {
  const t = Date.parse(date);
  return Number.isFinite(t) && Math.abs(now - t) <= maxSkewMs;
}

/** A key dgf issued to one listener user. */
export interface IssuedKey {
  user: string;
  key: Buffer;
}

/**
 * Find the user whose key produced `signature` for this request. Returns null when none did.
 * `links` holds the candidate resource links (the decoded one the SDKs sign, then the raw path form).
 */
export function findSigner(
  keys: readonly IssuedKey[],
  signature: string,
  verb: string,
  resourceType: string,
  links: readonly string[],
  date: string,
): { user: string; link: string } | null {
  for (const link of links) {
    for (const k of keys) {
      if (signaturesEqual(computeSignature(k.key, verb, resourceType, link, date), signature)) return { user: k.user, link };
    }
  }
  return null;
}
