/**
 * The JWT header test without JSON.parse: whether `JSON.parse(utf8(bytes))` would return an object whose `alg`
 * is a string. Written by hand because JSON.parse reports bad JSON by throwing, and a throw costs about 5 us:
 * a 1 MB value made of JWT-shaped tokens whose headers are not JSON took 400 ms in the `jwt` detector. This
 * checker is one linear pass with an explicit stack (no recursion, so no depth limit), allocates nothing per
 * call, and follows the JSON grammar JSON.parse follows (ECMA-404), on the UTF-8 bytes: any byte >= 0x80 is
 * part of a non-ASCII character (or of an invalid sequence, which decodes to U+FFFD), allowed inside strings
 * only, and never equal to an ASCII character.
 */

const OBJECT = 1;
const ARRAY = 2;

/** Open containers, reused (grown for deeper nesting). */
let stack = new Uint8Array(64);

/** Set by scanString: whether the string it scanned decodes to exactly "alg". */
let stringIsAlg = false;

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function skipWs(b: Uint8Array, i: number, n: number): number {
  while (i < n && isWs(b[i]!)) i++;
  return i;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/** The code unit each one-character escape stands for (`\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`), or -1. */
function escapeUnit(c: number): number {
  switch (c) {
    case 0x22: return 0x22;
    case 0x5c: return 0x5c;
    case 0x2f: return 0x2f;
    case 0x62: return 0x08;
    case 0x66: return 0x0c;
    case 0x6e: return 0x0a;
    case 0x72: return 0x0d;
    case 0x74: return 0x09;
    default: return -1;
  }
}

const ALG = [0x61, 0x6c, 0x67];

/** A JSON string at `i` (b[i] is '"'): the index after its closing quote, or -1. Sets `stringIsAlg`. */
function scanString(b: Uint8Array, i: number, n: number): number {
  let k = 0; // code units decoded so far, while they spell a prefix of "alg"; -1 once they do not
  i++;
  while (i < n) {
    const c = b[i]!;
    if (c === 0x22) {
      stringIsAlg = k === 3;
      return i + 1;
    }
    if (c < 0x20) return -1;
    let unit = c;
    if (c === 0x5c) {
      if (i + 1 >= n) return -1;
      const e = b[i + 1]!;
      if (e === 0x75) {
        if (i + 5 >= n) return -1;
        unit = 0;
        for (let j = i + 2; j < i + 6; j++) {
          const h = hexValue(b[j]!);
          if (h < 0) return -1;
          unit = unit * 16 + h;
        }
        i += 6;
      } else {
        unit = escapeUnit(e);
        if (unit < 0) return -1;
        i += 2;
      }
    } else {
      i++; // bytes >= 0x80 are non-ASCII code units: never part of "alg"
    }
    if (k >= 0) k = k < 3 && unit === ALG[k] ? k + 1 : -1;
  }
  return -1;
}

/** A JSON number at `i`: the index after it, or -1. */
function scanNumber(b: Uint8Array, i: number, n: number): number {
  if (b[i] === 0x2d) i++;
  if (i >= n) return -1;
  if (b[i] === 0x30) i++;
  else if (b[i]! >= 0x31 && b[i]! <= 0x39) while (i < n && b[i]! >= 0x30 && b[i]! <= 0x39) i++;
  else return -1;
  if (i < n && b[i] === 0x2e) {
    i++;
    const s = i;
    while (i < n && b[i]! >= 0x30 && b[i]! <= 0x39) i++;
    if (i === s) return -1;
  }
  if (i < n && (b[i] === 0x65 || b[i] === 0x45)) {
    i++;
    if (i < n && (b[i] === 0x2b || b[i] === 0x2d)) i++;
    const s = i;
    while (i < n && b[i]! >= 0x30 && b[i]! <= 0x39) i++;
    if (i === s) return -1;
  }
  return i;
}

/** `true`, `false` or `null` at `i`: the index after it, or -1. */
function scanLiteral(b: Uint8Array, i: number, n: number): number {
  const word = b[i] === 0x74 ? 'true' : b[i] === 0x66 ? 'false' : 'null';
  if (i + word.length > n) return -1;
  for (let j = 0; j < word.length; j++) if (b[i + j] !== word.charCodeAt(j)) return -1;
  return i + word.length;
}

/**
 * A member's key and colon at `i` (after '{' or ','): the index of its value, or -1. `top` says the member
 * belongs to the top-level object; then `topKeyIsAlg` is set.
 */
function scanKey(b: Uint8Array, i: number, n: number, top: boolean): number {
  if (i >= n || b[i] !== 0x22) return -1;
  i = scanString(b, i, n);
  if (i < 0) return -1;
  if (top) topKeyIsAlg = stringIsAlg;
  i = skipWs(b, i, n);
  if (i >= n || b[i] !== 0x3a) return -1;
  return skipWs(b, i + 1, n);
}

let topKeyIsAlg = false;

/** Whether `JSON.parse` of the UTF-8 text in b[0, n) returns an object whose `alg` property is a string. */
export function jsonHasStringAlg(b: Uint8Array, n: number): boolean {
  let depth = 0;
  let algIsString = false;
  let topIsObject = false;
  let i = skipWs(b, 0, n);
  for (;;) {
    // A value starts at i.
    if (i >= n) return false;
    const c = b[i]!;
    // A member value of the top-level object: the last "alg" member decides (JSON.parse keeps the last).
    if (depth === 1 && stack[0] === OBJECT && topKeyIsAlg) algIsString = c === 0x22;
    if (c === 0x7b || c === 0x5b) {
      if (depth === 0) topIsObject = c === 0x7b;
      if (depth === stack.length) {
        const grown = new Uint8Array(stack.length * 2);
        grown.set(stack);
        stack = grown;
      }
      stack[depth++] = c === 0x7b ? OBJECT : ARRAY;
      i = skipWs(b, i + 1, n);
      if (c === 0x7b) {
        if (i < n && b[i] === 0x7d) {
          depth--;
          i++;
        } else {
          i = scanKey(b, i, n, depth === 1);
          if (i < 0) return false;
          continue;
        }
      } else if (i < n && b[i] === 0x5d) {
        depth--;
        i++;
      } else {
        continue;
      }
    } else if (c === 0x22) {
      i = scanString(b, i, n);
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      i = scanNumber(b, i, n);
    } else if (c === 0x74 || c === 0x66 || c === 0x6e) {
      i = scanLiteral(b, i, n);
    } else {
      return false;
    }
    if (i < 0) return false;
    // After a value: a comma, closing brackets, or the end of the text.
    for (;;) {
      i = skipWs(b, i, n);
      if (depth === 0) return i === n && topIsObject && algIsString;
      if (i >= n) return false;
      const d = b[i]!;
      const open = stack[depth - 1];
      if (d === 0x2c) {
        i = skipWs(b, i + 1, n);
        if (open === OBJECT) {
          i = scanKey(b, i, n, depth === 1);
          if (i < 0) return false;
        }
        break;
      }
      if ((open === OBJECT && d === 0x7d) || (open === ARRAY && d === 0x5d)) {
        depth--;
        i++;
        continue;
      }
      return false;
    }
  }
}
