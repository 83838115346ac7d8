/**
 * Hot-path profiling helper: dgf (harness, shipped packs, audit file) with one redis listener, driven by
 * redis-benchmark. `node --import tsx --cpu-prof bench/redis/profile.ts [get|set] [pipeline] [closed|open] [user]`
 * (env: N requests, WARMUP=0 to skip the warm-up run, SHARED shared upstream connections)
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
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
      ...(process.env.SHARED ? { options: { sharedConnections: Number(process.env.SHARED) } } : {}),
    },
  ],
});
const port = dgf.listener('cache').address.port;

/** utime+stime clock ticks of each thread of this process, by thread id (empty where /proc is missing). */
function threadTimes(): Map<string, { name: string; ticks: number }> {
  const out = new Map<string, { name: string; ticks: number }>();
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const close = stat.lastIndexOf(')');
      const fields = stat.slice(close + 2).split(' ');
      out.set(tid, { name: stat.slice(stat.indexOf('(') + 1, close), ticks: Number(fields[11]) + Number(fields[12]) });
    }
  } catch {
    // not Linux
  }
  return out;
}
const requests = Number(process.env.N ?? '100000');
// Asynchronously: dgf runs in this process and must keep serving while the benchmark runs.
const run = (n: number): Promise<{ stdout: string }> =>
  promisify(execFile)('redis-benchmark', ['-p', String(port), '--user', user, '-a', 'pw', '-t', cmd, '-n', String(n), '-c', '50', '-P', pipeline, '-r', '100000', '--csv'], {
    encoding: 'utf8',
  });
// Unmeasured warm-up: JIT and the policy's caches, as bench/redis/run.sh does.
if (process.env.WARMUP !== '0') await run(Math.max(10_000, requests / 4));
// CPU time of this process (dgf) per request: robust to a loaded machine, unlike requests/s.
const cpuBefore = process.cpuUsage();
const threadsBefore = threadTimes();
const { stdout: out } = await run(requests);
const threadsAfter = threadTimes();
const cpu = process.cpuUsage(cpuBefore);
console.log(out.trim().split('\n').slice(1).join('\n'));
console.log(`dgf CPU: ${((cpu.user + cpu.system) / requests).toFixed(2)} us/request (user ${(cpu.user / requests).toFixed(2)}, system ${(cpu.system / requests).toFixed(2)})`);
// By thread kind (Linux): the event loop vs V8's GC helpers and libuv's pool (the audit file's writes and fsyncs).
const byKind = new Map<string, number>();
for (const [tid, t] of threadsAfter) {
  const before = threadsBefore.get(tid);
  // The event loop runs on the thread whose id is the process id; V8's GC helpers and libuv's pool share names.
  const kind = tid === String(process.pid) ? 'event loop' : t.name.replace(/[0-9]+$/, '').trim();
  byKind.set(kind, (byKind.get(kind) ?? 0) + t.ticks - (before?.ticks ?? 0));
}
const tickUs = 1e6 / 100; // USER_HZ
console.log(`  by thread: ${[...byKind].filter(([, v]) => v > 0).map(([k, v]) => `${k} ${((v * tickUs) / requests).toFixed(2)}`).join(', ')} us/request`);
await dgf.stop();
