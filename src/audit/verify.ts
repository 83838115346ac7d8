/**
 * Verify an audit trail's hash chain across one or more files (`dgf audit verify`).
 *
 * Files may be given in any order: they are put in chain order by their first record's seq. Every record must
 * (1) be a complete, parseable line, (2) hash to its `hash` under the key, (3) be byte-identical to its canonical
 * form (nothing added outside the hashed fields), (4) carry the next seq, and (5) point with `prev` at the hash
 * of the record before it (genesis for seq 1). The first record failing any check is reported: that finds an
 * edit (hash), an insertion or deletion (seq gap / prev), a reordering (seq goes back), and a truncation inside
 * a record (a last line without newline). Never throws on bad input: missing, empty, binary or non-audit files
 * come back as a `usageError` or a problem with a clear reason.
 */
import { stat } from 'node:fs/promises';
import { GENESIS, canonicalJson, chainKey, computeHash, lineOf } from './chain.js';
import { fileLines } from './lines.js';
import { OperationJoiner } from './operations.js';
import type { AuditRecord } from './types.js';

/** The first bad record found. */
export interface VerifyProblem {
  file: string;
  /** 1-based line number in `file`. */
  line: number;
  /** The record's seq when it could be read. */
  seq: number | null;
  reason: string;
}

export interface VerifyResult {
  /** True when every record checks out. */
  ok: boolean;
  /** Records verified (before the first problem, if any). */
  records: number;
  firstSeq: number | null;
  lastSeq: number | null;
  /** Files in chain order. */
  files: string[];
  /** Remarks that are not failures (an empty file, a chain that starts after seq 1, intents without outcome). */
  notes: string[];
  /** Seqs of write-ahead intent records no outcome record followed ("no outcome (dgf stopped)"). */
  noOutcome?: number[];
  /** The first bad record, when `ok` is false because of the chain. */
  problem?: VerifyProblem;
  /** Bad invocation or input that is not an audit trail at all (missing file, no records). */
  usageError?: string;
}

const HEX64 = /^[0-9a-f]{64}$/;

function asRecord(x: unknown): AuditRecord | null {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return null;
  const r = x as Partial<AuditRecord>;
  if (typeof r.seq !== 'number' || !Number.isInteger(r.seq) || typeof r.prev !== 'string' || typeof r.hash !== 'string') return null;
  return r as AuditRecord;
}

function parse(text: string): { record: AuditRecord | null; json: boolean } {
  try {
    const x: unknown = JSON.parse(text);
    return { record: asRecord(x), json: true };
  } catch {
    return { record: null, json: false };
  }
}

/** The seq of a file's first parseable record; null for an empty file; 'none' when no line is a record. */
async function firstSeqOf(file: string): Promise<number | null | 'none'> {
  let lines = 0;
  for await (const l of fileLines(file)) {
    lines++;
    const { record } = parse(l.text);
    if (record) return record.seq;
  }
  return lines === 0 ? null : 'none';
}

function fail(res: VerifyResult, file: string, line: number, seq: number | null, reason: string): VerifyResult {
  res.ok = false;
  res.problem = { file, line, seq, reason };
  return res;
}

/** Verify the chain across `files` with the chain `key`. */
export async function verifyAuditFiles(files: string[], key: string): Promise<VerifyResult> {
  const res: VerifyResult = { ok: true, records: 0, firstSeq: null, lastSeq: null, files: [], notes: [] };
  if (files.length === 0) return { ...res, ok: false, usageError: 'no audit file given' };
  const ordered: { file: string; first: number; index: number }[] = [];
  for (const [index, file] of files.entries()) {
    try {
      const st = await stat(file);
      if (!st.isFile()) return { ...res, ok: false, usageError: `${file}: not a regular file` };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return { ...res, ok: false, usageError: code === 'ENOENT' ? `${file}: no such file` : `${file}: cannot read (${code ?? String(e)})` };
    }
    let first: number | null | 'none';
    try {
      first = await firstSeqOf(file);
    } catch (e) {
      return { ...res, ok: false, usageError: `${file}: cannot read (${(e as Error).message})` };
    }
    if (first === null) {
      res.notes.push(`${file}: empty file (no records)`);
      continue;
    }
    if (first === 'none') return { ...res, ok: false, usageError: `${file}: not an audit file (no line is a JSON audit record)` };
    ordered.push({ file, first, index });
  }
  if (ordered.length === 0) return { ...res, ok: false, usageError: 'no audit records in the given file(s)' };
  ordered.sort((a, b) => a.first - b.first || a.index - b.index);
  res.files = ordered.map((o) => o.file);

  const k = chainKey(key);
  // Write-ahead intents still owed an outcome (operations.ts): reported as a note, not as tampering.
  const ops = new OperationJoiner();
  let expectedSeq: number | null = null;
  let lastHash = '';
  for (const [fi, { file }] of ordered.entries()) {
    const lastFile = fi === ordered.length - 1;
    try {
      for await (const l of fileLines(file)) {
        const { record: r, json } = parse(l.text);
        if (!l.terminated) {
          const what = json && r ? 'a complete record but no newline' : 'an incomplete record';
          return fail(res, file, l.line, r?.seq ?? null, `truncated: the last line has ${what} (cut off mid-write)${lastFile ? '' : ' in a file followed by later ones'}`);
        }
        if (!json) return fail(res, file, l.line, null, l.text.length === 0 ? 'empty line where a record should be' : 'not valid JSON (corrupted or edited record)');
        if (!r) return fail(res, file, l.line, null, 'not an audit record (seq, prev or hash missing)');
        const canonical = canonicalJson(r);
        if (!HEX64.test(r.hash) || computeHash(k, r.prev, canonical) !== r.hash) {
          const hint = res.records === 0 ? ' (or the key is not the one the trail was written with)' : '';
          return fail(res, file, l.line, r.seq, `hash mismatch: the record was edited${hint}`);
        }
        if (lineOf(canonical, r.hash).slice(0, -1) !== l.text) {
          return fail(res, file, l.line, r.seq, 'record altered outside its hashed fields (keys added or reformatted)');
        }
        if (expectedSeq === null) {
          if (r.seq === 1 && r.prev !== GENESIS) return fail(res, file, l.line, r.seq, 'the first record (seq 1) does not start from the genesis value');
          if (r.seq !== 1) res.notes.push(`the chain starts at seq ${r.seq}: earlier records were not given`);
          res.firstSeq = r.seq;
        } else {
          if (r.seq > expectedSeq) {
            return fail(res, file, l.line, r.seq, `seq gap: expected ${expectedSeq}, found ${r.seq} (records deleted${fi > 0 && l.line === 1 ? ', or a file is missing' : ''})`);
          }
          if (r.seq < expectedSeq) {
            return fail(res, file, l.line, r.seq, `out of order: seq ${r.seq} after seq ${expectedSeq - 1} (records reordered or duplicated)`);
          }
          if (r.prev !== lastHash) {
            return fail(res, file, l.line, r.seq, `prev does not match the hash of seq ${expectedSeq - 1} (record inserted, replaced or reordered)`);
          }
        }
        expectedSeq = r.seq + 1;
        lastHash = r.hash;
        ops.add(r);
        res.records++;
        res.lastSeq = r.seq;
      }
    } catch (e) {
      return { ...res, ok: false, usageError: `${file}: cannot read (${(e as Error).message})` };
    }
  }
  const unsettled = ops.unsettled();
  if (unsettled.length > 0) {
    const seqs = unsettled.slice(0, 10).map((r) => r.seq).join(', ');
    res.noOutcome = unsettled.map((r) => r.seq);
    res.notes.push(`${unsettled.length} operation(s) have no outcome (dgf stopped while they ran): intent seq ${seqs}${unsettled.length > 10 ? ', ...' : ''}`);
  }
  return res;
}
