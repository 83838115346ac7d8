/**
 * The attack first: PostgreSQL 15 error and notice texts (as it really prints them) that echo classified values,
 * sent to role `analyst` (masked e-mail, SSN, names, diagnosis, card...), and what must come out of dgf instead.
 * `admin` sees everything and gets the very same Buffer back.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MaskTally, PolicyStore, REDACTED, UNTRACED_LABEL } from '../../../src/policy/index.js';
import { errorResponse, noticeResponse, parameterStatus, type ErrorFields } from '../../../protocols/postgres/codec/backend-encoder.js';
import { decodeBackend } from '../../../protocols/postgres/codec/backend-decode.js';
import {
  WITHHELD_MESSAGE,
  scrubBackendNotice,
  scrubNotification,
  scrubParameterStatus,
  type BackendScrubContext,
} from '../../../protocols/postgres/governance/error-scrub.js';

const policy = (await PolicyStore.load({ hashKey: 'error-scrub-test' })).current();

/** Labels of the classified columns of `customers` (id, full_name, email, ssn, diagnosis, card_number). */
const CUSTOMERS = ['pii.full_name', 'pii.email', 'pii.ssn', 'phi.diagnosis', 'financial.card'];

interface TestContext extends BackendScrubContext {
  stats: MaskTally;
  columnCalls: Array<[string | undefined, string]>;
}

function ctx(role: string, sourceLabels: readonly string[] = []): TestContext {
  const columnCalls: Array<[string | undefined, string]> = [];
  return {
    policy,
    role,
    stats: new MaskTally(),
    sourceLabels,
    columnCalls,
    labelsOfColumn(table, column) {
      columnCalls.push([table, column]);
      return policy.labelsForName(column);
    },
  };
}

/** An ErrorResponse/NoticeResponse with any fields, in the order given (PostgreSQL sends S V C M D H P q W s t c d n F L R). */
function frame(type: 'E' | 'N', fields: ReadonlyArray<readonly [string, string]>): Buffer {
  const parts: Buffer[] = [];
  for (const [code, value] of fields) parts.push(Buffer.from(code, 'latin1'), Buffer.from(value, 'utf8'), Buffer.from([0]));
  parts.push(Buffer.from([0]));
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(5);
  head[0] = type.charCodeAt(0);
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

/** The fields of a frame by code, after checking its length field and that pg-protocol reads it. */
function fieldsOf(f: Buffer): Record<string, string> {
  assert.equal(f.readInt32BE(1), f.length - 1, 'length field');
  assert.equal(f[f.length - 1], 0, 'terminator');
  decodeBackend(f); // throws on a malformed frame
  const out: Record<string, string> = {};
  let p = 5;
  while (f[p] !== 0) {
    const code = String.fromCharCode(f[p]!);
    const z = f.indexOf(0, p + 1);
    out[code] = f.toString('utf8', p + 1, z);
    p = z + 1;
  }
  return out;
}

function err(code: string, message: string, more: Partial<ErrorFields> = {}): Buffer {
  return errorResponse({ severity: 'ERROR', code, message, ...more });
}

function scrub(f: Buffer, c: TestContext): { out: Buffer; fields: Record<string, string>; same: boolean; text: string } {
  const out = scrubBackendNotice(f, c);
  return { out, fields: fieldsOf(out), same: out === f, text: out.toString('utf8') };
}

function assertNoneOf(text: string, secrets: readonly string[]): void {
  for (const s of secrets) assert.ok(!text.includes(s), `"${s}" survived in ${JSON.stringify(text)}`);
}

describe('data exceptions (class 22) quote the value they could not take', () => {
  test('select email::int from customers: the value is redacted whole (it may be any expression of email); severity and SQLSTATE stay', () => {
    const c = ctx('analyst', ['pii.email']);
    const r = scrub(err('22P02', 'invalid input syntax for type integer: "alice@example.com"'), c);
    assert.equal(r.fields.M, `invalid input syntax for type integer: "${REDACTED}"`);
    assert.equal(r.fields.S, 'ERROR');
    assert.equal(r.fields.V, 'ERROR');
    assert.equal(r.fields.C, '22P02');
    assert.deepEqual(c.stats.maskedCounts(), { 'pii.email': 1 }, 'masked once: the mask output is not scanned again');
    assertNoneOf(r.text, ['alice']);
  });

  test('select reverse(ssn)::int: a last-4 of a derived value would show the SSN\'s first digits, so no format-preserving mask', () => {
    const r = scrub(err('22P02', 'invalid input syntax for type integer: "9876-54-321"'), ctx('analyst', ['pii.ssn']));
    assert.equal(r.fields.M, `invalid input syntax for type integer: "${REDACTED}"`);
  });

  test('the same value typed by the client, and a source the role may see: the detectors mask it with its label\'s mask', () => {
    const f = err('22P02', 'invalid input syntax for type integer: "alice@example.com"');
    assert.equal(scrub(f, ctx('analyst')).fields.M, 'invalid input syntax for type integer: "a***@example.com"');
    // dpo sees e-mails: a statement reading email is no reason to hide it; dpo's detectors look for cards and PHI only
    assert.equal(scrubBackendNotice(f, ctx('dpo', ['pii.email'])), f);
  });

  test('a statement whose sources dgf could not trace (the untraced label): the value is redacted', () => {
    const r = scrub(err('22P02', 'invalid input syntax for type integer: "Ada"'), ctx('analyst', [UNTRACED_LABEL]));
    assert.equal(r.fields.M, `invalid input syntax for type integer: "${REDACTED}"`);
  });

  test('select ssn::uuid: invalid input syntax for type uuid: "123-45-6789"', () => {
    const r = scrub(err('22P02', 'invalid input syntax for type uuid: "123-45-6789"'), ctx('analyst', ['pii.ssn']));
    assert.equal(r.fields.M, `invalid input syntax for type uuid: "${REDACTED}"`);
    const detectorsOnly = scrub(err('22P02', 'invalid input syntax for type uuid: "123-45-6789"'), ctx('analyst'));
    assert.equal(detectorsOnly.fields.M, 'invalid input syntax for type uuid: "***-**-6789"');
  });

  test('select card_number::int: value "4111111111111111" is out of range for type integer', () => {
    const r = scrub(err('22003', 'value "4111111111111111" is out of range for type integer'), ctx('analyst', ['financial.card']));
    assert.equal(r.fields.M, `value "${REDACTED}" is out of range for type integer`);
    assert.equal(r.fields.C, '22003');
    const detectorsOnly = scrub(err('22003', 'value "4111111111111111" is out of range for type integer'), ctx('analyst'));
    assert.equal(detectorsOnly.fields.M, 'value "************1111" is out of range for type integer');
  });

  test('select full_name::date: a name no detector knows is masked because the statement read full_name', () => {
    const f = err('22007', 'invalid input syntax for type date: "Ada Lovelace"');
    const r = scrub(f, ctx('analyst', ['pii.full_name']));
    assert.equal(r.fields.M, `invalid input syntax for type date: "${REDACTED}"`);
    assertNoneOf(r.text, ['Ada', 'Lovelace']);
    // Without the statement's sources only the detectors run, and they know no names: this is why the caller passes them.
    assert.equal(scrub(f, ctx('analyst')).same, true);
  });

  test('a value from several sources: redacted, counted under the label with the strongest mask', () => {
    const c = ctx('analyst', CUSTOMERS);
    const r = scrub(err('22007', 'invalid input syntax for type timestamp with time zone: "Ada Lovelace"'), c);
    assert.equal(r.fields.M, `invalid input syntax for type timestamp with time zone: "${REDACTED}"`);
    assert.deepEqual(c.stats.maskedCounts(), { 'phi.diagnosis': 1 });
  });

  test('to_date(full_name, ...): invalid value "Ada" for "YYYY" with its constant detail', () => {
    const r = scrub(err('22007', 'invalid value "Ada" for "YYYY"', { detail: 'Value must be an integer.' }), ctx('analyst', ['pii.full_name']));
    assertNoneOf(r.fields.M!, ['Ada']);
    assert.match(r.fields.M!, /^invalid value "/);
    assert.equal(r.fields.D, 'Value must be an integer.');
  });

  test('email::json: the token in the detail and the excerpt in the context are masked', () => {
    const f = frame('E', [['S', 'ERROR'], ['V', 'ERROR'], ['C', '22P02'], ['M', 'invalid input syntax for type json'], ['D', 'Token "ada" is invalid.'], ['W', 'JSON data, line 1: ada...'], ['F', 'jsonfuncs.c'], ['L', '621'], ['R', 'json_ereport_error']]);
    const r = scrub(f, ctx('analyst', ['pii.email']));
    assert.equal(r.fields.M, 'invalid input syntax for type json');
    assert.equal(r.fields.D, `Token "${REDACTED}" is invalid.`);
    assert.equal(r.fields.W, `JSON data, line 1: ${REDACTED}`);
    assert.equal(r.fields.R, 'json_ereport_error');
  });

  test('other conversions: malformed array literal, double precision, inet', () => {
    const c = ctx('analyst', ['pii.email']);
    const cases = [
      err('22P02', 'malformed array literal: "{alice@example.com"', { detail: 'Unexpected end of input.' }),
      err('22P02', 'invalid input syntax for type double precision: "alice@example.com"'),
      err('22P02', 'invalid input syntax for type inet: "alice@example.com"'),
    ];
    for (const f of cases) {
      const r = scrub(f, c);
      assertNoneOf(r.text, ['alice']);
      assert.equal(r.fields.C, '22P02');
    }
    assert.equal(scrub(cases[0]!, c).fields.D, 'Unexpected end of input.');
  });

  test('a value that itself holds quotes cannot smuggle text out between them', () => {
    // select ('customers" ' || full_name || ' "customers')::int
    const r = scrub(err('22P02', 'invalid input syntax for type integer: "customers" Ada Lovelace "customers"'), ctx('analyst', ['pii.full_name']));
    assertNoneOf(r.text, ['Ada', 'Lovelace']);
  });

  test('an XML error repeats the input line unquoted in its detail: the detail is masked whole', () => {
    const detail = 'line 1: Start tag expected, \'<\' not found\nAda Lovelace\n^';
    const r = scrub(err('2200N', 'invalid XML content', { detail }), ctx('analyst', ['pii.full_name']));
    assertNoneOf(r.text, ['Ada', 'Lovelace']);
    assert.equal(r.fields.M, 'invalid XML content');
  });

  test('a role that sees everything gets the very same Buffer, whatever the sources', () => {
    const f = err('22P02', 'invalid input syntax for type integer: "alice@example.com"');
    assert.equal(scrubBackendNotice(f, ctx('admin')), f);
    assert.equal(scrubBackendNotice(f, ctx('admin', CUSTOMERS)), f);
  });
});

describe('integrity violations (class 23): identifiers in the message, values in the detail', () => {
  const unique = (detail: string, constraint = 'customers_email_key'): Buffer =>
    frame('E', [
      ['S', 'ERROR'], ['V', 'ERROR'], ['C', '23505'],
      ['M', `duplicate key value violates unique constraint "${constraint}"`],
      ['D', detail],
      ['s', 'public'], ['t', 'customers'], ['n', constraint],
      ['F', 'nbtinsert.c'], ['L', '664'], ['R', '_bt_check_unique'],
    ]);

  test('Key (email)=(alice@example.com) already exists: masked by the column\'s labels; constraint and table names stay', () => {
    const c = ctx('analyst');
    const r = scrub(unique('Key (email)=(alice@example.com) already exists.'), c);
    assert.equal(r.fields.M, 'duplicate key value violates unique constraint "customers_email_key"');
    assert.equal(r.fields.D, 'Key (email)=(a***@example.com) already exists.');
    assert.equal(r.fields.n, 'customers_email_key');
    assert.equal(r.fields.t, 'customers');
    assert.equal(r.fields.s, 'public');
    assert.equal(r.fields.C, '23505');
    assert.deepEqual(c.columnCalls, [['public.customers', 'email']]);
    assert.deepEqual(c.stats.maskedCounts(), { 'pii.email': 1 });
  });

  test('an expression index on several columns: a column\'s value by its mask, an expression\'s value redacted', () => {
    const r = scrub(unique('Key (lower(email), ssn)=(alice@example.com, 078-05-1120) already exists.', 'customers_lower_email'), ctx('analyst', CUSTOMERS));
    assert.equal(r.fields.D, `Key (lower(email), ssn)=(${REDACTED}, ***-**-1120) already exists.`);
    assert.equal(r.fields.M, 'duplicate key value violates unique constraint "customers_lower_email"');
  });

  test('values with commas inside (printed unescaped): the whole list is masked, never split wrongly', () => {
    const r = scrub(unique('Key (full_name, id)=(Lovelace, Ada, 7) already exists.', 'customers_name_id'), ctx('analyst'));
    assert.equal(r.fields.D, `Key (full_name, id)=(${REDACTED}) already exists.`);
  });

  test('Failing row contains (...) of a check constraint: the whole tuple is redacted', () => {
    const f = frame('E', [
      ['S', 'ERROR'], ['V', 'ERROR'], ['C', '23514'],
      ['M', 'new row for relation "customers" violates check constraint "c"'],
      ['D', 'Failing row contains (1, Ada Lovelace, ada@example.com, 123-45-6789, flu, 4111111111111111).'],
      ['s', 'public'], ['t', 'customers'], ['n', 'c'], ['F', 'execMain.c'], ['L', '2021'], ['R', 'ExecConstraints'],
    ]);
    const r = scrub(f, ctx('analyst', CUSTOMERS));
    assert.equal(r.fields.M, 'new row for relation "customers" violates check constraint "c"');
    assert.equal(r.fields.D, `Failing row contains (${REDACTED}).`);
    assert.equal(r.fields.C, '23514');
    assertNoneOf(r.text, ['Ada', 'Lovelace', 'ada@', '123-45', '4111', 'flu']);
  });

  test('the same failing row when the caller names no classified source: the detectors still catch what they know', () => {
    const f = err('23514', 'new row for relation "customers" violates check constraint "c"', {
      detail: 'Failing row contains (1, Ada Lovelace, ada@example.com, 123-45-6789, flu, 4111111111111111).',
    });
    const r = scrub(f, ctx('analyst'));
    assert.equal(r.fields.D, 'Failing row contains (1, Ada Lovelace, a***@example.com, ***-**-6789, flu, ************1111).');
  });

  test('null value in column "full_name": the column name stays, the failing row goes', () => {
    const f = frame('E', [
      ['S', 'ERROR'], ['V', 'ERROR'], ['C', '23502'],
      ['M', 'null value in column "full_name" of relation "customers" violates not-null constraint'],
      ['D', 'Failing row contains (1, null, ada@example.com, 123-45-6789, flu, 4111111111111111).'],
      ['s', 'public'], ['t', 'customers'], ['c', 'full_name'], ['R', 'ExecConstraints'],
    ]);
    const r = scrub(f, ctx('analyst', CUSTOMERS));
    assert.equal(r.fields.M, 'null value in column "full_name" of relation "customers" violates not-null constraint');
    assert.equal(r.fields.c, 'full_name');
    assert.equal(r.fields.D, `Failing row contains (${REDACTED}).`);
  });

  test('a foreign key violation on an unclassified column comes back untouched', () => {
    const f = frame('E', [
      ['S', 'ERROR'], ['V', 'ERROR'], ['C', '23503'],
      ['M', 'insert or update on table "orders" violates foreign key constraint "orders_customer_id_fkey"'],
      ['D', 'Key (customer_id)=(42) is not present in table "customers".'],
      ['s', 'public'], ['t', 'orders'], ['n', 'orders_customer_id_fkey'], ['R', 'ri_ReportViolation'],
    ]);
    const c = ctx('analyst', CUSTOMERS);
    assert.equal(scrubBackendNotice(f, c), f);
    assert.deepEqual(c.columnCalls, [['public.orders', 'customer_id']]);
  });

  test('is still referenced: the key columns are the referenced table\'s', () => {
    const f = frame('E', [
      ['S', 'ERROR'], ['V', 'ERROR'], ['C', '23503'],
      ['M', 'update or delete on table "customers" violates foreign key constraint "orders_email_fkey" on table "orders"'],
      ['D', 'Key (email)=(ada@example.com) is still referenced from table "orders".'],
      ['s', 'public'], ['t', 'orders'], ['n', 'orders_email_fkey'],
    ]);
    const c = ctx('analyst', CUSTOMERS);
    const r = scrub(f, c);
    assert.equal(r.fields.D, 'Key (email)=(a***@example.com) is still referenced from table "orders".');
    assert.deepEqual(c.columnCalls, [['customers', 'email']]);
  });

  test('an exclusion constraint conflict: both keys masked', () => {
    const r = scrub(
      err('23P01', 'conflicting key value violates exclusion constraint "ex_email_excl"', {
        detail: 'Key (email)=(ada@example.com) conflicts with existing key (email)=(ada@example.com).',
      }),
      ctx('analyst', ['pii.email']),
    );
    assert.equal(r.fields.D, 'Key (email)=(a***@example.com) conflicts with existing key (email)=(a***@example.com).');
  });

  test('no partition found: Partition key of the failing row contains (email) = (...)', () => {
    const r = scrub(
      err('23514', 'no partition of relation "p" found for row', { detail: 'Partition key of the failing row contains (email) = (ada@example.com).' }),
      ctx('analyst', ['pii.email']),
    );
    assert.equal(r.fields.D, 'Partition key of the failing row contains (email) = (a***@example.com).');
    assert.equal(r.fields.M, 'no partition of relation "p" found for row');
  });

  test('WITH CHECK OPTION (44000) prints a failing row too', () => {
    const r = scrub(
      err('44000', 'new row violates check option for view "v"', { detail: 'Failing row contains (11, Ada Lovelace, ada@example.com, 123-45-6789, flu).' }),
      ctx('analyst', CUSTOMERS),
    );
    assert.equal(r.fields.D, `Failing row contains (${REDACTED}).`);
    assert.equal(r.fields.M, 'new row violates check option for view "v"');
  });

  test('admin: the key detail is left as it is, same Buffer', () => {
    const f = unique('Key (email)=(alice@example.com) already exists.');
    assert.equal(scrubBackendNotice(f, ctx('admin')), f);
  });
});

describe('what a function writes (RAISE, ASSERT, PL/pgSQL notices)', () => {
  const raise = (type: 'E' | 'N', severity: string, code: string, message: string, extra: Array<[string, string]> = [], at = 'RAISE'): Buffer =>
    frame(type, [
      ['S', severity], ['V', severity], ['C', code], ['M', message], ...extra,
      ['W', `PL/pgSQL function inline_code_block line 1 at ${at}`], ['F', 'pl_exec.c'], ['L', '3907'], ['R', at === 'RAISE' ? 'exec_stmt_raise' : 'exec_stmt_assert'],
    ]);

  test('RAISE EXCEPTION with a name in it: withheld, SQLSTATE P0001 kept', () => {
    const r = scrub(raise('E', 'ERROR', 'P0001', 'customer Ada Lovelace is ill: asthma'), ctx('analyst', CUSTOMERS));
    assert.equal(r.fields.M, WITHHELD_MESSAGE);
    assert.equal(r.fields.C, 'P0001');
    assert.equal(r.fields.S, 'ERROR');
    assert.equal(r.fields.W, 'PL/pgSQL function inline_code_block line 1 at RAISE');
    assertNoneOf(r.text, ['Ada', 'asthma']);
  });

  test('a statement that read nothing classified: RAISE output is still withheld (a trigger or function may read anything)', () => {
    const r = scrub(raise('E', 'ERROR', 'P0001', 'customer 42 is over quota'), ctx('analyst'));
    assert.equal(r.fields.M, WITHHELD_MESSAGE);
    assert.equal(r.fields.C, 'P0001');
    const admin = raise('E', 'ERROR', 'P0001', 'bad address alice@example.com');
    assert.equal(scrubBackendNotice(admin, ctx('admin')), admin);
  });

  test('RAISE ... USING ERRCODE of another class, and USING COLUMN: still withheld, the made-up identifier dropped', () => {
    const f = raise('E', 'ERROR', '42P01', 'ada@example.com', [['c', 'Ada Lovelace']]);
    const r = scrub(f, ctx('analyst', CUSTOMERS));
    assert.equal(r.fields.M, WITHHELD_MESSAGE);
    assert.equal(r.fields.C, '42P01');
    assert.equal(r.fields.c, undefined);
    assertNoneOf(r.text, ['ada@', 'Ada']);
  });

  test('ASSERT with a message (P0004)', () => {
    const r = scrub(raise('E', 'ERROR', 'P0004', 'Ada Lovelace', [], 'ASSERT'), ctx('analyst', ['pii.full_name']));
    assert.equal(r.fields.M, WITHHELD_MESSAGE);
    assert.equal(r.fields.C, 'P0004');
  });

  test('RAISE NOTICE with a diagnosis: withheld, severity NOTICE and SQLSTATE 00000 kept', () => {
    const r = scrub(raise('N', 'NOTICE', '00000', 'diagnosis for Ada Lovelace: asthma'), ctx('analyst', CUSTOMERS));
    assert.equal(r.out[0], 'N'.charCodeAt(0));
    assert.equal(r.fields.M, WITHHELD_MESSAGE);
    assert.equal(r.fields.S, 'NOTICE');
    assert.equal(r.fields.C, '00000');
    assertNoneOf(r.text, ['Ada', 'asthma']);
  });

  test('RAISE WARNING with detail and hint: the detail and hint are dropped', () => {
    const f = raise('N', 'WARNING', '01000', 'who: Ada Lovelace', [['D', 'detail Ada Lovelace'], ['H', 'hint Ada Lovelace']]);
    const r = scrub(f, ctx('analyst', ['pii.full_name']));
    assert.equal(r.fields.M, WITHHELD_MESSAGE);
    assert.equal(r.fields.D, undefined);
    assert.equal(r.fields.H, undefined);
    assert.equal(r.fields.C, '01000');
    assertNoneOf(r.text, ['Ada']);
  });

  test('a notice with a text PostgreSQL does not write, even without context or routine, is withheld', () => {
    const f = noticeResponse({ severity: 'NOTICE', code: '00000', message: 'diagnosis for Ada Lovelace: asthma' });
    assert.equal(scrub(f, ctx('analyst', CUSTOMERS)).fields.M, WITHHELD_MESSAGE);
  });

  test('PostgreSQL\'s own notice (table "nope" does not exist, skipping) stays', () => {
    const f = frame('N', [['S', 'NOTICE'], ['V', 'NOTICE'], ['C', '00000'], ['M', 'table "nope" does not exist, skipping'], ['F', 'tablecmds.c'], ['L', '1290'], ['R', 'DropErrorMsgNonExistent']]);
    assert.equal(scrubBackendNotice(f, ctx('analyst', CUSTOMERS)), f);
  });

  test('EXECUTE of SQL built from data: the quoted token and the internal query are masked', () => {
    // execute 'select ' || full_name || ' x'
    const f = frame('E', [
      ['S', 'ERROR'], ['V', 'ERROR'], ['C', '42703'], ['M', 'column "ada" does not exist'],
      ['p', '8'], ['q', 'select Ada x'], ['W', 'PL/pgSQL function inline_code_block line 1 at EXECUTE'],
      ['F', 'parse_relation.c'], ['L', '3651'], ['R', 'errorMissingColumn'],
    ]);
    const r = scrub(f, ctx('analyst', ['pii.full_name']));
    assert.equal(r.fields.M, `column "${REDACTED}" does not exist`);
    assert.equal(r.fields.q, REDACTED);
    assert.equal(r.fields.p, '8');
    assert.equal(r.fields.W, 'PL/pgSQL function inline_code_block line 1 at EXECUTE');
    assertNoneOf(r.text, ['Ada', 'ada']);
  });

  test('a conversion inside PERFORM: the value in the message goes; the function frame stays', () => {
    const f = frame('E', [
      ['S', 'ERROR'], ['V', 'ERROR'], ['C', '22P02'], ['M', 'invalid input syntax for type integer: "ada@example.com"'],
      ['W', 'SQL statement "SELECT e::int"\nPL/pgSQL function inline_code_block line 1 at PERFORM'], ['R', 'pg_strtoint32'],
    ]);
    const r = scrub(f, ctx('analyst', ['pii.email']));
    assert.equal(r.fields.M, `invalid input syntax for type integer: "${REDACTED}"`);
    assert.match(r.fields.W!, /\nPL\/pgSQL function inline_code_block line 1 at PERFORM$/);
  });
});

describe('identifiers and syntax errors are not values', () => {
  test('relation "customers" does not exist: unchanged, same Buffer', () => {
    const f = frame('E', [['S', 'ERROR'], ['V', 'ERROR'], ['C', '42P01'], ['M', 'relation "customers" does not exist'], ['P', '15'], ['F', 'parse_relation.c'], ['L', '1392'], ['R', 'parserOpenTable']]);
    assert.equal(scrubBackendNotice(f, ctx('analyst', CUSTOMERS)), f);
  });

  test('syntax error at or near "select": unchanged, same Buffer', () => {
    const f = frame('E', [['S', 'ERROR'], ['V', 'ERROR'], ['C', '42601'], ['M', 'syntax error at or near "select"'], ['P', '8'], ['F', 'scan.l'], ['L', '1188'], ['R', 'scanner_yyerror']]);
    assert.equal(scrubBackendNotice(f, ctx('analyst', CUSTOMERS)), f);
    assert.equal(scrubBackendNotice(f, ctx('analyst')), f);
  });

  test('the detectors run on every message field whatever the class', () => {
    const r = scrub(err('42601', 'syntax error at or near "\'alice@example.com\'"', { hint: 'card 4111 1111 1111 1111?' }), ctx('analyst'));
    assertNoneOf(r.fields.M!, ['alice']);
    assert.match(r.fields.M!, /^syntax error at or near ".*@example\.com'"$/);
    assert.equal(r.fields.H, 'card **** **** **** 1111?');
  });

  test('frames that are not errors or notices, and malformed ones, come back as they are', () => {
    const c = ctx('analyst', CUSTOMERS);
    const ps = parameterStatus('application_name', 'alice@example.com');
    assert.equal(scrubBackendNotice(ps, c), ps);
    const good = err('22P02', 'invalid input syntax for type integer: "alice@example.com"');
    const truncated = good.subarray(0, good.length - 1);
    assert.equal(scrubBackendNotice(truncated, c), truncated);
    const badLength = Buffer.from(good);
    badLength.writeInt32BE(3, 1);
    assert.equal(scrubBackendNotice(badLength, c), badLength);
  });
});

describe('NotificationResponse and ParameterStatus', () => {
  function notification(pid: number, channel: string, payload: string): Buffer {
    const body = Buffer.concat([Buffer.alloc(4), Buffer.from(channel), Buffer.from([0]), Buffer.from(payload), Buffer.from([0])]);
    body.writeInt32BE(pid, 0);
    const head = Buffer.alloc(5);
    head[0] = 0x41;
    head.writeInt32BE(body.length + 4, 1);
    return Buffer.concat([head, body]);
  }
  function parseNotification(f: Buffer): { pid: number; channel: string; payload: string } {
    assert.equal(f.readInt32BE(1), f.length - 1);
    const m = decodeBackend(f) as unknown as { processId: number; channel: string; payload: string };
    return { pid: m.processId, channel: m.channel, payload: m.payload };
  }

  test('pg_notify(\'ch\', email): the payload goes through the detectors; pid and channel stay', () => {
    const out = scrubNotification(notification(6294, 'ch', 'ada@example.com'), ctx('analyst'));
    assert.deepEqual(parseNotification(out), { pid: 6294, channel: 'ch', payload: 'a***@example.com' });
  });

  test('a JSON payload (row_to_json) is masked by key name as well: full_name has no detector', () => {
    const out = scrubNotification(notification(1, 'customers', '{"id":1,"full_name":"Ada Lovelace","email":"ada@example.com"}'), ctx('analyst'));
    assert.deepEqual(JSON.parse(parseNotification(out).payload), { id: 1, full_name: 'A** ********', email: 'a***@example.com' });
  });

  test('with classified sources named, the payload is withheld', () => {
    const out = scrubNotification(notification(1, 'ch', 'Ada Lovelace'), ctx('analyst', ['pii.full_name']));
    assert.equal(parseNotification(out).payload, WITHHELD_MESSAGE);
  });

  test('same Buffer when nothing changes: a clean payload, an empty one, or admin', () => {
    const clean = notification(1, 'jobs', 'job 42 done');
    assert.equal(scrubNotification(clean, ctx('analyst')), clean);
    const empty = notification(1, 'jobs', '');
    assert.equal(scrubNotification(empty, ctx('analyst', CUSTOMERS)), empty);
    const dirty = notification(1, 'ch', '{"email":"ada@example.com"}');
    assert.equal(scrubNotification(dirty, ctx('admin')), dirty);
  });

  test('ParameterStatus: a reported setting set from data (set_config(\'application_name\', ssn, false))', () => {
    const out = scrubParameterStatus(parameterStatus('application_name', '078-05-1120'), ctx('analyst'));
    const m = decodeBackend(out) as unknown as { parameterName: string; parameterValue: string };
    assert.deepEqual([m.parameterName, m.parameterValue], ['application_name', '***-**-1120']);
    const tz = parameterStatus('TimeZone', 'Europe/Paris');
    assert.equal(scrubParameterStatus(tz, ctx('analyst')), tz);
    const same = parameterStatus('application_name', '078-05-1120');
    assert.equal(scrubParameterStatus(same, ctx('admin')), same);
  });
});
