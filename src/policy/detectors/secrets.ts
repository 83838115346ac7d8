/** Credentials in data: `jwt`, `api_key` (vendor prefixes) and `aws_access_key`. */
import { jsonHasStringAlg } from './json-header.js';
import { anyMatch, findAll, type Detector } from './types.js';

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
 * Vendor key formats (Stripe, GitHub, Slack, Google, SendGrid, GitLab, npm, OpenAI, Hugging Face, Shopify,
 * DigitalOcean, PyPI). Linear although unbounded: a match starts only after a character outside `[\w-]`; every
 * repeat runs over a class inside `[\w-]` and is followed by `(?![\w-])`, which can fail only within that run, so
 * an attempt reads at most the token run it starts in (SendGrid's: two runs joined by a dot) once and backs off
 * over it once, and attempts never re-read each other's runs.
 */
const API_KEY = new RegExp(
  '(?<![\\w-])(?:' +
    [
      '(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}',
      'gh[pousr]_[A-Za-z0-9]{36,}',
      'github_pat_[A-Za-z0-9_]{22,}',
      'xox[abprs]-[A-Za-z0-9-]{10,}',
      'xapp-[A-Za-z0-9-]{10,}',
      'AIza[0-9A-Za-z_-]{35}',
      'SG\\.[\\w-]{16,}\\.[\\w-]{16,}',
      'glpat-[\\w-]{20,}',
      'npm_[A-Za-z0-9]{36}',
      'sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}',
      'hf_[A-Za-z0-9]{30,}',
      'shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}',
      'dop_v1_[a-f0-9]{64}',
      'pypi-[\\w-]{50,}',
    ].join('|') +
    ')(?![\\w-])',
  'g',
);

/**
 * Linear: fixed length (20 characters). No `indexOf('AKIA')` guard before it: on a megabyte of 'A' each such
 * call took 7 ms (every position starts a partial match), the regex under 1 ms.
 */
const AWS = /(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])/g;

export const jwt: Detector = {
  name: 'jwt',
  description: 'JSON Web Token (three base64url parts, JSON header with alg)',
  // eyJ + 8 + . + 2 + . : at least 15 token characters in one run
  applies: (s) => s.dots >= 2 && s.length >= 20 && s.tokenRun >= 15,
  find: (text, out) => findAll(JWT, text, out, jwtOk),
};

export const apiKey: Detector = {
  name: 'api_key',
  description: 'API key with a known vendor prefix (sk_live_, ghp_, xoxb-, AIza, SG., glpat-, npm_, ...)',
  // the shortest vendor format (xoxb- + 10) is one run of 15 token characters
  applies: (s) => s.length >= 20 && s.tokenRun >= 15 && (s.joiners > 0 || s.dots >= 2 || s.upper > 0),
  find: (text, out) => findAll(API_KEY, text, out, anyMatch),
};

export const awsAccessKey: Detector = {
  name: 'aws_access_key',
  description: 'AWS access key id (AKIA/ASIA + 16)',
  applies: (s) => s.upper >= 4 && s.length >= 20 && s.tokenRun >= 20,
  find: (text, out) => findAll(AWS, text, out, anyMatch),
};
