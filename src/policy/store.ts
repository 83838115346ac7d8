/**
 * PolicyStore: loads the shipped packs plus the user's policy directory, compiles them, and swaps in a new
 * compiled set atomically on reload (an invalid new set is rejected and the old one stays).
 */
import { readdir, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { ConfigError, ConfigErrors } from '../errors.js';
import { YamlSource } from '../config/yaml-source.js';
import { validateSources } from './compile.js';
import { PolicyImpl } from './engine.js';
import type { CompiledPolicy } from './types.js';

/** Where and what to load. */
export interface PolicyLoadOptions {
  /** Directory of user *.yaml / *.yml policy files, loaded after the packs, sorted by name. Default: none. */
  dir?: string;
  /** Shipped packs to load, in order. Default: DEFAULT_PACKS. */
  packs?: string[];
  /** Key for hash/tokenize/fake masks. Default: a development key. */
  hashKey?: string;
  /** Directory of the shipped packs. Default: the repository's `policies/` folder. */
  packsDir?: string;
}

/** Packs loaded when `packs` is not given. */
export const DEFAULT_PACKS: readonly string[] = ['default', 'gdpr', 'hipaa', 'sox', 'iso27001'];

/** The shipped packs folder: `policies/` at the package root, found from this file (src/policy or dist/src/policy). */
export function defaultPacksDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'policies');
    if (existsSync(join(candidate, 'default.yaml'))) return candidate;
    dir = dirname(dir);
  }
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'policies');
}

/** List the *.yaml / *.yml files of a directory, sorted by name. */
export async function policyFilesIn(dir: string): Promise<string[]> {
  const names = await readdir(dir);
  return names.filter((n) => /\.ya?ml$/i.test(n)).sort().map((n) => join(dir, n));
}

/** Read and parse files; syntax/read errors are collected, not thrown. */
async function readSources(files: readonly string[]): Promise<{ sources: YamlSource[]; errors: ConfigError[] }> {
  const sources: YamlSource[] = [];
  const errors: ConfigError[] = [];
  for (const f of files) {
    try {
      sources.push(await YamlSource.read(f));
    } catch (err) {
      if (err instanceof ConfigError) errors.push(err);
      else errors.push(new ConfigError(String(err), f));
    }
  }
  return { sources, errors };
}

/** Resolve the ordered list of files for `opts`: packs first, then the user dir (no file twice). */
async function filesFor(opts: PolicyLoadOptions): Promise<{ files: string[]; user: Set<string>; errors: ConfigError[] }> {
  const packsDir = resolve(opts.packsDir ?? defaultPacksDir());
  const errors: ConfigError[] = [];
  const files: string[] = [];
  const user = new Set<string>();
  for (const pack of opts.packs ?? DEFAULT_PACKS) {
    const f = join(packsDir, `${pack}.yaml`);
    if (existsSync(f)) files.push(f);
    else errors.push(new ConfigError(`unknown policy pack "${pack}" (no ${f})`, null, null, 'policies.packs'));
  }
  if (opts.dir !== undefined) {
    const dir = resolve(opts.dir);
    try {
      if (!(await stat(dir)).isDirectory()) throw new Error('not a directory');
      for (const f of await policyFilesIn(dir)) {
        if (files.includes(f)) continue; // dir === packsDir: a pack is loaded once
        files.push(f);
        user.add(f);
      }
    } catch (err) {
      errors.push(new ConfigError(`cannot read policy directory: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, dir, null, 'policies.dir'));
    }
  }
  return { files, user, errors };
}

/** Load and compile; returns the policy or every error. */
async function build(opts: PolicyLoadOptions, version: number): Promise<{ policy: PolicyImpl } | { errors: ConfigError[] }> {
  const { files, user, errors } = await filesFor(opts);
  const read = await readSources(files);
  errors.push(...read.errors);
  const checked = validateSources(read.sources, user);
  errors.push(...checked.errors);
  if (errors.length > 0) return { errors };
  return { policy: new PolicyImpl(version, checked.defs, opts.hashKey) };
}

/** Compile already-parsed sources (no I/O). Throws ConfigErrors listing every problem. */
export function compilePolicySources(sources: YamlSource[], opts: { hashKey?: string; version?: number; userFiles?: ReadonlySet<string> } = {}): PolicyImpl {
  const { defs, errors } = validateSources(sources, opts.userFiles);
  if (errors.length > 0) throw new ConfigErrors(errors);
  return new PolicyImpl(opts.version ?? 1, defs, opts.hashKey);
}

/** Validate policy files or directories (every *.yaml inside) together; returns every error found. */
export async function checkPolicyFiles(paths: readonly string[]): Promise<ConfigError[]> {
  const files: string[] = [];
  const errors: ConfigError[] = [];
  for (const p of paths) {
    try {
      const s = await stat(p);
      if (s.isDirectory()) files.push(...(await policyFilesIn(p)));
      else files.push(p);
    } catch (err) {
      errors.push(new ConfigError(`cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, p));
    }
  }
  const read = await readSources(files);
  errors.push(...read.errors, ...validateSources(read.sources).errors);
  return errors;
}

/** Listener called with the new compiled set after a successful reload. */
export type ReloadListener = (policy: CompiledPolicy) => void;

/** Holds the current compiled policy set and reloads it atomically. */
export class PolicyStore {
  private policy: PolicyImpl;
  private readonly listeners = new Set<ReloadListener>();
  private reloading: Promise<{ ok: true; version: number } | { ok: false; errors: ConfigError[] }> | null = null;

  private constructor(private readonly opts: PolicyLoadOptions, policy: PolicyImpl) {
    this.policy = policy;
  }

  /** Load and compile; throws ConfigErrors with every problem found. */
  static async load(opts: PolicyLoadOptions = {}): Promise<PolicyStore> {
    const r = await build(opts, 1);
    if ('errors' in r) throw new ConfigErrors(r.errors);
    return new PolicyStore(opts, r.policy);
  }

  /** The compiled set in force. Callers read it per operation; never cache it across operations. */
  current(): PolicyImpl {
    return this.policy;
  }

  /** Re-read every file; swap in the new set only when it compiles. Concurrent calls share one reload. */
  async reload(): Promise<{ ok: true; version: number } | { ok: false; errors: ConfigError[] }> {
    if (this.reloading) return this.reloading;
    this.reloading = (async () => {
      try {
        const r = await build(this.opts, this.policy.version + 1);
        if ('errors' in r) return { ok: false as const, errors: r.errors };
        this.policy = r.policy;
        for (const l of this.listeners) {
          try {
            l(r.policy);
          } catch {
            // a failing listener must not undo the swap or starve the others
          }
        }
        return { ok: true as const, version: r.policy.version };
      } finally {
        this.reloading = null;
      }
    })();
    return this.reloading;
  }

  /** Be told after each successful reload; returns an unsubscribe function. */
  onReload(listener: ReloadListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
