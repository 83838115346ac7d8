/** SCRAM-SHA-1 as MongoDB defines it: PBKDF2 runs on md5("<user>:mongo:<password>") in hex. Off unless configured. */
import { createHash } from 'node:crypto';
import type { ScramMechanism } from './scram.js';

export const scramSha1: ScramMechanism = {
  name: 'SCRAM-SHA-1',
  hash: 'sha1',
  keyLength: 20,
  iterations: 10000,
  preparePassword: (user, password) => createHash('md5').update(`${user}:mongo:${password}`).digest('hex'),
};
