/**
 * Bypass attempts against Blob masking, as an attacker holding the analyst's issued key would try them: through
 * @azure/storage-blob and hand-signed HTTP, against Azurite. Every attempt must end with no clear classified value
 * in what the analyst receives (body, headers, error text), or with a refusal in the service's own error format.
 * The fixtures are checked against a direct read from Azurite, so each attempt targets a real classified value.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { deflateSync, gzipSync } from 'node:zlib';
import { BlobSASPermissions, StorageSharedKeyCredential, generateBlobSASQueryParameters } from '@azure/storage-blob';
import {
  CARD,
  DIAGNOSIS,
  EMAIL,
  PERSON_CSV,
  PERSON_JSON,
  PERSON_TEXT,
  PERSON_XML,
  PHONE,
  SSN,
  USERS,
  assertHasClear,
  assertNoClear,
  assertSafe,
  assertServiceError,
  raw,
  sdkSafe,
  startMaskingEnv,
  streamToBuffer,
  type MaskingEnv,
} from './masking-setup.js';

describe('blob leak-proof: a masked role cannot get a clear classified value', () => {
  let env: MaskingEnv;
  const put = async (name: string, body: Buffer | string, contentType?: string, contentEncoding?: string): Promise<void> => {
    const b = typeof body === 'string' ? Buffer.from(body) : body;
    await env.admin.getBlockBlobClient(name).upload(b, b.length, {
      blobHTTPHeaders: { ...(contentType ? { blobContentType: contentType } : {}), ...(contentEncoding ? { blobContentEncoding: contentEncoding } : {}) },
    });
    assertHasClear(await env.direct.getBlobClient(name).downloadToBuffer(), `direct read of ${name}`);
  };
  const download = async (name: string): Promise<Buffer> => streamToBuffer((await env.analyst.getBlobClient(name).download()).readableStreamBody);
  const get = (name: string, headers: Record<string, string> = {}, query = ''): ReturnType<typeof raw> =>
    raw(env, 'GET', `${env.container}/${name}`, query, headers);
  /** Read `name` as the analyst in windows of `size` bytes at every offset; every window and their reassembly are checked. */
  const windows = async (name: string, size: number, header: 'x-ms-range' | 'range' = 'x-ms-range', query = ''): Promise<Buffer> => {
    const snapshot = new URLSearchParams(query).get('snapshot');
    const direct = snapshot ? env.direct.getBlobClient(name).withSnapshot(snapshot) : env.direct.getBlobClient(name);
    const total = (await direct.getProperties()).contentLength!;
    const parts: Buffer[] = [];
    for (let off = 0; off < total; off += size) {
      const res = await get(name, { [header]: `bytes=${off}-${Math.min(total, off + size) - 1}` }, query);
      if (res.status === 403) {
        assertServiceError(res, `${name} window ${off}`);
        return Buffer.alloc(0);
      }
      assert.equal(res.status, 206, `${name} window ${off}: ${res.status} ${res.body.toString()}`);
      assertSafe(res, `${name} window ${off}`);
      parts.push(res.body);
    }
    const whole = Buffer.concat(parts);
    assertNoClear(whole, `${name} reassembled`);
    return whole;
  };

  before(async () => {
    env = await startMaskingEnv('leak');
  });
  after(async () => {
    await env?.stop();
  });

  // ---- content types: what the writer declares must not decide what the analyst receives
  for (const [name, body, type] of [
    ['ct/person.json', PERSON_JSON, 'application/json'],
    ['ct/person.xml', PERSON_XML, 'application/xml'],
    ['ct/person-ascii.pdf', `%PDF-1.4\n1 0 obj << /Title (${EMAIL}) /Subject (${SSN}) >>\nendobj\n`, 'application/pdf'],
    ['ct/person.png', PERSON_JSON, 'image/png'],
    ['ct/noext', PERSON_JSON, 'application/octet-stream'],
    ['ct/person-plain.json', PERSON_JSON, 'text/plain'],
    ['ct/person.txt', PERSON_TEXT, 'text/plain'],
    ['ct/person.csv', PERSON_CSV, 'text/csv'],
    ['ct/person-csv.jpg', PERSON_CSV, 'image/jpeg'],
    ['ct/person.ndjson', `${PERSON_JSON}\n${PERSON_JSON}\n`, 'application/x-ndjson'],
    ['ct/person.yaml', `name: Zelda\nemail: ${EMAIL}\nssn: "${SSN}"\ncard_number: ${CARD}\n`, 'application/yaml'],
    ['ct/bom.bin', `\uFEFF${PERSON_JSON}`, ''],
    ['ct/weird-type', PERSON_TEXT, 'application/vnd.acme.secret+binary'],
  ] as const) {
    test(`content type ${type || '(none)'}: ${name}`, async () => {
      await put(name, body, type || undefined);
      await sdkSafe(name, () => download(name));
      assertSafe(await get(name), `${name} raw`);
    });
  }

  // ---- values classified by name only, in formats other than JSON and CSV
  for (const [name, body] of [
    ['named/record.xml', `<record><patient>7</patient><diagnosis>${DIAGNOSIS}</diagnosis></record>`],
    ['named/record-cdata.xml', `<record><diagnosis><![CDATA[${DIAGNOSIS}]]></diagnosis></record>`],
    ['named/record-attr.xml', `<record diagnosis="${DIAGNOSIS}" id="7"/>`],
    ['named/record.yaml', `patient: 7\ndiagnosis: ${DIAGNOSIS}\n`],
    ['named/record.properties', `patient=7\ndiagnosis = ${DIAGNOSIS}\n`],
    ['named/record.py', `records = [{'patient': 7, 'diagnosis': '${DIAGNOSIS}'}]\n`],
    ['named/record.log', `2024-01-01 INFO saved {"patient": 7, "diagnosis": "${DIAGNOSIS}"} (truncated`],
    ['named/record.tsv', `patient\tdiagnosis\n7\t${DIAGNOSIS}\n`],
  ] as const) {
    test(`name-classified value in ${name}`, async () => {
      await put(name, body, 'application/octet-stream');
      assertSafe(await get(name), name);
      await windows(name, 5);
    });
  }

  test('binary content (PDF with bytes that are not UTF-8) carrying classified text is refused, not sent clear', async () => {
    const pdf = Buffer.concat([Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3\n', 'latin1'), Buffer.from(`(${EMAIL}) (${SSN})`), Buffer.from([0, 1, 2, 0xff, 0xfe])]);
    await put('bin/report.pdf', pdf, 'application/pdf');
    const res = await get('bin/report.pdf');
    assertSafe(res, 'binary pdf');
    assert.equal(res.status, 403);
    assert.equal(res.headers['x-ms-error-code'], 'DgfContentNotMaskable');
  });

  // ---- relabelling with Set Blob Properties
  for (const type of ['image/png', 'application/octet-stream', 'application/pdf', 'application/zip']) {
    test(`Set Blob Properties relabels JSON as ${type}`, async () => {
      const name = `relabel/${type.replace('/', '-')}.json`;
      await put(name, PERSON_JSON, 'application/json');
      await env.admin.getBlobClient(name).setHTTPHeaders({ blobContentType: type });
      await sdkSafe(name, () => download(name));
      assertSafe(await get(name), `${name} raw`);
    });
  }

  test('Set Blob Properties claims gzip for plain text (Content-Encoding lie)', async () => {
    await put('relabel/lie.txt', PERSON_TEXT, 'text/plain');
    await env.admin.getBlobClient('relabel/lie.txt').setHTTPHeaders({ blobContentType: 'text/plain', blobContentEncoding: 'gzip' });
    assertSafe(await get('relabel/lie.txt'), 'encoding lie');
  });

  // ---- Content-Encoding
  test('gzip JSON with Content-Encoding: gzip, raw GET (no automatic decoding)', async () => {
    await put('enc/person.json.gz', gzipSync(PERSON_JSON), 'application/json', 'gzip');
    assertSafe(await get('enc/person.json.gz'), 'gzip json');
  });

  test('deflate text with Content-Encoding: deflate', async () => {
    await put('enc/person.txt.z', deflateSync(PERSON_TEXT), 'text/plain', 'deflate');
    assertSafe(await get('enc/person.txt.z'), 'deflate text');
  });

  test('gzip bytes without Content-Encoding (application/gzip)', async () => {
    await put('enc/person.csv.gz', gzipSync(PERSON_CSV), 'application/gzip');
    assertSafe(await get('enc/person.csv.gz'), 'bare gzip');
  });

  test('gzip blob whose Content-Encoding was removed by Set Blob Properties', async () => {
    await put('enc/stripped.gz', gzipSync(PERSON_JSON), 'application/json', 'gzip');
    await env.admin.getBlobClient('enc/stripped.gz').setHTTPHeaders({ blobContentType: 'application/octet-stream' });
    assertSafe(await get('enc/stripped.gz'), 'stripped encoding');
  });

  test('gzip blob read in 16-byte windows, reassembled and gunzipped', async () => {
    await put('enc/windows.json.gz', gzipSync(PERSON_JSON), 'application/json', 'gzip');
    await windows('enc/windows.json.gz', 16);
  });

  test('gzip blob through the SDK download() (which sends x-ms-range)', async () => {
    await sdkSafe('sdk gzip', () => download('enc/windows.json.gz'));
  });

  // ---- ranges
  test('JSON: 1-byte windows at every offset (x-ms-range), reassembled', async () => {
    await put('rng/person.json', PERSON_JSON, 'application/json');
    await windows('rng/person.json', 1);
  });

  test('JSON: 7-byte windows (standard Range header)', async () => {
    await windows('rng/person.json', 7, 'range');
  });

  test('text: 5-byte windows', async () => {
    await put('rng/person.txt', PERSON_TEXT, 'text/plain');
    await windows('rng/person.txt', 5);
  });

  test('CSV: SDK download(offset, count) at successive offsets', async () => {
    await put('rng/person.csv', PERSON_CSV, 'text/csv');
    const total = PERSON_CSV.length;
    const parts: Buffer[] = [];
    for (let off = 0; off < total; off += 9) {
      const r = await sdkSafe(`csv ${off}`, async () => {
        const b = await streamToBuffer((await env.analyst.getBlobClient('rng/person.csv').download(off, 9)).readableStreamBody);
        parts.push(b);
        return b;
      });
      if (r === 'refused') return;
    }
    assertNoClear(Buffer.concat(parts), 'csv reassembled');
  });

  test('open-ended range bytes=N- at every offset', async () => {
    for (let off = 0; off < PERSON_JSON.length; off += 3) assertSafe(await get('rng/person.json', { 'x-ms-range': `bytes=${off}-` }), `open ${off}`);
  });

  test('range with x-ms-range-get-content-md5 (MD5 of the window)', async () => {
    const res = await get('rng/person.json', { 'x-ms-range': 'bytes=0-63', 'x-ms-range-get-content-md5': 'true' });
    assertSafe(res, 'md5 range');
    const clearMd5 = createHash('md5').update(Buffer.from(PERSON_JSON).subarray(0, 64)).digest('base64');
    if (res.status === 206) assert.notEqual(res.headers['content-md5'], clearMd5, 'the window MD5 is an oracle of the clear bytes');
  });

  test('Range and x-ms-range disagreeing (x-ms-range wins at the service)', async () => {
    assertSafe(await get('rng/person.json', { range: 'bytes=0-3', 'x-ms-range': 'bytes=10-60' }), 'both ranges');
  });

  test('SDK downloadToBuffer in 8-byte parallel blocks', async () => {
    await sdkSafe('downloadToBuffer', () => env.analyst.getBlobClient('rng/person.json').downloadToBuffer(0, undefined, { blockSize: 8, concurrency: 8 }));
  });

  test('SDK downloadToFile of classified text', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dgf-leak-'));
    try {
      await sdkSafe('downloadToFile', async () => {
        await env.analyst.getBlobClient('rng/person.txt').downloadToFile(path.join(dir, 'out.txt'));
        return readFileSync(path.join(dir, 'out.txt'));
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  // ---- hash oracles
  test('Content-MD5 of properties and of a whole read is not the clear content\'s hash', async () => {
    const clearMd5 = createHash('md5').update(PERSON_JSON).digest('base64');
    const props = await raw(env, 'HEAD', `${env.container}/rng/person.json`, '');
    assert.notEqual(props.headers['content-md5'], clearMd5);
    const whole = await get('rng/person.json');
    assert.notEqual(whole.headers['content-md5'], clearMd5);
    let listed = '';
    for await (const b of env.analyst.listBlobsFlat({ prefix: 'rng/person.json' })) listed += b.properties.contentMD5 ? Buffer.from(b.properties.contentMD5).toString('base64') : '';
    assert.ok(!listed.includes(clearMd5), 'list blobs gives the clear MD5');
  });

  // ---- snapshots and versions
  test('snapshot of a classified blob after the base was overwritten with clean text', async () => {
    await put('snap/person.json', PERSON_JSON, 'application/json');
    const snap = await env.admin.getBlobClient('snap/person.json').createSnapshot();
    await env.admin.getBlockBlobClient('snap/person.json').upload('nothing to see', 14, { blobHTTPHeaders: { blobContentType: 'text/plain' } });
    await sdkSafe('snapshot read', async () => streamToBuffer((await env.analyst.getBlobClient('snap/person.json').withSnapshot(snap.snapshot!).download()).readableStreamBody));
    assertSafe(await get('snap/person.json', {}, `snapshot=${encodeURIComponent(snap.snapshot!)}`), 'snapshot raw');
  });

  test('range reads of that snapshot (the base is clean and was read in ranges first)', async () => {
    const snaps: string[] = [];
    for await (const b of env.admin.listBlobsFlat({ prefix: 'snap/', includeSnapshots: true })) if (b.snapshot) snaps.push(b.snapshot);
    assert.ok(snaps.length > 0);
    const base = await get('snap/person.json', { 'x-ms-range': 'bytes=0-5' });
    assert.equal(base.status, 206, base.body.toString());
    await windows('snap/person.json', 11, 'x-ms-range', `snapshot=${encodeURIComponent(snaps[0]!)}`);
  });

  test('range reads of a classified snapshot whose base dgf scanned clean at upload', async () => {
    await put('snap/second.json', PERSON_JSON, 'application/json');
    const snap = await env.admin.getBlobClient('snap/second.json').createSnapshot();
    await env.admin.getBlockBlobClient('snap/second.json').upload('clean words', 11, { blobHTTPHeaders: { blobContentType: 'application/json' } });
    await windows('snap/second.json', 9, 'x-ms-range', `snapshot=${encodeURIComponent(snap.snapshot!)}`);
  });

  test('snapshot read in parallel ranges by the SDK', async () => {
    const snaps: string[] = [];
    for await (const b of env.admin.listBlobsFlat({ prefix: 'snap/', includeSnapshots: true })) if (b.snapshot) snaps.push(b.snapshot);
    await sdkSafe('snapshot downloadToBuffer', () => env.analyst.getBlobClient('snap/person.json').withSnapshot(snaps[0]!).downloadToBuffer(0, undefined, { blockSize: 16, concurrency: 4 }));
  });

  test('version reads (versionid), whole and ranged', async () => {
    await put('ver/person.json', PERSON_JSON, 'application/json');
    const versions: string[] = [];
    for await (const b of env.admin.listBlobsFlat({ prefix: 'ver/', includeVersions: true })) if (b.versionId) versions.push(b.versionId);
    const ids = versions.length > 0 ? versions : [new Date().toISOString().replace(/\.\d+Z$/, '.0000000Z')];
    for (const id of ids) {
      assertSafe(await get('ver/person.json', {}, `versionid=${encodeURIComponent(id)}`), `version ${id}`);
      assertSafe(await get('ver/person.json', { 'x-ms-range': 'bytes=0-40' }, `versionid=${encodeURIComponent(id)}`), `version range ${id}`);
    }
  });

  // ---- blocks
  test('uncommitted blocks: the block list shows no content', async () => {
    const blob = env.admin.getBlockBlobClient('blocks/staged.json');
    const id = Buffer.from('block-0001').toString('base64');
    await blob.stageBlock(id, Buffer.from(PERSON_JSON), PERSON_JSON.length);
    const res = await get('blocks/staged.json', {}, 'comp=blocklist&blocklisttype=all');
    assertSafe(res, 'block list');
    await sdkSafe('uncommitted read', () => download('blocks/staged.json'));
  });

  test('committed block list of classified blocks read in ranges', async () => {
    const blob = env.admin.getBlockBlobClient('blocks/staged.json');
    await blob.commitBlockList([Buffer.from('block-0001').toString('base64')], { blobHTTPHeaders: { blobContentType: 'application/octet-stream' } });
    await windows('blocks/staged.json', 13);
  });

  // ---- copies
  test('Copy Blob into another container under an unclassified name, then read', async () => {
    const other = env.analystService.getContainerClient(`${env.container}-copy`);
    await env.admin.getBlockBlobClient('ct/person.json').exists();
    const adminOther = env.analystService.getContainerClient(other.containerName);
    await adminOther.createIfNotExists();
    try {
      const poller = await adminOther.getBlobClient('innocent.png').beginCopyFromURL(`${env.direct.url}/ct/person.json`);
      await poller.pollUntilDone();
      await sdkSafe('copy read', async () => streamToBuffer((await adminOther.getBlobClient('innocent.png').download()).readableStreamBody));
      await sdkSafe('copy ranged', () => adminOther.getBlobClient('innocent.png').downloadToBuffer(0, undefined, { blockSize: 10 }));
    } finally {
      await env.directService.getContainerClient(other.containerName).deleteIfExists();
    }
  });

  test('Copy Blob with x-ms-requires-sync (synchronous copy from URL) then read', async () => {
    const target = env.analyst.getBlockBlobClient('copies/sync.bin');
    try {
      await target.syncCopyFromURL(`${env.direct.url}/ct/person.csv`);
    } catch {
      // Azurite may refuse synchronous copies from URL; then nothing was copied
      return;
    }
    await sdkSafe('sync copy read', () => download('copies/sync.bin'));
  });

  test('Copy Blob of a classified blob into a path declared clean (served unmasked) is refused', async () => {
    for (const dest of ['public/copied.json', 'media/copied.bin']) {
      await assert.rejects(
        async () => (await env.analyst.getBlobClient(dest).beginCopyFromURL(`${env.direct.url}/ct/person.json`)).pollUntilDone(),
        (err: { statusCode?: number; code?: string }) => err.statusCode === 403 && err.code === 'AuthorizationPermissionMismatch',
      );
      assert.equal(await env.direct.getBlobClient(dest).exists(), false);
    }
  });

  test('Put Block From URL of a classified blob into a clean path is refused', async () => {
    const id = Buffer.from('block-from-url').toString('base64');
    await assert.rejects(
      env.analyst.getBlockBlobClient('public/staged.json').stageBlockFromURL(id, `${env.direct.url}/ct/person.json`),
      (err: { statusCode?: number }) => err.statusCode === 403,
    );
  });

  // ---- SAS
  test('a SAS token signed with the issued key is refused', async () => {
    const sas = generateBlobSASQueryParameters(
      { containerName: env.container, blobName: 'ct/person.json', permissions: BlobSASPermissions.parse('r'), expiresOn: new Date(Date.now() + 3600_000) },
      new StorageSharedKeyCredential('analyst', USERS[1]!.key),
    ).toString();
    const { request } = await import('undici');
    const res = await request(`http://127.0.0.1:${env.port}/analyst/${env.container}/ct/person.json?${sas}`);
    assertServiceError({ status: res.statusCode, headers: res.headers, body: Buffer.from(await res.body.arrayBuffer()) }, 'sas');
  });

  test('Shared Key signed request that also carries a SAS signature in the query', async () => {
    assertSafe(await get('ct/person.json', {}, 'sv=2021-12-02&sr=b&sp=r&sig=AAAA'), 'sas + shared key');
  });

  // ---- metadata, tags, listings
  test('list blobs with metadata holding classified values', async () => {
    await put('meta/doc.txt', 'plain words only here and there', 'text/plain').catch(() => undefined);
    await env.admin.getBlobClient('meta/doc.txt').setMetadata({ owner_email: EMAIL, note: `ssn ${SSN}`, ssn: SSN });
    const res = await get('', {}, 'restype=container&comp=list&include=metadata');
    assertSafe(await raw(env, 'GET', env.container, 'restype=container&comp=list&include=metadata'), 'raw list');
    void res;
    let seen = '';
    for await (const b of env.analyst.listBlobsFlat({ prefix: 'meta/', includeMetadata: true })) seen += JSON.stringify(b.metadata);
    assert.ok(seen.length > 0);
    assertNoClear(seen, 'listed metadata');
  });

  test('blob properties and a read carry metadata headers masked', async () => {
    const props = await env.analyst.getBlobClient('meta/doc.txt').getProperties();
    assertNoClear(JSON.stringify(props.metadata), 'properties metadata');
    assertSafe(await raw(env, 'HEAD', `${env.container}/meta/doc.txt`, ''), 'HEAD');
    assertSafe(await get('meta/doc.txt'), 'GET headers');
    assertSafe(await get('meta/doc.txt', {}, 'comp=metadata'), 'get metadata');
  });

  test('blob properties a writer sets freely (Content-Disposition, Content-Type parameters) carrying a classified value', async () => {
    await env.admin.getBlobClient('meta/doc.txt').setHTTPHeaders({
      blobContentType: `text/plain; owner=${EMAIL}`,
      blobContentDisposition: `attachment; filename="${SSN}.txt"`,
      blobContentLanguage: 'en',
    });
    assertSafe(await raw(env, 'HEAD', `${env.container}/meta/doc.txt`, ''), 'HEAD properties');
    assertSafe(await get('meta/doc.txt'), 'GET properties');
    assertSafe(await raw(env, 'GET', env.container, 'restype=container&comp=list&prefix=meta%2F'), 'listed properties');
  });

  test('blob tags holding classified values', async () => {
    // Tag values may not hold '@': the SSN, a card and a phone number instead.
    await env.admin.getBlobClient('meta/doc.txt').setTags({ ssn: SSN, note: `card ${CARD}`, phone_number: PHONE.replace(/\+/g, '') });
    const tags = await sdkSafe('get tags', async () => JSON.stringify((await env.analyst.getBlobClient('meta/doc.txt').getTags()).tags));
    void tags;
    assertSafe(await get('meta/doc.txt', {}, 'comp=tags'), 'raw tags');
  });

  test('list blobs with tags', async () => {
    assertSafe(await raw(env, 'GET', env.container, 'restype=container&comp=list&include=tags'), 'list tags');
  });

  test('find blobs by tags', async () => {
    assertSafe(await raw(env, 'GET', '', `comp=blobs&where=${encodeURIComponent(`"ssn">'0'`)}`), 'find by tags');
  });

  test('container metadata holding a classified value', async () => {
    await env.admin.setMetadata({ contact_email: EMAIL });
    const props = await env.analyst.getProperties();
    assertNoClear(JSON.stringify(props.metadata), 'container metadata');
    let listed = '';
    for await (const c of env.analystService.listContainers({ prefix: env.container, includeMetadata: true })) listed += JSON.stringify(c.metadata);
    assertNoClear(listed, 'listed container metadata');
  });

  // ---- query blob contents
  test('Query Blob Contents (SQL over a CSV blob)', async () => {
    const body = `<?xml version="1.0" encoding="utf-8"?><QueryRequest><QueryType>SQL</QueryType><Expression>SELECT * from BlobStorage</Expression></QueryRequest>`;
    assertSafe(await raw(env, 'POST', `${env.container}/rng/person.csv`, 'comp=query', { 'content-type': 'application/xml' }, body), 'query');
  });

  // ---- append and page blobs
  test('append blob with classified lines: whole and in windows', async () => {
    const a = env.admin.getAppendBlobClient('append/log.txt');
    await a.create({ blobHTTPHeaders: { blobContentType: 'application/octet-stream' } });
    for (const line of PERSON_TEXT.split(' ')) await a.appendBlock(`${line} `, Buffer.byteLength(`${line} `));
    assertHasClear(await env.direct.getBlobClient('append/log.txt').downloadToBuffer(), 'direct append');
    await sdkSafe('append', () => download('append/log.txt'));
    await windows('append/log.txt', 6);
  });

  test('page blob holding classified text in its first page', async () => {
    const p = env.admin.getPageBlobClient('page/disk.vhd');
    await p.create(1024);
    const page = Buffer.alloc(512);
    page.write(PERSON_TEXT);
    await p.uploadPages(page, 0, 512);
    assertHasClear(await env.direct.getBlobClient('page/disk.vhd').downloadToBuffer(), 'direct page');
    assertSafe(await get('page/disk.vhd'), 'page whole');
  });

  test('page blob read in windows', async () => {
    await windows('page/disk.vhd', 32);
  });

  // ---- conditional and odd requests
  test('conditional GET with If-None-Match of another ETag and If-Modified-Since', async () => {
    assertSafe(await get('rng/person.json', { 'if-none-match': '"0x0"', 'if-modified-since': new Date(0).toUTCString() }), 'conditional');
  });

  test('a request that names the blob with a different case of percent-encoding', async () => {
    assertSafe(await raw(env, 'GET', `${env.container}/rng%2Fperson.json`, ''), 'encoded slash');
  });

  test('classified values in a blob of a "binary-only" path are still masked when the bytes are text', async () => {
    await put('media/notes.json', PERSON_JSON, 'image/png');
    assertSafe(await get('media/notes.json'), 'binary-only path, text content');
  });

  test('the direct values are really different from what the analyst got (sanity of the comparison)', async () => {
    const masked = await download('ct/person.json');
    assert.notEqual(masked.toString(), PERSON_JSON);
    assert.ok(masked.toString().includes('Zelda Quartz'));
    assert.ok(!masked.toString().includes(EMAIL) && !masked.toString().includes(SSN) && !masked.toString().includes(CARD) && !masked.toString().includes(PHONE));
  });
});
