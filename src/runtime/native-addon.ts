/**
 * Loading one of dgf's native addons (scripts/build-native.sh builds them): from the sources, where node-gyp left
 * it (`native/build/Release/<name>.node`, run through tsx), or from beside the compiled module in dist/
 * (`native/<name>.node`). Null when it is not built here: every addon has a fallback.
 */
import { createRequire } from 'node:module';

export function loadNativeAddon<T>(moduleUrl: string, name: string): T | null {
  const require = createRequire(moduleUrl);
  for (const path of [`./native/build/Release/${name}.node`, `./native/${name}.node`]) {
    try {
      return require(path) as T;
    } catch {
      // not built here: try the next place
    }
  }
  return null;
}
