/**
 * Ordinary work of a role with masks (analyst) through dgf against Azurite, with the real @azure/storage-blob SDK:
 * what the direct connection returns, masked where it must be. Masks keep the byte length, so the SDK's ranged and
 * parallel downloads (downloadToBuffer, downloadToFile) return the masked content.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { readAudit } from '../../helpers/dgf.js';
import {
  EMAIL,
  PERSON_CSV,
  PERSON_JSON,
  SSN,
  assertNoClear,
  raw,
  startMaskingEnv,
  streamToBuffer,
  type MaskingEnv,
} from './masking-setup.js';

describe('blob masked utility: the analyst works normally and gets masked content', () => {
  let env: MaskingEnv;
  let maskedWhole: Buffer;
  const plain = JSON.stringify({ id: 7, title: 'quarterly numbers', tags: ['a', 'b'], total: 1234.5 });

  before(async () => {
    env = await startMaskingEnv('util');
    await env.admin.getBlockBlobClient('people/person.json').upload(PERSON_JSON, PERSON_JSON.length, { blobHTTPHeaders: { blobContentType: 'application/json' } });
    await env.admin.getBlockBlobClient('docs/plain.json').upload(plain, plain.length, { blobHTTPHeaders: { blobContentType: 'application/json' } });
  });
  after(async () => {
    await env?.stop();
  });

  test('download() of a classified JSON blob: masked, valid JSON, same length as stored', async () => {
    const res = await env.analyst.getBlobClient('people/person.json').download();
    maskedWhole = await streamToBuffer(res.readableStreamBody);
    assert.equal(maskedWhole.length, PERSON_JSON.length);
    assert.equal(res.contentLength, PERSON_JSON.length);
    const doc = JSON.parse(maskedWhole.toString()) as Record<string, unknown>;
    assert.equal(doc.name, 'Zelda Quartz');
    assert.equal(doc.visits, 3);
    assert.match(doc.email as string, /^z\*+@example\.com$/);
    assert.equal(doc.ssn, '***-**-6789');
    assertNoClear(maskedWhole, 'masked json');
  });

  test('downloadToBuffer() (parallel ranged reads) returns the masked content', async () => {
    const viaDefault = await env.analyst.getBlobClient('people/person.json').downloadToBuffer();
    assert.ok(viaDefault.equals(maskedWhole));
    const viaBlocks = await env.analyst.getBlobClient('people/person.json').downloadToBuffer(0, undefined, { blockSize: 16, concurrency: 5 });
    assert.ok(viaBlocks.equals(maskedWhole), viaBlocks.toString());
  });

  test('downloadToFile() returns the masked content', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'dgf-util-'));
    try {
      await env.analyst.getBlobClient('people/person.json').downloadToFile(path.join(dir, 'p.json'));
      assert.ok(readFileSync(path.join(dir, 'p.json')).equals(maskedWhole));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a range is the same window of the masked whole', async () => {
    const part = await streamToBuffer((await env.analyst.getBlobClient('people/person.json').download(10, 40)).readableStreamBody);
    assert.ok(part.equals(maskedWhole.subarray(10, 50)));
  });

  test('ranged reads are served from the mask cache (audit says so) and masked counts are audited', async () => {
    await env.analyst.getBlobClient('people/person.json').downloadToBuffer(0, undefined, { blockSize: 20, concurrency: 2 });
    const audit = await readAudit(env.dgf.auditFile);
    const reads = audit.filter((r) => r.operation === 'get-blob' && r.role === 'analyst' && r.object === `${env.container}/people/person.json`);
    assert.ok(reads.some((r) => (r.extra as Record<string, unknown> | undefined)?.cached === true), 'no read was served from the cache');
    assert.ok(reads.every((r) => ((r.masked as Record<string, number> | undefined)?.['pii.email'] ?? 0) >= 1), JSON.stringify(reads[0]));
  });

  test('an unclassified JSON blob is byte-identical to the direct read (whole, ranged, parallel)', async () => {
    const direct = await env.direct.getBlobClient('docs/plain.json').downloadToBuffer();
    const viaDgf = await streamToBuffer((await env.analyst.getBlobClient('docs/plain.json').download()).readableStreamBody);
    assert.ok(viaDgf.equals(direct));
    assert.ok((await env.analyst.getBlobClient('docs/plain.json').downloadToBuffer(0, undefined, { blockSize: 7 })).equals(direct));
  });

  test('binary content in a binary-only path is byte-identical, ranges too', async () => {
    const data = randomBytes(256 * 1024);
    await env.admin.getBlockBlobClient('media/photo.jpg').upload(data, data.length, { blobHTTPHeaders: { blobContentType: 'image/jpeg' } });
    assert.ok((await env.analyst.getBlobClient('media/photo.jpg').downloadToBuffer(0, undefined, { blockSize: 64 * 1024, concurrency: 4 })).equals(data));
    const part = await streamToBuffer((await env.analyst.getBlobClient('media/photo.jpg').download(1000, 500)).readableStreamBody);
    assert.ok(part.equals(data.subarray(1000, 1500)));
  });

  test('a path the policy declares clean is served as stored', async () => {
    const note = 'public contact: press@example.com';
    await env.admin.getBlockBlobClient('public/contact.txt').upload(note, note.length);
    assert.equal((await env.analyst.getBlobClient('public/contact.txt').downloadToBuffer()).toString(), note);
  });

  test('a classified CSV keeps its shape and length', async () => {
    await env.admin.getBlockBlobClient('people/list.csv').upload(PERSON_CSV, PERSON_CSV.length, { blobHTTPHeaders: { blobContentType: 'text/csv' } });
    const csv = (await env.analyst.getBlobClient('people/list.csv').downloadToBuffer()).toString();
    assert.equal(Buffer.byteLength(csv), Buffer.byteLength(PERSON_CSV));
    const lines = csv.split('\n');
    assert.equal(lines[0], 'id,email,note');
    assert.equal(lines.length, PERSON_CSV.split('\n').length);
    assert.ok(lines[1]!.startsWith('1,'));
    assertNoClear(csv, 'csv');
  });

  test('list blobs: names, sizes and types as the direct listing shows them', async () => {
    const mine = new Map<string, number>();
    for await (const b of env.analyst.listBlobsFlat()) mine.set(b.name, b.properties.contentLength ?? -1);
    const direct = new Map<string, number>();
    for await (const b of env.direct.listBlobsFlat()) direct.set(b.name, b.properties.contentLength ?? -1);
    assert.deepEqual([...mine].sort(), [...direct].sort());
  });

  test('properties: length, type and unclassified metadata as stored; the length matches what download returns', async () => {
    await env.admin.getBlobClient('docs/plain.json').setMetadata({ owner: 'team-a' });
    const props = await env.analyst.getBlobClient('docs/plain.json').getProperties();
    assert.equal(props.contentLength, plain.length);
    assert.equal(props.contentType, 'application/json');
    assert.equal(props.metadata?.owner, 'team-a');
    assert.equal((await env.analyst.getBlobClient('people/person.json').getProperties()).contentLength, maskedWhole.length);
  });

  test('the analyst uploads a blob (single shot and in blocks) and reads its unclassified content back unchanged', async () => {
    const text = 'meeting notes: budget approved\n'.repeat(100);
    await env.analyst.getBlockBlobClient('scratch/notes.txt').upload(text, text.length);
    assert.equal((await env.analyst.getBlobClient('scratch/notes.txt').downloadToBuffer()).toString(), text);
    const data = Buffer.from('abcdefghij'.repeat(5000));
    await env.analyst.getBlockBlobClient('scratch/blocks.txt').uploadData(data, { blockSize: 8 * 1024, maxSingleShotSize: 1024 });
    assert.ok((await env.direct.getBlobClient('scratch/blocks.txt').downloadToBuffer()).equals(data));
    assert.ok((await env.analyst.getBlobClient('scratch/blocks.txt').downloadToBuffer()).equals(data));
  });

  test('what the analyst uploads is stored as sent (masking is on the way out only)', async () => {
    await env.analyst.getBlockBlobClient('scratch/mine.json').upload(PERSON_JSON, PERSON_JSON.length);
    assert.equal((await env.direct.getBlobClient('scratch/mine.json').downloadToBuffer()).toString(), PERSON_JSON);
  });

  test('a gzip-encoded classified JSON blob is served gzip-encoded, masked, with a consistent length', async () => {
    const gz = gzipSync(PERSON_JSON);
    await env.admin.getBlockBlobClient('people/person.json.gz').upload(gz, gz.length, { blobHTTPHeaders: { blobContentType: 'application/json', blobContentEncoding: 'gzip' } });
    const res = await raw(env, 'GET', `${env.container}/people/person.json.gz`, '');
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-encoding'], 'gzip');
    assert.equal(Number(res.headers['content-length']), res.body.length);
    const doc = JSON.parse(gunzipSync(res.body).toString()) as Record<string, unknown>;
    assert.equal(doc.name, 'Zelda Quartz');
    assert.notEqual(doc.email, EMAIL);
  });

  test('append blob: the analyst appends and reads back', async () => {
    const a = env.analyst.getAppendBlobClient('scratch/app.log');
    await a.create();
    await a.appendBlock('started\n', 8);
    await a.appendBlock('stopped\n', 8);
    assert.equal((await a.downloadToBuffer()).toString(), 'started\nstopped\n');
  });

  test('metadata and tags without classified values round-trip', async () => {
    const b = env.analyst.getBlobClient('scratch/notes.txt');
    await b.setMetadata({ project: 'apollo' });
    assert.equal((await b.getProperties()).metadata?.project, 'apollo');
    await b.setTags({ stage: 'draft' });
    assert.deepEqual((await b.getTags()).tags, { stage: 'draft' });
  });

  test('a classified metadata value is masked, the others kept', async () => {
    await env.admin.getBlobClient('docs/plain.json').setMetadata({ owner: 'team-a', ssn: SSN });
    const meta = (await env.analyst.getBlobClient('docs/plain.json').getProperties()).metadata!;
    assert.equal(meta.owner, 'team-a');
    assert.notEqual(meta.ssn, SSN);
  });

  test('snapshots of unclassified blobs read as stored', async () => {
    const snap = await env.admin.getBlobClient('docs/plain.json').createSnapshot();
    assert.equal((await env.analyst.getBlobClient('docs/plain.json').withSnapshot(snap.snapshot!).downloadToBuffer()).toString(), plain);
  });

  test('conditional reads: If-None-Match with the current ETag answers 304', async () => {
    const etag = (await env.analyst.getBlobClient('people/person.json').getProperties()).etag!;
    const res = await raw(env, 'GET', `${env.container}/people/person.json`, '', { 'if-none-match': etag });
    assert.equal(res.status, 304);
  });

  test('delete and exists of the analyst\'s own blob', async () => {
    const b = env.analyst.getBlobClient('scratch/mine.json');
    assert.equal(await b.exists(), true);
    await b.delete();
    assert.equal(await b.exists(), false);
  });
});
