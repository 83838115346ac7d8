/**
 * Hot-path profiling helper: dgf (harness, shipped packs, audit file) with one redis listener, driven by
 * redis-benchmark. `node --import tsx --cpu-prof bench/redis/profile.ts [get|set] [pipeline] [closed|open] [user]`
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startDgf } from '../../test/helpers/dgf.js';

const [cmd = 'get', pipeline = '16', failMode = 'closed', user = 'analyst'] = process.argv.slice(2);
const dgf = await startDgf({
  audit: { failMode, sinks: [{ type: 'file', path: '/tmp/dgf-profile-audit.jsonl' }] },
  roles: [
    { match: { user: 'analyst' }, role: 'analyst' },
    { match: { user: 'service' }, role: 'service' },
  ],
  listeners: [
    {
      name: 'cache',
      protocol: 'redis',
      listen: '127.0.0.1:0',
      upstream: { url: 'redis://127.0.0.1:56379' },
      users: [{ name: user, password: 'pw' }],
      quota: { preset: 'redis-cloud-free' },
    },
  ],
});
const port = dgf.listener('cache').address.port;
// Asynchronously: dgf runs in this process and must keep serving while the benchmark runs.
const { stdout: out } = await promisify(execFile)('redis-benchmark', ['-p', String(port), '--user', user, '-a', 'pw', '-t', cmd, '-n', process.env.N ?? '100000', '-c', '50', '-P', pipeline, '-r', '100000', '--csv'], {
  encoding: 'utf8',
});
console.log(out.trim().split('\n').slice(1).join('\n'));
await dgf.stop();
