/** Requests dgf makes on its own account: signed upstream calls and the storage listing that seeds the ledger. */
import type { Dispatcher } from 'undici';
import type { UpstreamTarget } from '../shared/http-upstream.js';
import { signBlobRequest } from './signing.js';
import type { StorageLedger } from './storage-ledger.js';

/** The service version dgf speaks on its own requests. */
const API_VERSION = '2021-12-02';

/** A request on the upstream signed with the real key. `path` is relative to the account ('/' for the service). */
export function signedUpstreamRequest(
  upstream: UpstreamTarget,
  account: string,
  key: Buffer,
  method: 'GET' | 'HEAD' | 'PUT',
  path: string,
  query: string,
  extraHeaders: Record<string, string> = {},
): Promise<Dispatcher.ResponseData> {
  const fullPath = upstream.basePath + path;
  const headers: Record<string, string> = { 'x-ms-date': new Date().toUTCString(), 'x-ms-version': API_VERSION, ...extraHeaders };
  if (method === 'PUT') headers['content-length'] = '0';
  headers.authorization = signBlobRequest('SharedKey', account, key, { method, path: fullPath, query, headers });
  return upstream.pool.request({ path: `${fullPath}?${query}`, method, headers, headersTimeout: 10_000, bodyTimeout: 30_000 });
}

function tagValues(xml: string, tag: string): string[] {
  const out: string[] = [];
  const re = new RegExp(`<${tag}>([^<]*)</${tag}>`, 'g');
  for (let m = re.exec(xml); m; m = re.exec(xml)) out.push(m[1]!);
  return out;
}

function xmlText(s: string): string {
  return s.replace(/&lt;|&gt;|&quot;|&apos;|&amp;/g, (e) => ({ '&lt;': '<', '&gt;': '>', '&quot;': '"', '&apos;': "'", '&amp;': '&' })[e]!);
}

/** List every container and blob once and record their sizes. `countTransaction` says whether another call may be made. */
export async function scanAccountStorage(
  upstream: UpstreamTarget,
  account: string,
  key: Buffer,
  ledger: StorageLedger,
  countTransaction: () => boolean,
): Promise<void> {
  const list = async (path: string, query: string): Promise<string> => {
    if (!countTransaction()) throw new Error('transaction quota exhausted');
    const res = await signedUpstreamRequest(upstream, account, key, 'GET', path, query);
    const text = await res.body.text();
    if (res.statusCode !== 200) throw new Error(`listing ${path} answered ${res.statusCode}`);
    return text;
  };
  const containers: string[] = [];
  let marker = '';
  do {
    const xml = await list('/', `comp=list${marker ? `&marker=${encodeURIComponent(marker)}` : ''}`);
    for (const c of xml.split('<Container>').slice(1)) containers.push(xmlText(tagValues(c, 'Name')[0] ?? ''));
    marker = xmlText(tagValues(xml, 'NextMarker')[0] ?? '');
  } while (marker);
  for (const container of containers) {
    let next = '';
    do {
      const xml = await list(`/${encodeURIComponent(container)}`, `comp=list&restype=container${next ? `&marker=${encodeURIComponent(next)}` : ''}`);
      for (const b of xml.split('<Blob>').slice(1)) {
        const name = xmlText(tagValues(b, 'Name')[0] ?? '');
        const size = Number(tagValues(b, 'Content-Length')[0] ?? '0');
        if (name) ledger.setBlob(`${container}/${name}`, Number.isFinite(size) ? size : 0);
      }
      next = xmlText(tagValues(xml, 'NextMarker')[0] ?? '');
    } while (next);
  }
}
