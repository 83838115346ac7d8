/** Credentials in data: `jwt`, `api_key` (a secrets catalogue loaded as data) and `aws_access_key`. */
import { jsonHasStringAlg } from './json-header.js';
import dgfRules from './data/dgf-rules.js';
import gitleaksRules from './data/gitleaks-rules.js';
import { findAll, type Detector } from './types.js';

/**
 * Linear although unbounded: a match starts only at an `eyJ` not preceded by `[\w-]`, and each repeat takes a
 * whole run of `[\w-]` (it must be followed by a dot, or is the last), so an attempt reads its three runs once
 * and backs off over each at most once; a later attempt can start only after one of its two dots.
 */
const JWT = /(?<![\w-])eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*(?![\w-])/g;

/** base64url digit values by char code. */
const B64 = new Uint8Array(128);
for (let i = 0; i < 64; i++) B64['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.charCodeAt(i)] = i;

/** Decoded header bytes, reused (grown for a longer header): checking a candidate allocates nothing. */
let headerBytes = new Uint8Array(256);

/**
 * Header must be base64url JSON with an `alg`: `JSON.parse(Buffer.from(header, 'base64url').toString('utf8'))`
 * is an object whose `alg` is a string, decided by hand. JSON.parse reports bad JSON by throwing, about 5 us a
 * throw: a 1 MB value of JWT-shaped tokens whose headers are not JSON took 400 ms. The decoder below matches
 * Buffer's (four characters give three bytes; a trailing 2 or 3 give 1 or 2; a trailing 1 gives none) and
 * jsonHasStringAlg matches JSON.parse; the detector tests check both against them.
 */
function jwtOk(m: string): boolean {
  const len = m.indexOf('.');
  const size = Math.floor((len * 3) / 4);
  if (headerBytes.length < size) headerBytes = new Uint8Array(size);
  const b = headerBytes;
  let k = 0;
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < len; i++) {
    acc = ((acc << 6) | B64[m.charCodeAt(i)]!) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      b[k++] = (acc >> bits) & 0xff;
    }
  }
  return jsonHasStringAlg(b, k);
}

/**
 * `api_key`: the credential formats of a maintained catalogue, loaded as data: gitleaks' published rule set
 * (data/gitleaks-rules.ts, its prefixed formats: ~120 vendors) and dgf's own additions (data/dgf-rules.ts).
 * Every format starts with a literal vendor prefix (`ghp_`, `xoxb-`, `whsec_`, `hvs.`, `AccountKey=`), so the
 * hot path is one pass over the text that, at each word start, looks the first two characters up in a table;
 * only the few rules filed under them run, sticky at that position. Linear: every rule's repeats are bounded
 * (the importer caps gitleaks' unbounded ones), so one attempt reads a bounded stretch, and a word start is
 * tried by the rules of one table entry only.
 */
interface CompiledSecretRule {
  id: string;
  prefix: string;
  re: RegExp;
  entropy: number;
}

/** Rules by the char codes of their prefix's first two characters (lower-case): (c0 << 8) | c1. */
const RULES_BY_KEY = new Map<number, CompiledSecretRule[]>();
for (const set of [gitleaksRules, dgfRules]) {
  for (const r of set.rules) {
    // Sticky at a word start; the token must not run on into more letters or digits.
    const re = new RegExp(`(?:${r.regex})(?![A-Za-z0-9])`, `${r.flags}y`);
    const key = (r.prefix.charCodeAt(0) << 8) | r.prefix.charCodeAt(1);
    const list = RULES_BY_KEY.get(key) ?? [];
    list.push({ id: r.id, prefix: r.prefix, re, entropy: r.entropy ?? 0 });
    RULES_BY_KEY.set(key, list);
  }
}

/** The number of secret rules loaded (gitleaks' and dgf's). */
export const SECRET_RULE_COUNT = [...RULES_BY_KEY.values()].reduce((n, l) => n + l.length, 0);

function isAlnum(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || (c >= 65 && c <= 90);
}

function lower(c: number): number {
  return c >= 65 && c <= 90 ? c + 32 : c;
}

/** Whether text[i..] starts with the lower-case `prefix`, ignoring ASCII case. */
function startsWithFolded(text: string, i: number, prefix: string): boolean {
  if (i + prefix.length > text.length) return false;
  for (let k = 2; k < prefix.length; k++) if (lower(text.charCodeAt(i + k)) !== prefix.charCodeAt(k)) return false;
  return true;
}

/** Shannon entropy (bits per character) of text[from, to). */
function entropy(text: string, from: number, to: number): number {
  const counts = new Map<number, number>();
  for (let i = from; i < to; i++) counts.set(text.charCodeAt(i), (counts.get(text.charCodeAt(i)) ?? 0) + 1);
  let h = 0;
  const n = to - from;
  for (const c of counts.values()) h -= (c / n) * Math.log2(c / n);
  return h;
}

/** `[A-Za-z0-9_.+/=~-]`: the characters of every token format. */
function isTokenChar(c: number): boolean {
  return isAlnum(c) || c === 95 || c === 46 || c === 45 || c === 43 || c === 47 || c === 61 || c === 126;
}

/**
 * Full regex attempts one `find` call may make. A value made of vendor prefixes (`SG.SG.SG...`) starts an
 * attempt every few characters, each reading up to a rule's length (66 for SendGrid's): past the budget, a
 * vendor prefix followed by 16 or more token characters is reported without its regex, masked rather than
 * missed (the safe side for a masking proxy), and the scan stays a single pass.
 */
const ATTEMPT_BUDGET = 4096;
const LOOSE_MIN_BODY = 16;

function findSecrets(text: string, out: number[]): void {
  const n = text.length;
  let prev = 0;
  let attempts = ATTEMPT_BUDGET;
  let tokenEnd = 0; // end of the run of token characters that holds i, once computed (only moves forward)
  for (let i = 0; i < n - 1; i++) {
    const c = text.charCodeAt(i);
    const wordStart = isAlnum(c) && !isAlnum(prev);
    prev = c;
    if (!wordStart) continue;
    const rules = RULES_BY_KEY.get((lower(c) << 8) | lower(text.charCodeAt(i + 1)));
    if (rules === undefined) continue;
    if (attempts <= 0) {
      if (tokenEnd <= i) {
        tokenEnd = i;
        while (tokenEnd < n && isTokenChar(text.charCodeAt(tokenEnd))) tokenEnd++;
      }
      for (const r of rules) {
        if (startsWithFolded(text, i, r.prefix) && tokenEnd - i - r.prefix.length >= LOOSE_MIN_BODY) {
          out.push(i, tokenEnd);
          i = tokenEnd - 1;
          prev = text.charCodeAt(i);
          break;
        }
      }
      continue;
    }
    let best = -1;
    for (const r of rules) {
      if (!startsWithFolded(text, i, r.prefix)) continue;
      attempts--;
      r.re.lastIndex = i;
      if (!r.re.test(text)) continue;
      const end = r.re.lastIndex;
      if (r.entropy > 0 && entropy(text, i + r.prefix.length, end) < r.entropy) continue;
      if (end > best) best = end;
    }
    if (best > 0) {
      out.push(i, best);
      i = best - 1; // tokens do not overlap: resume after this one
      prev = text.charCodeAt(i);
    }
  }
}

/**
 * AWS access key ids. Linear: fixed length (20 characters). No `indexOf('AKIA')` guard before it: on a megabyte
 * of 'A' each such call took 7 ms (every position starts a partial match), the regex under 1 ms.
 */
const AWS = /(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])/g;

/**
 * Key ids are random (base32): an id of letters only is rare (4% of them), and then has few vowels; an
 * upper-case word that happens to start with ASIA or AKIA (`ASIANMARKETSOVERVIEW`) has many.
 */
function awsOk(m: string): boolean {
  let vowels = 0;
  for (let i = 4; i < m.length; i++) {
    const c = m.charCodeAt(i);
    if (c >= 48 && c <= 57) return true;
    if (c === 65 || c === 69 || c === 73 || c === 79 || c === 85) vowels++;
  }
  return vowels <= 4;
}

export const jwt: Detector = {
  name: 'jwt',
  description: 'JSON Web Token (three base64url parts, JSON header with alg)',
  // eyJ + 8 + . + 2 + . : at least 15 token characters in one run
  applies: (s) => s.dots >= 2 && s.length >= 20 && s.tokenRun >= 15,
  find: (text, out) => findAll(JWT, text, out, jwtOk),
};

export const apiKey: Detector = {
  name: 'api_key',
  description: 'API key or secret of a known vendor format (gitleaks rule set + dgf rules: sk_live_, ghp_, xoxb-, whsec_, hvs., AccountKey=, ...)',
  // the shortest format (xoxb- + 10) is one run of 15 token characters
  applies: (s) => s.length >= 15 && s.tokenRun >= 15,
  find: (text, out) => findSecrets(text, out),
};

export const awsAccessKey: Detector = {
  name: 'aws_access_key',
  description: 'AWS access key id (AKIA/ASIA/ABIA/ACCA + 16)',
  applies: (s) => s.upper >= 4 && s.length >= 20 && s.tokenRun >= 20,
  find: (text, out) => findAll(AWS, text, out, awsOk),
};
