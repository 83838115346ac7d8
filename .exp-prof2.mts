import { spawn } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { request, Agent } from 'undici';
import { authorizationHeader } from './protocols/cosmos/signing.js';
const k = (s: string) => Buffer.from(s.padEnd(32, 'x')).toString('base64');
const dir = mkdtempSync('/tmp/prof2-');
const cos = spawn(process.execPath, ['-e', "require('@vercel/cosmosdb-server').createHttpsServer({ keepAlive: true }).listen(18182, '127.0.0.1')"], { stdio: 'ignore' });
writeFileSync(`${dir}/c.yaml`, `admin: { listen: "127.0.0.1:18190" }
policies: { watch: false, hashKey: bench-hash-key-0123456789 }
roles: [ { match: { user: app }, role: service } ]
audit: { failMode: open, sinks: [ { type: file, path: "${dir}/a.jsonl" } ] }
stateDir: "${dir}"
listeners:
  - name: cosmos
    protocol: cosmos
    listen: "127.0.0.1:18191"
    users: [ { name: app, key: "${k('app')}" } ]
    upstream: { endpoint: "https://127.0.0.1:18182", key: "${k('real')}", insecureSkipVerify: true, maxConnections: 32 }
`);
const dgf = spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}/prof`, '--import', 'tsx', 'src/cli/main.ts', 'start', '--config', `${dir}/c.yaml`], { stdio: 'inherit', env: { ...process.env, DGF_LOG_LEVEL: 'warn' } });
await new Promise(r => setTimeout(r, 4000));
const port = 18191; const agent = new Agent({ connections: 16 });
const sign = (m: string, type: string, link: string) => { const d = new Date().toUTCString(); return { 'x-ms-date': d, authorization: authorizationHeader(Buffer.from(k('app'), 'base64'), m, type, link, d) }; };
await request(`http://127.0.0.1:${port}/dbs`, { method: 'POST', headers: { ...sign('POST', 'dbs', ''), 'content-type': 'application/json' }, body: JSON.stringify({ id: 'prof' }), dispatcher: agent }).then(r => r.body.dump());
await request(`http://127.0.0.1:${port}/dbs/prof/colls`, { method: 'POST', headers: { ...sign('POST', 'colls', 'dbs/prof'), 'content-type': 'application/json' }, body: JSON.stringify({ id: 'c', partitionKey: { paths: ['/pk'] } }), dispatcher: agent }).then(r => r.body.dump());
await request(`http://127.0.0.1:${port}/dbs/prof/colls/c/docs`, { method: 'POST', headers: { ...sign('POST', 'docs', 'dbs/prof/colls/c'), 'content-type': 'application/json', 'x-ms-documentdb-partitionkey': '["a"]' }, body: JSON.stringify({ id: 'd', pk: 'a', email: 'x@example.com', name: 'Someone Long', note: 'hello world this is a note', n: 5 }), dispatcher: agent }).then(r => r.body.dump());
const t0 = performance.now(); let n = 0;
await Promise.all(Array.from({ length: 16 }, async () => { while (performance.now() - t0 < 6000) { const r = await request(`http://127.0.0.1:${port}/dbs/prof/colls/c/docs/d`, { headers: { ...sign('GET', 'docs', 'dbs/prof/colls/c/docs/d'), 'x-ms-documentdb-partitionkey': '["a"]' }, dispatcher: agent }); await r.body.dump(); n++; } }));
console.log('rps', n / 6, dir);
dgf.kill('SIGTERM'); await new Promise(r => dgf.once('exit', r)); cos.kill(); await agent.close();
