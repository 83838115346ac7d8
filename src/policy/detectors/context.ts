/**
 * Context scoring, as the best recognizers (Microsoft Presidio's context enhancer) do it: a candidate found by a
 * detector's pattern and validator has a base score; words near it (or the field name) that say what it is raise
 * the score, words that say it is something else lower it; the detector reports the candidate when the score
 * reaches its threshold (per detector, settable per classifier in a policy: `threshold:`).
 *
 * Words are matched whole (on word boundaries: "born" is not found in "Osborne" or "stubborn"), lower-cased,
 * in several languages (en, fr, de, es, it, nl, pt), inside a bounded window around the candidate, so the cost
 * per candidate is bounded and a detector stays linear in its input.
 */

/** The context words of one detector. */
export interface ContextWords {
  /** Words that say the candidate is this kind of value. */
  readonly positive: ReadonlySet<string>;
  /** Words that say it is something else (an amount, an order number, a company's founding date). */
  readonly negative: ReadonlySet<string>;
  /** Field-name test: a field name it matches is positive context (field names are compact: `birthDate`, `cust_ssn`). */
  readonly hint: RegExp;
}

/** Characters read before a candidate, and after it. */
export const WINDOW_BEFORE = 48;
export const WINDOW_AFTER = 24;

/** How much a positive context word raises a score (Presidio's context similarity factor), and a negative one lowers it. */
export const CONTEXT_BOOST = 0.35;
export const CONTEXT_PENALTY = 0.4;

/** Bits of contextAround's result. */
export const POSITIVE = 1;
export const NEGATIVE = 2;

/** A letter (ASCII, or any non-ASCII character from Latin-1 on: accented letters of the languages above). */
function isLetter(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 0xc0 && c !== 0xd7 && c !== 0xf7 && c < 0x2000);
}

/** Characters read before and after a candidate for negative words: only a label right next to it says what it is. */
export const NEGATIVE_BEFORE = 16;
export const NEGATIVE_AFTER = 12;

/**
 * Which kinds of context words stand in `text` around [start, end): POSITIVE when a positive word is within
 * `before`/`after` characters, NEGATIVE when a negative word is within `negBefore`/`negAfter` (a narrower window
 * by default: "invoice" three sentences away says nothing about a card number, "IMEI" right before it does).
 * A word is a run of letters (dots inside it dropped: `d.o.b.` is `dob`); a word cut by the window's edge is
 * not read.
 */
export function contextAround(
  text: string,
  start: number,
  end: number,
  words: ContextWords,
  before = WINDOW_BEFORE,
  after = WINDOW_AFTER,
  negBefore = NEGATIVE_BEFORE,
  negAfter = NEGATIVE_AFTER,
): number {
  const from = Math.max(0, start - before);
  const to = Math.min(text.length, end + after);
  return (
    scanWords(text, from, start, from > 0 && isLetter(text.charCodeAt(from - 1)), words, false, Math.max(0, start - negBefore)) |
    scanWords(text, end, to, false, words, to < text.length && isLetter(text.charCodeAt(to)), end, end + negAfter)
  );
}

/** Lower-case code of a letter (ASCII and Latin-1 upper-case letters; others as they are). */
function lowerCode(c: number): number {
  return (c >= 65 && c <= 90) || (c >= 0xc0 && c <= 0xde && c !== 0xd7) ? c + 32 : c;
}

/** Hash of a lower-case word, computed as the scan reads it (dots skipped): no string per word read. */
function hashStep(h: number, c: number): number {
  return (Math.imul(h, 31) + c) | 0;
}

/**
 * Context bits of the words in text[from, to); negative words count only when they start at or after `negFrom`
 * and before `negTo`. Words are hashed as the scan reads them and compared in place with the words of that
 * hash: no string is built (a value packed with candidates reads a window per candidate).
 */
function scanWords(text: string, from: number, to: number, skipFirst: boolean, words: ContextWords, skipLast: boolean, negFrom: number, negTo = to): number {
  const table = tableOf(words);
  let found = 0;
  let i = from;
  if (skipFirst) while (i < to && isLetter(text.charCodeAt(i))) i++;
  while (i < to) {
    const c = text.charCodeAt(i);
    if (!isLetter(c)) {
      i++;
      continue;
    }
    const s = i;
    i = readWord(text, i, to);
    if (i === to && skipLast) break;
    const e = entryOf(table, text, s, i);
    if (e === undefined) continue;
    if (e.positive) found |= POSITIVE;
    else if (s >= negFrom && s < negTo) found |= NEGATIVE;
  }
  return found;
}

/**
 * A context window that slides forward over a text: the start of the last positive and of the last negative
 * word read so far, and where reading stopped. For a detector whose candidates come in order and whose
 * windows overlap (a value packed with dates), each character is read once in all, not once per window.
 */
export interface SlidingContext {
  scannedTo: number;
  lastPositive: number;
  lastNegative: number;
}

export function newSlidingContext(): SlidingContext {
  return { scannedTo: 0, lastPositive: -1, lastNegative: -1 }; // -1: none read (windows start at 0 or later)
}

/**
 * The context bits of the window [from, to) (as contextAround with the same window on both kinds), reading only
 * what earlier calls did not: `from` and `to` must not decrease from one call to the next.
 */
export function slideContext(text: string, from: number, to: number, words: ContextWords, st: SlidingContext, negFrom = from, negTo = to): number {
  const table = tableOf(words);
  let i = st.scannedTo;
  if (i < from) {
    i = from;
    if (i > 0 && isLetter(text.charCodeAt(i - 1))) while (i < to && isLetter(text.charCodeAt(i))) i++; // a word cut by the edge
  }
  while (i < to) {
    const c = text.charCodeAt(i);
    if (!isLetter(c)) {
      i++;
      continue;
    }
    const s = i;
    i = readWord(text, i, text.length);
    const e = entryOf(table, text, s, i);
    if (e === undefined) continue;
    if (e.positive) st.lastPositive = s;
    else st.lastNegative = s;
  }
  st.scannedTo = Math.max(st.scannedTo, i);
  // The last negative word only: an earlier one inside a narrower negative window is missed when a later one
  // stands past it (never more than reported: the value is then masked, the safe side).
  return (st.lastPositive >= from ? POSITIVE : 0) | (st.lastNegative >= negFrom && st.lastNegative < negTo ? NEGATIVE : 0);
}

/** contextAround's bits for [start, end) through a sliding window (candidates in increasing order). */
export function contextSliding(text: string, start: number, end: number, words: ContextWords, st: SlidingContext): number {
  return slideContext(text, Math.max(0, start - WINDOW_BEFORE), Math.min(text.length, end + WINDOW_AFTER), words, st, Math.max(0, start - NEGATIVE_BEFORE), end + NEGATIVE_AFTER);
}

/** The hash and letter count of the word `readWord` read last (module scratch: no object per word). */
let wordHash = 0;
let wordLength = 0;

/**
 * Read the word starting at `i` (a letter), letters and dots between letters, up to `limit`; returns where it ends,
 * with its lower-cased letters' hash and count in wordHash / wordLength.
 */
function readWord(text: string, i: number, limit: number): number {
  let h = 0;
  let len = 0;
  while (i < limit) {
    const d = text.charCodeAt(i);
    if (isLetter(d)) {
      h = hashStep(h, lowerCode(d));
      len++;
      i++;
    } else if (d === 46 && i + 1 < limit && isLetter(text.charCodeAt(i + 1))) {
      i++;
    } else break;
  }
  wordHash = h;
  wordLength = len;
  return i;
}

/** The context word text[s, e) is (just read by readWord), if any. */
function entryOf(table: Map<number, WordEntry[]>, text: string, s: number, e: number): WordEntry | undefined {
  const entries = table.get(wordHash);
  if (entries === undefined) return undefined;
  for (const entry of entries) if (entry.word.length === wordLength && sameWord(text, s, e, entry.word)) return entry;
  return undefined;
}

/** Whether the letters of text[s, e) (dots skipped), lower-cased, spell `word`. */
function sameWord(text: string, s: number, e: number, word: string): boolean {
  let k = 0;
  for (let i = s; i < e; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) continue;
    if (lowerCode(c) !== word.charCodeAt(k++)) return false;
  }
  return true;
}

interface WordEntry {
  word: string;
  positive: boolean;
}

/** The words of a ContextWords by hash, built once per object. */
const TABLES = new WeakMap<ContextWords, Map<number, WordEntry[]>>();
function tableOf(words: ContextWords): Map<number, WordEntry[]> {
  let table = TABLES.get(words);
  if (table === undefined) {
    table = new Map<number, WordEntry[]>();
    const add = (w: string, positive: boolean): void => {
      let h = 0;
      for (let k = 0; k < w.length; k++) h = hashStep(h, lowerCode(w.charCodeAt(k)));
      const list = table!.get(h) ?? [];
      if (!list.some((e) => e.word === w)) list.push({ word: w, positive });
      table!.set(h, list);
    };
    for (const w of words.positive) add(w, true);
    for (const w of words.negative) if (!words.positive.has(w)) add(w, false);
    TABLES.set(words, table);
  }
  return table;
}

/**
 * `base`, raised when the field name or a nearby word says what the candidate is, lowered when a nearby word
 * says it is something else (a positive word cancels a negative one; the field name does not).
 */
export function scoreWithContext(base: number, text: string, start: number, end: number, hint: string | undefined, words: ContextWords, st?: SlidingContext): number {
  const ctx = st === undefined ? contextAround(text, start, end, words) : contextSliding(text, start, end, words, st);
  let score = base;
  if ((ctx & POSITIVE) !== 0 || (hint !== undefined && words.hint.test(hint))) score += CONTEXT_BOOST;
  if ((ctx & NEGATIVE) !== 0 && (ctx & POSITIVE) === 0) score -= CONTEXT_PENALTY;
  return score;
}

/**
 * `scoreWithContext(...) >= threshold`, reading only the windows that can change the answer: a candidate whose
 * base score passes reads the narrow negative window first (and the wide one only when a negative word is
 * there); one whose base fails reads the wide window only when the field name does not already say what it
 * is. On a value packed with valid candidates, most read 28 characters instead of 72.
 */
export function passesWithContext(
  base: number,
  threshold: number,
  text: string,
  start: number,
  end: number,
  hint: string | undefined,
  words: ContextWords,
  st?: SlidingContext,
): boolean {
  const named = hint !== undefined && words.hint.test(hint);
  if (base >= threshold) {
    if (base - CONTEXT_PENALTY + (named ? CONTEXT_BOOST : 0) >= threshold) return true;
    if (st === undefined && (contextAround(text, start, end, words, NEGATIVE_BEFORE, NEGATIVE_AFTER) & NEGATIVE) === 0) return true; // no negative word next to it
  } else if (base + CONTEXT_BOOST < threshold) {
    return false;
  }
  return scoreWithContext(base, text, start, end, hint, words, st) >= threshold;
}

/** A set of words, from space-separated lists. */
export function wordSet(...lists: string[]): ReadonlySet<string> {
  const s = new Set<string>();
  for (const l of lists) for (const w of l.split(/\s+/)) if (w) s.add(w.toLowerCase());
  return s;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isAsciiLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/**
 * Whether a number at `start` continues an IBAN written in groups (`GB82 WEST 1234 5698 ...`): one of the (at
 * most four) groups of four letters and digits before it is a country code with check digits. The digit groups
 * of an IBAN are neither a phone number nor a card number. Bounded: reads at most 20 characters back.
 */
export function afterIbanGroups(text: string, start: number): boolean {
  let k = start;
  for (let g = 0; g < 4; g++) {
    if (k < 5 || text.charCodeAt(k - 1) !== 32) return false;
    const t = k - 5;
    for (let q = t; q < t + 4; q++) {
      const c = text.charCodeAt(q);
      if (!isDigit(c) && !isAsciiLetter(c)) return false;
    }
    if (t > 0) {
      const c = text.charCodeAt(t - 1);
      if (isDigit(c) || isAsciiLetter(c) || c === 95) return false;
    }
    if (isAsciiLetter(text.charCodeAt(t)) && isAsciiLetter(text.charCodeAt(t + 1)) && isDigit(text.charCodeAt(t + 2)) && isDigit(text.charCodeAt(t + 3))) return true;
    k = t;
  }
  return false;
}
