/**
 * Server side of SCRAM (RFC 5802 / 7677) as MongoDB runs it over `saslStart`/`saslContinue`. The mechanism
 * files (scram-sha-256.ts, scram-sha-1.ts) supply the hash and how the password is prepared; this file keeps
 * the conversation. Stored keys are derived once per user and process (random salt), never the password.
 */
import { createHash, createHmac, pbkdf2, randomBytes, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import type { ListenerUser } from '../../../src/config/types.js';

const pbkdf2Async = promisify(pbkdf2);

/** What distinguishes SCRAM-SHA-1 from SCRAM-SHA-256. */
export interface ScramMechanism {
  readonly name: 'SCRAM-SHA-1' | 'SCRAM-SHA-256';
  readonly hash: 'sha1' | 'sha256';
  readonly keyLength: number;
  readonly iterations: number;
  /** The secret PBKDF2 runs on (MongoDB's SCRAM-SHA-1 uses md5("user:mongo:password")). */
  preparePassword(user: string, password: string): string;
}

interface StoredCredential {
  salt: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
}

/** Derived keys of the listener's users for one mechanism, computed on first use. */
export class ScramCredentials {
  private readonly derived = new Map<string, Promise<StoredCredential>>();
  private readonly passwords: Map<string, string>;

  constructor(
    readonly mechanism: ScramMechanism,
    users: readonly ListenerUser[],
  ) {
    this.passwords = new Map(users.filter((u) => u.password !== undefined).map((u) => [u.name, u.password!]));
  }

  has(user: string): boolean {
    return this.passwords.has(user);
  }

  get(user: string): Promise<StoredCredential> | null {
    const password = this.passwords.get(user);
    if (password === undefined) return null;
    let p = this.derived.get(user);
    if (!p) {
      p = derive(this.mechanism, this.mechanism.preparePassword(user, password), randomBytes(this.mechanism.name === 'SCRAM-SHA-1' ? 16 : 28));
      this.derived.set(user, p);
    }
    return p;
  }
}

async function derive(m: ScramMechanism, secret: string, salt: Buffer): Promise<StoredCredential> {
  const salted = await pbkdf2Async(secret, salt, m.iterations, m.keyLength, m.hash);
  const clientKey = createHmac(m.hash, salted).update('Client Key').digest();
  return {
    salt,
    storedKey: createHash(m.hash).update(clientKey).digest(),
    serverKey: createHmac(m.hash, salted).update('Server Key').digest(),
  };
}

/** A failed exchange; the session answers AuthenticationFailed (code 18) without saying why. */
export class ScramError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScramError';
  }
}

function attrs(message: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of message.split(',')) {
    const eq = part.indexOf('=');
    if (eq === 1) out.set(part[0]!, part.slice(2));
  }
  return out;
}

function unescapeName(n: string): string {
  return n.replace(/=2C/g, ',').replace(/=3D/g, '=');
}

/** One client's SCRAM conversation. */
export class ScramConversation {
  private clientFirstBare = '';
  private serverFirst = '';
  private nonce = '';
  private cred: StoredCredential | null = null;
  private verified = false;
  user = '';

  constructor(private readonly credentials: ScramCredentials) {}

  get mechanism(): string {
    return this.credentials.mechanism.name;
  }

  /** client-first-message -> server-first-message. */
  async start(payload: Buffer): Promise<Buffer> {
    const text = payload.toString('utf8');
    if (!text.startsWith('n,') && !text.startsWith('y,')) throw new ScramError('channel binding is not supported');
    const second = text.indexOf(',', 2);
    if (second < 0) throw new ScramError('malformed client-first-message');
    this.clientFirstBare = text.slice(second + 1);
    const a = attrs(this.clientFirstBare);
    const user = a.get('n');
    const clientNonce = a.get('r');
    if (user === undefined || !clientNonce) throw new ScramError('client-first-message lacks n= or r=');
    this.user = unescapeName(user);
    const credP = this.credentials.get(this.user);
    // Unknown users get a plausible challenge and fail at the proof, so user names cannot be probed.
    this.cred = credP ? await credP : null;
    const salt = this.cred ? this.cred.salt : createHash('sha256').update(`dgf-unknown:${this.user}`).digest().subarray(0, 16);
    this.nonce = clientNonce + randomBytes(24).toString('base64');
    this.serverFirst = `r=${this.nonce},s=${salt.toString('base64')},i=${this.credentials.mechanism.iterations}`;
    return Buffer.from(this.serverFirst, 'utf8');
  }

  /** client-final-message -> server-final-message (v=...). Throws ScramError on a wrong proof. */
  finish(payload: Buffer): Buffer {
    const text = payload.toString('utf8');
    const a = attrs(text);
    const proofB64 = a.get('p');
    if (a.get('r') !== this.nonce || !proofB64) throw new ScramError('nonce mismatch or missing proof');
    const withoutProof = text.slice(0, text.lastIndexOf(',p='));
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const m = this.credentials.mechanism;
    if (!this.cred) throw new ScramError('unknown user');
    const proof = Buffer.from(proofB64, 'base64');
    const clientSignature = createHmac(m.hash, this.cred.storedKey).update(authMessage).digest();
    if (proof.length !== clientSignature.length) throw new ScramError('proof has the wrong length');
    const clientKey = Buffer.alloc(proof.length);
    for (let i = 0; i < proof.length; i++) clientKey[i] = proof[i]! ^ clientSignature[i]!;
    const storedKey = createHash(m.hash).update(clientKey).digest();
    if (!timingSafeEqual(storedKey, this.cred.storedKey)) throw new ScramError('wrong password');
    this.verified = true;
    const serverSignature = createHmac(m.hash, this.cred.serverKey).update(authMessage).digest();
    return Buffer.from(`v=${serverSignature.toString('base64')}`, 'utf8');
  }

  get authenticated(): boolean {
    return this.verified;
  }
}
