/**
 * Issue #15, "Must show": bypass attempts of the masked role `analyst` against the real PostgreSQL 15 through a
 * real dgf, written as an attacker fluent in SQL would write them. Each attempt is first run directly as postgres
 * (it must work there, or fail with the error it is built to provoke, and it must show clear values there: an
 * attempt that shows nothing directly proves nothing through dgf), then through dgf as analyst, where it must show
 * no clear value (see leak-check.ts for what counts) in anything it receives: rows in any format, COPY output,
 * error and notice fields, notifications, parameter status. Being refused (42501; 26000/34000 for protocol names
 * the client never created) shows nothing and passes; an error with an echoed value does not.
 *
 * One test per family: it runs every attempt, collects every leak, and fails listing all of them.
 * `admin` (no masks) running some of the same statements still gets the clear values.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import postgres from 'postgres';
import { startGovernedDatabase, PG_HOST, PG_PORT, type GovernedDatabase } from '../../fixtures/postgres-governance/database.js';
import {
  emptyReply,
  findLeaks,
  loadSecrets,
  mergeReplies,
  RawSession,
  RecordingClient,
  runPsql,
  runSteps,
  serialize,
  sleep,
  type Reply,
  type Secrets,
  type Step,
  type Target,
  type Value,
} from '../../fixtures/postgres-governance/leak-check.js';

const DB = 'dgf_gov_leakproof';
const ATTEMPT_TIMEOUT_MS = 30_000;

interface Ctx {
  direct: Target;
  analyst: Target;
  admin: Target;
}

interface Attempt {
  name: string;
  /** statements on one connection (node-postgres), stopping at the first error */
  sql?: Step[];
  /** or a custom attack: everything it received from `t` */
  run?: (t: Target, ctx: Ctx) => Promise<Reply>;
  /** the SQLSTATE the attack provokes directly too (it works by making the server echo a value in an error) */
  directError?: string;
  /** run directly as postgres before each run: leftovers of an earlier run must not be read back */
  reset?: string;
  /** ms to wait after the statements for notifications */
  settleMs?: number;
  /** what an attacker decodes on the client from what came back (ASCII codes, shifted letters, ...) */
  decode?: (reply: Reply) => string[];
}

const isDirect = (t: Target, ctx: Ctx): boolean => t.port === ctx.direct.port;

// ------------------------------------------------------------------------------------------------ decoders

/** Text values of the reply's rows, in order. */
function rowTexts(reply: Reply): string[][] {
  return reply.groups.filter((g) => g.source === 'row').map((g) => g.values.map((v) => (Buffer.isBuffer(v) ? v.toString('utf8') : v)));
}

/** Rows of (key, position, int): the ints mapped through `toChar`, joined per key in position order. */
function joinPerKey(reply: Reply, toChar: (n: number) => string): string[] {
  const byKey = new Map<string, Array<[number, string]>>();
  for (const [key, pos, n] of rowTexts(reply)) {
    if (key === undefined || pos === undefined || n === undefined || !/^-?\d+$/.test(n)) continue;
    const list = byKey.get(key) ?? [];
    list.push([Number(pos), toChar(Number(n))]);
    byKey.set(key, list);
  }
  return [...byKey.values()].map((l) => l.sort((a, b) => a[0] - b[0]).map(([, c]) => c).join(''));
}

const shiftLetters = (s: string, by: number): string =>
  s.replace(/[a-z]/g, (ch) => String.fromCharCode(((ch.charCodeAt(0) - 97 + by + 26) % 26) + 97));

// ------------------------------------------------------------------------------------------------ raw helpers

async function rawRun(t: Target, fn: (s: RawSession) => Promise<void>): Promise<Reply> {
  const s = await RawSession.connect(t);
  try {
    await fn(s);
    return s.reply;
  } finally {
    s.close();
  }
}

/** Parse (unnamed) / Bind with result format / Describe / Execute / Sync. */
function extendedQuery(sql: string, binary: boolean): Buffer[] {
  return [serialize.parse({ text: sql, types: [] }), serialize.bind({ values: [], binary }), serialize.describe({ type: 'P' }), serialize.execute({}), serialize.sync()];
}

/** A FunctionCall message ('F'): text arguments, text result. */
function functionCall(oid: number, args: string[]): Buffer {
  const parts: Buffer[] = [];
  const head = Buffer.alloc(8);
  head.writeInt32BE(oid, 0);
  head.writeInt16BE(1, 4); // one argument format code
  head.writeInt16BE(0, 6); // text
  parts.push(head);
  const n = Buffer.alloc(2);
  n.writeInt16BE(args.length, 0);
  parts.push(n);
  for (const a of args) {
    const len = Buffer.alloc(4);
    len.writeInt32BE(Buffer.byteLength(a), 0);
    parts.push(len, Buffer.from(a));
  }
  const rf = Buffer.alloc(2);
  rf.writeInt16BE(0, 0);
  parts.push(rf);
  const body = Buffer.concat(parts);
  const msg = Buffer.alloc(5);
  msg.write('F', 0);
  msg.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([msg, body]);
}

async function porsager(t: Target, fn: (sql: postgres.Sql) => Promise<unknown[][]>): Promise<Reply> {
  const reply = emptyReply();
  const sql = postgres({
    host: t.host,
    port: t.port,
    user: t.user,
    password: t.password ?? '',
    database: t.database,
    max: 1,
    connect_timeout: 10,
    onnotice: (n) => reply.groups.push({ source: 'notice', values: Object.values(n).filter((v): v is string => typeof v === 'string') }),
  });
  try {
    const rows = await fn(sql);
    for (const row of rows) reply.groups.push({ source: 'row', values: row.filter((v) => v !== null && v !== undefined).map(toValue) });
  } catch (err) {
    const e = err as Error & Record<string, unknown>;
    reply.errors.push({ code: String(e.code ?? 'client'), message: e.message });
    reply.groups.push({ source: 'error', values: ['message', 'detail', 'hint', 'where'].map((k) => e[k]).filter((v): v is string => typeof v === 'string') });
  } finally {
    await sql.end({ timeout: 2 });
  }
  return reply;
}

function toValue(v: unknown): Value {
  if (Buffer.isBuffer(v)) return v;
  if (v instanceof Uint8Array) return Buffer.from(v);
  if (typeof v === 'string') return v;
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** psql's reply to one command (-c), text unaligned. */
const psqlAttempt = (command: string, extra: string[] = ['-At']) => async (t: Target) => (await runPsql(t, [...extra, '-c', command])).reply;

let fileCounter = 0;
const serverFile = (t: Target, tag: string) => `/tmp/dgf-leakproof-${process.pid}-${tag}-${t.user}-${++fileCounter}.txt`;

// ------------------------------------------------------------------------------------------------ the attempts

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789.@-_ ';

const FAMILIES: Array<{ family: string; attempts: Attempt[] }> = [
  {
    family: 'string and regexp functions',
    attempts: [
      { name: "full_name || ''", sql: ["select full_name || '' as n from customers"] },
      { name: "diagnosis || ''", sql: ["select diagnosis || '' from patients"] },
      { name: "'' || ssn", sql: ["select '' || ssn as s from customers"] },
      { name: 'concat(full_name)', sql: ["select concat(full_name, '') from customers"] },
      { name: 'concat_ws of name, ssn, card', sql: ["select concat_ws('|', full_name, ssn, card_number) from customers"] },
      { name: 'upper(full_name)', sql: ['select upper(full_name) from customers'] },
      { name: 'lower(diagnosis)', sql: ['select lower(diagnosis) from patients'] },
      { name: 'initcap(medication)', sql: ['select initcap(medication) from patients'] },
      { name: "replace(ssn, '-', '')", sql: ["select replace(ssn, '-', '') from customers"] },
      { name: "replace(email, '@', ' at ')", sql: ["select replace(email, '@', ' at ') from customers"] },
      { name: "translate(ssn, '-', '')", sql: ["select translate(ssn, '-', '') from customers"] },
      {
        name: 'translate as a Caesar shift, decoded on the client',
        sql: ["select translate(lower(full_name), 'abcdefghijklmnopqrstuvwxyz', 'bcdefghijklmnopqrstuvwxyza') from customers"],
        decode: (r) => rowTexts(r).map((row) => shiftLetters(row[0] ?? '', -1)),
      },
      { name: 'overlay inserting a dash into the card number', sql: ["select overlay(card_number placing '-' from 5 for 0) from customers"] },
      { name: 'overlay replacing nothing in full_name', sql: ["select overlay(full_name placing '' from 1 for 0) from customers"] },
      { name: 'substr at three offsets (name)', sql: ['select substr(full_name, 1, 4), substr(full_name, 5, 4), substr(full_name, 9) from customers'] },
      { name: 'substring from/for at three offsets (ssn)', sql: ['select substring(ssn from 1 for 3), substring(ssn from 5 for 2), substring(ssn from 8) from customers'] },
      { name: 'substring by regexp (email local part)', sql: ["select substring(email from '^[^@]+') from customers"] },
      { name: 'left/right halves of the card number', sql: ['select left(card_number, 8), right(card_number, -8) from customers'] },
      { name: 'left(full_name, 100)', sql: ['select left(full_name, 100) from customers'] },
      { name: 'right(phone, 12)', sql: ['select right(phone, 12) from customers'] },
      { name: 'reverse(full_name)', sql: ['select reverse(full_name) from customers'] },
      { name: 'reverse(diagnosis)', sql: ['select reverse(diagnosis) from patients'] },
      { name: 'repeat(ssn, 2)', sql: ['select repeat(ssn, 2) from customers'] },
      { name: 'lpad(full_name)', sql: ["select lpad(full_name, 40, '.') from customers"] },
      { name: 'rpad(card_number)', sql: ["select rpad(card_number, 24, '0') from customers"] },
      { name: 'split_part(email, @, 1)', sql: ["select split_part(email, '@', 1) from customers"] },
      { name: 'split_part of the name, both halves', sql: ["select split_part(full_name, ' ', 1), split_part(full_name, ' ', 2) from customers"] },
      { name: 'regexp_replace stripping the SSN dashes', sql: ["select regexp_replace(ssn, '(\\d+)-(\\d+)-(\\d+)', '\\1\\2\\3') from customers"] },
      { name: 'regexp_matches(email)', sql: ["select regexp_matches(email, '^(.*)@(.*)$') from customers"] },
      { name: 'regexp_split_to_array(card_number)', sql: ["select regexp_split_to_array(card_number, '') from customers"] },
      { name: 'format(%s / %s)', sql: ["select format('%s / %s', full_name, ssn) from customers"] },
      { name: 'format(%I, diagnosis)', sql: ["select format('%I', diagnosis) from patients"] },
      { name: 'quote_literal(email)', sql: ['select quote_literal(email) from customers'] },
      { name: 'quote_ident(full_name)', sql: ['select quote_ident(full_name) from customers'] },
      { name: 'md5(email)', sql: ['select md5(email) from customers'] },
      { name: 'md5(ssn)', sql: ['select md5(ssn) from customers'] },
      { name: 'encode(convert_to(full_name), hex)', sql: ["select encode(convert_to(full_name, 'UTF8'), 'hex') from customers"] },
      { name: 'encode(email::bytea, base64)', sql: ["select encode(email::bytea, 'base64') from customers"] },
      { name: 'decode(card_number, escape)', sql: ["select decode(card_number, 'escape') from customers"] },
      { name: 'convert_to(diagnosis)', sql: ["select convert_to(diagnosis, 'UTF8') from patients"] },
      {
        name: 'ascii() of every character, reassembled on the client',
        sql: ['select c.id, i, ascii(substr(c.full_name, i, 1)) from customers c, generate_series(1, 40) i where i <= length(c.full_name) order by c.id, i'],
        decode: (r) => joinPerKey(r, (n) => String.fromCharCode(n)),
      },
      {
        name: 'chr(ascii() + 1) shifted e-mails, shifted back on the client',
        sql: ["select string_agg(chr(ascii(substr(email, i, 1)) + 1), '' order by i) from customers, generate_series(1, 64) i where i <= length(email) group by id"],
        decode: (r) => rowTexts(r).map((row) => [...(row[0] ?? '')].map((ch) => String.fromCharCode(ch.charCodeAt(0) - 1)).join('')),
      },
      {
        name: 'strpos() into a constant alphabet rebuilds the name',
        sql: [
          `select string_agg(substr('${ALPHABET}', strpos('${ALPHABET}', substr(lower(full_name), i, 1)), 1), '' order by i) from customers, generate_series(1, 40) i where i <= length(full_name) group by id`,
        ],
      },
      {
        name: 'position() of each SSN character (ints only), decoded on the client',
        sql: ["select id, i, position(substr(ssn, i, 1) in '0123456789-') from customers, generate_series(1, 11) i where ssn is not null order by id, i"],
        decode: (r) => joinPerKey(r, (n) => '0123456789-'[n - 1] ?? '?'),
      },
      { name: 'btrim of a padded medication', sql: ["select btrim('  ' || medication || '  ') from patients"] },
      { name: 'regexp_replace spacing out every character', sql: ["select regexp_replace(full_name, '(.)', '\\1 ', 'g') from customers"] },
      { name: 'ts_headline(full_name)', sql: ["select ts_headline('simple', full_name, to_tsquery('simple', 'zzz')) from customers"] },
      { name: 'schema-qualified pg_catalog.lower(full_name)', sql: ['select pg_catalog.lower(full_name) from customers'] },
      { name: 'OPERATOR(pg_catalog.||) spelled out', sql: ["select full_name operator(pg_catalog.||) '' from customers"] },
      { name: 'COLLATE "C" on full_name', sql: ['select full_name collate "C" as n from customers'] },
      { name: "notes || '' (card numbers in free text)", sql: ["select notes || '' from customers"] },
      {
        name: 'card numbers in notes with the digit groups joined',
        sql: ["select regexp_replace(notes, '(\\d) (?=\\d)', '\\1', 'g') from customers where notes like '%card%'"],
      },
      {
        name: 'one character per row WITH ORDINALITY, reassembled on the client',
        sql: ['select c.id, u.n, u.ch from customers c, unnest(string_to_array(c.full_name, null)) with ordinality as u(ch, n) order by c.id, u.n'],
        decode: (r) => {
          const byKey = new Map<string, string[]>();
          for (const [key, , ch] of rowTexts(r)) if (key !== undefined) byKey.set(key, [...(byKey.get(key) ?? []), ch ?? '']);
          return [...byKey.values()].map((l) => l.join(''));
        },
      },
    ],
  },
  {
    family: 'casts',
    attempts: [
      { name: 'full_name::bytea', sql: ['select full_name::bytea from customers'] },
      { name: 'ssn::bytea', sql: ['select ssn::bytea from customers'] },
      { name: 'email::text', sql: ['select email::text from customers'] },
      { name: 'diagnosis::varchar', sql: ['select diagnosis::varchar from patients'] },
      { name: 'varchar(3) slices of the ssn', sql: ['select ssn::varchar(3), substr(ssn, 4)::varchar(3), substr(ssn, 7)::varchar(5) from customers'] },
      {
        name: 'char(1) of every position, aggregated',
        sql: ["select string_agg(substr(full_name, i)::char(1), '' order by i) from customers, generate_series(1, 40) i where i <= length(full_name) group by id"],
      },
      { name: 'to_json(full_name)', sql: ['select to_json(full_name) from customers'] },
      { name: 'diagnosis as a JSON string (::json)', sql: ["select format('\"%s\"', diagnosis)::json from patients"] },
      { name: 'to_jsonb(ssn)', sql: ['select to_jsonb(ssn) from customers'] },
      { name: 'full_name::name', sql: ['select full_name::name from customers'] },
      { name: 'full_name::xml', sql: ['select full_name::xml from customers'] },
      { name: 'diagnosis::xml', sql: ['select diagnosis::xml from patients'] },
      { name: 'email::tsvector', sql: ['select email::tsvector from customers'] },
      { name: 'ssn::tsvector', sql: ['select ssn::tsvector from customers'] },
      { name: 'card_number::char(40)', sql: ['select card_number::char(40) from customers'] },
      { name: 'ssn digits ::int8', sql: ["select replace(ssn, '-', '')::int8 from customers"] },
      { name: 'card_number::numeric', sql: ['select card_number::numeric from customers'] },
      {
        name: 'to_hex of the ssn digits, decoded on the client',
        sql: ["select to_hex(replace(ssn, '-', '')::int) from customers"],
        decode: (r) => rowTexts(r).map((row) => String(parseInt(row[0] ?? '0', 16)).padStart(9, '0')),
      },
      { name: 'date_of_birth::text', sql: ['select date_of_birth::text from customers'] },
      { name: "to_char(date_of_birth, 'YYYY-MM-DD')", sql: ["select to_char(date_of_birth, 'YYYY-MM-DD') from customers"] },
      { name: 'date_of_birth + 0', sql: ['select date_of_birth + 0 from customers'] },
      { name: 'date_of_birth::timestamp', sql: ['select date_of_birth::timestamp from customers'] },
      { name: 'cast(phone as varchar(40))', sql: ['select cast(phone as varchar(40)) from customers'] },
      { name: 'ssn::text::bytea::text', sql: ['select ssn::text::bytea::text from customers'] },
    ],
  },
  {
    family: 'arrays',
    attempts: [
      { name: 'array[email]', sql: ['select array[email] from customers'] },
      { name: 'array[full_name, ssn]', sql: ['select array[full_name, ssn] from customers'] },
      { name: 'array_agg(full_name)', sql: ['select array_agg(full_name) from customers'] },
      { name: "string_agg(email, ',')", sql: ["select string_agg(email, ',') from customers"] },
      { name: 'unnest(array[full_name, diagnosis])', sql: ['select unnest(array[full_name, diagnosis]) from patients'] },
      { name: 'array_to_string(array[ssn, card_number])', sql: ["select array_to_string(array[ssn, card_number], ':') from customers"] },
      { name: 'slice of array_agg(diagnosis)', sql: ['select (array_agg(diagnosis order by id))[1:5] from patients'] },
      { name: 'string_to_array(full_name)', sql: ["select string_to_array(full_name, ' ') from customers"] },
      { name: 'array_agg(distinct medication)', sql: ['select array_agg(distinct medication) from patients'] },
      { name: '(array[ssn])[1]', sql: ['select (array[ssn])[1] from customers'] },
      { name: 'array_agg(date_of_birth)', sql: ['select array_agg(date_of_birth) from customers'] },
    ],
  },
  {
    family: 'json, jsonb and xml builders',
    attempts: [
      { name: 'row_to_json(c)', sql: ['select row_to_json(c) from customers c'] },
      { name: 'to_jsonb(c)', sql: ['select to_jsonb(c) from customers c'] },
      { name: 'to_json(p) of patients', sql: ['select to_json(p) from patients p'] },
      { name: 'json_build_object(name, ssn)', sql: ["select json_build_object('n', full_name, 's', ssn) from customers"] },
      { name: 'jsonb_build_array(email, card)', sql: ['select jsonb_build_array(email, card_number) from customers'] },
      { name: 'jsonb_agg(full_name)', sql: ['select jsonb_agg(full_name) from customers'] },
      { name: 'json_agg(c)', sql: ['select json_agg(c) from customers c'] },
      { name: 'json_object_agg(id, diagnosis)', sql: ['select json_object_agg(id, diagnosis) from patients'] },
      { name: 'xmlelement(full_name)', sql: ['select xmlelement(name x, full_name) from customers'] },
      { name: 'xmlforest(full_name, ssn)', sql: ['select xmlforest(full_name, ssn) from customers'] },
      { name: 'xmlagg(xmlelement(diagnosis))', sql: ['select xmlagg(xmlelement(name d, diagnosis)) from patients'] },
      {
        name: 'json_populate_record into orders.status',
        sql: ["select r.status from customers c, json_populate_record(null::orders, json_build_object('status', c.full_name)) r"],
      },
      { name: 'jsonb_populate_record(null::patients, to_jsonb(p)), renamed', sql: ['select x.diagnosis as d from patients p, jsonb_populate_record(null::patients, to_jsonb(p)) x'] },
      { name: 'jsonb_each_text(to_jsonb(c))', sql: ['select e.key, e.value from customers c, jsonb_each_text(to_jsonb(c)) e'] },
      { name: 'jsonb_path_query(to_jsonb(c), $.full_name)', sql: ["select jsonb_path_query(to_jsonb(c), '$.full_name') from customers c"] },
      { name: "profile -> 'contact' ->> 'email'", sql: ["select profile -> 'contact' ->> 'email' from customers"] },
      { name: "to_jsonb(c) ->> 'ssn'", sql: ["select to_jsonb(c) ->> 'ssn' as ref from customers c"] },
      {
        name: 'json_to_recordset of json_agg(names)',
        sql: ["select x.* from json_to_recordset((select json_agg(json_build_object('label', full_name)) from patients)) as x(label text)"],
      },
      { name: 'jsonb_pretty(diagnosis)', sql: ["select jsonb_pretty(jsonb_build_object('dx', diagnosis)) from patients"] },
    ],
  },
  {
    family: 'whole-row references',
    attempts: [
      { name: 'select c from customers c', sql: ['select c from customers c'] },
      { name: 'c::text', sql: ['select c::text from customers c'] },
      { name: '(c).full_name renamed', sql: ['select (c).full_name as n from customers c'] },
      { name: 'row(c.*)', sql: ['select row(c.*) from customers c'] },
      { name: 'row(full_name, ssn)::text', sql: ['select row(c.full_name, c.ssn)::text from customers c'] },
      { name: 'c.* in a subquery with renamed columns', sql: ['select s.* from (select c.* from customers c) s(a, b, e, f, g, h, i, j, k, l)'] },
      { name: 'partial column alias list over c.*', sql: ['select x.b, x.e from (select c.* from customers c) x(a, b, cc, d, e)'] },
      { name: 'a subquery row as one value', sql: ['select t from (select full_name, ssn from customers) t'] },
      { name: 'concat(p) of a patient row', sql: ['select concat(p) from patients p'] },
      { name: 'scalar subquery returning a row', sql: ['select (select c from customers c where c.id = o.customer_id) from orders o'] },
      { name: 'p::text', sql: ['select p::text from patients p'] },
      { name: '(x).* of a row column', sql: ['select (x).* from (select c as x from customers c) s'] },
      { name: "format('%s', c)", sql: ["select format('%s', c) from customers c"] },
      { name: 'full_name(c): functional notation for a column', sql: ['select full_name(c) as n from customers c'] },
      { name: 'whole row of the view', sql: ['select v from cust_contacts v'] },
    ],
  },
  {
    family: 'aggregates and window functions',
    attempts: [
      { name: 'min(full_name) group by id', sql: ['select min(full_name) from customers group by id'] },
      { name: 'max(ssn) group by id', sql: ['select max(ssn) from customers group by id'] },
      { name: 'min(email), max(email)', sql: ['select min(email), max(email) from customers'] },
      { name: 'first_value(full_name)', sql: ['select first_value(full_name) over (partition by id) from customers'] },
      { name: 'lag(ssn)', sql: ['select lag(ssn) over (order by id) from customers'] },
      { name: 'lead(email)', sql: ['select lead(email) over (order by id) from customers'] },
      { name: 'nth_value(diagnosis, 1)', sql: ['select nth_value(diagnosis, 1) over (partition by id) from patients'] },
      { name: 'mode() within group (medication)', sql: ['select mode() within group (order by medication) from patients'] },
      { name: 'percentile_disc(0.5) over full_name', sql: ['select percentile_disc(0.5) within group (order by full_name) from customers'] },
      { name: 'string_agg(diagnosis) group by id', sql: ["select string_agg(diagnosis, ';') from patients group by id"] },
      { name: 'min(date_of_birth) group by id', sql: ['select min(date_of_birth) from customers group by id'] },
      { name: 'max(card_number) group by card_number', sql: ['select max(card_number) from customers group by card_number'] },
      { name: 'last_value(full_name) over a named window', sql: ['select last_value(full_name) over w from customers window w as (order by id rows between current row and current row)'] },
      { name: '(array_agg(ssn order by id))[1]', sql: ['select (array_agg(ssn order by id))[1] from customers'] },
      { name: 'max(medication) filter (...) group by id', sql: ['select max(medication) filter (where id > 0) from patients group by id'] },
      { name: 'mode() within group (diagnosis)', sql: ['select mode() within group (order by diagnosis) from patients'] },
      { name: 'percentile_disc(array[...]) over email', sql: ['select percentile_disc(array[0.1, 0.5, 0.9]) within group (order by email) from customers'] },
      { name: 'GROUP BY ROLLUP(full_name) renamed', sql: ['select full_name as n, count(*) from customers group by rollup (full_name)'] },
    ],
  },
  {
    family: 'subqueries and RETURNING',
    attempts: [
      { name: 'scalar subquery in the select list', sql: ['select (select full_name from customers c where c.id = o.customer_id) as buyer from orders o'] },
      { name: '(select email as x from customers) s', sql: ['select x from (select email as x from customers) s'] },
      { name: '(select full_name as x from customers) s', sql: ['select x from (select full_name as x from customers) s'] },
      { name: "(select full_name || '' as x) s", sql: ["select x from (select full_name || '' as x from customers) s"] },
      {
        name: 'EXISTS deciding a CASE that outputs the diagnosis',
        sql: ["select id, case when exists (select 1 from patients p2 where p2.id = p.id and p2.diagnosis is not null) then p.diagnosis else 'none' end from patients p"],
      },
      { name: 'correlated scalar ssn', sql: ['select id, (select ssn from customers where id = o.customer_id) from orders o'] },
      { name: 'uncorrelated scalar string_agg', sql: ["select (select string_agg(diagnosis, ',') from patients)"] },
      { name: "scalar subquery || ''", sql: ["select (select email from customers c where c.id = o.customer_id) || '' from orders o"] },
      { name: 'array(select diagnosis)', sql: ['select array(select diagnosis from patients)'] },
      { name: '(select full_name) referencing the outer row', sql: ['select (select full_name) as n from customers'] },
      { name: 'unnest of an array subquery in FROM', sql: ['select * from unnest((select array_agg(full_name) from customers)) as u(n)'] },
      { name: 'jsonb_array_elements_text of a jsonb_agg subquery', sql: ['select jsonb_array_elements_text((select jsonb_agg(full_name) from customers))'] },
      { name: 'XMLTABLE over xmlelement(full_name)', sql: ["select x.n from customers c, xmltable('/r' passing xmlelement(name r, c.full_name) columns n text path '.') x"] },
      {
        name: 'UPDATE ... RETURNING a subquery',
        sql: ['update orders set status = status where id = 1 returning (select full_name from customers c where c.id = orders.customer_id) as buyer'],
      },
      { name: 'INSERT ... SELECT ssn RETURNING', sql: ['insert into sink (note) select ssn from customers where id <= 3 returning note'], reset: 'truncate sink' },
    ],
  },
  {
    family: 'CTEs, recursive too',
    attempts: [
      { name: 'plain CTE renaming full_name', sql: ['with x as (select full_name n from customers) select n from x'] },
      { name: 'CTE column list then concatenation', sql: ["with x(a) as (select email from customers) select a || '' from x"] },
      { name: 'CTE column list renaming ssn and card', sql: ['with x(a, b) as (select ssn, card_number from customers) select a, b from x'] },
      { name: 'materialized CTE', sql: ['with x as materialized (select diagnosis from patients) select diagnosis as d from x'] },
      { name: 'two CTEs renaming twice', sql: ['with a as (select id, email from customers), b as (select id, email as contact from a) select contact from b'] },
      {
        name: 'recursive CTE walking each name char by char',
        sql: [
          `with recursive r(id, i, ch) as (
             select id, 1, substr(full_name, 1, 1) from customers
             union all
             select r.id, r.i + 1, substr(c.full_name, r.i + 1, 1) from r join customers c on c.id = r.id where r.i < length(c.full_name)
           ) select string_agg(ch, '' order by i) from r group by id`,
        ],
      },
      {
        name: 'recursive CTE walking each ssn',
        sql: [
          `with recursive r(id, i, ch) as (
             select id, 1, substr(ssn, 1, 1) from customers
             union all
             select r.id, r.i + 1, substr(c.ssn, r.i + 1, 1) from r join customers c on c.id = r.id where r.i < length(c.ssn)
           ) select string_agg(ch, '' order by i) from r group by id`,
        ],
      },
      {
        name: 'recursive r(i, ch) over one diagnosis',
        sql: [
          `with recursive r(i, ch) as (
             select 1, substr((select diagnosis from patients order by id limit 1), 1, 1)
             union all
             select i + 1, substr((select diagnosis from patients order by id limit 1), i + 1, 1) from r where i < 80
           ) select string_agg(ch, '' order by i) from r`,
        ],
      },
      { name: 'data-modifying CTE returning the copy', sql: ['with s as (insert into sink (note) select full_name from customers returning note) select note from s'], reset: 'truncate sink' },
    ],
  },
  {
    family: 'set operations',
    attempts: [
      { name: "'n/a' as status UNION ALL full_name", sql: ["select 'n/a' as status union all select full_name from customers"] },
      { name: "'x' as label UNION ssn", sql: ["select 'x' as label union select ssn from customers"] },
      { name: 'null::text as note UNION ALL diagnosis', sql: ['select null::text as note union all select diagnosis from patients'] },
      { name: 'email as tag INTERSECT email', sql: ['select email as tag from customers intersect select email from customers'] },
      { name: "full_name as tag EXCEPT 'nobody'", sql: ["select full_name as tag from customers except select 'nobody'"] },
      { name: "('' as k) UNION ALL card_number", sql: ["(select '' as k) union all (select card_number from customers)"] },
      { name: 'two constant columns UNION ALL name, ssn', sql: ["select 'a' as t, 'b' as u union all select full_name, ssn from customers"] },
      { name: 'UNION ALL medication ordered', sql: ["select 'zz' as note union all select medication from patients order by 1"] },
    ],
  },
  {
    family: 'LATERAL, VALUES, joins and conditional expressions',
    attempts: [
      { name: 'LATERAL (select c.full_name as v)', sql: ['select l.v from customers c, lateral (select c.full_name as v) l'] },
      { name: "CROSS JOIN LATERAL (ssn || '')", sql: ["select l.* from customers c cross join lateral (select c.ssn || '' as v) l"] },
      { name: 'JOIN LATERAL on true', sql: ['select l.x from orders o join lateral (select full_name as x from customers c where c.id = o.customer_id) l on true'] },
      { name: 'LATERAL unnest(array[email, phone])', sql: ['select t.v from customers c, lateral unnest(array[c.email, c.phone]) t(v)'] },
      { name: 'VALUES holding a scalar subquery', sql: ['select v.x from (values ((select full_name from customers order by id limit 1))) v(x)'] },
      { name: 'VALUES joined with customers', sql: ["select v.tag, c.full_name as who from (values (1, 'a'), (2, 'b')) v(id, tag) join customers c on c.id = v.id"] },
      { name: 'JOIN USING onto a renamed subquery', sql: ['select id, x from customers join (select id, full_name as x from customers) s using (id)'] },
      { name: 'VALUES JOIN USING, ssn renamed', sql: ["select v.k, c.ssn as ref from customers c join (values (1, 'k')) v(id, k) using (id)"] },
      { name: "coalesce(full_name, '')", sql: ["select coalesce(full_name, '') from customers"] },
      { name: "nullif(ssn, '')", sql: ["select nullif(ssn, '') from customers"] },
      { name: "greatest(email, '')", sql: ["select greatest(email, '') from customers"] },
      { name: "least(card_number, 'z')", sql: ["select least(card_number, 'z') from customers"] },
      { name: 'case when true then diagnosis', sql: ['select case when true then diagnosis end from patients'] },
      { name: 'case id % 2: full_name or ssn', sql: ['select case id % 2 when 0 then full_name else ssn end from customers'] },
      { name: 'coalesce(null, medication)', sql: ['select coalesce(null, medication) as m from patients'] },
    ],
  },
  {
    family: 'views, SQL functions and unknown lineage',
    attempts: [
      { name: 'view renaming email to contact', sql: ['select contact from cust_contacts'] },
      { name: 'view renaming full_name and ssn', sql: ['select who, tax_ref from cust_contacts'] },
      { name: "view column || ''", sql: ["select contact || '' from cust_contacts"] },
      { name: 'view with computed columns', sql: ['select label, ref from cust_labels'] },
      { name: 'SQL function returning email', sql: ['select contact_of(id) from customers'] },
      { name: 'set-returning SQL function of names', sql: ['select * from all_names()'] },
      { name: 'SQL function returning the diagnosis', sql: ['select dx_of(id) from patients'] },
      { name: 'SQL function in a renamed subquery', sql: ['select x from (select contact_of(1)) s(x)'] },
      { name: 'SQL function in FROM', sql: ['select * from contact_of(5) as f(x)'] },
      { name: 'plpgsql function in FROM', sql: ['select * from ssn_of(3) as f(x)'] },
      { name: 'plpgsql function returning ssn', sql: ['select ssn_of(id) from customers'] },
      { name: "query_to_xml('select email from customers')", sql: ["select query_to_xml('select email from customers', true, true, '')"] },
      { name: "query_to_xml('select full_name from customers')", sql: ["select query_to_xml('select full_name from customers', true, true, '')"] },
      { name: "table_to_xml('patients')", sql: ["select table_to_xml('patients', true, false, '')"] },
      { name: 'xpath over query_to_xml', sql: ["select xpath('//full_name/text()', query_to_xml('select full_name from customers', true, false, ''))"] },
      {
        name: 'dblink back into the database',
        sql: [`select n from dblink('dbname=${DB} host=${PG_HOST} port=${PG_PORT} user=postgres', 'select full_name from customers') as t(n text)`],
      },
    ],
  },
  {
    family: 'cursors (DECLARE / FETCH)',
    attempts: [
      { name: "cursor over email || ''", sql: ['begin', "declare c1 cursor for select email || '' from customers", 'fetch all c1', 'commit'] },
      { name: 'cursor over full_name renamed, two fetches', sql: ['begin', 'declare c2 cursor for select full_name as n from customers', 'fetch 50 from c2', 'fetch all from c2', 'commit'] },
      { name: 'BINARY cursor over ssn', sql: ['begin', 'declare c3 binary cursor for select ssn from customers', 'fetch all c3', 'commit'] },
      { name: 'WITH HOLD cursor over diagnosis', sql: ['declare c4 cursor with hold for select diagnosis from patients', 'fetch all from c4', 'close c4'] },
      {
        name: 'SCROLL cursor, absolute and backward',
        sql: ['begin', 'declare c5 scroll cursor for select card_number as x from customers', 'fetch absolute 5 from c5', 'fetch backward 3 from c5', 'fetch all from c5', 'commit'],
      },
      { name: 'MOVE then FETCH upper(diagnosis)', sql: ['begin', 'declare c6 cursor for select upper(diagnosis) from patients', 'move 3 in c6', 'fetch 20 from c6', 'commit'] },
    ],
  },
  {
    family: 'SQL PREPARE / EXECUTE',
    attempts: [
      { name: "PREPARE full_name || ''", sql: ["prepare p1 as select full_name || '' from customers", 'execute p1'] },
      { name: 'PREPARE ssn as x with a parameter', sql: ['prepare p2(int) as select ssn as x from customers where id > $1', 'execute p2(0)'] },
      { name: 'PREPARE plain diagnosis', sql: ['prepare p3 as select diagnosis from patients', 'execute p3'] },
      { name: 'PREPARE upper(email)', sql: ['prepare p4 as select upper(email) from customers', 'execute p4'] },
      { name: 'PREPARE with a text parameter appended', sql: ['prepare p5(text) as select full_name || $1 from customers', "execute p5('')"] },
      { name: 'PREPARE over the view', sql: ['prepare p6 as select who, tax_ref from cust_contacts', 'execute p6'] },
    ],
  },
  {
    family: 'protocol-level prepared statements, binary formats and porsager postgres',
    attempts: [
      {
        name: "pg named statement full_name || $1, twice",
        sql: [
          { name: 'n1', text: 'select full_name || $1 as n from customers', values: [''] },
          { name: 'n1', text: 'select full_name || $1 as n from customers', values: [''] },
        ],
      },
      { name: 'pg named statement ssn as x', sql: [{ name: 'n2', text: 'select ssn as x from customers where id < $1', values: [300] }] },
      { name: "multi-statement simple query: select 1; select full_name || ''", sql: ["select 1 as a; select full_name || '' as n from customers"] },
      { name: 'pg named statement diagnosis || $1', sql: [{ name: 'n3', text: 'select diagnosis || $1 as d from patients', values: [''] }] },
      { name: 'pg binary results of full_name || $1', sql: [{ text: 'select full_name || $1 from customers', values: [''], binary: true } as Step] },
      {
        name: 'raw binary result: full_name || empty',
        run: (t) => rawRun(t, async (s) => void (await s.send(extendedQuery("select full_name || '' from customers", true)))),
      },
      { name: 'raw binary result: array_agg(full_name)', run: (t) => rawRun(t, async (s) => void (await s.send(extendedQuery('select array_agg(full_name) from customers', true)))) },
      { name: 'raw binary result: row_to_json(p)', run: (t) => rawRun(t, async (s) => void (await s.send(extendedQuery('select row_to_json(p) from patients p', true)))) },
      { name: 'raw binary result: ssn::bytea', run: (t) => rawRun(t, async (s) => void (await s.send(extendedQuery('select ssn::bytea from customers', true)))) },
      { name: 'raw binary result: whole row c', run: (t) => rawRun(t, async (s) => void (await s.send(extendedQuery('select c from customers c', true)))) },
      {
        name: 'raw binary result: date_of_birth + 0 (int32 days, decoded)',
        run: (t) => rawRun(t, async (s) => void (await s.send(extendedQuery('select date_of_birth + 0 from customers', true)))),
        decode: (r) =>
          r.groups
            .filter((g) => g.source === 'row')
            .flatMap((g) => g.values.filter((v): v is Buffer => Buffer.isBuffer(v) && v.length === 4))
            .map((b) => new Date(Date.UTC(2000, 0, 1) + b.readInt32BE(0) * 86_400_000).toISOString().slice(0, 10)),
      },
      { name: "porsager: full_name || ''", run: (t) => porsager(t, async (sql) => sql`select full_name || '' as n from customers`.values()) },
      { name: 'porsager: parameter || ssn', run: (t) => porsager(t, async (sql) => sql`select ${''}::text || ssn as s from customers`.values()) },
      { name: 'porsager: full_name::bytea', run: (t) => porsager(t, async (sql) => sql`select full_name::bytea as b from customers`.values()) },
      { name: 'porsager: unsafe diagnosis || $1', run: (t) => porsager(t, async (sql) => sql.unsafe('select diagnosis || $1 as d from patients', ['']).values()) },
      {
        name: 'porsager: cursor over upper(full_name)',
        run: (t) =>
          porsager(t, async (sql) => {
            const out: unknown[][] = [];
            for await (const batch of sql`select upper(full_name) as n from customers`.cursor(25)) for (const row of batch) out.push(Object.values(row));
            return out;
          }),
      },
    ],
  },
  {
    family: 'protocol Bind/Describe/Execute to names the client did not create',
    attempts: [
      {
        name: 'FunctionCall message to contact_of(3)',
        run: (t) =>
          rawRun(t, async (s) => {
            await s.query("select 'contact_of'::regproc::oid");
            const oidRow = s.reply.groups.find((g) => g.source === 'row');
            const oid = Number(oidRow?.values[0]?.toString() ?? 0);
            s.reply.groups.length = 0;
            await s.send([functionCall(oid, ['3'])]);
          }),
      },
      {
        name: 'Bind to a SQL-PREPAREd statement (no Describe)',
        run: (t) =>
          rawRun(t, async (s) => {
            await s.query('prepare sp as select full_name, ssn from customers');
            await s.send([serialize.bind({ statement: 'sp', values: [] }), serialize.execute({}), serialize.sync()]);
          }),
      },
      {
        name: 'Bind to a SQL-PREPAREd statement, Describe, binary',
        run: (t) =>
          rawRun(t, async (s) => {
            await s.query("prepare sp2 as select diagnosis, full_name || '' from patients");
            await s.send([serialize.bind({ statement: 'sp2', values: [], binary: true }), serialize.describe({ type: 'P' }), serialize.execute({}), serialize.sync()]);
          }),
      },
      {
        name: "Execute a SQL cursor's portal by name",
        run: (t) =>
          rawRun(t, async (s) => {
            await s.query('begin');
            await s.query('declare cur cursor for select full_name, ssn, email from customers');
            await s.send([serialize.execute({ portal: 'cur' }), serialize.sync()]);
            await s.query('commit');
          }),
      },
      {
        name: "Describe and Execute a SQL cursor's portal",
        run: (t) =>
          rawRun(t, async (s) => {
            await s.query('begin');
            await s.query('declare cur2 cursor for select diagnosis from patients');
            await s.send([serialize.describe({ type: 'P', name: 'cur2' }), serialize.execute({ portal: 'cur2' }), serialize.sync()]);
            await s.query('commit');
          }),
      },
      {
        name: "Bind to another client's statement name s1",
        run: async (t, ctx) => {
          const text = 'select full_name || $1 as n from customers';
          if (isDirect(t, ctx)) {
            // Directly, a statement name only exists on its own connection: show the statement leaks when bound.
            return rawRun(t, async (s) => void (await s.send([serialize.parse({ name: 's1', text, types: [] }), serialize.bind({ statement: 's1', values: [''] }), serialize.execute({}), serialize.sync()])));
          }
          const owner = await RecordingClient.connect(t);
          try {
            await owner.run({ name: 's1', text, values: ['x'] });
            return await rawRun(t, async (s) => {
              for (let i = 0; i < 4; i++) await s.send([serialize.bind({ statement: 's1', values: [''] }), serialize.execute({}), serialize.sync()]);
            });
          } finally {
            await owner.end();
          }
        },
      },
      {
        name: "Bind to dgf's own server-side names (dgf_0, dgf_1, ...) prepared for admin",
        run: async (t, ctx) => {
          const text = 'select full_name, ssn, card_number from customers';
          if (isDirect(t, ctx)) {
            return rawRun(t, async (s) => void (await s.send([serialize.parse({ name: 'dgf_0', text, types: [] }), serialize.bind({ statement: 'dgf_0', values: [] }), serialize.execute({}), serialize.sync()])));
          }
          // admin prepares the statement on both upstream connections: one holds a transaction while the other prepares.
          const a = await RecordingClient.connect(ctx.admin);
          const b = await RecordingClient.connect(ctx.admin);
          try {
            await a.run('begin');
            await a.run('select 1');
            await b.run({ name: 'adm', text, values: [] });
            await a.run({ name: 'adm', text, values: [] });
            await a.run('commit');
            return await rawRun(t, async (s) => {
              for (let round = 0; round < 2; round++) {
                for (let n = 0; n < 160; n++) {
                  await s.send([serialize.bind({ statement: `dgf_${n.toString(36)}`, values: [] }), serialize.execute({}), serialize.sync()]);
                }
              }
            });
          } finally {
            await a.end();
            await b.end();
          }
        },
      },
    ],
  },
  {
    family: 'COPY (query) TO through psql, and COPY to server files',
    attempts: [
      { name: "COPY (email || '') TO STDOUT", run: psqlAttempt("copy (select email || '' from customers) to stdout") },
      { name: 'COPY (full_name renamed, concatenated) CSV HEADER', run: psqlAttempt("copy (select full_name || '' as n from customers) to stdout with (format csv, header)") },
      { name: 'COPY (upper(diagnosis)) TO STDOUT', run: psqlAttempt('copy (select upper(diagnosis) from patients) to stdout') },
      { name: 'COPY of a join', run: psqlAttempt('copy (select c.full_name, o.id from customers c join orders o on o.customer_id = c.id) to stdout') },
      { name: 'COPY of the view', run: psqlAttempt('copy (select * from cust_contacts) to stdout') },
      { name: 'COPY (ssn as x) binary', run: psqlAttempt('copy (select ssn as x from customers) to stdout (format binary)') },
      { name: 'COPY (replace(ssn)) binary', run: psqlAttempt("copy (select replace(ssn, '-', '') from customers) to stdout (format binary)") },
      { name: "\\copy (full_name || '') to stdout", run: psqlAttempt("\\copy (select full_name || '' from customers) to stdout") },
      { name: 'COPY of a renamed subquery column', run: psqlAttempt('copy (select x from (select full_name as x from customers) s) to stdout') },
      { name: 'COPY (row_to_json(p))', run: psqlAttempt('copy (select row_to_json(p) from patients p) to stdout') },
      {
        name: 'COPY through the extended protocol',
        run: (t) => rawRun(t, async (s) => void (await s.send(extendedQuery("copy (select full_name || '' from customers) to stdout", false)))),
      },
      { name: 'COPY of mode() within group', run: psqlAttempt('copy (select mode() within group (order by diagnosis) from patients) to stdout') },
      {
        name: 'COPY TO a server file, read back with pg_read_file',
        run: (t) => {
          const file = serverFile(t, 'copy');
          return runSteps(t, [`copy (select full_name, diagnosis from patients) to '${file}'`, `select pg_read_file('${file}')`]);
        },
      },
      {
        name: 'COPY TO PROGRAM, read back with pg_read_file',
        run: (t) => {
          const file = serverFile(t, 'program');
          return runSteps(t, [`copy (select full_name, ssn from customers) to program 'cat > ${file}'`, `select pg_read_file('${file}')`]);
        },
      },
    ],
  },
  {
    family: 'errors and notices',
    attempts: [
      { name: 'email::int', sql: ['select email::int from customers'], directError: '22P02' },
      { name: 'ssn::date', sql: ['select ssn::date from customers'], directError: '22008' },
      { name: 'full_name::numeric', sql: ['select full_name::numeric from customers'], directError: '22P02' },
      { name: 'card_number::int (out of range)', sql: ['select card_number::int from customers'], directError: '22003' },
      { name: 'unterminated JSON string of the name', sql: ["select ('\"' || full_name)::json from customers"], directError: '22P02' },
      { name: 'xmlparse(document diagnosis)', sql: ['select xmlparse(document diagnosis) from patients'], directError: '2200M' },
      { name: 'email::uuid', sql: ['select email::uuid from customers'], directError: '22P02' },
      { name: 'email::regclass', sql: ['select email::regclass from customers'], directError: '0A000' },
      { name: 'date_of_birth::text::int', sql: ['select date_of_birth::text::int from customers'], directError: '22P02' },
      { name: 'cast error in WHERE', sql: ['select count(*) from customers where full_name::int > 0'], directError: '22P02' },
      { name: 'string_agg(full_name)::int', sql: ["select string_agg(full_name, ',')::int from customers"], directError: '22P02' },
      { name: 'current_setting(full_name)', sql: ['select current_setting(full_name) from customers'], directError: '42704' },
      { name: 'set_config(full_name, ...)', sql: ["select set_config(full_name, '1', false) from customers"], directError: '42704' },
      { name: 'plpgsql RAISE EXCEPTION of a value', sql: ['select boom(ssn) from customers'], directError: 'P0001' },
      { name: 'unique violation echoing the e-mail', sql: ['insert into newsletter (email) select email from customers where id = 7'], directError: '23505' },
      { name: 'unique violation on UPDATE', sql: ['update newsletter set email = (select email from customers where id = 9) where id = 1'], directError: '23505' },
      { name: 'check violation: Failing row contains', sql: ['insert into short_notes (body) select full_name from customers where id = 3'], directError: '23514' },
      { name: 'not-null violation: Failing row contains', sql: ['insert into strict_rows (id, label) select id, full_name from customers where id = 5'], directError: '23502' },
      { name: 'DO block RAISE NOTICE of an e-mail', sql: ["do $$ begin raise notice '%', (select email from customers order by id limit 1); end $$"] },
      { name: 'DO block RAISE NOTICE of every name', sql: ["do $$ begin raise notice 'hello %', (select string_agg(full_name, ',') from customers); end $$"] },
      { name: 'DO block RAISE EXCEPTION of a diagnosis', sql: ["do $$ begin raise exception 'x %', (select diagnosis from patients order by id limit 1); end $$"], directError: 'P0001' },
      { name: 'plpgsql RAISE NOTICE called in WHERE', sql: ['select id from customers where shout(full_name) limit 3'] },
      { name: 'plpgsql RAISE NOTICE called in the select list', sql: ['select shout(diagnosis) from patients limit 3'] },
      { name: 'plpgsql RAISE NOTICE called in ORDER BY', sql: ['select id from customers order by shout(full_name), id limit 2'] },
      { name: 'CALL a procedure that raises a notice', sql: ['call shout_all()'] },
      { name: "INSERT firing an admin's trigger that raises a notice", sql: ['insert into visits (customer_id) values (3), (4)'], reset: 'truncate visits' },
    ],
  },
  {
    family: 'session state, notifications, statistics and laundering',
    attempts: [
      { name: 'set_config(x.y, email) then current_setting', sql: ["select set_config('x.y', email, false) from customers where id = 2", "select current_setting('x.y')"] },
      { name: 'set_config(x.z, string_agg(ssn)) is not null, then SHOW', sql: ["select set_config('x.z', (select string_agg(ssn, ',') from customers), false) is not null", 'show x.z'] },
      { name: 'set_config(application_name, full_name): ParameterStatus', sql: ["select set_config('application_name', full_name, false) is not null from customers where id = 4"] },
      { name: 'LISTEN + pg_notify(ch, full_name)', sql: ['listen ch', "select pg_notify('ch', full_name) from customers where id <= 3"], settleMs: 300 },
      { name: 'LISTEN + pg_notify(ch, string_agg(ssn))', sql: ['listen ch2', "select pg_notify('ch2', (select string_agg(ssn, ' ') from customers))"], settleMs: 300 },
      { name: 'set_config in WHERE, then SHOW', sql: ["select 1 from customers where set_config('x.w', full_name, false) is not null and id = 2", 'show x.w'] },
      { name: 'LISTEN + pg_notify in WHERE', sql: ['listen ch3', "select count(*) from customers where pg_notify('ch3', full_name) is null and id <= 3"], settleMs: 300 },
      { name: 'pg_catalog.set_config schema-qualified, then SHOW', sql: ["select pg_catalog.set_config('x.q', full_name, false) is null from customers where id = 2", 'show x.q'] },
      { name: 'quoted "set_config", then SHOW', sql: ["select pg_catalog.\"set_config\"('x.r', ssn, false) is null from customers where id = 2", 'show x.r'] },
      {
        name: 'set_config(..., is_local true) inside a transaction',
        sql: ['begin', "select set_config('x.s', full_name, true) is null from customers where id = 2", 'show x.s', 'commit'],
      },
      { name: 'LISTEN + pg_catalog.pg_notify', sql: ['listen ch4', "select pg_catalog.pg_notify('ch4', ssn) from customers where id <= 3"], settleMs: 300 },
      {
        name: 'pg_statistic stavalues directly',
        sql: ["select s.staattnum, s.stavalues1::text, s.stavalues2::text from pg_statistic s where s.starelid = 'patients'::regclass"],
      },
      { name: 'UPDATE customers SET notes = full_name RETURNING notes (rolled back)', sql: ['begin', 'update customers set notes = full_name where id <= 3 returning notes', 'rollback'] },
      {
        name: 'MERGE the names into an unclassified table',
        sql: ['merge into sink s using customers c on false when not matched then insert (note) values (c.full_name)', 'select note from sink'],
        reset: 'truncate sink',
      },
      { name: 'pg_stats histogram_bounds of customers.email', sql: ["select histogram_bounds::text from pg_stats where tablename = 'customers' and attname = 'email'"] },
      { name: 'pg_stats most_common_vals of patients.diagnosis', sql: ["select most_common_vals::text from pg_stats where tablename = 'patients' and attname = 'diagnosis'"] },
      { name: 'pg_stats of medication (anyarray)', sql: ["select most_common_vals from pg_stats where tablename = 'patients' and attname = 'medication'"] },
      { name: "pg_stats where attname = 'email' after ANALYZE", sql: ['analyze customers', "select coalesce(most_common_vals::text, '') || coalesce(histogram_bounds::text, '') from pg_stats where attname = 'email'"] },
      { name: 'CREATE TEMP TABLE AS renamed columns', sql: ['create temp table t_l as select full_name as n, ssn as s from customers', 'select n, s from t_l'] },
      { name: 'SELECT INTO TEMP', sql: ['select full_name as n into temp t_l2 from customers', 'select n from t_l2'] },
      { name: 'CREATE TABLE AS', sql: ['create table laundry_ctas as select diagnosis as d from patients', 'select d from laundry_ctas'], reset: 'drop table if exists laundry_ctas' },
      { name: 'CREATE VIEW', sql: ['create view laundry_view as select full_name as n from customers', 'select n from laundry_view'], reset: 'drop view if exists laundry_view' },
      {
        name: 'CREATE MATERIALIZED VIEW',
        sql: ['create materialized view laundry_mv as select ssn as s from customers', 'select s from laundry_mv'],
        reset: 'drop materialized view if exists laundry_mv',
      },
      {
        name: 'CREATE FUNCTION (SQL) returning ssn',
        sql: ['create function laundry_fn() returns setof text language sql as $$ select ssn from customers $$', 'select * from laundry_fn()'],
        reset: 'drop function if exists laundry_fn()',
      },
      { name: 'temp view shadowing orders', sql: ["create temp view orders as select id, full_name || '' as status from public.customers", 'select status from orders'] },
      { name: 'INSERT INTO an unclassified table, read back', sql: ['insert into sink (note) select full_name from customers', 'select note from sink'], reset: 'truncate sink' },
      { name: 'INSERT the e-mails INTO an unclassified table, read back', sql: ['insert into sink (note) select email from customers', 'select note from sink'], reset: 'truncate sink' },
      { name: 'create temp table t as select email', sql: ['create temp table t as select email from customers', 'select * from t'] },
      {
        name: 'UPDATE an unclassified table from ssn, read back',
        sql: ["insert into sink (note) values ('x')", "update sink set note = (select string_agg(ssn, ' ') from customers)", 'select note from sink'],
        reset: 'truncate sink',
      },
      {
        name: 'trigger copying the name into the row',
        sql: [
          'create table trig_t (id int, note text)',
          'create function trig_fn() returns trigger language plpgsql as $$ begin new.note := (select full_name from customers where id = new.id); return new; end $$',
          'create trigger trig_tr before insert on trig_t for each row execute function trig_fn()',
          'insert into trig_t (id) values (1), (2), (3)',
          'select note from trig_t',
        ],
        reset: 'drop table if exists trig_t; drop function if exists trig_fn()',
      },
      {
        name: 'rule copying the name into sink',
        sql: [
          'create table rule_t (id int, note text)',
          'create rule rule_r as on insert to rule_t do also insert into sink (note) select full_name from customers where id = new.id',
          "insert into rule_t values (1, 'x'), (2, 'y')",
          'select note from sink',
        ],
        reset: 'drop table if exists rule_t cascade; truncate sink',
      },
      {
        name: 'large object of every name',
        sql: ["select lo_from_bytea(424242, convert_to((select string_agg(full_name, ',') from customers), 'UTF8'))", "select convert_from(lo_get(424242), 'UTF8')"],
        reset: 'select lo_unlink(oid) from pg_largeobject_metadata where oid = 424242',
      },
      { name: 'pg_read_binary_file of the patients heap', sql: ["select pg_read_binary_file(pg_relation_filepath('patients'))"] },
      {
        name: 'CREATE EXTENSION hstore, hstore(c)',
        sql: ['create extension hstore', 'select hstore(c)::text from customers c'],
        reset: 'drop extension if exists hstore',
      },
    ],
  },
];

// ------------------------------------------------------------------------------------------------ the run

describe('leak-proof masking: analyst bypass attempts (issue #15)', () => {
  let db: GovernedDatabase;
  let ctx: Ctx;
  let secrets: Secrets;

  before(async () => {
    db = await startGovernedDatabase(DB);
    const target = (user: string): Target => ({ host: '127.0.0.1', port: db.port, user, password: user, database: DB });
    ctx = { direct: { host: PG_HOST, port: PG_PORT, user: 'postgres', database: DB }, analyst: target('analyst'), admin: target('admin') };
    await db.direct.query(`
      create view cust_contacts as select id, email as contact, full_name as who, ssn as tax_ref from customers;
      create view cust_labels as select id, upper(full_name) as label, ssn || '' as ref from customers;
      create function contact_of(i int) returns text language sql stable as $$ select email from customers where id = i $$;
      create function all_names() returns setof text language sql stable as $$ select full_name from customers $$;
      create function dx_of(i int) returns text language sql stable as $$ select diagnosis from patients where id = i $$;
      create function ssn_of(i int) returns text language plpgsql stable as $$ begin return (select ssn from customers where id = i); end $$;
      create function shout(v text) returns boolean language plpgsql volatile as $$ begin raise notice 'checking %', v; return true; end $$;
      create function boom(v text) returns int language plpgsql volatile as $$ begin raise exception 'bad value %', v; end $$;
      create procedure shout_all() language plpgsql as $$ begin raise notice 'all: %', (select string_agg(full_name, ',') from customers); end $$;
      create table visits (id serial primary key, customer_id int not null);
      create function visit_notice() returns trigger language plpgsql as $$ begin raise notice 'visit by %', (select full_name from customers where id = new.customer_id); return new; end $$;
      create trigger visit_notice before insert on visits for each row execute function visit_notice();
      create table newsletter (id serial primary key, email text unique not null);
      insert into newsletter (email) select email from customers order by id;
      create table short_notes (id serial primary key, body text check (length(body) < 5));
      create table strict_rows (id int, label text, code text not null);
      create table sink (id serial primary key, note text);
      create extension dblink;
      analyze;
      checkpoint;
    `);
    secrets = await loadSecrets(db.direct);
    assert.ok(secrets.whole.length > 1000, 'clear values loaded');
  });

  after(async () => {
    // the server files the COPY TO FILE/PROGRAM attempts wrote (owned by the server's OS user)
    await db?.direct.query(`copy (select 1) to program 'rm -f /tmp/dgf-leakproof-${process.pid}-*'`).catch(() => undefined);
    await db?.stop();
  });

  async function execute(a: Attempt, t: Target): Promise<Reply> {
    if (a.reset) await db.direct.query(a.reset);
    const work = a.run ? a.run(t, ctx) : runSteps(t, a.sql ?? [], a.settleMs ?? 0);
    const timeout = sleep(ATTEMPT_TIMEOUT_MS).then(() => null);
    const reply = (await Promise.race([work, timeout])) ?? { groups: [], errors: [{ code: 'timeout', message: `no answer in ${ATTEMPT_TIMEOUT_MS} ms` }] };
    const decoded = a.decode?.(reply) ?? [];
    return decoded.length ? mergeReplies(reply, { groups: [{ source: 'decoded on the client', values: decoded }], errors: [] }) : reply;
  }

  const REFUSED = new Set(['42501', '26000', '34000']);

  async function runFamily(t: TestContext, attempts: Attempt[]): Promise<void> {
    const problems: string[] = [];
    const tally = { leaked: 0, refused: 0, masked: 0, otherError: 0 };
    for (const a of attempts) {
      // 1. directly, as postgres: the attack must be valid SQL and must show clear values there.
      const direct = await execute(a, ctx.direct);
      const unexpected = direct.errors.filter((e) => e.code !== a.directError);
      if (unexpected.length) problems.push(`${a.name}: attack is broken: directly it fails with ${unexpected.map((e) => `${e.code} ${e.message}`).join('; ')}`);
      if (a.directError && !direct.errors.some((e) => e.code === a.directError)) problems.push(`${a.name}: attack is broken: directly it does not fail with ${a.directError}`);
      if (findLeaks(direct, secrets).length === 0) problems.push(`${a.name}: attack is broken: directly it shows no clear value`);
      // 2. through dgf, as analyst.
      const reply = await execute(a, ctx.analyst);
      const leaks = findLeaks(reply, secrets);
      const codes = [...new Set(reply.errors.map((e) => e.code))];
      let outcome: string;
      if (leaks.length) {
        tally.leaked++;
        outcome = `LEAK: ${leaks.join('; ')}`;
        problems.push(`${a.name}: LEAK${codes.length ? ` (errors ${codes.join(',')})` : ''}: ${leaks.join('; ')}`);
      } else if (codes.some((c) => REFUSED.has(c))) {
        tally.refused++;
        outcome = `refused ${codes.join(',')}: ${reply.errors.find((e) => REFUSED.has(e.code))!.message}`;
      } else if (codes.length) {
        tally.otherError++;
        outcome = `no leak, error ${reply.errors.map((e) => `${e.code} ${e.message}`).join('; ')}`;
      } else {
        tally.masked++;
        const rows = reply.groups.filter((g) => g.source !== 'error' && g.source !== 'parameter');
        const sample = rows[0]?.values.map((v) => (Buffer.isBuffer(v) ? v.toString('latin1') : v).slice(0, 40)).join(' | ') ?? '';
        outcome = rows.length ? `no leak (${rows.length} rows/messages, first: ${sample.replace(/[^\x20-\x7e]/g, '.')})` : 'no leak (nothing came back)';
      }
      t.diagnostic(`${a.name}: ${outcome.slice(0, 300)}`);
    }
    t.diagnostic(`attempts ${attempts.length}: leaked ${tally.leaked}, refused ${tally.refused}, masked ${tally.masked}, other error without leak ${tally.otherError}`);
    assert.ok(problems.length === 0, `${problems.length} of ${attempts.length} attempts failed:\n${problems.join('\n')}`);
  }

  test('there are at least 80 attempts and every family has several', () => {
    const total = FAMILIES.reduce((n, f) => n + f.attempts.length, 0);
    assert.ok(total >= 80, `${total} attempts`);
    for (const f of FAMILIES) assert.ok(f.attempts.length >= 5, `${f.family}: ${f.attempts.length} attempts`);
    const names = FAMILIES.flatMap((f) => f.attempts.map((a) => a.name));
    assert.equal(new Set(names).size, names.length, 'attempt names are unique');
  });

  for (const f of FAMILIES) {
    test(f.family, { timeout: 600_000 }, async (t) => runFamily(t, f.attempts));
  }

  test('admin (no masks) still gets the clear values through dgf', async () => {
    const picks = ["full_name || ''", 'md5(email)', 'row_to_json(c)', 'email::int', "COPY (email || '') TO STDOUT", 'view renaming email to contact', "cursor over email || ''"];
    const all = FAMILIES.flatMap((f) => f.attempts);
    const missing: string[] = [];
    for (const name of picks) {
      const a = all.find((x) => x.name === name);
      assert.ok(a, `attempt ${name} exists`);
      const reply = await execute(a, ctx.admin);
      if (findLeaks(reply, secrets).length === 0) missing.push(`${name}: ${reply.errors.map((e) => `${e.code} ${e.message}`).join('; ') || 'no clear value'}`);
    }
    assert.deepEqual(missing, [], 'admin must see clear values');
    // and exactly what PostgreSQL sends
    const sql = "select id, full_name || '' as n, md5(ssn) as h, upper(email) as u from customers order by id";
    const viaDgf = await runSteps(ctx.admin, [sql]);
    const direct = await runSteps(ctx.direct, [sql]);
    assert.deepEqual(viaDgf.groups, direct.groups);
  });
});
