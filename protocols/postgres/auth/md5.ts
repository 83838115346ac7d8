/** md5 password authentication (only when the listener's `auth: md5` asks for it). */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { authentication } from '../codec/backend-encoder.js';
import { AuthCode } from '../codec/message-codes.js';
import { readCString } from '../codec/frontend-messages.js';
import { authFailed, type AuthStep, type ClientAuthenticator } from './authenticator.js';

const md5 = (s: string | Buffer): string => createHash('md5').update(s).digest('hex');

/** 'md5' + md5(md5(password + user) + salt), as the client computes it. */
export function md5Response(user: string, password: string, salt: Buffer): string {
  return 'md5' + md5(Buffer.concat([Buffer.from(md5(password + user)), salt]));
}

export class Md5Authenticator implements ClientAuthenticator {
  private readonly salt = randomBytes(4);

  constructor(
    private readonly user: string,
    private readonly password: string | undefined,
  ) {}

  start(): Buffer {
    return authentication(AuthCode.MD5Password, this.salt);
  }

  step(buf: Buffer, body: number, end: number): AuthStep {
    const got = Buffer.from(readCString(buf, body, end));
    const want = Buffer.from(md5Response(this.user, this.password ?? randomBytes(16).toString('hex'), this.salt));
    if (got.length !== want.length || !timingSafeEqual(got, want) || this.password === undefined) throw authFailed(this.user);
    return { done: true };
  }
}
