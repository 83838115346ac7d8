/**
 * The views of the upstream, per database (`listCollections`: a view's `viewOn` and `pipeline`), so that a find or
 * aggregate of a view, and a `$lookup`/`$unionWith`/`$graphLookup` from one, is traced through the view's pipeline: a
 * view that renames `diagnosis` to `note` is masked like `diagnosis`. Consulted only for roles with masks.
 *
 * A database is loaded on first use, again every `refreshMs` (default 60 s), after DDL that passes through dgf
 * (`create`, `collMod`, `drop`, `renameCollection`, `dropDatabase`), and, for a masked role, before a command naming a
 * collection the catalog does not know (a view created behind dgf's back is traced before its first document goes
 * out). A name that is still unknown after a load is a collection that does not exist (yet).
 */
import type { ViewDefinition, ViewResolver } from './lineage/trace.js';
import type { Upstream } from './upstream/client.js';

interface DbViews {
  loaded: number;
  views: Map<string, ViewDefinition>;
  /** Collections, and names looked up that did not exist at the last load. */
  collections: Set<string>;
  loading: Promise<void> | null;
}

/** Fewest milliseconds between two loads of one database prompted by unknown names. */
const MIN_RELOAD_MS = 200;
const MAX_DBS = 256;

let catalogs = 0;

export class ViewCatalog {
  private readonly dbs = new Map<string, DbViews>();
  /** Changes whenever what the catalog answers changes: trace cache keys carry it. */
  generation = 0;
  /** Unique per catalog (per listener): traces of one upstream's views are never reused for another's. */
  readonly id = ++catalogs;
  readonly resolve: ViewResolver = (db, coll) => this.lookup(db, coll);

  constructor(
    private readonly upstream: Pick<Upstream, 'client'>,
    private readonly refreshMs = 60_000,
    /** Told when a database's collections could not be listed. */
    private readonly onError?: (db: string, err: unknown) => void,
  ) {}

  private lookup(db: string, coll: string): ViewDefinition | null | undefined {
    const d = this.dbs.get(db);
    if (!d || d.loaded === 0) return undefined;
    const v = d.views.get(coll);
    if (v) return v;
    return d.collections.has(coll) ? null : undefined;
  }

  /** Load `db` when it was never loaded or its load is older than `refreshMs`; null when it is fresh (no wait). */
  ensureFresh(db: string): Promise<void> | null {
    const d = this.dbs.get(db);
    if (d && d.loaded !== 0 && Date.now() - d.loaded <= this.refreshMs) return null;
    return this.load(db, [], true);
  }

  /** Load the databases of `namespaces` (`db.coll`) that do not know their collection; unknown names become "none". */
  async refresh(namespaces: readonly string[]): Promise<void> {
    const byDb = new Map<string, string[]>();
    for (const ns of namespaces) {
      const dot = ns.indexOf('.');
      if (dot <= 0) continue;
      const db = ns.slice(0, dot);
      const list = byDb.get(db) ?? [];
      list.push(ns.slice(dot + 1));
      byDb.set(db, list);
    }
    await Promise.all([...byDb].map(([db, names]) => this.load(db, names)));
  }

  private async load(db: string, asked: readonly string[], force = false): Promise<void> {
    let d = this.dbs.get(db);
    if (d?.loading) {
      await d.loading; // never rejects
      d = this.dbs.get(db);
      if (d && d.loaded !== 0 && asked.every((n) => d!.views.has(n) || d!.collections.has(n))) return;
    }
    if (!force && d && d.loaded !== 0 && Date.now() - d.loaded < MIN_RELOAD_MS) {
      // Just loaded: the names it does not have do not exist.
      let grew = false;
      for (const n of asked) {
        if (!d.views.has(n) && !d.collections.has(n)) {
          d.collections.add(n);
          grew = true;
        }
      }
      if (grew) this.generation++;
      return;
    }
    const entry: DbViews = d ?? { loaded: 0, views: new Map(), collections: new Set(), loading: null };
    if (!d) {
      if (this.dbs.size >= MAX_DBS) this.dbs.clear();
      this.dbs.set(db, entry);
    }
    const run = async (): Promise<void> => {
      const views = new Map<string, ViewDefinition>();
      const collections = new Set<string>();
      const list = (await this.upstream.client.db(db).listCollections({}, { nameOnly: false }).toArray()) as Array<{ name?: unknown; type?: unknown; options?: { viewOn?: unknown; pipeline?: unknown } }>;
      for (const c of list) {
        if (typeof c.name !== 'string') continue;
        if (c.type === 'view' && typeof c.options?.viewOn === 'string') views.set(c.name, { viewOn: c.options.viewOn, pipeline: Array.isArray(c.options.pipeline) ? c.options.pipeline : [] });
        else collections.add(c.name);
      }
      for (const n of asked) if (!views.has(n)) collections.add(n);
      const changed = !sameViews(entry.views, views);
      entry.views = views;
      entry.collections = collections;
      entry.loaded = Date.now();
      if (changed) this.generation++;
    };
    entry.loading = run().catch((err: unknown) => {
      // The upstream could not list collections (a transient failure): what was known stays known; names never seen
      // are taken for collections until the next load (their fields are classified by name).
      this.onError?.(db, err);
      for (const n of asked) if (!entry.views.has(n)) entry.collections.add(n);
      entry.loaded = Date.now();
      this.generation++;
    });
    try {
      await entry.loading;
    } finally {
      entry.loading = null;
    }
  }

  /** Forget a database (DDL passed through dgf). */
  invalidate(db: string): void {
    if (this.dbs.delete(db)) this.generation++;
  }
}

function sameViews(a: ReadonlyMap<string, ViewDefinition>, b: ReadonlyMap<string, ViewDefinition>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) {
    const w = b.get(k);
    if (!w || w.viewOn !== v.viewOn || JSON.stringify(w.pipeline) !== JSON.stringify(v.pipeline)) return false;
  }
  return true;
}
