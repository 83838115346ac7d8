import { startDgf, readAudit } from '../../test/helpers/dgf.js';
import { Redis } from 'ioredis';
const dgf = await startDgf({
  roles: [{ match: { user: 'analyst' }, role: 'analyst' }, { match: { user: 'dpo' }, role: 'dpo' }, { match: { user: 'admin' }, role: 'admin' }],
  listeners: [{ name: 'cache', protocol: 'redis', listen: '127.0.0.1:0', upstream: { url: 'redis://127.0.0.1:56379' },
    users: [{ name: 'analyst', password: 'pw' }, { name: 'dpo', password: 'pw' }, { name: 'admin', password: 'pw' }], quota: { preset: 'redis-cloud-free' } }],
});
const port = dgf.listener('cache').address.port;
console.log('port', port);
const direct = new Redis(56379);
await direct.set('user:42:email', 'ann@example.com');
await direct.hset('cust:1', 'ssn', '123-45-6789', 'name', 'Ann');
await direct.set('note:1', 'pay with 4111 1111 1111 1111 please');
for (const [user, proto] of [['analyst', 3], ['analyst', 2], ['dpo', 3], ['admin', 2]] as const) {
  const r = new Redis({ port, username: user, password: 'pw', protocol: proto, maxRetriesPerRequest: 1 } as never);
  r.on('error', (e) => console.log('err', e.message));
  console.log(user, proto, await r.get('user:42:email'), await r.hgetall('cust:1'), await r.get('note:1'));
  try { await r.flushall(); } catch (e) { console.log('flushall:', (e as Error).message); }
  const p = await r.pipeline().get('user:42:email').hget('cust:1', 'ssn').exec();
  console.log('pipeline', JSON.stringify(p));
  const m = await r.multi().get('user:42:email').lrange('nolist', 0, -1).exec();
  console.log('multi', JSON.stringify(m));
  r.disconnect();
}
const audit = await readAudit(dgf.auditFile);
console.log(audit.slice(-3));
direct.disconnect();
await dgf.stop();
