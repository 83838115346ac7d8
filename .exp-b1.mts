import { startDgf, readAudit } from './test/helpers/dgf.js';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
const AZ_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
const k = (s: string) => Buffer.from(s.padEnd(32, 'x')).toString('base64');
const dgf = await startDgf({
  roles: [{ match: { user: 'analyst' }, role: 'analyst' }, { match: { user: 'admin' }, role: 'admin' }],
  listeners: [{ name: 'blob', protocol: 'blob', listen: '127.0.0.1:0',
    upstream: { url: 'http://127.0.0.1:10000/devstoreaccount1', account: 'devstoreaccount1', key: AZ_KEY },
    users: [{ name: 'analyst', key: k('analyst') }, { name: 'admin', key: k('admin') }] }],
});
const port = dgf.listener('blob').address.port;
const svc = (u: string) => new BlobServiceClient(`http://127.0.0.1:${port}/${u}`, new StorageSharedKeyCredential(u, k(u)));
const admin = svc('admin'), analyst = svc('analyst');
try {
  const cname = 'smoke' + Date.now();
  const c = admin.getContainerClient(cname);
  await c.create();
  const names: string[] = []; for await (const x of admin.listContainers()) names.push(x.name);
  console.log('listed', names.includes(cname));
  const big = Buffer.alloc(12 * 1024 * 1024, 'a');
  await c.getBlockBlobClient('big.bin').uploadData(big, { blockSize: 4 * 1024 * 1024, maxSingleShotSize: 1024 * 1024 });
  await c.getBlockBlobClient('single.bin').upload(big, big.length);
  const dl = await c.getBlockBlobClient('big.bin').downloadToBuffer();
  console.log('big', dl.length, dl.equals(big));
  const json = JSON.stringify({ name: 'Ann', email: 'ann@example.com', ssn: '123-45-6789', card_number: '4111111111111111' });
  await c.getBlockBlobClient('p.json').upload(json, json.length, { blobHTTPHeaders: { blobContentType: 'application/json' } });
  const csv = 'id,email,note\n1,bob@example.com,call 415-555-0134\n2,carl@example.com,none\n';
  await c.getBlockBlobClient('p.csv').upload(csv, csv.length);
  const a = analyst.getContainerClient(cname);
  const r = await a.getBlockBlobClient('p.json').download();
  const txt = await streamText(r.readableStreamBody!);
  console.log('analyst json', txt);
  const r2 = await a.getBlockBlobClient('p.csv').download();
  console.log('analyst csv', await streamText(r2.readableStreamBody!));
  try { await a.getBlockBlobClient('p.csv').download(0, 10); console.log('range allowed?!'); } catch (e) { console.log('range', (e as any).statusCode, (e as any).code); }
  try { await a.delete(); console.log('deleted?!'); } catch (e) { console.log('delete', (e as any).statusCode, (e as any).code, (e as Error).message.slice(0, 100)); }
  const bad = new BlobServiceClient(`http://127.0.0.1:${port}/analyst`, new StorageSharedKeyCredential('analyst', k('wrong')));
  try { await bad.getContainerClient(cname).getProperties(); } catch (e) { console.log('wrong key', (e as any).statusCode, (e as any).code); }
  await c.delete();
  const audit = await readAudit(dgf.auditFile);
  console.log(audit.length, audit.slice(-6).map(a => [a.operation, a.role, a.object, a.masked, a.labels, a.extra, a.error]));
} catch (e) { console.log('ERR', e); }
async function streamText(s: NodeJS.ReadableStream) { const cs: Buffer[] = []; for await (const c of s) cs.push(c as Buffer); return Buffer.concat(cs).toString(); }
await dgf.stop();
