/** Statement shapes: constants replaced, everything else kept; anything ambiguous is not shaped at all. */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { initSqlAnalyzer, analyzeSql } from '../../../protocols/postgres/governance/analyze.js';
import { analyzeStatement, shapeOf } from '../../../protocols/postgres/statement-shapes.js';

describe('shapeOf', () => {
  test('numbers and plain strings become ?', () => {
    assert.equal(shapeOf('SELECT abalance FROM pgbench_accounts WHERE aid = 12345;'), 'SELECT abalance FROM pgbench_accounts WHERE aid = ?;');
    assert.equal(shapeOf(`select * from t1 where a = 'it''s' and b > 1.5e-3 and c = .5`), 'select * from t1 where a = ? and b > ? and c = ?');
    assert.equal(shapeOf(`select "col 1", x2, $1 from "T""q" where d = '2020-01-01'::date`), `select "col 1", x2, $1 from "T""q" where d = ?::date`);
  });

  test('texts without constants, and ambiguous ones, are not shaped', () => {
    for (const sql of [
      'select * from t',
      `select E'a\\'b'`,
      `select 'a\\' ; drop table t; --'`,
      `select $$x$$`,
      `select $tag$ ' $tag$`,
      'select 1 -- comment',
      'select /* c */ 1',
      `select U&'d\\0061t'`,
      `select B'101'`,
      `select X'1f'`,
      `select N'x'`,
      'select 1abc',
      'select 0x1f',
      'select 1.2.3',
      `select 'unterminated`,
      'select "unterminated',
      'select 1e',
    ]) {
      assert.equal(shapeOf(sql), null, sql);
    }
  });
});

describe('analyzeStatement', () => {
  before(() => initSqlAnalyzer());

  test('texts of one shape share the analysis of the first', () => {
    const a = analyzeStatement('SELECT abalance FROM pgbench_accounts WHERE aid = 1;');
    const b = analyzeStatement('SELECT abalance FROM pgbench_accounts WHERE aid = 2;');
    assert.equal(a, b);
    assert.deepEqual(b, analyzeSql('SELECT abalance FROM pgbench_accounts WHERE aid = 2;'));
  });

  test('analyses that carry constants are never shared', () => {
    const a = analyzeStatement(`set statement_timeout = '1s'`);
    const b = analyzeStatement(`set statement_timeout = '2s'`);
    assert.notEqual(a[0]!.setting?.value, b[0]!.setting?.value);
    const c1 = analyzeStatement(`copy t to stdout with (format csv, delimiter ',')`);
    const c2 = analyzeStatement(`copy t to stdout with (format csv, delimiter ';')`);
    assert.notEqual(c1, c2);
  });

  test('a destructive statement hidden after a constant keeps its own analysis', () => {
    const first = analyzeStatement(`select 'x'; select 1`);
    const second = analyzeStatement(`select 'x'; drop table customers`);
    assert.equal(first.length, 2);
    assert.equal(second[1]!.operation, 'drop');
  });
});
