/** Server-side SCRAM / md5 / cleartext against dgf's own upstream (client-side) implementation. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { UpstreamAuth } from '../../../protocols/postgres/auth/upstream-auth.js';
import { ScramSha256Authenticator, scramSecret } from '../../../protocols/postgres/auth/scram-sha-256.js';
import { Md5Authenticator } from '../../../protocols/postgres/auth/md5.js';
import { CleartextAuthenticator } from '../../../protocols/postgres/auth/cleartext.js';
import { decodeBackend } from '../../../protocols/postgres/codec/backend-decode.js';
import type { ClientAuthenticator } from '../../../protocols/postgres/auth/authenticator.js';
import { ProtocolError } from '../../../protocols/shared/errors.js';

/** Feed a 'p' frame to a server authenticator. */
function step(server: ClientAuthenticator, frame: Buffer): ReturnType<ClientAuthenticator['step']> {
  return server.step(frame, 5, frame.length);
}

function run(server: ClientAuthenticator, client: UpstreamAuth): boolean {
  const first = decodeBackend(server.start()) as unknown as Record<string, unknown>;
  if (first.name === 'authenticationSASL') {
    const s1 = step(server, client.saslStart(first.mechanisms as string[]));
    const cont = decodeBackend(s1.reply!) as unknown as { data: string };
    const s2 = step(server, client.saslContinue(cont.data));
    const fin = decodeBackend(s2.reply!) as unknown as { data: string };
    client.saslFinal(fin.data);
    return s2.done;
  }
  if (first.name === 'authenticationMD5Password') return step(server, client.md5(first.salt as Buffer)).done;
  return step(server, client.cleartext()).done;
}

describe('client authentication', () => {
  test('SCRAM-SHA-256: right password authenticates and the server signature verifies', () => {
    assert.equal(run(new ScramSha256Authenticator('u', scramSecret('s3cret')), new UpstreamAuth('u', 's3cret')), true);
  });

  test('SCRAM-SHA-256: wrong password and unknown user fail with 28P01', () => {
    for (const server of [new ScramSha256Authenticator('u', scramSecret('s3cret')), new ScramSha256Authenticator('u', undefined)]) {
      assert.throws(() => run(server, new UpstreamAuth('u', 'wrong')), (e: unknown) => e instanceof ProtocolError && e.code === '28P01');
    }
  });

  test('md5 and cleartext', () => {
    assert.equal(run(new Md5Authenticator('u', 'pw'), new UpstreamAuth('u', 'pw')), true);
    assert.throws(() => run(new Md5Authenticator('u', 'pw'), new UpstreamAuth('u', 'px')), ProtocolError);
    assert.equal(run(new CleartextAuthenticator('u', 'pw'), new UpstreamAuth('u', 'pw')), true);
    assert.throws(() => run(new CleartextAuthenticator('u', undefined), new UpstreamAuth('u', 'pw')), ProtocolError);
  });

  test('malformed SCRAM messages are protocol errors', () => {
    const server = new ScramSha256Authenticator('u', scramSecret('x'));
    server.start();
    const bad = Buffer.from('p\0\0\0\0SCRAM-SHA-256\0\0\0\0\x05junk!');
    bad.writeInt32BE(bad.length - 1, 1);
    assert.throws(() => step(server, bad), ProtocolError);
  });
});
