import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { ScramConversation, ScramCredentials, ScramError, type ScramMechanism } from '../../../protocols/mongodb/auth/scram.js';
import { scramSha256 } from '../../../protocols/mongodb/auth/scram-sha-256.js';
import { scramSha1 } from '../../../protocols/mongodb/auth/scram-sha-1.js';

/** The client side of SCRAM, written from RFC 5802, to drive the server conversation. */
async function exchange(m: ScramMechanism, creds: ScramCredentials, user: string, password: string): Promise<{ ok: boolean; serverVerified: boolean }> {
  const conv = new ScramConversation(creds);
  const clientNonce = randomBytes(18).toString('base64');
  const bare = `n=${user},r=${clientNonce}`;
  const serverFirst = (await conv.start(Buffer.from(`n,,${bare}`))).toString();
  const attrs = Object.fromEntries(serverFirst.split(',').map((p) => [p[0], p.slice(2)]));
  assert.ok(attrs.r!.startsWith(clientNonce));
  const salted = pbkdf2Sync(m.preparePassword(user, password), Buffer.from(attrs.s!, 'base64'), Number(attrs.i), m.keyLength, m.hash);
  const clientKey = createHmac(m.hash, salted).update('Client Key').digest();
  const storedKey = createHash(m.hash).update(clientKey).digest();
  const withoutProof = `c=biws,r=${attrs.r}`;
  const authMessage = `${bare},${serverFirst},${withoutProof}`;
  const sig = createHmac(m.hash, storedKey).update(authMessage).digest();
  const proof = Buffer.alloc(clientKey.length);
  for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i]! ^ sig[i]!;
  try {
    const final = conv.finish(Buffer.from(`${withoutProof},p=${proof.toString('base64')}`)).toString();
    const serverKey = createHmac(m.hash, salted).update('Server Key').digest();
    const expected = createHmac(m.hash, serverKey).update(authMessage).digest('base64');
    return { ok: conv.authenticated, serverVerified: final === `v=${expected}` };
  } catch (err) {
    assert.ok(err instanceof ScramError);
    return { ok: false, serverVerified: false };
  }
}

for (const m of [scramSha256, scramSha1]) {
  describe(m.name, () => {
    const creds = new ScramCredentials(m, [{ name: 'analyst', password: 'pässword' }, { name: 'app', password: 'secret' }]);

    test('right password: authenticated, and the server proves it knows the key', async () => {
      assert.deepEqual(await exchange(m, creds, 'analyst', 'pässword'), { ok: true, serverVerified: true });
      assert.deepEqual(await exchange(m, creds, 'app', 'secret'), { ok: true, serverVerified: true });
    });

    test('wrong password and unknown user fail the same way', async () => {
      assert.equal((await exchange(m, creds, 'analyst', 'nope')).ok, false);
      assert.equal((await exchange(m, creds, 'mallory', 'secret')).ok, false);
    });

    test('a tampered nonce is refused', async () => {
      const conv = new ScramConversation(creds);
      await conv.start(Buffer.from('n,,n=app,r=abc'));
      assert.throws(() => conv.finish(Buffer.from('c=biws,r=other,p=AAAA')), ScramError);
    });
  });
}
