/** `dgf policy check` and `dgf policy explain`. */
import { ConfigErrors } from '../../errors.js';
import { PolicyStore, checkPolicyFiles, defaultPacksDir, type LogicalType } from '../../policy/index.js';

/** Validate policy files/directories (default: the shipped packs). Prints each error; 0 when clean, 1 otherwise. */
export async function policyCheck(paths: string[], out: NodeJS.WritableStream): Promise<number> {
  const targets = paths.length > 0 ? paths : [defaultPacksDir()];
  const errors = await checkPolicyFiles(targets);
  if (errors.length === 0) {
    out.write(`ok: ${targets.join(', ')}\n`);
    return 0;
  }
  for (const e of errors) out.write(`${e.message}\n`);
  out.write(`${errors.length} error${errors.length === 1 ? '' : 's'}\n`);
  return 1;
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
