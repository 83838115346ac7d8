/** The server-side contract every client authentication method implements (one file per method). */
import { ProtocolError } from '../../shared/errors.js';
import { SqlState } from '../codec/message-codes.js';

export interface AuthStep {
  /** Message to send to the client (an Authentication request), if any. */
  reply?: Buffer;
  /** True once the client is authenticated (AuthenticationOk is sent by the session). */
  done: boolean;
}

export interface ClientAuthenticator {
  /** The first Authentication request. */
  start(): Buffer;
  /** Handle one 'p' message body. Throws ProtocolError 28P01 when the client failed to prove its identity. */
  step(buf: Buffer, body: number, end: number): AuthStep;
}

/** The one failure message, whatever went wrong (unknown user, wrong password), as PostgreSQL words it. */
export function authFailed(user: string): ProtocolError {
  return new ProtocolError(`password authentication failed for user "${user}"`, SqlState.InvalidPassword);
}
