import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyLineFormat, encodeCopyCsv, encodeCopyText, splitCopyRecords } from '../../../protocols/postgres/governance/copy-format.js';

const TEXT = copyLineFormat(false);
const CSV = copyLineFormat(true);

describe('COPY text format lines', () => {
  test('splits on tabs, reads \\N as NULL and undoes escapes', () => {
    const line = '1\ta\\tb\\\\c\\nd\t\\N\t\\101\\x41\n';
    const [r] = splitCopyRecords(line, TEXT);
    assert.deepEqual(r!.fields.map((f) => f.value), ['1', 'a\tb\\c\nd', null, 'AA']);
    assert.equal(r!.end, line.length);
  });

  test('several records in one message, and a last line without newline', () => {
    const rs = splitCopyRecords('1\tx\n2\ty\n3\tz', TEXT);
    assert.deepEqual(rs.map((r) => r.fields.map((f) => f.value)), [['1', 'x'], ['2', 'y'], ['3', 'z']]);
  });

  test('custom delimiter and NULL string', () => {
    const f = copyLineFormat(false, { delimiter: '|', null: 'NULL' });
    const [r] = splitCopyRecords('a\\|b|NULL|\n', f);
    assert.deepEqual(r!.fields.map((x) => x.value), ['a|b', null, '']);
    assert.equal(encodeCopyText('x|y', f), 'x\\|y');
  });

  test('encoding escapes what COPY FROM would misread, and round-trips', () => {
    for (const v of ['plain', 'tab\there', 'new\nline', 'back\\slash', 'cr\rhere', '\\N', 'a***@example.com']) {
      const line = `${encodeCopyText(v, TEXT)}\t${encodeCopyText(null, TEXT)}\n`;
      assert.deepEqual(splitCopyRecords(line, TEXT)[0]!.fields.map((f) => f.value), [v, null], JSON.stringify(v));
    }
  });
});

describe('COPY CSV lines', () => {
  test('quoted fields with delimiters, doubled quotes and newlines; unquoted empty is NULL', () => {
    const [r] = splitCopyRecords('1,"a,b","say ""hi""","multi\nline",,""\n', CSV);
    assert.deepEqual(r!.fields.map((f) => f.value), ['1', 'a,b', 'say "hi"', 'multi\nline', null, '']);
  });

  test('custom quote and escape', () => {
    const f = copyLineFormat(true, { quote: "'", escape: '\\' });
    const [r] = splitCopyRecords("'it\\'s',x\n", f);
    assert.deepEqual(r!.fields.map((x) => x.value), ["it's", 'x']);
  });

  test('encoding quotes only when needed and round-trips', () => {
    assert.equal(encodeCopyCsv('plain', CSV), 'plain');
    assert.equal(encodeCopyCsv('', CSV), '""');
    assert.equal(encodeCopyCsv(null, CSV), '');
    for (const v of ['a,b', 'say "hi"', 'multi\nline', '', '\\.', '************1111']) {
      const line = `${encodeCopyCsv(v, CSV)},${encodeCopyCsv(null, CSV)}\n`;
      assert.deepEqual(splitCopyRecords(line, CSV)[0]!.fields.map((f) => f.value), [v, null], JSON.stringify(v));
    }
  });
});
