/** `ipv4` and `ipv6` addresses inside text; IPv6 candidates are confirmed with node:net. */
import { isIPv6 } from 'node:net';
import { newSlidingContext, passesWithContext, wordSet, type ContextWords } from './context.js';
import { DEFAULT_THRESHOLD, type Detector } from './types.js';

/**
 * Linear: an attempt reads at most 15 characters; each octet can end one way only (it must be followed by '.'
 * or the end test), so backing off over the octet alternatives is a bounded number of one-step tests.
 */
const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
// Not the dotted quad of an IPv4-mapped IPv6 address (`::ffff:192.0.2.1`): the ipv6 detector reports the whole.
const IPV4 = new RegExp(`(?<![\\w.])(?<!:ffff:)${OCTET}(?:\\.${OCTET}){3}(?!\\w|\\.\\d)`, 'gi');

/**
 * The IPv6 regex /(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?(?![\w:])/g,
 * rewritten to start at the address's first colon, with the (at most four) hex digits before it and the test
 * of the character before them moved into a lookbehind after it: the same addresses (the first group is those
 * digits and that colon, one way only; and no address can start inside another, as every character of one is
 * `[\w:.]`). Starting with a lookbehind, the regex was tried at every position (9 ms a megabyte of random
 * text); starting with ':', the engine skips to the next colon (under 1 ms).
 * The lookahead after the lookbehind skips, inside the regex, the candidates `ipv6Ok` would reject for having
 * fewer than two non-empty groups (a hex digit before the colon and one after it, or two runs of hex digits
 * after it): a value of `:: ` repeated was 350 000 matches, each a call back into JavaScript (19 ms), now none.
 * The dotted quad is tried before a last hex group (issue #19): the other way round, `::ffff:192.0.2.1` ended at
 * `192` (a hex group followed by '.', which the end test allows), and the IPv4 inside it won.
 * Linear: an attempt reads at most 45 characters, and each group can end one way only (it must be followed
 * by ':'), except the lookahead, which reads the run of hex digits and colons after the first colon at most
 * twice; an attempt starts only at a run's first colon, so the runs read are disjoint.
 */
const IPV6_FROM_COLON =
  /:(?<=(?<![\w:.])[0-9A-Fa-f]{0,4}:)(?:(?<=[0-9A-Fa-f]:)(?=:*[0-9A-Fa-f])|(?=:*[0-9A-Fa-f]+:+[0-9A-Fa-f]))(?:[0-9A-Fa-f]{0,4}:){1,6}(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{1,4})?(?![\w:])/g;

function isHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}

/** The IPv6 addresses of `text`: each match of IPV6_FROM_COLON, widened to the hex digits before its colon. */
function findIpv6(text: string, out: number[]): void {
  const re = IPV6_FROM_COLON;
  re.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    let start = m.index;
    while (start > m.index - 4 && start > 0 && isHex(text.charCodeAt(start - 1))) start--;
    const end = m.index + m[0].length;
    if (ipv6Ok(start === m.index ? m[0] : text.slice(start, end))) out.push(start, end);
  }
}

/**
 * A necessary condition for `ipv6Ok`, read in place: at least two non-empty groups, and the shape of an IPv6
 * address without a dotted quad: eight groups, or fewer with exactly one '::' (a lone ':' never starts or ends
 * it). Tested first because `isIPv6` and the split cost more than the regex on a value of address-like groups
 * (`1:2:3: ` repeated is 150 000 candidates a megabyte, none an address). A dotted quad is left to `isIPv6`.
 */
function ipv6Shape(m: string): boolean {
  let groups = 0;
  let pairs = 0;
  let prevColon = false;
  let inGroup = false;
  for (let i = 0; i < m.length; i++) {
    const c = m.charCodeAt(i);
    if (c === 46) return true; // a dotted quad: no shortcut
    const colon = c === 58;
    if (colon) {
      if (prevColon) pairs++;
      inGroup = false;
    } else if (!inGroup) {
      groups++;
      inGroup = true;
    }
    prevColon = colon;
  }
  if (groups < 2 || pairs > 1) return false;
  if (m.charCodeAt(0) === 58 && m.charCodeAt(1) !== 58) return false;
  if (m.charCodeAt(m.length - 1) === 58 && m.charCodeAt(m.length - 2) !== 58) return false;
  return pairs === 1 ? groups <= 7 : groups === 8;
}

/** An IPv6 address with at least two non-empty groups (not `::`, `::1`, `fe80::`); groups counted in place. */
function ipv6Ok(m: string): boolean {
  if (!ipv6Shape(m) || !isIPv6(m)) return false;
  let groups = 0;
  let inGroup = false;
  for (let i = 0; i < m.length; i++) {
    const colon = m.charCodeAt(i) === 58;
    if (!colon && !inGroup) groups++;
    inGroup = !colon;
  }
  return groups >= 2;
}

/** A dotted quad next to `version`, `build`, `release` is a version number (`Version 4.2.1.0`). */
const IPV4_CONTEXT: ContextWords = {
  positive: wordSet('ip ipv addr address host client server remote src dst from gateway subnet'),
  negative: wordSet('version ver v release build firmware oid rev revision patch', 'versión versione versie versão'),
  hint: /ip|addr|host/i,
};
const IPV4_SCORE = 0.6;

function findIpv4(text: string, out: number[], hint: string | undefined, threshold: number): void {
  IPV4.lastIndex = 0;
  const st = newSlidingContext(); // candidates come in order: one sliding context window reads each character once
  let m: RegExpExecArray | null;
  while ((m = IPV4.exec(text)) !== null) {
    const end = m.index + m[0].length;
    if (passesWithContext(IPV4_SCORE, threshold, text, m.index, end, hint, IPV4_CONTEXT, st)) out.push(m.index, end);
  }
}

export const ipv4: Detector = {
  name: 'ipv4',
  description: 'IPv4 address (a version-number context lowers it)',
  threshold: DEFAULT_THRESHOLD,
  applies: (s) => s.dots >= 3 && s.digits >= 4,
  find: (text, out, hint, threshold = DEFAULT_THRESHOLD) => findIpv4(text, out, hint, threshold),
};

export const ipv6: Detector = {
  name: 'ipv6',
  description: 'IPv6 address',
  applies: (s) => s.colons >= 2,
  find: (text, out) => findIpv6(text, out),
};
