/** `dgf policy check` and `dgf policy explain`. */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigErrors } from '../../errors.js';
import { PolicyStore, checkPolicyFiles, defaultPacksDir, policyFilesIn, type LogicalType } from '../../policy/index.js';
import { validateSources } from '../../policy/compile.js';
import { YamlSource } from '../../config/yaml-source.js';
import { loadConfigFile } from '../../config/load.js';
import type { DgfConfig } from '../../config/types.js';
import { clientChosenExemptions } from '../../governance/roles.js';

/** Options of `dgf policy check`. */
export interface PolicyCheckOptions {
  /** A dgf.yaml whose role mappings are checked against the policies (and whose policy set is checked by default). */
  config?: string | null;
  /** The config was not named on the command line ($DGF_CONFIG, ./dgf.yaml): one that does not load is skipped. */
  implicitConfig?: boolean;
}

/**
 * Validate policy files/directories (default: the config's policy set, else the shipped packs). Prints each error;
 * 0 when clean, 1 otherwise, 2 when the named config does not load. With a config, also warns (without failing)
 * about role mappings through which a client picks, by what it asserts without proof, a role exempt from masks or
 * rules (see clientChosenExemptions).
 */
export async function policyCheck(paths: string[], out: NodeJS.WritableStream, opts: PolicyCheckOptions = {}): Promise<number> {
  let config: DgfConfig | null = null;
  if (opts.config) {
    try {
      config = await loadConfigFile(opts.config);
    } catch (err) {
      const errors = err instanceof ConfigErrors ? err.errors.map((e) => e.message) : [err instanceof Error ? err.message : String(err)];
      if (!opts.implicitConfig) {
        for (const e of errors) out.write(`${e}\n`);
        return 2;
      }
      out.write(`warning: ${opts.config} not loaded, role mappings not checked: ${errors.join('; ')}\n`);
    }
  }
  const targets = paths.length > 0 ? paths : config ? configPolicyFiles(config) : [defaultPacksDir()];
  const errors = await checkPolicyFiles(targets);
  if (errors.length === 0) {
    if (config) for (const w of await roleWarnings(config, targets)) out.write(`${w}\n`);
    out.write(`ok: ${targets.join(', ')}\n`);
    return 0;
  }
  for (const e of errors) out.write(`${e.message}\n`);
  out.write(`${errors.length} error${errors.length === 1 ? '' : 's'}\n`);
  return 1;
}

/** The files `dgf start` would load for this config: the packs, then the policy directory if it exists. */
function configPolicyFiles(config: DgfConfig): string[] {
  const files = config.policies.packs.map((p) => join(defaultPacksDir(), `${p}.yaml`));
  const dir = resolve(config.file ? join(config.file, '..') : '.', config.policies.dir ?? './policies');
  if (existsSync(dir) && !files.some((f) => resolve(f, '..') === dir)) files.push(dir);
  return files;
}

async function roleWarnings(config: DgfConfig, targets: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const t of targets) files.push(...(t.endsWith('.yaml') || t.endsWith('.yml') ? [t] : await policyFilesIn(t)));
  const sources: YamlSource[] = [];
  for (const f of files) sources.push(await YamlSource.read(f));
  const { defs } = validateSources(sources);
  const where = config.file ?? 'config';
  return clientChosenExemptions(config.roles, config.listeners, defs).map((w) => {
    const grants = [...(w.unmasked.length > 0 ? [`sees ${w.unmasked.join(', ')} unmasked`] : []), ...(w.rules.length > 0 ? [`escapes rule${w.rules.length === 1 ? '' : 's'} ${w.rules.join(', ')}`] : [])];
    const [attr, advice] =
      w.attribute === 'application'
        ? ['application (chosen by the client)', 'map privileged roles by authenticated user (and address), not by application']
        : ['user (not authenticated: auth trust)', 'require authentication on that listener'];
    return `warning: ${where}: roles[${w.index}] maps by ${attr} to role "${w.role}", which ${grants.join(' and ')} compared with role "default"; a client can claim it without proof (${w.sources.join('; ')}): ${advice}`;
  });
}

/** Options of `dgf policy explain`. */
export interface ExplainOptions {
  role: string;
  name?: string;
  value: string;
  /** A user policy directory, loaded after the packs. */
  policiesDir?: string;
  type?: LogicalType;
}

function show(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v instanceof Uint8Array) return `<${v.length} bytes ${Buffer.from(v).toString('hex')}>`;
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'bigint') return v.toString();
  return JSON.stringify(v);
}

function parseAs(value: string, type: LogicalType): unknown {
  switch (type) {
    case 'json':
      try {
        return JSON.parse(value) as unknown;
      } catch {
        return value;
      }
    case 'bytes':
      return Buffer.from(value, 'utf8');
    default:
      return value; // every other type accepts its Postgres-style text form
  }
}

/** Print the labels, findings (with spans) and masked value `role` would see. 0 ok, 2 on policy errors. */
export async function policyExplain(opts: ExplainOptions, out: NodeJS.WritableStream): Promise<number> {
  let store: PolicyStore;
  try {
    store = await PolicyStore.load(opts.policiesDir !== undefined ? { dir: opts.policiesDir } : {});
  } catch (err) {
    if (err instanceof ConfigErrors) {
      for (const e of err.errors) out.write(`${e.message}\n`);
      return 2;
    }
    throw err;
  }
  const policy = store.current();
  const type = opts.type ?? 'text';
  const value = parseAs(opts.value, type);
  const ex = policy.explain(opts.role, opts.name, value, type);
  const nameLabels = opts.name ? policy.labelsForName(opts.name) : [];
  const plan = policy.fieldPlan(opts.role, { name: opts.name ?? '', type });
  out.write(`role:     ${opts.role}\n`);
  if (opts.name !== undefined) out.write(`name:     ${opts.name}${nameLabels.length ? `  (labels by name: ${nameLabels.join(', ')})` : ''}\n`);
  out.write(`type:     ${type}\n`);
  out.write(`labels:   ${ex.labels.length ? ex.labels.join(', ') : '(none)'}\n`);
  out.write(`mode:     ${plan.mode}\n`);
  if (ex.findings.length === 0) out.write('findings: (none)\n');
  else {
    out.write('findings:\n');
    for (const f of ex.findings) {
      const mask = policy.maskFor(opts.role, f.label);
      out.write(`  - ${f.label} (${f.detector}) at [${f.start}, ${f.end}) -> ${mask ? mask.method : 'clear for this role'}\n`);
    }
  }
  out.write(`masked:   ${show(ex.masked)}\n`);
  return 0;
}
