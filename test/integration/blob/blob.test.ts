/**
 * @azure/storage-blob through dgf against Azurite (127.0.0.1:10000), which checks Shared Key signatures:
 * every request that succeeds proves dgf re-signed it correctly with the real account key.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { BlobServiceClient, StorageSharedKeyCredential, type ContainerClient } from '@azure/storage-blob';
import { request } from 'undici';
import { readAudit, startDgf, type TestDgf } from '../../helpers/dgf.js';
import { signBlobRequest } from '../../../protocols/blob/signing.js';

const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
const key = (s: string): string => Buffer.from(s.padEnd(32, '#')).toString('base64');
const USERS = [
  { name: 'admin', key: key('admin-key') },
  { name: 'analyst', key: key('analyst-key') },
  { name: 'dpo', key: key('dpo-key') },
];

async function text(stream: NodeJS.ReadableStream | undefined): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream!) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

describe('blob: @azure/storage-blob through dgf', () => {
  let dgf: TestDgf;
  let policyDir: string;
  let port: number;
  const containerName = `dgf-${randomUUID().slice(0, 8)}`;
  const service = (user: string, k?: string): BlobServiceClient =>
    new BlobServiceClient(`http://127.0.0.1:${port}/${user}`, new StorageSharedKeyCredential(user, k ?? USERS.find((u) => u.name === user)!.key));
  let admin: ContainerClient;

  before(async () => {
    policyDir = mkdtempSync(path.join(tmpdir(), 'dgf-blob-policy-'));
    writeFileSync(
      path.join(policyDir, 'blob.yaml'),
      [
        'rules:',
        '  - id: blob-no-delete',
        '    name: No blob deletes',
        '    description: Analysts may not delete blobs under reports/.',
        '    severity: high',
        '    match: { role: [analyst], operation: [delete-blob], objects: ["*/reports/*"] }',
        '    action: deny',
        '    message: "deleting report blobs is not allowed for this role"',
        '  - id: blob-no-secret-read',
        '    name: Secret blobs',
        '    description: Analysts may not read blobs under secret/.',
        '    severity: high',
        '    match: { role: [analyst], operation: [get-blob], objects: ["*/secret/*"] }',
        '    action: deny',
        '    message: "secret blobs are not readable for this role"',
        '  - id: blob-no-public',
        '    name: No public containers',
        '    description: Only admins may make a container public.',
        '    severity: critical',
        '    match: { operation: [set-public-access] }',
        '    except: [admin]',
        '    action: deny',
        '    message: "public access changes are not allowed for this role"',
        '',
      ].join('\n'),
    );
    dgf = await startDgf({
      policies: { dir: policyDir },
      roles: [
        { match: { user: 'analyst' }, role: 'analyst' },
        { match: { user: 'dpo' }, role: 'dpo' },
        { match: { user: 'admin' }, role: 'admin' },
      ],
      listeners: [
        {
          name: 'blob',
          protocol: 'blob',
          listen: '127.0.0.1:0',
          upstream: { url: 'http://127.0.0.1:10000/devstoreaccount1', account: 'devstoreaccount1', key: AZURITE_KEY },
          users: USERS,
          quota: { preset: 'blob-free' },
          // Binary content dgf cannot parse is refused to masked roles unless its path is declared binary-only.
          options: { binaryOnlyObjects: ['*/big/*'] },
        },
        {
          name: 'blob-meta',
          protocol: 'blob',
          listen: '127.0.0.1:0',
          upstream: { url: 'http://127.0.0.1:10000/devstoreaccount1', account: 'devstoreaccount1', key: AZURITE_KEY },
          users: USERS,
          options: { labelMetadata: true, scanStorageOnStart: false },
        },
      ],
    });
    port = dgf.listener('blob').address.port;
    admin = service('admin').getContainerClient(containerName);
  });

  after(async () => {
    await admin?.deleteIfExists().catch(() => undefined);
    await dgf?.stop();
    rmSync(policyDir, { recursive: true, force: true });
  });

  test('container create and list', async () => {
    await admin.create();
    const names: string[] = [];
    for await (const c of service('analyst').listContainers({ prefix: 'dgf-' })) names.push(c.name);
    assert.ok(names.includes(containerName));
  });

  test('12 MB block upload and 12 MB single put, downloaded byte for byte', async () => {
    const data = randomBytes(12 * 1024 * 1024);
    const blocks = admin.getBlockBlobClient('big/blocks.bin');
    await blocks.uploadData(data, { blockSize: 4 * 1024 * 1024, maxSingleShotSize: 1024 * 1024, concurrency: 2 });
    const single = admin.getBlockBlobClient('big/single.bin');
    await single.upload(data, data.length);
    assert.ok((await blocks.downloadToBuffer()).equals(data));
    const res = await service('analyst').getContainerClient(containerName).getBlockBlobClient('big/single.bin').download();
    const chunks: Buffer[] = [];
    for await (const c of res.readableStreamBody!) chunks.push(c as Buffer);
    assert.ok(Buffer.concat(chunks).equals(data));
    const list: string[] = [];
    for await (const b of admin.listBlobsFlat({ prefix: 'big/' })) list.push(`${b.name}:${b.properties.contentLength}`);
    assert.deepEqual(list.sort(), [`big/blocks.bin:${data.length}`, `big/single.bin:${data.length}`]);
  });

  test('append blobs, metadata, properties and leases pass through', async () => {
    const append = admin.getAppendBlobClient('logs/app.log');
    await append.create();
    await append.appendBlock('line one\n', 9);
    await append.appendBlock('line two\n', 9);
    await append.setMetadata({ owner: 'team-a' });
    const props = await append.getProperties();
    assert.equal(props.contentLength, 18);
    assert.equal(props.metadata?.owner, 'team-a');
    const lease = append.getBlobLeaseClient();
    await lease.acquireLease(15);
    await lease.releaseLease();
    // Copy within the account: the source names the upstream account, as the service resolves it itself.
    const copy = admin.getBlobClient('logs/copy.log');
    const poller = await copy.beginCopyFromURL(`http://127.0.0.1:10000/devstoreaccount1/${containerName}/logs/app.log`);
    const done = await poller.pollUntilDone();
    assert.equal(done.copyStatus, 'success');
    assert.equal(await text((await copy.download()).readableStreamBody), 'line one\nline two\n');
  });

  test('a JSON blob is downloaded masked by analyst and clear by dpo; CSV columns and text entities masked', async () => {
    const doc = JSON.stringify({ name: 'Ann Lee', email: 'ann.lee@example.com', ssn: '123-45-6789', visits: 3, card_number: '4111111111111111' });
    await admin.getBlockBlobClient('people/ann.json').upload(doc, Buffer.byteLength(doc), { blobHTTPHeaders: { blobContentType: 'application/json' } });
    const csv = 'id,email,phone\n1,bob@example.com,+1 415 555 0134\n2,"carl@example.com",+44 20 7946 0018\n';
    await admin.getBlockBlobClient('people/list.csv').upload(csv, Buffer.byteLength(csv));
    const analyst = service('analyst').getContainerClient(containerName);

    const masked = JSON.parse(await text((await analyst.getBlobClient('people/ann.json').download()).readableStreamBody)) as Record<string, unknown>;
    assert.equal(masked.name, 'Ann Lee');
    assert.equal(masked.visits, 3);
    assert.match(masked.email as string, /^a\*+@example\.com$/);
    assert.equal(masked.ssn, '***-**-6789');
    assert.match(masked.card_number as string, /1111$/);
    assert.notEqual(masked.card_number, '4111111111111111');

    const clear = JSON.parse(await text((await service('dpo').getContainerClient(containerName).getBlobClient('people/ann.json').download()).readableStreamBody)) as Record<string, unknown>;
    assert.equal(clear.email, 'ann.lee@example.com');

    const maskedCsv = await text((await analyst.getBlobClient('people/list.csv').download()).readableStreamBody);
    assert.ok(maskedCsv.startsWith('id,email,phone\n'));
    assert.ok(!maskedCsv.includes('bob@example.com') && !maskedCsv.includes('carl@example.com'), maskedCsv);
    assert.ok(!maskedCsv.includes('555 0134'), maskedCsv);
    assert.equal(maskedCsv.trim().split('\n').length, 3);

    const audit = await readAudit(dgf.auditFile);
    const upload = audit.find((r) => r.operation === 'put-blob' && r.object === `${containerName}/people/list.csv`);
    assert.ok(upload && (upload.labels as string[]).includes('pii.email'));
    const read = audit.find((r) => r.operation === 'get-blob' && r.role === 'analyst' && r.object === `${containerName}/people/ann.json`);
    assert.ok(read && (read.masked as Record<string, number>)['pii.email'] === 1);
    const inventory = JSON.stringify(await (await fetch(`${dgf.adminUrl}/api/v1/inventory`)).json());
    assert.ok(inventory.includes('people/list.csv'));
  });

  test('a range read of a classified blob by a masked role is a window of the masked whole; binary content by a masked role is refused', async () => {
    const analyst = service('analyst').getContainerClient(containerName).getBlobClient('people/list.csv');
    const whole = await text((await analyst.download()).readableStreamBody);
    const part = await text((await analyst.download(0, 20)).readableStreamBody);
    assert.equal(part, Buffer.from(whole).subarray(0, 20).toString());
    assert.ok(!part.includes('bob@example.com'));
    const ranged = await admin.getBlobClient('big/single.bin').download(0, 1024);
    assert.equal(ranged.contentLength, 1024);
    await admin.getBlockBlobClient('notes/plain.txt').upload('nothing sensitive in here at all', 32);
    const plain = await service('analyst').getContainerClient(containerName).getBlobClient('notes/plain.txt').download(8, 9);
    assert.equal(await text(plain.readableStreamBody), 'sensitive');
    await admin.getBlockBlobClient('notes/blob.bin').upload(Buffer.from([0, 1, 2, 3, 255]), 5);
    await assert.rejects(service('analyst').getContainerClient(containerName).getBlobClient('notes/blob.bin').download(), (err: { statusCode?: number; code?: string }) => {
      assert.equal(err.statusCode, 403);
      assert.equal(err.code, 'DgfContentNotMaskable');
      return true;
    });
  });

  test('JSON that is not JSON is refused to a masked role with a clear error', async () => {
    const broken = '{"email": "x@example.com", ';
    await admin.getBlockBlobClient('people/broken.json').upload(broken, broken.length, { blobHTTPHeaders: { blobContentType: 'application/json' } });
    await assert.rejects(service('analyst').getContainerClient(containerName).getBlobClient('people/broken.json').download(), (err: { statusCode?: number; code?: string }) => {
      assert.equal(err.statusCode, 403);
      assert.equal(err.code, 'DgfContentNotMaskable');
      return true;
    });
  });

  test('deletes and public access changes are denied by rule with an Azure-style XML error', async () => {
    const analyst = service('analyst').getContainerClient(containerName);
    await admin.getBlockBlobClient('reports/q1.txt').upload('quarter one', 11);
    await assert.rejects(analyst.getBlobClient('reports/q1.txt').delete(), (err: { statusCode?: number; code?: string; message: string }) => {
      assert.equal(err.statusCode, 403);
      assert.equal(err.code, 'AuthorizationPermissionMismatch');
      assert.match(err.message, /deleting report blobs is not allowed/);
      return true;
    });
    await assert.rejects(analyst.delete(), (err: { statusCode?: number }) => err.statusCode === 403);
    await assert.rejects(analyst.setAccessPolicy('container'), (err: { statusCode?: number; message: string }) => {
      assert.equal(err.statusCode, 403);
      assert.match(err.message, /public access changes/);
      return true;
    });
    // The raw answer is the service's XML shape with x-ms-error-code.
    const res = await request(`http://127.0.0.1:${port}/analyst/${containerName}?restype=container`, { method: 'DELETE' });
    assert.equal(res.statusCode, 401);
    assert.equal(res.headers['x-ms-error-code'], 'NoAuthenticationInformation');
    assert.match(await res.body.text(), /^<\?xml[^>]*><Error><Code>NoAuthenticationInformation<\/Code><Message>/);
    // Copying a blob the analyst may not read is refused too (the copy reads it with the real key).
    await assert.rejects(
      analyst.getBlobClient('scratch/stolen.txt').beginCopyFromURL(`http://127.0.0.1:10000/devstoreaccount1/${containerName}/secret/plan.txt`),
      (err: { statusCode?: number; message: string }) => {
        assert.equal(err.statusCode, 403);
        assert.match(err.message, /copy source .*secret\/plan\.txt: secret blobs are not readable/);
        return true;
      },
    );
    // Other blobs are deletable for the analyst.
    await admin.getBlockBlobClient('scratch/tmp.txt').upload('tmp', 3);
    await analyst.getBlobClient('scratch/tmp.txt').delete();
  });

  test('Shared Key Lite from the client is verified and re-signed (as Shared Key) for Azurite', async () => {
    const p = `/analyst/${containerName}`;
    const headers: Record<string, string> = { 'x-ms-date': new Date().toUTCString(), 'x-ms-version': '2021-12-02' };
    headers.authorization = signBlobRequest('SharedKeyLite', 'analyst', Buffer.from(USERS[1]!.key, 'base64'), { method: 'GET', path: p, query: 'restype=container&comp=list', headers });
    const res = await request(`http://127.0.0.1:${port}${p}?restype=container&comp=list`, { headers });
    assert.equal(res.statusCode, 200);
    assert.match(await res.body.text(), /<EnumerationResults/);
    const bad = { ...headers, authorization: headers.authorization.replace(/:.*/, ':AAAA') };
    const refused = await request(`http://127.0.0.1:${port}${p}?restype=container&comp=list`, { headers: bad });
    assert.equal(refused.statusCode, 403);
    await refused.body.dump();
  });

  test('host-style addressing: the account is the first label of the Host', async () => {
    const p = `/${containerName}`;
    const headers: Record<string, string> = { 'x-ms-date': new Date().toUTCString(), 'x-ms-version': '2021-12-02', host: `analyst.blob.dgf.test:${port}` };
    headers.authorization = signBlobRequest('SharedKey', 'analyst', Buffer.from(USERS[1]!.key, 'base64'), { method: 'GET', path: p, query: 'restype=container&comp=list', headers });
    const res = await request(`http://127.0.0.1:${port}${p}?restype=container&comp=list`, { headers });
    assert.equal(res.statusCode, 200);
    assert.match(await res.body.text(), /people\/ann\.json/);
  });

  test('blob batch requests are refused clearly (their sub-requests cannot be governed)', async () => {
    const p = '/analyst/';
    const headers: Record<string, string> = {
      'x-ms-date': new Date().toUTCString(),
      'x-ms-version': '2021-12-02',
      'content-type': 'multipart/mixed; boundary=batch_x',
      'content-length': '15',
    };
    headers.authorization = signBlobRequest('SharedKey', 'analyst', Buffer.from(USERS[1]!.key, 'base64'), { method: 'POST', path: p, query: 'comp=batch', headers });
    const res = await request(`http://127.0.0.1:${port}${p}?comp=batch`, { method: 'POST', headers, body: '--batch_x--\r\n\r\n' });
    assert.equal(res.statusCode, 400);
    assert.equal(res.headers['x-ms-error-code'], 'DgfBatchNotSupported');
    await res.body.dump();
  });

  test('a wrong key, a key for another account name, and SAS tokens are refused', async () => {
    await assert.rejects(service('analyst', key('wrong')).getContainerClient(containerName).getProperties(), (err: { statusCode?: number; code?: string }) => {
      assert.equal(err.statusCode, 403);
      assert.equal(err.code, 'AuthenticationFailed');
      return true;
    });
    const sas = await request(`http://127.0.0.1:${port}/analyst/${containerName}?restype=container&sv=2021-12-02&sig=abc`);
    assert.equal(sas.statusCode, 403);
    assert.match(await sas.body.text(), /SAS tokens are not accepted/);
    const mismatch = new BlobServiceClient(`http://127.0.0.1:${port}/admin`, new StorageSharedKeyCredential('analyst', USERS[1]!.key));
    await assert.rejects(mismatch.getContainerClient(containerName).getProperties(), (err: { statusCode?: number }) => err.statusCode === 403);
  });

  test('Azurite checks the re-signed requests: a listener holding a wrong upstream key is refused upstream', async () => {
    const other = await startDgf({
      listeners: [
        {
          name: 'blob',
          protocol: 'blob',
          listen: '127.0.0.1:0',
          upstream: { url: 'http://127.0.0.1:10000/devstoreaccount1', account: 'devstoreaccount1', key: key('not-the-azurite-key') },
          users: USERS,
          options: { scanStorageOnStart: false },
        },
      ],
    });
    try {
      const svc = new BlobServiceClient(`http://127.0.0.1:${other.listener('blob').address.port}/admin`, new StorageSharedKeyCredential('admin', USERS[0]!.key));
      await assert.rejects(svc.getContainerClient(containerName).getProperties(), (err: { statusCode?: number }) => err.statusCode === 403);
    } finally {
      await other.stop();
    }
  });

  test('with labelMetadata, upload labels are stored as blob metadata next to the client\'s own', async () => {
    const svc = new BlobServiceClient(`http://127.0.0.1:${dgf.listener('blob-meta').address.port}/admin`, new StorageSharedKeyCredential('admin', USERS[0]!.key));
    const blob = svc.getContainerClient(containerName).getBlockBlobClient('meta/people.csv');
    const csv = 'name,email\nann,ann@example.com\n';
    const up = await blob.upload(csv, csv.length, { metadata: { owner: 'team-a' } });
    const props = await blob.getProperties();
    assert.equal(props.metadata?.owner, 'team-a');
    assert.equal(props.metadata?.dgflabels, 'pii.email');
    assert.equal(up.etag, props.etag);
    const staged = svc.getContainerClient(containerName).getBlockBlobClient('meta/blocks.txt');
    await staged.uploadData(Buffer.from('call +1 415 555 0134\n'.repeat(1000)), { blockSize: 8 * 1024, maxSingleShotSize: 1024 });
    assert.equal((await staged.getProperties()).metadata?.dgflabels, 'pii.phone');
  });

  test('usage reports storage and transactions for the listener', async () => {
    const usage = JSON.stringify(await (await fetch(`${dgf.adminUrl}/api/v1/monitoring/usage`)).json());
    assert.match(usage, /transactions/);
    assert.match(usage, /storage/);
    assert.equal((await dgf.listener('blob').checkUpstream()).status, 'up');
  });
});
