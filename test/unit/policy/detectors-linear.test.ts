/**
 * Issue #15 item 6: every value detector runs in time linear in the value. Each detector's `find`, and the whole
 * set through a compiled policy's `findEntities`, is timed on each adversarial input of
 * test/fixtures/detectors/adversarial.ts (built against regex backtracking and rescanning) at 256 KB and at 1 MB:
 * four times the text may cost at most about four times as much (6x, plus slack for a collection), where a
 * quadratic detector costs 16x. A super-linear detector is caught on a 16 KB prefix first, so that it fails in a
 * second instead of stalling the suite (the old `email` regex took 16 s on 100 KB). Times are CPU time of this
 * process, not wall time: the suite shares two cores with the servers and the other test files, and a wall clock
 * there measures the neighbours. The absolute speed (worst 1 MB input per detector, goal 50 ms) is measured by
 * bench/engine/detectors-worst.bench.ts; here a ceiling of 250 ms per 1 MB only catches a gross regression.
 *
 * The rewrite must not change what is detected: the second half checks every detector against the regexes and
 * checks it replaced (REFERENCE below, frozen), on mutated real samples and random texts.
 */
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { isIPv6 } from 'node:net';
import { YamlSource } from '../../../src/config/yaml-source.js';
import { compilePolicySources, DETECTORS, type PolicyImpl } from '../../../src/policy/index.js';
import { textStats, type TextStats } from '../../../src/policy/detectors/index.js';
import { jsonHasStringAlg } from '../../../src/policy/detectors/json-header.js';
import { IBAN_LENGTHS, luhnValid, mod97, nhsValid, npiValid } from '../../../src/policy/detectors/checksums.js';
import { ADVERSARIAL_SIZE, TARGETED, allAttacks, attacksFor, type Attack } from '../../fixtures/detectors/adversarial.js';

/** A gross-regression ceiling for a 1 MB value (CPU time; the speed goal itself is the bench's). */
const BOUND_MS = 250;
/** The speed goal for a 1 MB value: an input within it needs no growth check. */
const GOAL_MS = 50;
/** The size of the first, quick probe: a quadratic detector already takes more than the whole bound there. */
const PROBE_SIZE = 16 * 1024;
/** The smaller of the two sizes whose times are compared (a quarter of ADVERSARIAL_SIZE). */
const QUARTER = 256 * 1024;
/**
 * Values that hold more entities than this are timed through `findEntities` in their own test below: building a
 * Finding per entity (tens of thousands in a megabyte) is work per entity, not per byte, so those are checked for
 * linear growth rather than against the per-byte bound.
 */
const DENSE = 2000;

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** CPU milliseconds (user + system) of `f`. */
function cpuMs(f: () => void): number {
  const c0 = process.cpuUsage();
  f();
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000;
}

/** Best CPU time of three runs of `f` after a warm call, with a short pause between (a collection may fall in one). */
async function bestMs(f: () => void): Promise<number> {
  f();
  let best = Infinity;
  for (let r = 0; r < 3; r++) {
    if (r > 0) await pause(10);
    best = Math.min(best, cpuMs(f));
  }
  return best;
}

interface Timing {
  attack: Attack;
  /** CPU ms at 1 MB (or of the probe, when `probe`). */
  ms: number;
  /** CPU ms at 256 KB. */
  quarterMs: number;
  /** The 16 KB probe alone exceeded the bound: the larger runs were skipped. */
  probe: boolean;
}

/**
 * The CPU time of `classify` on `attack` at 1 MB; when that exceeds the speed goal (GOAL_MS), also at 256 KB (best of
 * three each) to tell a slow but linear input from a super-linear one. The probe's time alone (flagged) when it
 * exceeds the bound. Most inputs take one timed call at 1 MB, so the suite stays quick.
 */
async function measure(attack: Attack, classify: (text: string, hint: string | undefined) => void): Promise<Timing> {
  const small = attack.make(PROBE_SIZE);
  const probeMs = cpuMs(() => classify(small, attack.hint));
  if (probeMs > BOUND_MS) return { attack, ms: probeMs, quarterMs: probeMs, probe: true };
  const text = attack.make(ADVERSARIAL_SIZE);
  assert.equal(text.length, ADVERSARIAL_SIZE, attack.name);
  // No warm call first: the detector is warm from the probe and from the inputs before; a cold run over the goal
  // is timed again below anyway.
  const once = cpuMs(() => classify(text, attack.hint));
  // Within the goal at 1 MB: linear enough whatever the smaller size took.
  if (once <= GOAL_MS) return { attack, ms: once, quarterMs: once, probe: false };
  const quarter = attack.make(QUARTER);
  const quarterMs = await bestMs(() => classify(quarter, attack.hint));
  return { attack, ms: Math.min(once, await bestMs(() => classify(text, attack.hint))), quarterMs, probe: false };
}

/** At most about linear growth from 256 KB to 1 MB (6x and 20 ms of slack; quadratic is 16x). */
function superLinear(x: Timing): boolean {
  return x.ms > 6 * Math.max(x.quarterMs, 1) + 20;
}

/** Fails with every timing that grew faster than linearly or exceeds the ceiling; reports the slowest one either way. */
function report(t: TestContext, timings: Timing[], what: string, bound = BOUND_MS): void {
  assert.ok(timings.length > 0, what);
  const worst = timings.reduce((a, b) => (b.ms > a.ms ? b : a));
  t.diagnostic(`${what}: slowest ${worst.ms.toFixed(1)} ms CPU per 1 MB on ${worst.attack.name} (${timings.length} inputs)`);
  const slow = timings
    .filter((x) => x.probe || x.ms > bound || superLinear(x))
    .map((x) => `${x.attack.name}: ${x.probe ? `${x.ms.toFixed(1)} ms already on 16 KB` : `256 KB ${x.quarterMs.toFixed(1)} ms, 1 MB ${x.ms.toFixed(1)} ms`}`);
  assert.deepEqual(slow, [], `${what}: super-linear or over ${bound} ms CPU per 1 MB:\n  ${slow.join('\n  ')}`);
}

/** The whole set at once runs every detector over the same megabyte, plus the overlap resolution. */
const ALL_DETECTORS_BOUND_MS = 2 * BOUND_MS;

/** A policy with one classifier per registered detector, so `findEntities` runs the whole set. */
function everyDetectorPolicy(): PolicyImpl {
  const lines = ['classifiers:'];
  for (const d of DETECTORS) lines.push(`  - label: linear.${d.name.replace(/_/g, '')}`, `    values: ${d.name}`);
  return compilePolicySources([YamlSource.parse(lines.join('\n') + '\n', 'policies/linear.yaml')]);
}

/** Entities the detectors find in `attack` at 1 MB (each detector on its own, as the engine calls them). */
function rawHits(attack: Attack): number {
  const text = attack.make(ADVERSARIAL_SIZE);
  const stats = textStats(text);
  let hits = 0;
  const out: number[] = [];
  for (const d of DETECTORS) {
    if (!d.applies(stats, attack.hint)) continue;
    out.length = 0;
    d.find(text, out, attack.hint);
    hits += out.length / 2;
  }
  return hits;
}

describe('every detector is linear in the value (256 KB vs 1 MB adversarial inputs)', () => {
  test('every registered detector has targeted attacks', () => {
    for (const d of DETECTORS) assert.ok((TARGETED[d.name]?.length ?? 0) > 0, `no attacks for ${d.name} in test/fixtures/detectors/adversarial.ts`);
  });

  for (const d of DETECTORS) {
    test(`${d.name}: find`, async (t) => {
      const out: number[] = [];
      const timings: Timing[] = [];
      for (const attack of attacksFor(d.name)) {
        timings.push(
          await measure(attack, (text, hint) => {
            out.length = 0;
            d.find(text, out, hint);
          }),
        );
      }
      report(t, timings, d.name);
    });
  }

  const policy = everyDetectorPolicy();
  const dense: Attack[] = [];
  test('findEntities, every detector of the registry at once', async (t) => {
    const timings: Timing[] = [];
    for (const attack of allAttacks()) {
      if (rawHits(attack) > DENSE) dense.push(attack);
      else timings.push(await measure(attack, (text, hint) => policy.findEntities(text, hint)));
    }
    report(t, timings, 'findEntities', ALL_DETECTORS_BOUND_MS);
  });

  test(
    'findEntities on values packed with real entities',
    async () => {
      const slow: string[] = [];
      for (const attack of dense) {
        // Time 256 KB and 1 MB: four times the text may cost at most about twice four times as much (8x and 40 ms of
        // slack: four times the entities are four times the Findings, and a major collection, whose helper threads'
        // CPU counts here, lands in the larger run); quadratic would be 16x.
        const small = attack.make(256 * 1024);
        const large = attack.make(ADVERSARIAL_SIZE);
        const a = await bestMs(() => policy.findEntities(small, attack.hint));
        const b = await bestMs(() => policy.findEntities(large, attack.hint));
        if (b > 8 * Math.max(a, 1) + 40) slow.push(`${attack.name}: 256 KB ${a.toFixed(1)} ms, 1 MB ${b.toFixed(1)} ms`);
      }
      assert.deepEqual(slow, [], `super-linear in the number of entities:\n  ${slow.join('\n  ')}`);
    },
  );
});

// ---------------------------------------------------------------------------------------------------------
// Same entities as before: the detectors as they were before the rewrite, frozen here as the reference.

type Find = (text: string, out: number[], hint: string | undefined) => void;

function refFindAll(re: RegExp, text: string, out: number[], validate: (m: string) => boolean): void {
  re.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    if (m[0].length === 0) {
      re.lastIndex++;
      continue;
    }
    if (validate(m[0])) out.push(m.index, m.index + m[0].length);
  }
}

const any = (): boolean => true;
const digitsOf = (s: string): string => s.replace(/\D/g, '');

function refCardNetwork(digits: string): string | null {
  const n = digits.length;
  const p2 = Number(digits.slice(0, 2));
  const p3 = Number(digits.slice(0, 3));
  const p4 = Number(digits.slice(0, 4));
  const p6 = Number(digits.slice(0, 6));
  if (digits[0] === '4') return n === 13 || n === 16 || n === 19 ? 'visa' : null;
  if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return n === 16 ? 'mastercard' : null;
  if (p2 === 34 || p2 === 37) return n === 15 ? 'amex' : null;
  if (p4 === 6011 || (p3 >= 644 && p3 <= 649) || p2 === 65 || (p6 >= 622126 && p6 <= 622925)) return n >= 16 && n <= 19 ? 'discover' : null;
  if (p4 >= 3528 && p4 <= 3589) return n >= 16 && n <= 19 ? 'jcb' : null;
  if ((p3 >= 300 && p3 <= 305) || p2 === 36 || p2 === 38 || p2 === 39) return n >= 14 && n <= 19 ? 'diners' : null;
  if (p2 === 62) return n >= 16 && n <= 19 ? 'unionpay' : null;
  return null;
}

function refIbanValid(compact: string): boolean {
  const len = IBAN_LENGTHS[compact.slice(0, 2)];
  if (len === undefined || compact.length !== len) return false;
  return mod97(compact.slice(4) + compact.slice(0, 4)) === 1;
}

const MONTH_INDEX: Record<string, number> = { jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12 };

function refValidDate(y: number, m: number, d: number): boolean {
  if (m < 1 || m > 12 || d < 1 || d > 31) return false;
  const dt = new Date(Date.UTC(y, m - 1, d));
  return dt.getUTCMonth() === m - 1 && dt.getTime() <= Date.now();
}

function refPlausibleBirthDate(s: string): boolean {
  const iso = /^(\d{4})-(\d{1,2})-(\d{1,2})$/.exec(s);
  if (iso) return refValidDate(Number(iso[1]), Number(iso[2]), Number(iso[3]));
  const num = /^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})$/.exec(s);
  if (num) return refValidDate(Number(num[3]), Number(num[2]), Number(num[1])) || refValidDate(Number(num[3]), Number(num[1]), Number(num[2]));
  const words = s.toLowerCase().match(/[a-z]+|\d+/g) ?? [];
  let month = 0;
  const nums: number[] = [];
  for (const w of words) {
    if (/^\d/.test(w)) nums.push(Number(w));
    else month = MONTH_INDEX[w.slice(0, 3)] ?? 0;
  }
  if (nums.length !== 2) return false;
  const [x, y] = nums as [number, number];
  return x > 31 ? refValidDate(x, month, y) : refValidDate(y, month, x);
}

function refJwtOk(m: string): boolean {
  try {
    const json = JSON.parse(Buffer.from(m.slice(0, m.indexOf('.')), 'base64url').toString('utf8')) as unknown;
    return typeof json === 'object' && json !== null && typeof (json as { alg?: unknown }).alg === 'string';
  } catch {
    return false;
  }
}

const REF_MONTHS = 'jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?';
const REF_DATE = new RegExp(
  `(?<![\\w/.-])(?:(?:19|20)\\d{2}-\\d{1,2}-\\d{1,2}|\\d{1,2}[/.-]\\d{1,2}[/.-](?:19|20)\\d{2}|\\d{1,2} (?:${REF_MONTHS})\\.? (?:19|20)\\d{2}|(?:${REF_MONTHS})\\.? \\d{1,2},? (?:19|20)\\d{2})(?![\\w/]|[.-]\\d)`,
  'gi',
);
const REF_CONTEXT = /dob|d\.o\.b|birth|born/i;
const REF_OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const REF_API_KEY = new RegExp(
  '(?<![\\w-])(?:' +
    [
      '(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{16,}', 'gh[pousr]_[A-Za-z0-9]{36,}', 'github_pat_[A-Za-z0-9_]{22,}', 'xox[abprs]-[A-Za-z0-9-]{10,}',
      'xapp-[A-Za-z0-9-]{10,}', 'AIza[0-9A-Za-z_-]{35}', 'SG\\.[\\w-]{16,}\\.[\\w-]{16,}', 'glpat-[\\w-]{20,}', 'npm_[A-Za-z0-9]{36}',
      'sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}', 'hf_[A-Za-z0-9]{30,}', 'shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}', 'dop_v1_[a-f0-9]{64}', 'pypi-[\\w-]{50,}',
    ].join('|') +
    ')(?![\\w-])',
  'g',
);

/** Each detector's `find` before the rewrite: its regexes and checks, unchanged. */
const REFERENCE: Record<string, Find> = {
  email: (t, o) => refFindAll(/[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}\b/g, t, o, any),
  phone: (t, o, hint) => {
    if (t.indexOf('+') >= 0) {
      refFindAll(/(?<![\w+])\+[1-9]\d{0,3}(?:[ .-]?\(\d{1,4}\))?(?:[ .-]?\d{1,5}){1,5}(?!\w)/g, t, o, (m) => digitsOf(m).length >= 8 && digitsOf(m).length <= 15);
    }
    refFindAll(
      /(?<![\w+.-])(?:\(\d{2,5}\)[ .-]?\d{3,4}[ .-]?\d{3,4}|\d{3}[.-]\d{3}[.-]\d{4}|0\d{2,4}[ -]\d{3,4}[ -]?\d{3,4}|\d{3} \d{3} \d{4})(?![\w]|[.-]\d)/g,
      t, o, (m) => digitsOf(m).length >= 9 && digitsOf(m).length <= 12,
    );
    if (hint !== undefined && /phone|mobile|cell|tel|fax/i.test(hint)) refFindAll(/(?<![\w+])\d{10,15}(?!\w)/g, t, o, any);
  },
  us_ssn: (t, o, hint) => {
    const ok = (d: string): boolean => {
      const area = Number(d.slice(0, 3));
      return area !== 0 && area !== 666 && area < 900 && Number(d.slice(3, 5)) !== 0 && Number(d.slice(5)) !== 0;
    };
    refFindAll(/(?<![\w-])\d{3}([- ])\d{2}\1\d{4}(?![\w]|-\d)/g, t, o, (m) => ok(m.slice(0, 3) + m.slice(4, 6) + m.slice(7)));
    if (hint !== undefined && /ssn|social/i.test(hint)) refFindAll(/(?<!\w)\d{9}(?!\w)/g, t, o, ok);
  },
  payment_card: (t, o) =>
    refFindAll(/(?<![\w-])\d(?:[ -]?\d){11,18}(?![\w]|-\d)/g, t, o, (m) => {
      const d = digitsOf(m);
      return d.length >= 12 && d.length <= 19 && refCardNetwork(d) !== null && luhnValid(d);
    }),
  iban: (t, o) => refFindAll(/(?<![\w])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?!\w)/g, t, o, (m) => refIbanValid(m.replace(/ /g, ''))),
  ipv4: (t, o) => refFindAll(new RegExp(`(?<![\\w.])${REF_OCTET}(?:\\.${REF_OCTET}){3}(?!\\w|\\.\\d)`, 'g'), t, o, any),
  ipv6: (t, o) =>
    refFindAll(/(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?(?![\w:])/g, t, o, (m) => {
      if (!isIPv6(m)) return false;
      return m.split(':').filter((p) => p.length > 0).length >= 2;
    }),
  date_of_birth: (t, o, hint) => {
    const byName = hint !== undefined && REF_CONTEXT.test(hint);
    if (!byName && !REF_CONTEXT.test(t)) return;
    if (byName) return refFindAll(REF_DATE, t, o, refPlausibleBirthDate);
    const found: number[] = [];
    refFindAll(REF_DATE, t, found, refPlausibleBirthDate);
    for (let i = 0; i < found.length; i += 2) {
      const start = found[i]!;
      if (REF_CONTEXT.test(t.slice(Math.max(0, start - 32), start))) o.push(start, found[i + 1]!);
    }
  },
  uk_nhs: (t, o) => refFindAll(/(?<![\w+(-])\d{3}([ -]?)\d{3}\1\d{4}(?![\w]|-\d)/g, t, o, (m) => nhsValid(digitsOf(m))),
  us_npi: (t, o) => refFindAll(/(?<![\w+-])[12]\d{9}(?!\w|-\d)/g, t, o, npiValid),
  jwt: (t, o) => {
    if (t.indexOf('eyJ') >= 0) refFindAll(/(?<![\w-])eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*(?![\w-])/g, t, o, refJwtOk);
  },
  api_key: (t, o) => refFindAll(REF_API_KEY, t, o, any),
  aws_access_key: (t, o) => {
    if (t.indexOf('AKIA') >= 0 || t.indexOf('ASIA') >= 0) refFindAll(/(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])/g, t, o, any);
  },
};

const b64 = (s: string): string => Buffer.from(s).toString('base64url');
const jwtWith = (header: string): string => `${b64(header)}.${b64('{"sub":"1"}')}.sig_-x`;

/** Real values (and famous near-misses) per detector: the differential test mutates and combines them. */
const SEEDS: Record<string, string[]> = {
  email: [
    'alice@example.com', 'bob.smith+tag@mail.co.uk', 'a@b.co', 'x@y-z.io', "o'neil@ex.museum", 'a.b.c@d-e.f-g.hij', 'u@x.co-y.1',
    `q@${'b'.repeat(63)}.co`, `q@${'b'.repeat(64)}.co`, `z@a.${'c'.repeat(24)}`, `z@a.${'c'.repeat(25)}`, 'a..b@c.de', '.a@b.cd', 'a.@b.cd',
  ],
  phone: [
    '+14155552671', '+44 20 7946 0958', '(555) 123-4567', '555-123-4567', '020 7946 0958', '5551234567', '+1 (415) 555-2671', '+44.20.7946.0958',
    '555.123.4567', '555 123 4567', '0123-456-7890', '(01234) 567 890', '+1(12)345678901', '+1234 56789 12345 6', '+9 12345 12345 12345 12345 12345',
    '+1 22-22-22-22-22', '+1 123456 1234567 12', '+12 1234567890 12345', '+1-(1234)-5678901',
  ],
  us_ssn: ['123-45-6789', '078 05 1120', '123456789', '666-12-3456', '900-12-3456', '123-00-4567', '123 45 0000'],
  payment_card: [
    '4111 1111 1111 1111', '5500-0000-0000-0004', '378282246310005', '6011111111111117', '3530111333300000', '30569309025904', '2221000000000009',
    '4111111111111', '4111 1111 1111 1111 1111', '6221261234567890123', '4111-1111-1111-1111-1',
  ],
  iban: [
    'GB82 WEST 1234 5698 7654 32', 'DE89370400440532013000', 'NO9386011117947', 'FR1420041010050500013M02606', 'MT84MALT011000012345MTLCAST001S',
    'GB82WEST12345698765432', 'DE89 3704 0044 0532 0130 00', 'XX89370400440532013000',
  ],
  ipv4: ['192.168.1.10', '10.0.0.1', '255.255.255.255', '1.2.3.4', '0.0.0.0', '199.99.9.100', '256.1.1.1', '1.2.3.4.5'],
  ipv6: [
    '2001:db8::1', 'fe80::1ff:fe23:4567:890a', '2001:0db8:85a3:0000:0000:8a2e:0370:7334', '::ffff:1.2.3.4', '1::', '::1:2', 'a:b:c:d:e:f:1:2',
    '1:2:3:4:5:6:7::', '::2:3:4:5:6:7:8', '1:2::', '1:2:3:4:5:6:7:8:9', ':::1:2',
  ],
  date_of_birth: [
    '1980-05-17', '3 March 1975', '02/29/1980', 'Sept. 1, 1980', 'born 1975-12-01', 'DOB: 01.02.1990', 'd.o.b 1 jan 2001', 'birth 12-11-2000',
    'May 5 1990', 'born 29 Feb 2000', 'born 29 Feb 1900', 'dob 31/12/2099', 'born june 3, 1999', 'BIRTH 1 SEPTEMBER 1950', '1980-02-30',
  ],
  uk_nhs: ['943 476 5919', '9434765919', '943-476-5919', '401 023 2137', '943 476 5918'],
  us_npi: ['1234567893', '1245319599', '2234567891', '1234567890'],
  jwt: [
    jwtWith('{"alg":"HS256","typ":"JWT"}'), jwtWith('{"alg":1}'), jwtWith('{"al\\u0067":"x"}'), jwtWith('{"alg":"x","alg":2}'),
    jwtWith('{"alg":2,"alg":"x"}'), jwtWith('{"a":[1,{"alg":"x"}],"alg":"y"}'), jwtWith(' {"alg":"x"} '), jwtWith('{"alg":"x"}x'),
    jwtWith('{"alg""x"}'), jwtWith('{"alg":"x\u00e9"}'), jwtWith('{"alg":"\\ud800"}'), jwtWith('{"alg":"x","n":-1.5e+3,"t":[true,false,null]}'),
  ],
  api_key: [
    'sk_live_aB3dE5gH7jK9mN1pQ2rS4tU6', `ghp_${'aB3dE5gH7j'.repeat(4)}`, 'xoxb-123456789012-aB3dE5gH7j', `AIza${'aB3dE5gH7j'.repeat(4).slice(0, 35)}`,
    `SG.${'a'.repeat(22)}.${'b'.repeat(43)}`, `glpat-${'a'.repeat(20)}`, `sk-proj-${'a'.repeat(20)}`,
  ],
  aws_access_key: ['AKIAIOSFODNN7EXAMPLE', 'ASIAIOSFODNN7EXAMPL3', 'AKIAIOSFODNN7EXAMPL'],
};

const SEPARATORS = [' ', '', '-', '.', ',', '/', '(', ')', '+', '_', 'x', ':', '@', ' born ', ' dob ', '\n', 'é'];
const MUTATIONS = '0123456789 -./:@+()_,aAbBeEzZé';
const HINTS = [undefined, 'phone', 'ssn', 'dob', 'birth_date', 'notes'];

function rng(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return (s >>> 8) % n;
  };
}

/** Up to three random edits: delete, insert, replace, duplicate a slice, upper-case a character. */
function mutate(s: string, r: (n: number) => number): string {
  for (let k = r(4); k > 0; k--) {
    const p = r(s.length + 1);
    switch (r(5)) {
      case 0: s = s.slice(0, p) + s.slice(p + 1); break;
      case 1: s = s.slice(0, p) + MUTATIONS[r(MUTATIONS.length)]! + s.slice(p); break;
      case 2: s = s.slice(0, p) + MUTATIONS[r(MUTATIONS.length)]! + s.slice(p + 1); break;
      case 3: {
        const q = r(s.length + 1);
        s = s.slice(0, p) + s.slice(Math.min(p, q), Math.max(p, q)) + s.slice(p);
        break;
      }
      default: s = s.slice(0, p) + (s[p] ?? '').toUpperCase() + s.slice(p + 1);
    }
  }
  return s;
}

/**
 * Detectors whose definition issue #19 changed on purpose (issuer tables, libphonenumber, TLD list, gitleaks'
 * rules, context scoring): what they find is specified by the labelled corpus now
 * (test/unit/policy/detectors-corpus.test.ts), no longer by the issue #15 regexes. The others must still find
 * exactly what those found.
 */
const REDEFINED_IN_19 = new Set(['api_key', 'aws_access_key', 'email', 'iban', 'payment_card', 'us_ssn', 'uk_nhs', 'ipv4', 'ipv6', 'date_of_birth', 'phone']);
const UNCHANGED = DETECTORS.filter((d) => !REDEFINED_IN_19.has(d.name));

describe('the rewritten detectors find exactly what the regexes they replaced found', () => {
  test('every detector has a reference', () => {
    for (const d of DETECTORS) assert.ok(REFERENCE[d.name] && SEEDS[d.name], d.name);
  });

  for (const d of UNCHANGED) {
    test(`${d.name}: same spans as before on 20 000 mutated samples`, () => {
      const ref = REFERENCE[d.name]!;
      const seeds = SEEDS[d.name]!;
      const r = rng(d.name.length * 7919 + 1);
      let found = 0;
      for (let i = 0; i < 20000; i++) {
        let text = '';
        for (let p = 1 + r(3); p > 0; p--) text += SEPARATORS[r(SEPARATORS.length)]! + mutate(seeds[r(seeds.length)]!, r);
        text += SEPARATORS[r(SEPARATORS.length)]!;
        const hint = HINTS[r(HINTS.length)];
        const want: number[] = [];
        const got: number[] = [];
        ref(text, want, hint);
        d.find(text, got, hint);
        assert.deepEqual(got, want, `${d.name} in ${JSON.stringify(text)} (hint ${String(hint)})`);
        if (want.length > 0) found++;
      }
      assert.ok(found > 2000, `${d.name}: the samples should contain entities (${found})`);
    });
  }

  test('same spans as before on random texts of the detectors\' alphabets', () => {
    const alphabet = [...'0123456789 -./:@+()_,aAbBeEfFJyzZé'];
    const r = rng(99);
    for (let i = 0; i < 20000; i++) {
      let text = '';
      for (let k = r(48); k > 0; k--) text += alphabet[r(alphabet.length)]!.repeat(1 + r(r(2) === 0 ? 2 : 12));
      const hint = HINTS[r(HINTS.length)];
      for (const d of UNCHANGED) {
        const want: number[] = [];
        const got: number[] = [];
        REFERENCE[d.name]!(text, want, hint);
        d.find(text, got, hint);
        assert.deepEqual(got, want, `${d.name} in ${JSON.stringify(text)} (hint ${String(hint)})`);
      }
    }
  });

  test('textStats counts a long text (table-driven) exactly as the per-character loop counts it', () => {
    const reference = (text: string): TextStats => {
      const s: TextStats = { length: text.length, digits: 0, upper: 0, at: 0, dots: 0, colons: 0, joiners: 0, plus: 0, tokenRun: 0 };
      let run = 0;
      for (const ch of text.split('')) {
        const c = ch.charCodeAt(0);
        const token = /[A-Za-z0-9_.-]/.test(ch);
        if (/[0-9]/.test(ch)) s.digits++;
        if (/[A-Z]/.test(ch)) s.upper++;
        if (c === 64) s.at++;
        if (c === 46) s.dots++;
        if (c === 58) s.colons++;
        if (c === 95 || c === 45) s.joiners++;
        if (c === 43) s.plus++;
        run = token ? run + 1 : 0;
        s.tokenRun = Math.max(s.tokenRun, run);
      }
      return s;
    };
    const alphabet = [...'aZ09@:._-+ /,{é€', '\ud83d\ude00'];
    const r = rng(3);
    for (let i = 0; i < 300; i++) {
      let text = '';
      const len = r(3) === 0 ? 200 + r(100) : 256 + r(4000);
      while (text.length < len) text += alphabet[r(alphabet.length)]!.repeat(1 + r(r(2) === 0 ? 3 : 40));
      assert.deepEqual(textStats(text), reference(text), JSON.stringify(text.slice(0, 80)));
    }
  });

  test('jwt header check agrees with Buffer and JSON.parse', () => {
    const fragments = ['{', '}', '[', ']', '"', '"alg"', '"al\\u0067"', ':', ',', ' ', '\t', '1', '-', '0', '.5', 'e+3', 'true', 'fals', 'null', '"x"', '\\', '\\"', '\\n', '\\u00e9', 'é', '\u0001', '\ud83d\ude00'];
    const r = rng(7);
    const check = (bytes: Buffer): void => {
      let want: boolean;
      try {
        const json = JSON.parse(bytes.toString('utf8')) as unknown;
        want = typeof json === 'object' && json !== null && typeof (json as { alg?: unknown }).alg === 'string';
      } catch {
        want = false;
      }
      assert.equal(jsonHasStringAlg(bytes, bytes.length), want, JSON.stringify(bytes.toString('latin1')));
    };
    for (let i = 0; i < 50000; i++) {
      let s = '{';
      for (let k = r(12); k > 0; k--) s += fragments[r(fragments.length)]!;
      if (r(2) === 0) s += '}';
      check(Buffer.from(s, 'utf8'));
      // Raw bytes, invalid UTF-8 included (Buffer decodes those to U+FFFD).
      const raw = Buffer.from(s, 'latin1');
      if (r(3) === 0) raw[r(raw.length)] = 0x80 + r(128);
      check(raw);
    }
    // Deep nesting: no recursion, no limit.
    check(Buffer.from(`{"alg":"x","d":${'['.repeat(100000)}${']'.repeat(100000)}}`));
  });
});
