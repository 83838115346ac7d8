/**
 * `email`: RFC 5322-ish addresses (dot-atom local part, domain with a TLD), found inside text.
 *
 * Not the single regex it was,
 *   /[L]+(?:\.[L]+)*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}\b/g
 * (L = the local-part characters below): a regex engine tries that pattern at every position of a long run of
 * local-part characters and reads the run to its end each time looking for an '@', so 'a' x 100 000 + '@.'
 * took 16 s (quadratic). Here the domain half of that regex finds each '@' with a domain (it can only start at
 * an '@', and a domain holds no '@', so its attempts never overlap), and the local part is walked leftwards by
 * hand from that '@', never past the previous '@' or the previous match: every character is read at most twice,
 * and the spans are exactly those the single regex found.
 *
 * The top-level domain must be one of the public list (`tlds`, IANA's root zone): `logo@2x.png`, `user@host.local`
 * and `a@b.notatld` are not addresses. A URL-encoded address (`john.doe%40example.com`, as in a query string) is
 * found the same way from its `%40`.
 */
import { createRequire } from 'node:module';
import type { Detector } from './types.js';

/** IANA's top-level domains, lower-case (the `tlds` package: a JSON array, loaded through require). */
const TLDS: ReadonlySet<string> = new Set([
  ...(createRequire(import.meta.url)('tlds') as string[]).map((t) => t.toLowerCase()),
  // RFC 2606's reserved names for tests and documentation: test data is full of them, and it stands for real addresses.
  'test',
  'example',
  'invalid',
]);

/** Local-part characters: `[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]`, by char code. */
const LOCAL = new Uint8Array(128);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+/=?^_`{|}~-") LOCAL[c.charCodeAt(0)] = 1;

function isLocal(c: number): boolean {
  return c < 128 && LOCAL[c] === 1;
}

/**
 * Leftmost start of a dot-atom ending just before the '@' at `at` (atoms of local characters joined by single
 * dots), not before `from`; -1 when the character before the '@' cannot end one. This is the leftmost position
 * the regex could start a match at for this '@'.
 */
function localStart(text: string, at: number, from: number): number {
  let i = at - 1;
  if (i < from || !isLocal(text.charCodeAt(i))) return -1;
  for (;;) {
    while (i - 1 >= from && isLocal(text.charCodeAt(i - 1))) i--;
    // text[i] starts an atom; a '.' before it joins the atom before, if there is one.
    if (i - 2 >= from && text.charCodeAt(i - 1) === 46 && isLocal(text.charCodeAt(i - 2))) i -= 2;
    else return i;
  }
}

/**
 * '@' and the domain after it. Linear: an attempt starts only at an '@' and reads the chain of labels after it
 * (no '@' in it); backing off from the longest chain to one whose next label is a TLD tests each label once,
 * and each label's end at most 62 ways (it must be followed by a dot).
 */
const AT_DOMAIN = /@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}\b/g;
/** The same after a URL-encoded '@' (same linearity argument: an attempt starts only at a `%40`). */
const PCT40_DOMAIN = /%40(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}\b/gi;
/** An image's density suffix (`logo@2x.png`, `bg@1.5x.jpg`): a file name, not an address. */
const DENSITY = /^(?:@|%40)\d(?:\.\d+)?x\./i;

/** Whether the domain part `d` (from the '@' on) ends with a real top-level domain and is no image suffix. */
function domainOk(d: string): boolean {
  return TLDS.has(d.slice(d.lastIndexOf('.') + 1).toLowerCase()) && !DENSITY.test(d);
}

function findWith(re: RegExp, text: string, out: number[]): void {
  let from = 0; // a match never starts before the end of the previous one
  re.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    if (!domainOk(m[0])) continue;
    const start = localStart(text, m.index, from);
    if (start < 0) continue;
    const end = m.index + m[0].length;
    out.push(start, end);
    from = end;
  }
}

function findEmails(text: string, out: number[]): void {
  if (text.indexOf('@') >= 0) findWith(AT_DOMAIN, text, out);
  if (text.indexOf('%40') >= 0) findWith(PCT40_DOMAIN, text, out);
}

export const email: Detector = {
  name: 'email',
  description: 'e-mail address (public TLD list; also URL-encoded)',
  applies: (s) => s.dots > 0 && (s.at > 0 || s.digits >= 2),
  find: (text, out) => findEmails(text, out),
};
