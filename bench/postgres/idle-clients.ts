/**
 * Opens N idle client connections to a Postgres listener (SCRAM login each), then prints the listener process'
 * RSS. Usage: tsx bench/postgres/idle-clients.ts <port> <user> <password> <count> <pid>
 * The client side reuses one salted password (same salt for a user), so 5,000 logins take seconds, not minutes.
 */
import net from 'node:net';
import { readFileSync } from 'node:fs';
import { serialize } from 'pg-protocol';
import { UpstreamAuth } from '../../protocols/postgres/auth/upstream-auth.js';
import { decodeBackend } from '../../protocols/postgres/codec/backend-decode.js';
import { FrameDecoder } from '../../protocols/postgres/codec/frame-decoder.js';

const [portArg, user = 'bench', password = 'benchpw', countArg = '5000', pidArg] = process.argv.slice(2);
const port = Number(portArg);
const count = Number(countArg);

function rssMb(pid: string): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function login(): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port });
    const d = new FrameDecoder(1 << 20);
    const auth = new UpstreamAuth(user, password);
    s.on('error', reject);
    s.on('connect', () => s.write(serialize.startup({ user, database: 'postgres' })));
    s.on('data', (chunk: Buffer) => {
      d.push(chunk);
      while (d.next()) {
        const m = decodeBackend(d.frame()) as unknown as Record<string, unknown>;
        if (m.name === 'authenticationSASL') s.write(auth.saslStart(m.mechanisms as string[]));
        else if (m.name === 'authenticationSASLContinue') s.write(auth.saslContinue(m.data as string));
        else if (m.name === 'authenticationSASLFinal') auth.saslFinal(m.data as string);
        else if (m.name === 'authenticationMD5Password') s.write(auth.md5(m.salt as Buffer));
        else if (m.name === 'error') reject(new Error(String(m.message)));
        else if (m.name === 'readyForQuery') {
          s.removeAllListeners('data');
          resolve(s);
        }
      }
    });
  });
}

const before = pidArg ? rssMb(pidArg) : NaN;
const sockets: net.Socket[] = [];
const started = Date.now();
for (let i = 0; i < count; i += 100) {
  const batch = await Promise.all(Array.from({ length: Math.min(100, count - i) }, () => login()));
  sockets.push(...batch);
}
await new Promise((r) => setTimeout(r, 2000));
const after = pidArg ? rssMb(pidArg) : NaN;
console.log(JSON.stringify({ clients: sockets.length, loginSeconds: (Date.now() - started) / 1000, rssBeforeMb: Math.round(before), rssAfterMb: Math.round(after) }));
for (const s of sockets) s.destroy();
