/**
 * Which table column a result column comes from. RowDescription names a result column by its output name (an
 * alias, for `select email as x`) plus the source table's OID and attribute number; this cache maps those back to
 * `public.customers` / `email`, so classification follows the data and not the alias.
 */

import type { CatalogFunction, CatalogRelation, LineageCatalog } from './lineage.js';

/** The query that loads the catalog: user relations only (system schemas carry no user data). */
export const CATALOG_SQL = `select c.oid::text, n.nspname, c.relname, a.attnum::text, a.attname, a.atttypid::text, c.relkind::text
from pg_catalog.pg_attribute a
join pg_catalog.pg_class c on c.oid = a.attrelid
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
where a.attnum > 0 and not a.attisdropped
  and c.relkind in ('r', 'v', 'm', 'p', 'f')
  and n.nspname not in ('pg_catalog', 'information_schema')
  and n.nspname not like 'pg\\_toast%' and n.nspname not like 'pg\\_temp\\_%'
order by c.oid, a.attnum
limit ${200_000}`;

/** View and materialized view definitions, for lineage through views. */
export const VIEWS_SQL = `select n.nspname, c.relname, pg_catalog.pg_get_viewdef(c.oid)
from pg_catalog.pg_class c
join pg_catalog.pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('v', 'm')
  and n.nspname not in ('pg_catalog', 'information_schema')
  and n.nspname not like 'pg\\_toast%' and n.nspname not like 'pg\\_temp\\_%'
limit ${20_000}`;

/** The effective default search path of the upstream (its `$user` resolved, schemas that do not exist left out). */
export const SEARCH_PATH_SQL = `select pg_catalog.array_to_string(array(select pg_catalog.quote_ident(s) from pg_catalog.unnest(pg_catalog.current_schemas(false)) s), ',')`;

/**
 * User functions and procedures: a SQL body is traced; other languages are unknown lineage. Functions an extension
 * installed are marked, since they are functions of their arguments like the built-ins.
 */
export const FUNCTIONS_SQL = `select n.nspname, p.proname, l.lanname, coalesce(p.prosrc, ''),
  (exists (select 1 from pg_catalog.pg_depend d where d.classid = 'pg_catalog.pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e'))::text
from pg_catalog.pg_proc p
join pg_catalog.pg_namespace n on n.oid = p.pronamespace
join pg_catalog.pg_language l on l.oid = p.prolang
where n.nspname not in ('pg_catalog', 'information_schema')
  and n.nspname not like 'pg\\_toast%' and n.nspname not like 'pg\\_temp\\_%'
limit ${50_000}`;

/** One column of a user table. */
export interface CatalogColumn {
  name: string;
  attnum: number;
  typeOid: number;
}

interface Relation extends CatalogRelation {
  object: string;
  kind: 'table' | 'view' | 'matview';
  definition?: string;
  jsonColumns?: Set<string>;
  /** attnum -> column; attnums are dense from 1 except after dropped columns, so index by attnum. */
  byAttnum: Array<CatalogColumn | undefined>;
  columnInfo: CatalogColumn[];
  columns: string[];
}

const NO_FUNCTIONS: readonly CatalogFunction[] = Object.freeze([]);
const JSON_OID = 114;
const JSONB_OID = 3802;

export class CatalogCache implements LineageCatalog {
  private byOid = new Map<number, Relation>();
  private byName = new Map<string, Relation>();
  private functionsByName = new Map<string, CatalogFunction[]>();
  private defaultPath: string | null = null;

  /**
   * The upstream's default search path as schema names joined by commas (a database's or role's `search_path`
   * setting, `$user` resolved); null before the first refresh. Lineage resolves names through it when the client
   * set none.
   */
  get defaultSearchPath(): string | null {
    return this.defaultPath;
  }
  private loadedAt = 0;
  private gen = 0;

  /** Increments on every successful refresh: plans derived from the catalog are valid for one generation. */
  get generation(): number {
    return this.gen;
  }

  /** When the last refresh completed (ms since epoch); 0 before the first. */
  get refreshedAt(): number {
    return this.loadedAt;
  }

  /** Whether a table OID is known (an unknown one suggests DDL since the last refresh). */
  knows(tableOid: number): boolean {
    return this.byOid.has(tableOid);
  }

  /**
   * Reload from the upstream. `run` executes SQL on an upstream connection and returns text rows. The new
   * maps replace the old ones only when the load succeeded, so a failed refresh keeps the previous view.
   */
  async refresh(run: (sql: string) => Promise<string[][]>): Promise<void> {
    const rows = await run(CATALOG_SQL);
    const views = await run(VIEWS_SQL);
    const functions = await run(FUNCTIONS_SQL);
    const path = (await run(SEARCH_PATH_SQL))[0]?.[0];
    const byOid = new Map<number, Relation>();
    const byName = new Map<string, Relation>();
    for (const row of rows) {
      const [oidText, schema, relname, attnumText, attname, typeText, relkind] = row;
      if (oidText === undefined || schema === undefined || relname === undefined || attname === undefined) continue;
      const oid = Number(oidText);
      const attnum = Number(attnumText);
      let rel = byOid.get(oid);
      if (!rel) {
        const kind = relkind === 'v' ? 'view' : relkind === 'm' ? 'matview' : 'table';
        rel = { object: `${schema}.${relname}`, kind, byAttnum: [], columnInfo: [], columns: [] };
        byOid.set(oid, rel);
        byName.set(rel.object, rel);
      }
      const column: CatalogColumn = { name: attname, attnum, typeOid: Number(typeText ?? 0) };
      rel.byAttnum[attnum] = column;
      rel.columnInfo.push(column);
      rel.columns.push(attname);
      if (column.typeOid === JSON_OID || column.typeOid === JSONB_OID) (rel.jsonColumns ??= new Set()).add(attname);
    }
    for (const [schema, relname, definition] of views) {
      const rel = byName.get(`${schema}.${relname}`);
      if (rel && definition !== undefined) rel.definition = definition;
    }
    const functionsByName = new Map<string, CatalogFunction[]>();
    for (const [schema, name, language, body, extension] of functions) {
      if (schema === undefined || name === undefined) continue;
      let fns = functionsByName.get(name);
      if (!fns) functionsByName.set(name, (fns = []));
      fns.push({ schema, name, language: language ?? '', body: body ?? '', extension: extension === 'true' });
    }
    this.byOid = byOid;
    this.byName = byName;
    this.functionsByName = functionsByName;
    if (path !== undefined && path !== '') this.defaultPath = path;
    this.loadedAt = Date.now();
    this.gen++;
  }

  /** Source table and column of a result column (RowDescription's table OID and attribute number). */
  lookup(tableOid: number, attnum: number): { object: string; column: string } | undefined {
    if (tableOid === 0) return undefined;
    const rel = this.byOid.get(tableOid);
    const column = rel?.byAttnum[attnum];
    return rel && column ? { object: rel.object, column: column.name } : undefined;
  }

  /** Column names of a table in attnum order (what `COPY t TO STDOUT` emits), or undefined when unknown. */
  columnsOf(object: string): string[] | undefined {
    return this.byName.get(object)?.columns.slice();
  }

  /** Columns of a table with their types, in attnum order. */
  columnInfoOf(object: string): readonly CatalogColumn[] | undefined {
    return this.byName.get(object)?.columnInfo;
  }

  /** A relation by schema and name, for lineage. */
  relation(schema: string, name: string): CatalogRelation | undefined {
    return this.byName.get(`${schema}.${name}`);
  }

  private schemasByName: { gen: number; map: Map<string, string[]> } | null = null;

  /** The schemas holding a relation of this name (for a name dgf cannot resolve: every candidate). */
  schemasOf(name: string): readonly string[] {
    if (this.schemasByName === null || this.schemasByName.gen !== this.gen) {
      const map = new Map<string, string[]>();
      for (const object of this.byName.keys()) {
        const dot = object.indexOf('.');
        const rel = object.slice(dot + 1);
        let list = map.get(rel);
        if (!list) map.set(rel, (list = []));
        list.push(object.slice(0, dot));
      }
      this.schemasByName = { gen: this.gen, map };
    }
    return this.schemasByName.map.get(name) ?? [];
  }

  /** User functions of a name (any schema and overload), for lineage. */
  functions(name: string): readonly CatalogFunction[] {
    return this.functionsByName.get(name) ?? NO_FUNCTIONS;
  }
}
