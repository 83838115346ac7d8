/** SCRAM-SHA-256 (RFC 7677), MongoDB's default mechanism since 4.0. */
import type { ScramMechanism } from './scram.js';

export const scramSha256: ScramMechanism = {
  name: 'SCRAM-SHA-256',
  hash: 'sha256',
  keyLength: 32,
  iterations: 15000,
  // SASLprep of ASCII passwords is the identity; NFKC covers the common non-ASCII cases the driver normalizes.
  preparePassword: (_user, password) => password.normalize('NFKC'),
};
