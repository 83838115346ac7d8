/** Public interface of the policy engine: load, compile, classify, mask, decide. */
import type { LogicalType, MaskableValue } from './types.js';
import { Keyring, detokenizeValue } from './mask/index.js';

export * from './types.js';
export { PolicyStore, DEFAULT_PACKS, defaultPacksDir, compilePolicySources, checkPolicyFiles, policyFilesIn } from './store.js';
export type { PolicyLoadOptions, ReloadListener } from './store.js';
export { PolicyImpl, DEFAULT_ROLE } from './engine.js';
export { MaskTally } from './tally.js';
export { DETECTOR_NAMES, DETECTORS, detectorByName } from './detectors/index.js';
export { MASK_METHODS, REDACTED, DEVELOPMENT_HASH_KEY, maskValue, Keyring } from './mask/index.js';
export type { MaskSpec } from './mask/index.js';
export { normalizeName, normalizeSegment, NameMatcher } from './names.js';

const keyrings = new Map<string, Keyring>();

/**
 * Invert the `tokenize` mask: `detokenize(token, 'integer', hashKey)` gives the clear value back. Only the
 * holder of the hashKey can do this. Default key: the development key.
 */
export function detokenize(value: MaskableValue, type: LogicalType = 'text', hashKey?: string): MaskableValue {
  const id = hashKey ?? '';
  let k = keyrings.get(id);
  if (!k) {
    k = new Keyring(hashKey);
    keyrings.set(id, k);
  }
  return detokenizeValue(value, type, k);
}
