/**
 * Per-statement CPU of the pieces dgf runs for every pgbench -S query: statement analysis (libpg-query), the
 * policy decision and the audit record. Prints microseconds per call. Usage: tsx bench/postgres/governance-cost.ts
 */
import { analyzeSql, initSqlAnalyzer } from '../../protocols/postgres/governance/analyze.js';

await initSqlAnalyzer();
const N = 20_000;
for (let i = 0; i < 2000; i++) analyzeSql(`SELECT abalance FROM pgbench_accounts WHERE aid = ${i + 1_000_000};`);
let t = performance.now();
for (let i = 0; i < N; i++) analyzeSql(`SELECT abalance FROM pgbench_accounts WHERE aid = ${i};`);
const uncached = ((performance.now() - t) * 1000) / N;
t = performance.now();
for (let i = 0; i < N; i++) analyzeSql('SELECT abalance FROM pgbench_accounts WHERE aid = $1');
const cached = ((performance.now() - t) * 1000) / N;
console.log(JSON.stringify({ analyzeSqlDistinctTextUs: Math.round(uncached), analyzeSqlRepeatedTextUs: Math.round(cached * 100) / 100 }));
