/** Keyed primitives for the `hash`, `tokenize` and `fake` masks: HMAC-SHA256 under the configured hashKey. */
import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';

/** Used when no hashKey is configured; the config layer warns about it. */
export const DEVELOPMENT_HASH_KEY = 'dgf-development-hash-key';

/** HMAC-SHA256 with one key, derived sub-keys per purpose so a hash never equals a token's round key. */
export class Keyring {
  private readonly hashKey: KeyObject;
  private readonly fpeKey: KeyObject;
  private readonly fakeKey: KeyObject;

  constructor(readonly secret: string = DEVELOPMENT_HASH_KEY) {
    const root = createSecretKey(Buffer.from(secret, 'utf8'));
    const derive = (purpose: string): KeyObject => createSecretKey(createHmac('sha256', root).update(purpose).digest());
    this.hashKey = derive('dgf/hash');
    this.fpeKey = derive('dgf/tokenize');
    this.fakeKey = derive('dgf/fake');
  }

  /** HMAC for the `hash` mask. */
  hash(data: string | Uint8Array): Buffer {
    return createHmac('sha256', this.hashKey).update(data).digest();
  }

  /** HMAC for the Feistel round function of `tokenize`. */
  round(data: string): Buffer {
    return createHmac('sha256', this.fpeKey).update(data).digest();
  }

  /** Deterministic pseudo-random bytes for `fake`, seeded by the clear value. */
  seed(data: string | Uint8Array): Buffer {
    return createHmac('sha256', this.fakeKey).update(data).digest();
  }
}
