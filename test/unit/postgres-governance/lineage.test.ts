/**
 * Lineage from the real parser's tree: which source columns can reach each output column, whether it is a plain
 * reference, and what cannot be traced. Pure: the catalog is a plain object describing the demo tables.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { initSqlAnalyzer } from '../../../protocols/postgres/governance/analyze.js';
import { CATALOG_SQL, CatalogCache } from '../../../protocols/postgres/governance/catalog.js';
import { LineageCache } from '../../../protocols/postgres/governance/lineage-plan.js';
import { traceSql, parseSearchPath, type CatalogFunction, type CatalogRelation, type LineageCatalog, type OutputItem } from '../../../protocols/postgres/governance/lineage.js';

const RELATIONS: Record<string, CatalogRelation> = {
  'public.customers': { object: 'public.customers', kind: 'table', columns: ['id', 'full_name', 'email', 'phone', 'ssn', 'card_number', 'date_of_birth', 'balance', 'notes', 'profile'], jsonColumns: new Set(['profile']) },
  'public.orders': { object: 'public.orders', kind: 'table', columns: ['id', 'customer_id', 'amount', 'status', 'created_at'] },
  'public.contacts': { object: 'public.contacts', kind: 'view', columns: ['id', 'contact', 'shout'], definition: " SELECT customers.id, customers.email AS contact, upper(customers.full_name) AS shout FROM customers;" },
  'shadow.customers': { object: 'shadow.customers', kind: 'table', columns: ['id', 'note'] },
};
const FUNCTIONS: Record<string, CatalogFunction[]> = {
  first_email: [{ schema: 'public', name: 'first_email', language: 'sql', body: 'select email from customers limit 1', extension: false }],
  secret: [{ schema: 'public', name: 'secret', language: 'plpgsql', body: 'begin return 1; end', extension: false }],
  digest: [{ schema: 'public', name: 'digest', language: 'c', body: 'pg_digest', extension: true }],
};
const catalog: LineageCatalog = {
  relation: (schema, name) => RELATIONS[`${schema}.${name}`],
  functions: (name) => FUNCTIONS[name] ?? [],
};

/** One line per output: `name=P:col` plain, `name=D:col,col` derived, `name=U` unknown, `*spread`. */
function shape(outputs: readonly OutputItem[] | null): string[] {
  return (outputs ?? []).map((o) => {
    const l = o.lineage;
    if (l.unknown !== null) return `${o.kind === 'column' ? o.name : '*'}=U`;
    const cols = l.sources.map((s) => s.column).sort().join(',');
    if (o.kind === 'spread') return `*${o.byName ?? ''}=${cols}`;
    return `${o.name}=${l.plain ? `P:${l.plain.column}` : cols === '' ? 'clean' : `D:${cols}`}`;
  });
}

function trace(sql: string, path = ['public']) {
  const [s] = traceSql(sql, catalog, path);
  assert.ok(s, `no statement in ${sql}`);
  return s;
}

describe('lineage of output columns', () => {
  before(async () => {
    await initSqlAnalyzer();
  });

  const cases: Array<[string, string[]]> = [
    ['select email as x, id from customers', ['x=P:email', 'id=P:id']],
    ["select full_name || '' n, replace(ssn, '-', '') s, ssn::bytea b, email::text t, email::varchar(3) v from customers", ['n=D:full_name', 's=D:ssn', 'b=D:ssn', 't=P:email', 'v=D:email']],
    ['select c.* from customers c', RELATIONS['public.customers']!.columns.map((c) => `${c}=P:${c}`)],
    ['select c from customers c', ['c=D:balance,card_number,date_of_birth,email,full_name,id,notes,phone,profile,ssn']],
    ['select row_to_json(c), to_jsonb(c), c::text from customers c', ['row_to_json=D:balance,card_number,date_of_birth,email,full_name,id,notes,phone,profile,ssn', 'to_jsonb=D:balance,card_number,date_of_birth,email,full_name,id,notes,phone,profile,ssn', 'c=D:balance,card_number,date_of_birth,email,full_name,id,notes,phone,profile,ssn']],
    ['select (c).email from customers c', ['email=P:email']],
    ['select count(*), count(email), count(distinct ssn), email is null, email = $1, exists(select 1 from customers) from customers', ['count=clean', 'count=clean', 'count=clean', '?column?=clean', '?column?=clean', 'exists=clean']],
    ['select min(email), string_agg(ssn, \',\'), first_value(full_name) over (order by id) from customers', ['min=D:email', 'string_agg=D:ssn', 'first_value=D:full_name']],
    ["select case when ssn like '1%' then 'a' else 'b' end from customers", ['case=D:ssn']],
    ['select (select email from customers limit 1), array(select ssn from customers)', ['email=P:email', 'array=D:ssn']],
    ['select s.x from (select email as x from customers) s', ['x=P:email']],
    ['select y from (select email from customers) s(y)', ['y=P:email']],
    ['with t as (select email as e from customers) select e from t', ['e=P:email']],
    ['with recursive r(i, s) as (select 1, email from customers union all select i + 1, substr(s, 2) from r where i < 5) select s from r', ['s=D:email']],
    ["select 'x' union select email from customers", ['?column?=D:email']],
    ['select email from customers union select email from customers', ['email=P:email']],
    ['select x from unnest(array[(select ssn from customers limit 1)]) u(x)', ['x=D:ssn']],
    ['select l.y from customers c, lateral (select c.ssn as y) l', ['y=P:ssn']],
    ['select * from customers join orders using (id)', ['id=D:id,id', ...RELATIONS['public.customers']!.columns.slice(1).map((c) => `${c}=P:${c}`), 'customer_id=P:customer_id', 'amount=P:amount', 'status=P:status', 'created_at=P:created_at']],
    ['select contact, shout from contacts', ['contact=P:email', 'shout=D:full_name']],
    ['select first_email()', ['first_email=D:email']],
    ['select secret()', ['secret=U']],
    ["select digest(email, 'sha256') from customers", ['digest=D:email']],
    ["select query_to_xml('select email from customers', true, true, '')", ['query_to_xml=U']],
    ['select * from pg_stats', ['*=U']],
    ['select oid, typname from pg_type', ['oid=clean', 'typname=clean']],
    ['select * from not_in_catalog', ['*public.not_in_catalog=']],
    ["select current_setting('server_version'), current_setting('my.secret')", ['current_setting=clean', 'current_setting=U']],
    ['select coalesce(phone, email), greatest(email, ssn), nullif(ssn, email) from customers', ['coalesce=D:email,phone', '?column?=D:email,ssn', '?column?=D:email,ssn']],
    ["select json_build_object('e', email), xmlelement(name x, full_name), format('%s', ssn) from customers", ['json_build_object=D:email', '?column?=D:full_name', 'format=D:ssn']],
    ['values (1, 2)', ['column1=clean', 'column2=clean']],
    ["select profile->'contact'->>'email', profile #>> '{contact,email}', jsonb_extract_path_text(profile, 'tier'), profile->'tags'->0 from customers", ['?column?=P:profile.contact.email', '?column?=P:profile.contact.email', 'jsonb_extract_path_text=P:profile.tier', '?column?=P:profile.tags']],
    ['select profile->>$1, profile::text from customers', ['?column?=D:profile', 'profile=D:profile']],
  ];
  for (const [sql, expected] of cases) {
    test(sql, () => assert.deepEqual(shape(trace(sql).outputs), expected));
  }

  test('a value computed from a whole JSON document keeps the mark that its keys are unknown', () => {
    const [dyn, text] = trace('select profile->>$1, upper(profile::text) from customers').outputs!;
    assert.equal(dyn!.lineage.sources[0]!.json, true);
    assert.equal(text!.lineage.sources[0]!.json, true);
    const [path] = trace("select profile->'contact' from customers").outputs!;
    assert.deepEqual(path!.lineage.plain, { object: 'public.customers', column: 'profile.contact', json: true });
  });

  test('predicates do not flow into outputs but are recorded as read', () => {
    const s = trace("select id from customers where ssn like '1%' order by email");
    assert.deepEqual(shape(s.outputs), ['id=P:id']);
    assert.deepEqual(s.reads.map((r) => r.column).sort(), ['email', 'id', 'ssn']);
  });

  test('the search path decides which table a name is', () => {
    assert.deepEqual(shape(trace('select * from customers', ['shadow', 'public']).outputs), ['id=P:id', 'note=P:note']);
    assert.deepEqual(parseSearchPath('"$user", public'), ['public']);
    assert.deepEqual(parseSearchPath('Shadow, "Mixed"'), ['shadow', 'Mixed']);
  });

  test('writes record what flows into each target column', () => {
    const ins = trace('insert into orders (status) select email from customers');
    assert.deepEqual(ins.writes.map((w) => `${w.target.column}<-${w.lineage.sources.map((s) => s.column)}`), ['status<-email']);
    const upd = trace('update orders o set status = c.ssn from customers c where c.id = o.customer_id');
    assert.deepEqual(upd.writes.map((w) => `${w.target.column}<-${w.lineage.sources.map((s) => s.column)}`), ['status<-ssn']);
    const cte = trace('with x as (insert into orders (status) select full_name from customers returning id) select id from x');
    assert.deepEqual(cte.writes.map((w) => w.target.column), ['status']);
  });

  test('sinks: set_config and pg_notify carry their arguments', () => {
    const s = trace("select set_config('a.b', email, false), pg_notify('c', ssn) from customers");
    assert.deepEqual(s.sinks.map((k) => `${k.fn}:${k.lineage.sources.map((x) => x.column).join(',')}`), ['set_config:email', 'pg_notify:ssn']);
  });

  test('cursors and prepared statements: DECLARE/PREPARE define, FETCH/EXECUTE use, CLOSE/DEALLOCATE forget', () => {
    const d = trace("declare c cursor with hold for select email || '' from customers");
    assert.deepEqual(d.defines, { kind: 'cursor', name: 'c', hold: true });
    assert.deepEqual(shape(d.outputs), ['?column?=D:email']);
    assert.deepEqual(trace('fetch 10 from c').uses, { kind: 'cursor', name: 'c' });
    assert.deepEqual(trace('prepare p as select ssn from customers').defines, { kind: 'prepared', name: 'p', hold: true });
    assert.deepEqual(trace('execute p').uses, { kind: 'prepared', name: 'p' });
    assert.deepEqual(trace('close all').forgets, { kind: 'cursor', name: null });
    assert.deepEqual(trace('deallocate p').forgets, { kind: 'prepared', name: 'p' });
  });

  test('COPY (query) and RETURNING have outputs', () => {
    assert.deepEqual(shape(trace("copy (select upper(email) from customers) to stdout").outputs), ['upper=D:email']);
    assert.deepEqual(shape(trace('delete from customers where id = 1 returning ssn').outputs), ['ssn=P:ssn']);
  });

  test('an unparseable text has no statements (PostgreSQL rejects it too)', () => {
    assert.deepEqual(traceSql('select from where', catalog, ['public']), []);
  });
});

describe('LineageCache', () => {
  before(async () => {
    await initSqlAnalyzer();
  });

  test('texts of one shape share one lineage, unless it read a constant (a JSON key)', async () => {
    const catalog = new CatalogCache();
    await catalog.refresh(async (sql) =>
      sql === CATALOG_SQL ? [['1', 'public', 'customers', '1', 'id', '23', 'r'], ['1', 'public', 'customers', '2', 'email', '25', 'r'], ['1', 'public', 'customers', '3', 'profile', '3802', 'r']] : [],
    );
    const cache = new LineageCache(catalog);
    const a = cache.trace('select email from customers where id = 1', null);
    const b = cache.trace('select email from customers where id = 2', null);
    assert.equal(a, b);
    const k1 = cache.trace("select profile->>'tier' from customers", null);
    const k2 = cache.trace("select profile->>'email' from customers", null);
    assert.notEqual(k1, k2);
    assert.equal(k2[0]!.outputs![0]!.lineage.plain?.column, 'profile.email');
    // Another search path is another lineage.
    assert.notEqual(cache.trace('select email from customers where id = 3', 'shadow, public'), a);
  });
});
