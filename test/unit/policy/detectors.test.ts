import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DETECTOR_NAMES, DETECTORS, detectorByName } from '../../../src/policy/index.js';
import { anyDetectorMayMatch, anyDetectorMayMatchUtf8, textStats, textStatsUtf8 } from '../../../src/policy/detectors/index.js';
import { luhnCheckDigit } from '../../../src/policy/detectors/checksums.js';

/** Substrings a detector finds in `text` (through its prefilter, as the engine runs it). */
function found(name: string, text: string, hint?: string): string[] {
  const d = detectorByName(name);
  assert.ok(d, `detector ${name}`);
  if (!d.applies(textStats(text), hint)) return [];
  const out: number[] = [];
  d.find(text, out, hint);
  const res: string[] = [];
  for (let i = 0; i < out.length; i += 2) res.push(text.slice(out[i], out[i + 1]));
  return res;
}

function cases(name: string, valid: [string, string, string?][], invalid: [string, string?][]): void {
  test(`${name}: finds valid samples inside text`, () => {
    for (const [text, entity, hint] of valid) assert.deepEqual(found(name, text, hint), [entity], `${name} in ${JSON.stringify(text)}`);
  });
  test(`${name}: valid samples pass the shared quick prefilters (text and UTF-8 bytes)`, () => {
    for (const [text] of valid) {
      assert.ok(anyDetectorMayMatch(textStats(text)), JSON.stringify(text));
      const bytes = Buffer.from(`xx${text}yy`, 'utf8');
      assert.ok(anyDetectorMayMatchUtf8(bytes, 2, bytes.length - 2), JSON.stringify(text));
    }
  });
  test(`${name}: rejects look-alikes`, () => {
    for (const [text, hint] of invalid) assert.deepEqual(found(name, text, hint), [], `${name} must not match ${JSON.stringify(text)}`);
  });
}

test('every SPEC detector is built in', () => {
  for (const n of ['email', 'phone', 'us_ssn', 'payment_card', 'iban', 'ipv4', 'ipv6', 'date_of_birth', 'uk_nhs', 'us_npi', 'jwt', 'api_key', 'aws_access_key']) {
    assert.ok(DETECTOR_NAMES.includes(n), n);
  }
});

cases(
  'email',
  [
    ['alice@example.com', 'alice@example.com'],
    ['write to bob.smith+tag@mail.co.uk today', 'bob.smith+tag@mail.co.uk'],
  ],
  [['alice@'], ['no at sign. here'], ['a@b'], ['@example.com']],
);

cases(
  'phone',
  [
    ['+14155552671', '+14155552671'],
    ['call +44 20 7946 0958 now', '+44 20 7946 0958'],
    ['(555) 123-4567', '(555) 123-4567'],
    ['tel 555-123-4567.', '555-123-4567'],
    ['office 020 7946 0958', '020 7946 0958'],
    ['5551234567', '5551234567', 'mobile_number'],
  ],
  [['4111111111111111'], ['5551234567'], ['order 12345678'], ['2024-03-05 10:00'], ['+12 34'], ['1.2.3.4.5.6.7']],
);

cases(
  'us_ssn',
  [
    ['123-45-6789', '123-45-6789'],
    ['ssn 078 05 1120 on file', '078 05 1120'],
    ['123456789', '123456789', 'ssn'],
  ],
  [['666-12-3456'], ['000-12-3456'], ['900-12-3456'], ['123-00-4567'], ['123-45-0000'], ['123456789'], ['123-45-67890']],
);

const badPrefix = '9' + '12345678901234';
cases(
  'payment_card',
  [
    ['card 4111 1111 1111 1111 ok', '4111 1111 1111 1111'],
    ['5500-0000-0000-0004', '5500-0000-0000-0004'],
    ['amex 378282246310005', '378282246310005'],
    ['6011111111111117', '6011111111111117'],
    ['jcb 3530111333300000', '3530111333300000'],
    ['diners 30569309025904', '30569309025904'],
    ['mc2 2221000000000009', '2221000000000009'],
  ],
  [['4111 1111 1111 1112'], [badPrefix + luhnCheckDigit(badPrefix)], ['4111 1111 1111'], ['1234 5678 9012 3456'], ['5600000000000004']],
);

cases(
  'iban',
  [
    ['GB82 WEST 1234 5698 7654 32', 'GB82 WEST 1234 5698 7654 32'],
    ['pay to DE89370400440532013000 please', 'DE89370400440532013000'],
  ],
  [['GB83 WEST 1234 5698 7654 32'], ['DE8937040044053201300'], ['XX89370400440532013000']],
);

cases(
  'ipv4',
  [
    ['192.168.1.10', '192.168.1.10'],
    ['from 10.0.0.1.', '10.0.0.1'],
  ],
  [['256.1.1.1'], ['1.2.3'], ['1.2.3.4.5'], ['version 1.2.3.4567']],
);

cases(
  'ipv6',
  [
    ['2001:db8::1', '2001:db8::1'],
    ['peer fe80::1ff:fe23:4567:890a up', 'fe80::1ff:fe23:4567:890a'],
    ['2001:0db8:85a3:0000:0000:8a2e:0370:7334', '2001:0db8:85a3:0000:0000:8a2e:0370:7334'],
  ],
  [['12:30:45'], ['std::vector<int> x'], [':: ::'], ['ab:cd:ef']],
);

cases(
  'date_of_birth',
  [
    ['1980-05-17', '1980-05-17', 'dob'],
    ['born on 3 March 1975 in Leeds', '3 March 1975'],
    ['DOB: 02/29/1980', '02/29/1980'],
    ['1975-12-01', '1975-12-01', 'birthDate'],
  ],
  [['1980-05-17'], ['meeting on 2020-05-17 about birthdays later this year, 1980-05-17'.slice(0, 30)], ['1980-02-30', 'dob'], ['2099-01-01', 'dob'], ['1980-05-17', 'created_at']],
);

cases(
  'uk_nhs',
  [
    ['943 476 5919', '943 476 5919'],
    ['nhs 9434765919', '9434765919'],
  ],
  [['943 476 5918'], ['9434765918']],
);

cases(
  'us_npi',
  [
    ['1234567893', '1234567893'],
    ['provider 1245319599 ok', '1245319599'],
  ],
  [['1234567890'], ['3234567893'], ['12345678931']],
);

const b64 = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
const jwtToken = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: '1234567890', name: 'John' })}.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c`;
const noAlg = `${b64({ foo: 'bar', typ: 'JWT' })}.${b64({ sub: '1' })}.sig`;
cases(
  'jwt',
  [
    [jwtToken, jwtToken],
    [`Authorization: Bearer ${jwtToken}`, jwtToken],
  ],
  [[noAlg], ['eyJhbGciOiJIUzI1NiJ9'], ['eyJ!!!.abc.def something long enough']],
);

// Built from parts so that secret scanners do not flag the test file.
const alnum = (n: number): string => 'aB3dE5gH7jK9mN1pQ2rS4tU6vW8xY0z'.repeat(4).slice(0, n);
const keys = [
  ['sk', 'live', alnum(24)].join('_'),
  ['sk', 'test', alnum(24)].join('_'),
  'ghp' + '_' + alnum(36),
  'github' + '_pat_' + alnum(40),
  'xoxb' + '-123456789012-' + alnum(24),
  'AI' + 'za' + alnum(35),
  'SG' + '.' + alnum(22) + '.' + alnum(43),
  'glpat' + '-' + alnum(20),
  'npm' + '_' + alnum(36),
];
cases(
  'api_key',
  keys.map((k) => [`key=${k}`.replace('=', ' '), k] as [string, string]),
  [['sk' + '_live_short'], ['ghp' + '_tooShort'], ['AI' + 'zaShort and more text here'], ['just_some_identifier_name']],
);

const aws = 'AK' + 'IAIOSFODNN7EXAMPLE';
cases(
  'aws_access_key',
  [
    [aws, aws],
    [`aws_access_key_id = ${aws}`, aws],
  ],
  [[aws.slice(0, -1)], ['AK' + 'IAiosfodnn7example'], ['XK' + 'IAIOSFODNN7EXAMPLE'], [aws + 'X']],
);

describe('quick prefilters', () => {
  // Characters every prefilter counts, plus multi-byte ones (UTF-8 length > UTF-16 length).
  const alphabet = ['a', 'z', 'A', 'Z', '0', '5', '9', '@', ':', '.', '-', '_', '+', ' ', '/', ',', 'é', '€', '😀', '{'];
  let seed = 42;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  const randomText = (): string => {
    let s = '';
    const len = rnd(40);
    // Runs of one class make long token runs and digit runs likely enough to exercise every detector.
    while (s.length < len) s += alphabet[rnd(alphabet.length)]!.repeat(1 + rnd(rnd(2) === 0 ? 3 : 18));
    return s;
  };

  test('anyDetectorMayMatch holds whenever some detector prefilter does (random texts)', () => {
    for (let i = 0; i < 20000; i++) {
      const text = randomText();
      const stats = textStats(text);
      const some = DETECTORS.some((d) => d.applies(stats, 'phone_ssn_dob'));
      if (some) assert.ok(anyDetectorMayMatch(stats), JSON.stringify(text));
    }
  });

  test('the UTF-8 forms agree with each other and never reject what the text form accepts', () => {
    for (let i = 0; i < 20000; i++) {
      const text = randomText();
      const bytes = Buffer.from(`é${text}é`, 'utf8');
      const utf8 = anyDetectorMayMatch(textStatsUtf8(bytes, 2, bytes.length - 2));
      assert.equal(anyDetectorMayMatchUtf8(bytes, 2, bytes.length - 2), utf8, JSON.stringify(text));
      if (anyDetectorMayMatch(textStats(text))) assert.ok(utf8, JSON.stringify(text));
    }
  });

  test('prose and short words are rejected without running a detector', () => {
    const prose = 'Customer prefers delivery in the morning; reviewed after the March migration. No open tickets.';
    assert.equal(anyDetectorMayMatch(textStats(prose)), false);
    const bytes = Buffer.from(prose);
    assert.equal(anyDetectorMayMatchUtf8(bytes, 0, bytes.length), false);
  });
});
