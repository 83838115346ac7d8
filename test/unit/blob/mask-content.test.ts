import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync, gunzipSync, gzipSync, inflateSync } from 'node:zlib';
import { PolicyStore, MaskTally, type CompiledPolicy } from '../../../src/policy/index.js';
import { fitJson, fitPlain, maskBlobContent, padGzip, parseJsonSpans, type BlobMaskOptions } from '../../../protocols/blob/mask-content.js';
import { MaskCache, RecordingStats, replayStats } from '../../../protocols/blob/mask-cache.js';
import { maskListingXml, maskMetaHeaders } from '../../../protocols/blob/mask-metadata.js';

const EMAIL = 'zelda.quartz@example.com';
const SSN = '123-45-6789';

describe('blob masking at the same byte length', () => {
  let policy: CompiledPolicy;
  const opts = (extra: Partial<BlobMaskOptions> = {}): BlobMaskOptions => ({
    policy,
    role: 'analyst',
    stats: new MaskTally(),
    object: 'c/b',
    blobName: 'b',
    binaryOnly: false,
    maxBytes: 1 << 20,
    ...extra,
  });
  const mask = (body: Buffer | string, extra: Partial<BlobMaskOptions> = {}): ReturnType<typeof maskBlobContent> =>
    maskBlobContent(typeof body === 'string' ? Buffer.from(body) : body, opts(extra));

  before(async () => {
    policy = (await PolicyStore.load({ hashKey: 'unit-test-key' })).current();
  });

  test('fitPlain and fitJson keep the byte length exactly', async () => {
    assert.equal(fitPlain('abc', 5), 'abc**');
    assert.equal(fitPlain('äbcdef', 3), 'äb');
    assert.equal(fitPlain('€', 2), '**');
    assert.equal(fitJson('ab', 6), '"ab"  ');
    assert.equal(fitJson('[REDACTED]', 5), '"[RE"');
    assert.equal(fitJson(null, 2), '0 ');
    assert.equal(fitJson(7, 3), '7  ');
    for (const [v, n] of [['é€😀x', 9], ['"quote"', 5], [{ a: 1 }, 4]] as const) assert.equal(Buffer.byteLength(fitJson(v, n)), n);
  });

  test('the span parser refuses duplicate keys and trailing text', async () => {
    assert.throws(() => parseJsonSpans('{"a":1,"a":2}'), /duplicate/);
    assert.throws(() => parseJsonSpans('{"a":1} x'), /after the document/);
    assert.deepEqual(parseJsonSpans(' {"a":[1,"x",null]} ').doc, { a: [1, 'x', null] });
  });

  test('JSON: values masked in place, valid JSON, same length, whatever the content type says', async () => {
    const doc = JSON.stringify({ name: 'Zelda', email: EMAIL, nested: { ssn: SSN, list: [EMAIL, 3] }, n: 1 }, null, 2);
    for (const contentType of ['application/json', 'image/png', undefined]) {
      const r = await mask(doc, { contentType });
      assert.equal(r.outcome, 'masked');
      if (r.outcome !== 'masked') return;
      assert.equal(r.body.length, Buffer.byteLength(doc));
      assert.equal(r.detected, 'json');
      const out = JSON.parse(r.body.toString()) as { name: string; email: string; nested: { ssn: string; list: unknown[] } };
      assert.equal(out.name, 'Zelda');
      assert.notEqual(out.email, EMAIL);
      assert.equal(out.nested.ssn, '***-**-6789');
      assert.notEqual(out.nested.list[0], EMAIL);
    }
  });

  test('CSV, text, YAML and XML are masked at the same length', async () => {
    for (const body of [
      `id,email,note\n1,${EMAIL},"ssn ${SSN}"\n`,
      `mail me at ${EMAIL} or not\n`,
      `name: z\nssn: "${SSN}"\nemail: ${EMAIL}\n`,
      `<p><email>${EMAIL}</email><x ssn="${SSN}"/></p>`,
    ]) {
      const r = await mask(body, { contentType: 'application/octet-stream' });
      assert.equal(r.outcome, 'masked', body);
      if (r.outcome !== 'masked') return;
      assert.equal(r.body.length, Buffer.byteLength(body));
      assert.ok(!r.body.toString().includes('zelda.quartz') && !r.body.toString().includes('123-45'), r.body.toString());
    }
  });

  test('large text is scanned window by window: entities at window edges and in one very long line are masked', async () => {
    for (let shift = 0; shift < 40; shift += 7) {
      const line = 'x '.repeat(8192 - 12 + shift) + `${EMAIL} ` + 'y '.repeat(20000);
      const r = await mask(`${line}\n${'z '.repeat(9000)}${EMAIL}\n`);
      assert.equal(r.outcome, 'masked');
      if (r.outcome === 'masked') {
        assert.ok(!r.body.toString().includes('zelda.quartz'), `shift ${shift}`);
        assert.equal(r.body.length, Buffer.byteLength(line) + 18000 + EMAIL.length + 2);
      }
    }
  });

  test('binary is refused unless binary-only; text with a NUL tail (page blob) is masked and keeps the tail', async () => {
    const bin = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 0xff]);
    assert.equal((await mask(bin)).outcome, 'refused');
    assert.equal((await mask(bin, { binaryOnly: true })).outcome, 'unchanged');
    const page = Buffer.alloc(64);
    page.write(`x ${EMAIL}`);
    const r = await mask(page);
    assert.equal(r.outcome, 'masked');
    if (r.outcome === 'masked') {
      assert.equal(r.body.length, 64);
      assert.equal(r.body[63], 0);
    }
  });

  test('gzip and deflate are decoded, masked and encoded again; gzip padded to the stored length', async () => {
    const json = JSON.stringify({ email: EMAIL, pad: 'x'.repeat(200) });
    const gz = gzipSync(json, { level: 1 });
    const r = await mask(gz, { contentEncoding: 'gzip' });
    assert.equal(r.outcome, 'masked');
    if (r.outcome === 'masked') {
      assert.notEqual(JSON.parse(gunzipSync(r.body).toString()).email, EMAIL);
      if (r.sameLength) assert.equal(r.body.length, gz.length);
    }
    const bare = await mask(gzipSync(json)); // no Content-Encoding: sniffed by its magic bytes
    assert.equal(bare.outcome, 'masked');
    const z = await mask(deflateSync(`call ${EMAIL}`), { contentEncoding: 'deflate' });
    assert.equal(z.outcome, 'masked');
    if (z.outcome === 'masked') assert.ok(!inflateSync(z.body).toString().includes(EMAIL));
    assert.equal((await mask(`plain ${EMAIL}`, { contentEncoding: 'compress' })).outcome, 'refused');
  });

  test('padGzip pads with an FEXTRA field that gunzip accepts', async () => {
    const g = gzipSync('hello');
    const p = padGzip(g, g.length + 40)!;
    assert.equal(p.length, g.length + 40);
    assert.equal(gunzipSync(p).toString(), 'hello');
    assert.equal(padGzip(g, g.length - 1), null);
  });

  test('JSON that does not parse is refused; clean content is unchanged', async () => {
    assert.equal((await mask('{"email": "x@example.com", ')).outcome, 'refused');
    assert.equal((await mask('{"title": "nothing"}')).outcome, 'unchanged');
    assert.equal((await mask('{"a":1,"a":2}')).outcome, 'refused');
  });

  test('metadata headers and listing XML are masked; content hashes dropped', async () => {
    const ctx = { policy, role: 'analyst', stats: new MaskTally(), object: 'c/b' };
    const h: Record<string, string | string[]> = { 'x-ms-meta-ssn': SSN, 'x-ms-meta-owner': 'team', 'content-md5': 'abc' };
    maskMetaHeaders(h, ctx, true);
    assert.notEqual(h['x-ms-meta-ssn'], SSN);
    assert.equal(h['x-ms-meta-owner'], 'team');
    assert.equal(h['content-md5'], undefined);
    const xml = `<Blobs><Blob><Name>a.txt</Name><Properties><Content-MD5>abc</Content-MD5></Properties><Metadata><note>mail ${EMAIL}</note></Metadata><Tags><TagSet><Tag><Key>ssn</Key><Value>${SSN}</Value></Tag></TagSet></Tags></Blob></Blobs>`;
    const out = maskListingXml(xml, ctx);
    assert.ok(!out.includes(EMAIL) && !out.includes('123-45') && !out.includes('Content-MD5'), out);
  });

  test('the mask cache stays within its budget and replays stats', async () => {
    const cache = new MaskCache(4096);
    for (let i = 0; i < 20; i++) cache.set(`k${i}`, { etag: 'e', headers: {}, body: Buffer.alloc(500), refused: null, sameLength: true, stats: [] });
    assert.ok(cache.size <= 4096);
    assert.equal(cache.get('k0'), undefined);
    assert.ok(cache.get('k19'));
    const tally = new MaskTally();
    const rec = new RecordingStats(tally);
    rec.masked('pii.email', 'email');
    const entry = { etag: 'e', headers: {}, body: Buffer.alloc(1), refused: null, sameLength: true, stats: rec.calls };
    const again = new MaskTally();
    replayStats(entry, again);
    assert.deepEqual(JSON.stringify(again), JSON.stringify(tally));
  });
});
