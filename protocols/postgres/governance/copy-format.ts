/**
 * COPY TO text and CSV lines: splitting a line into fields and writing a changed field back, exactly as
 * PostgreSQL's COPY writes them (copyto.c CopyAttributeOutText / CopyAttributeOutCSV), so COPY FROM reads the
 * masked output back.
 */

/** Field of one COPY line: where its raw text is, and its value (null for the NULL marker). */
export interface CopyField {
  start: number;
  end: number;
  value: string | null;
}

/** How lines of one COPY are written. */
export interface CopyLineFormat {
  csv: boolean;
  delimiter: string;
  nullString: string;
  quote: string;
  escape: string;
}

export function copyLineFormat(csv: boolean, options: { delimiter?: string; null?: string; quote?: string; escape?: string } = {}): CopyLineFormat {
  const quote = options.quote ?? '"';
  return {
    csv,
    delimiter: options.delimiter ?? (csv ? ',' : '\t'),
    nullString: options.null ?? (csv ? '' : '\\N'),
    quote,
    escape: options.escape ?? quote,
  };
}

/**
 * Split the records of `text` (one CopyData body: PostgreSQL sends one line per message, but nothing here relies
 * on it). Each record is its fields plus the offset where it ends (after its newline).
 */
export function splitCopyRecords(text: string, f: CopyLineFormat): Array<{ fields: CopyField[]; start: number; end: number }> {
  const records: Array<{ fields: CopyField[]; start: number; end: number }> = [];
  let pos = 0;
  while (pos < text.length) {
    const start = pos;
    const fields: CopyField[] = [];
    pos = f.csv ? readCsvRecord(text, pos, f, fields) : readTextRecord(text, pos, f, fields);
    records.push({ fields, start, end: pos });
  }
  return records;
}

const TEXT_ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

function readTextRecord(text: string, pos: number, f: CopyLineFormat, out: CopyField[]): number {
  let fieldStart = pos;
  let value = '';
  let plainFrom = pos;
  const delim = f.delimiter;
  for (;;) {
    const c = pos < text.length ? text[pos]! : '\n';
    if (c === delim || c === '\n' || (c === '\r' && text[pos + 1] === '\n')) {
      value += text.slice(plainFrom, pos);
      const raw = text.slice(fieldStart, pos);
      out.push({ start: fieldStart, end: pos, value: raw === f.nullString ? null : value });
      if (c === delim) {
        pos++;
        fieldStart = pos;
        plainFrom = pos;
        value = '';
        continue;
      }
      if (pos >= text.length) return text.length;
      return c === '\r' ? pos + 2 : pos + 1;
    }
    if (c === '\\' && pos + 1 < text.length) {
      value += text.slice(plainFrom, pos);
      const n = text[pos + 1]!;
      if (n >= '0' && n <= '7') {
        let j = pos + 1;
        let code = 0;
        while (j < text.length && j < pos + 4 && text[j]! >= '0' && text[j]! <= '7') code = code * 8 + Number(text[j++]);
        value += String.fromCharCode(code);
        pos = j;
      } else if (n === 'x' && /[0-9a-fA-F]/.test(text[pos + 2] ?? '')) {
        let j = pos + 2;
        let hex = '';
        while (j < text.length && j < pos + 4 && /[0-9a-fA-F]/.test(text[j]!)) hex += text[j++];
        value += String.fromCharCode(parseInt(hex, 16));
        pos = j;
      } else {
        value += TEXT_ESCAPES[n] ?? n;
        pos += 2;
      }
      plainFrom = pos;
      continue;
    }
    pos++;
  }
}

function readCsvRecord(text: string, pos: number, f: CopyLineFormat, out: CopyField[]): number {
  const { delimiter: delim, quote, escape } = f;
  for (;;) {
    const fieldStart = pos;
    let value: string | null;
    if (text[pos] === quote) {
      pos++;
      let v = '';
      for (;;) {
        if (pos >= text.length) break;
        const c = text[pos]!;
        // Escape + quote is a literal quote (with the default escape, `""`); escape + escape a literal escape.
        if (c === escape && text[pos + 1] === quote) {
          v += quote;
          pos += 2;
          continue;
        }
        if (escape !== quote && c === escape && text[pos + 1] === escape) {
          v += escape;
          pos += 2;
          continue;
        }
        if (c === quote) {
          pos++;
          break;
        }
        v += c;
        pos++;
      }
      // Characters after the closing quote up to the delimiter belong to the same field (COPY FROM accepts them).
      while (pos < text.length && text[pos] !== delim && text[pos] !== '\n' && text[pos] !== '\r') v += text[pos++];
      value = v;
    } else {
      while (pos < text.length && text[pos] !== delim && text[pos] !== '\n' && text[pos] !== '\r') pos++;
      const raw = text.slice(fieldStart, pos);
      value = raw === f.nullString ? null : raw;
    }
    out.push({ start: fieldStart, end: pos, value });
    if (pos >= text.length) return text.length;
    const c = text[pos]!;
    if (c === delim) {
      pos++;
      continue;
    }
    if (c === '\r' && text[pos + 1] === '\n') return pos + 2;
    return pos + 1;
  }
}

/** A value written as COPY text format writes it. */
export function encodeCopyText(value: string | null, f: CopyLineFormat): string {
  if (value === null) return f.nullString;
  let out = '';
  let from = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    let rep: string | null = null;
    switch (c) {
      case '\\':
        rep = '\\\\';
        break;
      case '\b':
        rep = '\\b';
        break;
      case '\f':
        rep = '\\f';
        break;
      case '\n':
        rep = '\\n';
        break;
      case '\r':
        rep = '\\r';
        break;
      case '\t':
        rep = '\\t';
        break;
      case '\v':
        rep = '\\v';
        break;
      default:
        if (c === f.delimiter) rep = `\\${c}`;
    }
    if (rep !== null) {
      out += value.slice(from, i) + rep;
      from = i + 1;
    }
  }
  return from === 0 ? value : out + value.slice(from);
}

/** A value written as COPY CSV writes it: quoted when it could be misread (delimiter, quote, newline, the NULL text). */
export function encodeCopyCsv(value: string | null, f: CopyLineFormat): string {
  if (value === null) return f.nullString;
  const { delimiter, quote, escape } = f;
  const needsQuote =
    value === f.nullString ||
    value.includes(delimiter) ||
    value.includes(quote) ||
    value.includes('\n') ||
    value.includes('\r') ||
    (escape !== quote && value.includes(escape)) ||
    value === '\\.';
  if (!needsQuote) return value;
  let out = quote;
  for (const c of value) {
    if (c === quote || c === escape) out += escape;
    out += c;
  }
  return out + quote;
}
