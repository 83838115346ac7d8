/**
 * What a MongoDB client may do before it has authenticated: finish within the listener's `authTimeoutMs`, and
 * send no message larger than PRE_AUTH_MAX_MESSAGE (hello with its client metadata, saslStart and saslContinue
 * are a few hundred bytes; the listener's `maxMessageBytes` is for authenticated work). Either breach is answered
 * with an error reply (to the client's last request) and the connection is closed.
 *
 * The guard watches the socket ahead of the session, reading only the 4-byte length of each message, and leaves
 * as soon as the session reports the client authenticated.
 */
import type net from 'node:net';
import { ErrorCode } from '../codec/constants.js';
import { encodeOpMsg } from '../codec/op-msg.js';
import { errorReply } from '../replies.js';

/** Largest message before authentication, header included. */
export const PRE_AUTH_MAX_MESSAGE = 64 * 1024;

export interface PreAuthClient {
  /** True once the client has authenticated (or the listener trusts it). */
  readonly authenticated: boolean;
}

export interface PreAuthGuardOptions {
  authTimeoutMs: number;
  onClose?: (reason: 'timeout' | 'too-large') => void;
}

export function guardPreAuth(socket: net.Socket, client: PreAuthClient, options: PreAuthGuardOptions): void {
  if (client.authenticated) return;
  // Bytes of the current message still to pass, and a length prefix cut by a chunk boundary.
  let left = 0;
  const header = Buffer.alloc(8);
  let headerFill = 0;
  let lastRequestId = 0;
  let done = false;

  const finish = (): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    socket.off('data', onData);
    socket.off('close', finish);
  };

  const refuse = (reason: 'timeout' | 'too-large', message: string): void => {
    finish();
    options.onClose?.(reason);
    const code = reason === 'timeout' ? ErrorCode.AuthenticationFailed : ErrorCode.ProtocolError;
    try {
      socket.end(encodeOpMsg(errorReply(code, `dgf: ${message}`), lastRequestId));
    } catch {
      // The socket is gone already: nothing left to tell.
    }
    socket.destroySoon();
  };

  const onData = (chunk: Buffer): void => {
    if (client.authenticated) {
      finish();
      return;
    }
    let off = 0;
    while (off < chunk.length) {
      if (left > 0) {
        const take = Math.min(left, chunk.length - off);
        left -= take;
        off += take;
        continue;
      }
      // The header's length and requestId (8 bytes) decide; the rest of the message is skipped over.
      const take = Math.min(8 - headerFill, chunk.length - off);
      chunk.copy(header, headerFill, off, off + take);
      headerFill += take;
      off += take;
      if (headerFill < 8) return;
      headerFill = 0;
      const length = header.readUInt32LE(0);
      lastRequestId = header.readInt32LE(4);
      if (length > PRE_AUTH_MAX_MESSAGE) {
        refuse('too-large', `message of ${length} bytes exceeds the limit of ${PRE_AUTH_MAX_MESSAGE} bytes before authentication`);
        return;
      }
      left = Math.max(0, length - 8);
    }
  };

  const timer = setTimeout(() => {
    if (client.authenticated) {
      finish();
      return;
    }
    refuse('timeout', `authentication did not complete within ${options.authTimeoutMs} ms`);
  }, options.authTimeoutMs);
  timer.unref();
  // Ahead of the session's own reader, so an oversized message is refused before the session buffers it.
  socket.prependListener('data', onData);
  socket.once('close', finish);
}
