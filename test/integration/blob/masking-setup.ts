/**
 * Shared setup of the Blob masking suites (leak-proof.test.ts, masked-utility.test.ts): one dgf with a blob
 * listener in front of Azurite, the analyst (a role with masks), admin (sees everything), a direct client on
 * Azurite to compare with, and a raw signed-HTTP helper.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync, inflateSync } from 'node:zlib';
import assert from 'node:assert/strict';
import { BlobServiceClient, StorageSharedKeyCredential, type ContainerClient } from '@azure/storage-blob';
import { request } from 'undici';
import { startDgf, type TestDgf } from '../../helpers/dgf.js';
import { signBlobRequest } from '../../../protocols/blob/signing.js';

export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
export const AZURITE_URL = 'http://127.0.0.1:10000/devstoreaccount1';
const key = (s: string): string => Buffer.from(s.padEnd(32, '#')).toString('base64');
export const USERS = [
  { name: 'admin', key: key('admin-key') },
  { name: 'analyst', key: key('analyst-key') },
];

/** Classified values the analyst may only see masked, and the part of each that the mask hides. */
export const EMAIL = 'zelda.quartz@example.com';
export const SSN = '123-45-6789';
export const CARD = '4111111111111111';
export const PHONE = '+1 415 555 0134';
/** A value classified by its name only (phi.diagnosis: no detector finds it by value). */
export const DIAGNOSIS = 'Pneumocystis pneumonia';
export const HIDDEN = ['zelda.quartz', '123-45', '41111111111', '415 555', 'Pneumocystis'];

export const PERSON_JSON = JSON.stringify({ name: 'Zelda Quartz', email: EMAIL, ssn: SSN, card_number: CARD, phone: PHONE, visits: 3 });
export const PERSON_CSV = `id,email,note\n1,${EMAIL},call ${PHONE}\n2,"${EMAIL}","ssn ${SSN}, card ${CARD}"\n`;
export const PERSON_TEXT = `Customer ${EMAIL} called from ${PHONE} about card ${CARD}; ssn on file ${SSN}.\n`;
export const PERSON_XML = `<?xml version="1.0"?><person><email>${EMAIL}</email><ssn>${SSN}</ssn><card_number>${CARD}</card_number></person>`;

export interface MaskingEnv {
  dgf: TestDgf;
  port: number;
  container: string;
  /** Through dgf as admin (sees everything; writes the fixtures). */
  admin: ContainerClient;
  /** Through dgf as analyst (masked). */
  analyst: ContainerClient;
  analystService: BlobServiceClient;
  /** Straight to Azurite, for comparison. */
  direct: ContainerClient;
  directService: BlobServiceClient;
  stop(): Promise<void>;
}

export async function startMaskingEnv(prefix: string): Promise<MaskingEnv> {
  const policyDir = mkdtempSync(path.join(tmpdir(), 'dgf-blob-mask-'));
  writeFileSync(path.join(policyDir, 'empty.yaml'), 'rules: []\n');
  const dgf = await startDgf({
    policies: { dir: policyDir },
    roles: [
      { match: { user: 'analyst' }, role: 'analyst' },
      { match: { user: 'admin' }, role: 'admin' },
    ],
    listeners: [
      {
        name: 'blob',
        protocol: 'blob',
        listen: '127.0.0.1:0',
        upstream: { url: AZURITE_URL, account: 'devstoreaccount1', key: AZURITE_KEY },
        users: USERS,
        options: { scanStorageOnStart: false, binaryOnlyObjects: ['*/media/*'], cleanObjects: ['*/public/*'] },
      },
    ],
  });
  const port = dgf.listener('blob').address.port;
  const container = `${prefix}-${randomUUID().slice(0, 8)}`;
  const svc = (user: string): BlobServiceClient =>
    new BlobServiceClient(`http://127.0.0.1:${port}/${user}`, new StorageSharedKeyCredential(user, USERS.find((u) => u.name === user)!.key));
  const directService = new BlobServiceClient(AZURITE_URL, new StorageSharedKeyCredential('devstoreaccount1', AZURITE_KEY));
  const admin = svc('admin').getContainerClient(container);
  await admin.create();
  const analystService = svc('analyst');
  return {
    dgf,
    port,
    container,
    admin,
    analyst: analystService.getContainerClient(container),
    analystService,
    direct: directService.getContainerClient(container),
    directService,
    async stop() {
      await directService.getContainerClient(container).deleteIfExists().catch(() => undefined);
      await dgf.stop();
      rmSync(policyDir, { recursive: true, force: true });
    },
  };
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** A request signed with Shared Key as `user` through dgf (the way an attacker would hand-craft one). */
export async function raw(
  env: MaskingEnv,
  method: string,
  resource: string,
  query: string,
  extra: Record<string, string> = {},
  body?: Buffer | string,
  user = 'analyst',
): Promise<RawResponse> {
  const p = `/${user}/${resource}`;
  const headers: Record<string, string> = { 'x-ms-date': new Date().toUTCString(), 'x-ms-version': '2021-12-02', ...extra };
  if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
  headers.authorization = signBlobRequest('SharedKey', user, Buffer.from(USERS.find((u) => u.name === user)!.key, 'base64'), {
    method,
    path: p,
    query,
    headers,
  });
  const res = await request(`http://127.0.0.1:${env.port}${p}${query ? `?${query}` : ''}`, { method: method as 'GET', headers, body });
  return { status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) };
}

export async function streamToBuffer(stream: NodeJS.ReadableStream | undefined): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream!) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Every decoding an attacker would try on bytes it received: as is, gunzipped, inflated, base64-decoded. */
export function decodings(buf: Buffer): string[] {
  const out = [buf.toString('utf8'), buf.toString('latin1')];
  for (const f of [gunzipSync, inflateSync]) {
    try {
      out.push(f(buf).toString('utf8'));
    } catch {
      // not that encoding
    }
  }
  return out;
}

/** The bytes carry none of the hidden parts of the classified values. */
export function assertNoClear(buf: Buffer | string, what: string): void {
  const b = typeof buf === 'string' ? Buffer.from(buf) : buf;
  for (const text of decodings(b)) {
    for (const h of HIDDEN) assert.ok(!text.includes(h), `${what}: leaks "${h}": ${text.slice(0, 300)}`);
  }
}

/** The bytes read directly from Azurite do carry a hidden part (so the attempt is meaningful). */
export function assertHasClear(buf: Buffer | string, what: string): void {
  const b = typeof buf === 'string' ? Buffer.from(buf) : buf;
  assert.ok(decodings(b).some((t) => HIDDEN.some((h) => t.includes(h))), `${what}: the direct read holds no classified value`);
}

/** A refusal in the service's own format: an XML <Error> with x-ms-error-code, and no clear value in it. */
export function assertServiceError(res: RawResponse, what: string): void {
  assert.ok(res.status >= 400, `${what}: expected an error, got ${res.status}`);
  if (res.body.length > 0) {
    assert.match(res.body.toString('utf8'), /^(\uFEFF)?<\?xml[^>]*>\s*<Error>\s*<Code>/, `${what}: not an Azure error body`);
    assertNoClear(res.body, what);
  }
  assert.ok(res.headers['x-ms-error-code'], `${what}: no x-ms-error-code`);
}

/** The outcome of an attempt: a 2xx body without clear values, or a service-format refusal. */
export function assertSafe(res: RawResponse, what: string): void {
  if (res.status >= 200 && res.status < 300) {
    assertNoClear(res.body, what);
    for (const [name, value] of Object.entries(res.headers)) assertNoClear(String(value), `${what} header ${name}`);
  } else {
    assertServiceError(res, what);
  }
}

/** An SDK call either returns data without clear values, or is refused with a RestError carrying the service's code. */
export async function sdkSafe(what: string, fn: () => Promise<Buffer | string>): Promise<'served' | 'refused'> {
  let out: Buffer | string;
  try {
    out = await fn();
  } catch (err) {
    const e = err as { statusCode?: number; code?: string; message?: string };
    assert.ok(e.statusCode !== undefined && e.statusCode >= 400, `${what}: failed without a service error: ${String(err)}`);
    assert.ok(e.code, `${what}: refusal without an error code`);
    assertNoClear(e.message ?? '', `${what} error message`);
    return 'refused';
  }
  assertNoClear(out, what);
  return 'served';
}
