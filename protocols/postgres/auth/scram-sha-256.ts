/**
 * SCRAM-SHA-256 (RFC 5802 / RFC 7677) as PostgreSQL's server speaks it: no channel binding offered (no
 * SCRAM-SHA-256-PLUS), the user name in the SCRAM exchange ignored in favour of the startup packet's.
 * Secrets are derived once per listener user at start, so a login costs two HMACs and one hash.
 */
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { ProtocolError } from '../../shared/errors.js';
import { authentication, authenticationSasl } from '../codec/backend-encoder.js';
import { AuthCode, SqlState } from '../codec/message-codes.js';
import { readSaslInitial, readSaslResponse } from '../codec/frontend-messages.js';
import { authFailed, type AuthStep, type ClientAuthenticator } from './authenticator.js';

export const SCRAM_MECHANISM = 'SCRAM-SHA-256';
/** PostgreSQL's default (scram_iterations). */
export const SCRAM_ITERATIONS = 4096;

/** What a server keeps of a password (the same as pg_authid's SCRAM verifier). */
export interface ScramSecret {
  salt: Buffer;
  iterations: number;
  storedKey: Buffer;
  serverKey: Buffer;
}

const hmac = (key: Buffer, data: string | Buffer): Buffer => createHmac('sha256', key).update(data).digest();
const sha256 = (data: Buffer): Buffer => createHash('sha256').update(data).digest();

export function scramSecret(password: string, salt = randomBytes(16), iterations = SCRAM_ITERATIONS): ScramSecret {
  const salted = pbkdf2Sync(password.normalize('NFKC'), salt, iterations, 32, 'sha256');
  return {
    salt,
    iterations,
    storedKey: sha256(hmac(salted, 'Client Key')),
    serverKey: hmac(salted, 'Server Key'),
  };
}

/** A secret for an unknown user, so the exchange runs to the end and fails like a wrong password. */
const decoy = scramSecret(randomBytes(24).toString('base64'));

export class ScramSha256Authenticator implements ClientAuthenticator {
  private state: 'initial' | 'continue' = 'initial';
  private clientFirstBare = '';
  private serverFirst = '';
  private nonce = '';
  private gs2Header = '';

  constructor(
    private readonly user: string,
    private readonly secret: ScramSecret | undefined,
  ) {}

  start(): Buffer {
    return authenticationSasl([SCRAM_MECHANISM]);
  }

  step(buf: Buffer, body: number, end: number): AuthStep {
    return this.state === 'initial' ? this.first(buf, body, end) : this.final(buf, body, end);
  }

  private first(buf: Buffer, body: number, end: number): AuthStep {
    const { mechanism, data } = readSaslInitial(buf, body, end);
    if (mechanism !== SCRAM_MECHANISM) {
      throw new ProtocolError(`client selected an invalid SASL authentication mechanism "${mechanism}"`, SqlState.ProtocolViolation);
    }
    // gs2-header: 'n' (no binding) or 'y' (client supports it, thinks we do not); 'p' needs -PLUS, not offered.
    const m = /^([ny]),(a=[^,]*)?,(.*)$/.exec(data);
    if (!m) throw new ProtocolError('malformed SCRAM message (client-first-message)', SqlState.ProtocolViolation);
    this.gs2Header = `${m[1]},${m[2] ?? ''},`;
    this.clientFirstBare = m[3]!;
    const cnonce = /(?:^|,)r=([^,]+)/.exec(this.clientFirstBare)?.[1];
    if (!cnonce) throw new ProtocolError('malformed SCRAM message (missing nonce)', SqlState.ProtocolViolation);
    const secret = this.secret ?? decoy;
    this.nonce = cnonce + randomBytes(18).toString('base64');
    this.serverFirst = `r=${this.nonce},s=${secret.salt.toString('base64')},i=${secret.iterations}`;
    this.state = 'continue';
    return { reply: authentication(AuthCode.SASLContinue, this.serverFirst), done: false };
  }

  private final(buf: Buffer, body: number, end: number): AuthStep {
    const clientFinal = readSaslResponse(buf, body, end);
    const m = /^c=([^,]*),r=([^,]*)(?:,.*)?,p=([^,]*)$/.exec(clientFinal);
    if (!m) throw new ProtocolError('malformed SCRAM message (client-final-message)', SqlState.ProtocolViolation);
    if (m[1] !== Buffer.from(this.gs2Header).toString('base64')) {
      throw new ProtocolError('SCRAM channel binding check failed', SqlState.ProtocolViolation);
    }
    if (m[2] !== this.nonce) throw new ProtocolError('SCRAM nonce mismatch', SqlState.ProtocolViolation);
    const withoutProof = clientFinal.slice(0, clientFinal.lastIndexOf(',p='));
    const authMessage = `${this.clientFirstBare},${this.serverFirst},${withoutProof}`;
    const secret = this.secret ?? decoy;
    const proof = Buffer.from(m[3]!, 'base64');
    const signature = hmac(secret.storedKey, authMessage);
    if (proof.length !== signature.length) throw authFailed(this.user);
    const clientKey = Buffer.allocUnsafe(proof.length);
    for (let i = 0; i < proof.length; i++) clientKey[i] = proof[i]! ^ signature[i]!;
    if (!timingSafeEqual(sha256(clientKey), secret.storedKey) || !this.secret) throw authFailed(this.user);
    const serverSignature = hmac(secret.serverKey, authMessage).toString('base64');
    return { reply: authentication(AuthCode.SASLFinal, `v=${serverSignature}`), done: true };
  }
}
