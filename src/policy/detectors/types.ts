/** The value-detector contract: a cheap prefilter on character statistics, then a finder that returns spans. */

/** Character statistics of a text, computed in one pass and shared by every detector's prefilter. */
export interface TextStats {
  length: number;
  digits: number;
  upper: number;
  at: number;
  dots: number;
  colons: number;
  /** '_' or '-' present. */
  joiners: number;
  plus: number;
  /**
   * Longest run of ASCII token characters `[A-Za-z0-9_.-]`: every credential format (JWT, vendor API key, AWS
   * key id) is one such run of at least 15 characters, so prose made of short words rules them all out.
   */
  tokenRun: number;
}

/** A built-in value detector. */
export interface Detector {
  /** Name used in policy files (`values: payment_card`). */
  readonly name: string;
  /** Short human description for `dgf policy explain` and docs. */
  readonly description: string;
  /** Cheap test on the text's statistics; false means the detector cannot match, so `find` is skipped. */
  applies(stats: TextStats, hint: string | undefined): boolean;
  /**
   * Score (0..1) a candidate must reach to be reported, unless a policy sets another (`threshold:` on the
   * classifier). Detectors that score their candidates by context (`us_ssn`, `phone`, `payment_card`,
   * `date_of_birth`, see context.ts) compare each score with it; the others report validated entities only, which
   * score 1. Default: DEFAULT_THRESHOLD.
   */
  readonly threshold?: number;
  /**
   * Push the [start, end) offsets of every entity found inside `text` onto `out` (flat pairs, for speed).
   * `hint` is the field name the value came from, when known (context for the scoring detectors);
   * `threshold` the score to reach (the detector's own when absent).
   */
  find(text: string, out: number[], hint: string | undefined, threshold?: number): void;
}

/** Score a finding must reach when neither the detector nor the policy sets another. */
export const DEFAULT_THRESHOLD = 0.5;

/**
 * One pass over `text`; the prefilters of every detector read these counts. With `into`, the counts are written
 * into that object (the hot path reuses one object instead of allocating per value).
 */
export function textStats(text: string, into?: TextStats): TextStats {
  if (text.length >= LONG_TEXT) return textStatsLong(text, into);
  // Kept in step with textStatsUtf8 (same counting; locals, not object fields, in the per-character loop).
  let digits = 0;
  let upper = 0;
  let at = 0;
  let dots = 0;
  let colons = 0;
  let joiners = 0;
  let plus = 0;
  let run = 0;
  let tokenRun = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c >= 97 && c <= 122) {
      run++; // lower-case letters: the common case
      continue;
    }
    if (c >= 48 && c <= 57) {
      digits++;
      run++;
    } else if (c >= 65 && c <= 90) {
      upper++;
      run++;
    } else if (c === 46) {
      dots++;
      run++;
    } else if (c === 95 || c === 45) {
      joiners++;
      run++;
    } else {
      if (run > tokenRun) tokenRun = run;
      run = 0;
      if (c === 64) at++;
      else if (c === 58) colons++;
      else if (c === 43) plus++;
    }
  }
  if (run > tokenRun) tokenRun = run;
  return store(into, n, digits, upper, at, dots, colons, joiners, plus, tokenRun);
}

/** From this length on, textStats counts through a table: the branches of its loop cost more on long, mixed text. */
const LONG_TEXT = 256;

/** Character classes for textStatsLong, by char code below 128 (others: 0). Bit 1: token character. */
const TOKEN = 1;
const DIGIT = TOKEN | 2;
const UPPER = TOKEN | 4;
const DOT = TOKEN | 8;
const JOINER = TOKEN | 16;
const AT = 32;
const COLON = 64;
const PLUS = 128;
const CLASS = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  if (c >= 97 && c <= 122) CLASS[c] = TOKEN;
  else if (c >= 48 && c <= 57) CLASS[c] = DIGIT;
  else if (c >= 65 && c <= 90) CLASS[c] = UPPER;
  else if (c === 46) CLASS[c] = DOT;
  else if (c === 95 || c === 45) CLASS[c] = JOINER;
  else if (c === 64) CLASS[c] = AT;
  else if (c === 58) CLASS[c] = COLON;
  else if (c === 43) CLASS[c] = PLUS;
}
const CLASSES = [0, TOKEN, DIGIT, UPPER, DOT, JOINER, AT, COLON, PLUS];
/** Characters counted by class, reused (only CLASSES' entries are ever written). */
const classCounts = new Int32Array(256);

/**
 * textStats for a long text (the same counts): one table lookup and one counter per character, and a branch
 * only at the end of a token run. The branchy loop mispredicts on mixed text; this one is 40% faster there
 * (10 -> 6 ms a megabyte of random printable ASCII), which the detectors' 1 MB bound (issue #15) needs.
 */
function textStatsLong(text: string, into: TextStats | undefined): TextStats {
  const counts = classCounts;
  for (const k of CLASSES) counts[k] = 0;
  const n = text.length;
  let tokenRun = 0;
  let last = -1; // position of the last non-token character
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    const k = c < 128 ? CLASS[c]! : 0;
    counts[k]++;
    if ((k & TOKEN) === 0) {
      if (i - last - 1 > tokenRun) tokenRun = i - last - 1;
      last = i;
    }
  }
  if (n - last - 1 > tokenRun) tokenRun = n - last - 1;
  return store(into, n, counts[DIGIT]!, counts[UPPER]!, counts[AT]!, counts[DOT]!, counts[COLON]!, counts[JOINER]!, counts[PLUS]!, tokenRun);
}

/**
 * The same statistics over UTF-8 bytes `bytes[start, end)`, before any string is decoded (a wire protocol can
 * skip decoding values no detector can match). Multi-byte sequences are all >= 0x80 and count as nothing, like
 * the non-ASCII characters they decode to. `length` is the byte length, never less than the decoded string's,
 * so every `length >= n` prefilter stays a necessary condition. A twin of textStats, not one loop over a
 * character accessor: this runs on every value of a masked result, and a per-character call costs it half its speed.
 */
export function textStatsUtf8(bytes: Uint8Array, start: number, end: number, into?: TextStats): TextStats {
  let digits = 0;
  let upper = 0;
  let at = 0;
  let dots = 0;
  let colons = 0;
  let joiners = 0;
  let plus = 0;
  let run = 0;
  let tokenRun = 0;
  for (let i = start; i < end; i++) {
    const c = bytes[i]!;
    if (c >= 97 && c <= 122) {
      run++;
      continue;
    }
    if (c >= 48 && c <= 57) {
      digits++;
      run++;
    } else if (c >= 65 && c <= 90) {
      upper++;
      run++;
    } else if (c === 46) {
      dots++;
      run++;
    } else if (c === 95 || c === 45) {
      joiners++;
      run++;
    } else {
      if (run > tokenRun) tokenRun = run;
      run = 0;
      if (c === 64) at++;
      else if (c === 58) colons++;
      else if (c === 43) plus++;
    }
  }
  if (run > tokenRun) tokenRun = run;
  return store(into, end - start, digits, upper, at, dots, colons, joiners, plus, tokenRun);
}

function store(
  into: TextStats | undefined,
  length: number,
  digits: number,
  upper: number,
  at: number,
  dots: number,
  colons: number,
  joiners: number,
  plus: number,
  tokenRun: number,
): TextStats {
  if (into === undefined) return { length, digits, upper, at, dots, colons, joiners, plus, tokenRun };
  into.length = length;
  into.digits = digits;
  into.upper = upper;
  into.at = at;
  into.dots = dots;
  into.colons = colons;
  into.joiners = joiners;
  into.plus = plus;
  into.tokenRun = tokenRun;
  return into;
}

/** A validator that accepts every match (shared: a closure per call would allocate on the hot path). */
export function anyMatch(): boolean {
  return true;
}

/**
 * Run a global regex over `text`, pushing every match whose `validate` accepts it. Linear when the regex is:
 * every built-in detector's regex is written so that one attempt reads a bounded stretch of text, or a stretch
 * no other attempt reads again (each says why next to it); the `email` regex that was not is gone (issue #15).
 */
export function findAll(re: RegExp, text: string, out: number[], validate: (match: string) => boolean): void {
  re.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    const s = m[0];
    if (s.length === 0) {
      re.lastIndex++;
      continue;
    }
    if (validate(s)) out.push(m.index, m.index + s.length);
  }
}
