/**
 * What a Blob Storage REST request is: the account, container and blob it addresses (path-style
 * `/<account>/<container>/<blob>` or host-style `<account>.<host>/<container>/<blob>`), and the operation
 * named from the verb, `restype`, `comp` and a few x-ms headers.
 */
import type { OperationKind } from '../../src/policy/types.js';

export interface BlobRequest {
  /** The account the client addressed (a dgf user name). */
  account: string;
  /** 'path' when the account is the first path segment, 'host' when it is the first label of the Host. */
  style: 'path' | 'host';
  /** Percent-encoded path after the account, starting with '/', e.g. '/photos/2024/a.jpg' ('/' for the service). */
  resourcePath: string;
  container: string | null;
  /** Decoded blob name. */
  blob: string | null;
  query: string;
  comp: string | null;
  restype: string | null;
  /** Lower-case verb for policy rules: get-blob, put-blob, put-block, delete-blob, delete-container, set-public-access, list-blobs, ... */
  operation: string;
  kind: OperationKind;
  /** 'container' or 'container/blob'; [] for service-level requests. */
  objects: string[];
  /** Whether the request carries blob content dgf scans (put blob, put block, append block). */
  uploadsContent: boolean;
  /** Whether the response carries blob content (get blob). */
  downloadsContent: boolean;
}

export class BlobRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BlobRequestError';
  }
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    throw new BlobRequestError(`"${s}" is not valid percent-encoding`);
  }
}

function queryParam(query: string, name: string): string | null {
  for (const pair of query.split('&')) {
    const eq = pair.indexOf('=');
    const k = eq < 0 ? pair : pair.slice(0, eq);
    if (k.toLowerCase() === name) return eq < 0 ? '' : decode(pair.slice(eq + 1)).toLowerCase();
  }
  return null;
}

const IP_HOST = /^(\d{1,3}(\.\d{1,3}){3}|\[[0-9a-f:.]+\]|localhost)(:\d+)?$/i;

/**
 * Split the URL. Host-style when the Host's first label names a known account (never for IP hosts and
 * `localhost`); path-style otherwise, where the first path segment is the account.
 */
export function locateAccount(
  host: string | undefined,
  rawPath: string,
  isAccount: (name: string) => boolean,
): { account: string; style: 'path' | 'host'; resourcePath: string } {
  if (host && !IP_HOST.test(host)) {
    const label = host.split('.')[0]!.toLowerCase();
    if (host.includes('.') && isAccount(label)) return { account: label, style: 'host', resourcePath: rawPath || '/' };
  }
  const m = /^\/([^/?]+)(\/.*)?$/.exec(rawPath);
  if (!m) throw new BlobRequestError('the URL names no account: use http://<dgf>/<account>/<container>/<blob>');
  return { account: decode(m[1]!), style: 'path', resourcePath: m[2] ?? '/' };
}

function hdr(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Classify one request; `rawPath` is the percent-encoded path, `query` the raw query without '?'. */
export function parseBlobRequest(
  method: string,
  host: string | undefined,
  rawPath: string,
  query: string,
  headers: Record<string, string | string[] | undefined>,
  isAccount: (name: string) => boolean,
): BlobRequest {
  const { account, style, resourcePath } = locateAccount(host, rawPath, isAccount);
  const trimmed = resourcePath.replace(/^\/+/, '');
  const slash = trimmed.indexOf('/');
  const container = trimmed === '' ? null : decode(slash < 0 ? trimmed : trimmed.slice(0, slash));
  const blobRaw = slash < 0 ? '' : trimmed.slice(slash + 1);
  const blob = blobRaw === '' ? null : decode(blobRaw);
  // Dot segments may be resolved by something between dgf and the service: the policy would judge another object.
  if (blob !== null && blob.split('/').some((seg) => seg === '.' || seg === '..')) {
    throw new BlobRequestError('blob names with "." or ".." path segments are refused by dgf');
  }
  const comp = queryParam(query, 'comp');
  const restype = queryParam(query, 'restype');
  const m = method.toUpperCase();
  const publicAccess = hdr(headers, 'x-ms-blob-public-access') !== undefined;
  const objects = container === null ? [] : blob === null ? [container] : [`${container}/${blob}`];
  const base = { account, style, resourcePath, container, blob, query, comp, restype, objects, uploadsContent: false, downloadsContent: false };
  const r = (operation: string, kind: OperationKind, extra: Partial<BlobRequest> = {}): BlobRequest => ({ ...base, operation, kind, ...extra });

  if (comp === 'batch') return r('batch', 'write');
  if (container === null) {
    if (comp === 'list') return r('list-containers', 'read');
    if (comp === 'properties' && restype === 'service') return m === 'PUT' ? r('set-service-properties', 'admin') : r('get-service-properties', 'read');
    if (comp === 'stats') return r('get-service-stats', 'read');
    if (comp === 'userdelegationkey') return r('get-user-delegation-key', 'admin');
    if (comp === 'blobs') return r('find-blobs-by-tags', 'read');
    if (restype === 'account') return r('get-account-info', 'read');
    throw new BlobRequestError(`unsupported service request ${m} ?${query}`);
  }
  if (blob === null) {
    if (restype === 'account') return r('get-account-info', 'read');
    if (restype !== 'container' && comp !== 'list') throw new BlobRequestError('a container request needs restype=container');
    switch (comp) {
      case null:
        if (m === 'PUT') return publicAccess ? r('set-public-access', 'admin') : r('create-container', 'ddl');
        if (m === 'DELETE') return r('delete-container', 'ddl');
        if (m === 'GET' || m === 'HEAD') return r('get-container-properties', 'read');
        break;
      case 'list':
        return r('list-blobs', 'read');
      case 'metadata':
        return m === 'PUT' ? r('set-container-metadata', 'write') : r('get-container-metadata', 'read');
      case 'acl':
        if (m === 'PUT') return publicAccess ? r('set-public-access', 'admin') : r('set-container-acl', 'admin');
        return r('get-container-acl', 'read');
      case 'lease':
        return r('container-lease', 'write');
      case 'undelete':
        return r('undelete-container', 'ddl');
      case 'rename':
        return r('rename-container', 'ddl');
      default:
        break;
    }
    throw new BlobRequestError(`unsupported container request ${m} comp=${comp}`);
  }
  switch (comp) {
    case null:
      if (m === 'PUT') {
        if (hdr(headers, 'x-ms-copy-source') !== undefined) return r('copy-blob', 'write');
        return r('put-blob', 'write', { uploadsContent: true });
      }
      if (m === 'GET') return r('get-blob', 'read', { downloadsContent: true });
      if (m === 'HEAD') return r('get-blob-properties', 'read');
      if (m === 'DELETE') return r('delete-blob', 'write');
      break;
    case 'block':
      return hdr(headers, 'x-ms-copy-source') !== undefined ? r('put-block-from-url', 'write') : r('put-block', 'write', { uploadsContent: true });
    case 'blocklist':
      return m === 'PUT' ? r('put-block-list', 'write') : r('get-block-list', 'read');
    case 'appendblock':
      return hdr(headers, 'x-ms-copy-source') !== undefined
        ? r('append-block-from-url', 'write')
        : r('append-block', 'write', { uploadsContent: true });
    case 'page':
      return r('put-page', 'write');
    case 'pagelist':
      return r('get-page-ranges', 'read');
    case 'metadata':
      return m === 'PUT' ? r('set-blob-metadata', 'write') : r('get-blob-metadata', 'read');
    case 'properties':
      return r('set-blob-properties', 'write');
    case 'lease':
      return r('blob-lease', 'write');
    case 'snapshot':
      return r('snapshot-blob', 'write');
    case 'copy':
      return r('abort-copy-blob', 'write');
    case 'tier':
      return r('set-blob-tier', 'write');
    case 'tags':
      return m === 'PUT' ? r('set-blob-tags', 'write') : r('get-blob-tags', 'read');
    case 'undelete':
      return r('undelete-blob', 'write');
    case 'expiry':
      return r('set-blob-expiry', 'write');
    case 'query':
      return r('query-blob', 'read');
    case 'immutabilitypolicies':
    case 'legalhold':
      return r(`set-${comp}`, 'admin');
    default:
      break;
  }
  throw new BlobRequestError(`unsupported blob request ${m} comp=${comp ?? ''}`);
}
