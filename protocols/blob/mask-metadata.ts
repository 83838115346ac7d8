/**
 * Values outside blob content that a writer controls and a reader receives: metadata (`x-ms-meta-*` headers, the
 * `<Metadata>` of listings), blob index tags (Get Blob Tags, listings with `include=tags`, Find Blobs by Tags) and
 * blob/container names in listings. For a role with masks they are masked by name (the metadata key or tag key is
 * classified like a field name) and by value (the detectors), and content hashes of the stored bytes are removed
 * (an MD5 of the clear content would let a reader confirm guesses of the masked part).
 */
import { scrubText } from '../../src/governance/scrub-text.js';
import type { CompiledPolicy, MaskStats } from '../../src/policy/types.js';

export interface MetaMaskContext {
  policy: CompiledPolicy;
  role: string;
  stats: MaskStats;
  object: string;
}

/** One metadata / tag value of key `name`, masked by name (when classified for the role) and by value. */
export function maskMetaValue(name: string, value: string, c: MetaMaskContext): string {
  if (value === '') return value;
  if (c.policy.labelsForName(name).length > 0) {
    const plan = c.policy.fieldPlan(c.role, { name, object: c.object, type: 'text' });
    if (plan.mode === 'mask') {
      const out = plan.apply(value, c.stats);
      return typeof out === 'string' ? out : '';
    }
  }
  return scrubText(value, c.policy, c.role, c.stats);
}

const HASH_HEADERS = ['content-md5', 'x-ms-content-crc64', 'x-ms-blob-content-md5'];
/** Blob properties a writer sets freely (Set Blob Properties): scanned like any text. */
const FREE_TEXT_HEADERS = ['content-type', 'content-disposition', 'content-language', 'cache-control', 'x-ms-blob-content-disposition'];
const FREE_TEXT_ELEMENTS = /<(Content-Type|Content-Disposition|Content-Language|Cache-Control)>([^<]*)<\/\1>/g;

/** Mask `x-ms-meta-*` response headers in place; drop content hashes when `dropHashes`. */
export function maskMetaHeaders(headers: Record<string, string | string[]>, c: MetaMaskContext, dropHashes: boolean): void {
  for (const name of Object.keys(headers)) {
    if (dropHashes && HASH_HEADERS.includes(name)) {
      delete headers[name];
      continue;
    }
    if (FREE_TEXT_HEADERS.includes(name)) {
      const v = headers[name]!;
      headers[name] = Array.isArray(v) ? v.map((x) => headerSafe(scrubText(x, c.policy, c.role, c.stats))) : headerSafe(scrubText(v, c.policy, c.role, c.stats));
      continue;
    }
    if (!name.startsWith('x-ms-meta-')) continue;
    const v = headers[name]!;
    const key = name.slice('x-ms-meta-'.length);
    headers[name] = Array.isArray(v) ? v.map((x) => headerSafe(maskMetaValue(key, x, c))) : headerSafe(maskMetaValue(key, v, c));
  }
}

function headerSafe(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '*');
}

function xmlDecode(s: string): string {
  return s.replace(/&(lt|gt|amp|quot|apos|#\d+|#x[0-9a-fA-F]+);/g, (m, e: string) => {
    if (e === 'lt') return '<';
    if (e === 'gt') return '>';
    if (e === 'amp') return '&';
    if (e === 'quot') return '"';
    if (e === 'apos') return "'";
    const code = e.startsWith('#x') ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
    return Number.isFinite(code) && code <= 0x10ffff ? String.fromCodePoint(code) : m;
  });
}

function xmlEncode(s: string): string {
  return s.replace(/[<>&'"]/g, (ch) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[ch]!);
}

const METADATA = /<Metadata>([\s\S]*?)<\/Metadata>/g;
const META_ENTRY = /<([A-Za-z_][\w.-]*)>([^<]*)<\/\1>/g;
const TAG = /<Tag>\s*<Key>([^<]*)<\/Key>\s*<Value>([^<]*)<\/Value>\s*<\/Tag>/g;
const NAME = /<Name>([^<]*)<\/Name>/g;
const HASH_ELEMENT = /<(Content-MD5|Content-CRC64)>[^<]*<\/\1>|<(Content-MD5|Content-CRC64)\s*\/>/g;

/** Mask a listing / tags XML answer for the role: metadata, tags, names; content hashes removed. */
export function maskListingXml(xml: string, c: MetaMaskContext): string {
  let out = xml.replace(METADATA, (_m, inner: string) => {
    const masked = inner.replace(META_ENTRY, (_e, key: string, value: string) => `<${key}>${xmlEncode(maskMetaValue(key, xmlDecode(value), c))}</${key}>`);
    return `<Metadata>${masked}</Metadata>`;
  });
  out = out.replace(TAG, (_m, key: string, value: string) => {
    const k = xmlDecode(key);
    const maskedKey = scrubText(k, c.policy, c.role, c.stats);
    return `<Tag><Key>${xmlEncode(maskedKey)}</Key><Value>${xmlEncode(maskMetaValue(k, xmlDecode(value), c))}</Value></Tag>`;
  });
  out = out.replace(NAME, (m, name: string) => {
    const v = xmlDecode(name);
    const masked = scrubText(v, c.policy, c.role, c.stats);
    return masked === v ? m : `<Name>${xmlEncode(masked)}</Name>`;
  });
  out = out.replace(FREE_TEXT_ELEMENTS, (m, el: string, value: string) => {
    const v = xmlDecode(value);
    const masked = scrubText(v, c.policy, c.role, c.stats);
    return masked === v ? m : `<${el}>${xmlEncode(masked)}</${el}>`;
  });
  return out.replace(HASH_ELEMENT, '');
}
