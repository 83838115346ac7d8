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
   * Push the [start, end) offsets of every entity found inside `text` onto `out` (flat pairs, for speed).
   * `hint` is the field name the value came from, when known (used by `date_of_birth`).
   */
  find(text: string, out: number[], hint: string | undefined): void;
}

/**
 * One pass over `text`; the prefilters of every detector read these counts. With `into`, the counts are written
 * into that object (the hot path reuses one object instead of allocating per value).
 */
export function textStats(text: string, into?: TextStats): TextStats {
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

/** Run a global regex over `text`, pushing every match whose `validate` accepts it. */
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

/** The ASCII digits of `s`, separators dropped. */
export function digitsOf(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) out += s[i];
  }
  return out;
}
