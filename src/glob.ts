/** Simple glob matching (`*`, `?`) compiled once into a RegExp; used for role mapping and object patterns. */

const cache = new Map<string, RegExp>();

/** Compile a glob to an anchored RegExp. `*` matches any run of characters, `?` one character. */
export function globToRegExp(glob: string, caseInsensitive = true): RegExp {
  const key = (caseInsensitive ? 'i:' : 's:') + glob;
  let re = cache.get(key);
  if (!re) {
    const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
    re = new RegExp(`^${body}$`, caseInsensitive ? 'i' : '');
    cache.set(key, re);
  }
  return re;
}

/** Whether `value` matches `glob`. */
export function globMatch(glob: string, value: string, caseInsensitive = true): boolean {
  return globToRegExp(glob, caseInsensitive).test(value);
}
