/**
 * dgf as a client of the upstream: answers the server's Authentication requests with the credentials of
 * `upstream.url` (SCRAM-SHA-256, md5, cleartext). The salted SCRAM password is cached per (salt, iterations),
 * so reconnecting a pool does not pay PBKDF2 each time.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { serialize } from 'pg-protocol';
import { UpstreamError } from '../../../src/errors.js';
import { md5Response } from './md5.js';
import { SCRAM_MECHANISM } from './scram-sha-256.js';

const hmac = (key: Buffer, data: string): Buffer => createHmac('sha256', key).update(data).digest();
const sha256 = (data: Buffer): Buffer => createHash('sha256').update(data).digest();

const saltedCache = new Map<string, Buffer>();

function saltedPassword(password: string, salt: string, iterations: number): Buffer {
  const key = `${salt}:${iterations}:${createHash('sha256').update(password).digest('hex')}`;
  let v = saltedCache.get(key);
  if (!v) {
    v = pbkdf2Sync(password.normalize('NFKC'), Buffer.from(salt, 'base64'), iterations, 32, 'sha256');
    if (saltedCache.size > 64) saltedCache.clear();
    saltedCache.set(key, v);
  }
  return v;
}

/** One authentication exchange with one upstream connection. */
export class UpstreamAuth {
  private clientNonce = '';
  private clientFirstBare = '';
  private serverSignature: Buffer | null = null;

  constructor(
    private readonly user: string,
    private readonly password: string | undefined,
  ) {}

  private requirePassword(method: string): string {
    if (this.password === undefined) {
      throw new UpstreamError(`upstream asked for ${method} authentication but upstream.url has no password`, 'UPSTREAM_AUTH');
    }
    return this.password;
  }

  cleartext(): Buffer {
    return serialize.password(this.requirePassword('cleartext password'));
  }

  md5(salt: Buffer): Buffer {
    return serialize.password(md5Response(this.user, this.requirePassword('md5'), salt));
  }

  saslStart(mechanisms: string[]): Buffer {
    this.requirePassword('SCRAM');
    if (!mechanisms.includes(SCRAM_MECHANISM)) {
      throw new UpstreamError(`upstream offers SASL mechanisms ${mechanisms.join(', ')}; dgf supports ${SCRAM_MECHANISM}`, 'UPSTREAM_AUTH');
    }
    this.clientNonce = randomBytes(18).toString('base64');
    this.clientFirstBare = `n=*,r=${this.clientNonce}`;
    return serialize.sendSASLInitialResponseMessage(SCRAM_MECHANISM, `n,,${this.clientFirstBare}`);
  }

  saslContinue(serverFirst: string): Buffer {
    const attrs = parseAttrs(serverFirst);
    const nonce = attrs.get('r');
    const salt = attrs.get('s');
    const iterations = Number(attrs.get('i'));
    if (!nonce || !salt || !Number.isInteger(iterations) || iterations < 1 || !nonce.startsWith(this.clientNonce)) {
      throw new UpstreamError('upstream sent an invalid SCRAM server-first-message', 'UPSTREAM_AUTH');
    }
    const salted = saltedPassword(this.requirePassword('SCRAM'), salt, iterations);
    const clientKey = hmac(salted, 'Client Key');
    const storedKey = sha256(clientKey);
    const withoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${this.clientFirstBare},${serverFirst},${withoutProof}`;
    const signature = hmac(storedKey, authMessage);
    const proof = Buffer.allocUnsafe(32);
    for (let i = 0; i < 32; i++) proof[i] = clientKey[i]! ^ signature[i]!;
    this.serverSignature = hmac(hmac(salted, 'Server Key'), authMessage);
    return serialize.sendSCRAMClientFinalMessage(`${withoutProof},p=${proof.toString('base64')}`);
  }

  saslFinal(serverFinal: string): void {
    const v = parseAttrs(serverFinal).get('v');
    const got = v ? Buffer.from(v, 'base64') : Buffer.alloc(0);
    if (!this.serverSignature || got.length !== 32 || !timingSafeEqual(got, this.serverSignature)) {
      throw new UpstreamError('upstream SCRAM server signature does not match', 'UPSTREAM_AUTH');
    }
  }
}

function parseAttrs(s: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const part of s.split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) m.set(part.slice(0, eq), part.slice(eq + 1));
  }
  return m;
}
