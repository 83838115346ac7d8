/** Cleartext password authentication (only when the listener's `auth: password` asks for it; use with TLS). */
import { createHash, timingSafeEqual } from 'node:crypto';
import { authentication } from '../codec/backend-encoder.js';
import { AuthCode } from '../codec/message-codes.js';
import { readCString } from '../codec/frontend-messages.js';
import { authFailed, type AuthStep, type ClientAuthenticator } from './authenticator.js';

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

export class CleartextAuthenticator implements ClientAuthenticator {
  constructor(
    private readonly user: string,
    private readonly password: string | undefined,
  ) {}

  start(): Buffer {
    return authentication(AuthCode.CleartextPassword);
  }

  step(buf: Buffer, body: number, end: number): AuthStep {
    const got = readCString(buf, body, end);
    // Compare digests so the comparison is constant-time whatever the lengths.
    if (this.password === undefined || !timingSafeEqual(digest(got), digest(this.password))) throw authFailed(this.user);
    return { done: true };
  }
}
