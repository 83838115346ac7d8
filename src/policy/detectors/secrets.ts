/** Credentials in data: `jwt`, `api_key` (vendor prefixes) and `aws_access_key`. */
import { anyMatch, findAll, type Detector } from './types.js';

const JWT = /(?<![\w-])eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*(?![\w-])/g;

/** Header must be base64url JSON with an `alg`. */
function jwtOk(m: string): boolean {
  const header = m.slice(0, m.indexOf('.'));
  try {
    const json = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as unknown;
    return typeof json === 'object' && json !== null && typeof (json as { alg?: unknown }).alg === 'string';
  } catch {
    return false; // not JSON: not a JWT
  }
}

/** Vendor key formats (Stripe, GitHub, Slack, Google, SendGrid, GitLab, npm, OpenAI, Hugging Face, Shopify, DigitalOcean, PyPI). */
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

const AWS = /(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])/g;

export const jwt: Detector = {
  name: 'jwt',
  description: 'JSON Web Token (three base64url parts, JSON header with alg)',
  // eyJ + 8 + . + 2 + . : at least 15 token characters in one run
  applies: (s) => s.dots >= 2 && s.length >= 20 && s.tokenRun >= 15,
  find: (text, out) => {
    if (text.indexOf('eyJ') >= 0) findAll(JWT, text, out, jwtOk);
  },
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
  find: (text, out) => {
    if (text.indexOf('AKIA') >= 0 || text.indexOf('ASIA') >= 0) findAll(AWS, text, out, anyMatch);
  },
};
