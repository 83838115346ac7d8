/**
 * Loads dgf.yaml: YAML with positions, `${ENV}` interpolation, schema validation (unknown keys rejected),
 * cross-field checks, defaults. Every error names file, line and key:
 *   dgf.yaml:14: listeners[0].pool: must be one of session, transaction
 */
import path from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { ConfigError, ConfigErrors } from '../errors.js';
import { YamlSource, formatPath, pointerToPath } from './yaml-source.js';
import { configSchema } from './schema.js';
import { DEFAULT_LISTEN, DEFAULTS } from './defaults.js';
import type { DgfConfig, ListenerConfig, ProtocolName } from './types.js';

const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
const validateSchema = ajv.compile(configSchema);

/** Read, validate and normalize a config file. Throws ConfigErrors. */
export async function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): Promise<DgfConfig> {
  const abs = path.resolve(file);
  const source = await YamlSource.read(abs).catch((err: unknown) => {
    throw err instanceof ConfigError ? new ConfigErrors([relabel(err, file)]) : err;
  });
  return configFromSource(source, file, env);
}

/** Parse and validate config text (for tests and `dgf policy check`-like tools). */
export function loadConfigText(text: string, file: string, env: NodeJS.ProcessEnv = process.env): DgfConfig {
  let source: YamlSource;
  try {
    source = YamlSource.parse(text, file);
  } catch (err) {
    throw err instanceof ConfigError ? new ConfigErrors([err]) : err;
  }
  return configFromSource(source, file, env);
}

/**
 * Normalize a config object that did not come from a file (the demo, the test harness). Relative paths
 * resolve against `baseDir`.
 */
export function configFromObject(raw: unknown, baseDir: string, env: NodeJS.ProcessEnv = process.env): DgfConfig {
  const errors: ConfigError[] = [];
  const data = interpolate(raw, [], env, (msg, p) => errors.push(new ConfigError(msg, null, null, formatPath(p))));
  validate(data, (msg, p) => errors.push(new ConfigError(msg, null, null, formatPath(p))));
  if (errors.length > 0) throw new ConfigErrors(errors);
  return normalize(data as RawConfig, null, baseDir, errors, (msg, p) => new ConfigError(msg, null, null, formatPath(p)));
}

function configFromSource(source: YamlSource, displayFile: string, env: NodeJS.ProcessEnv): DgfConfig {
  const errors: ConfigError[] = [];
  const at = (msg: string, p: (string | number)[]): ConfigError => relabel(source.error(msg, p), displayFile);
  const data = interpolate(source.data ?? {}, [], env, (msg, p) => errors.push(at(msg, p)));
  // A key whose variable is missing already has its error; its placeholder text would only add noise.
  const envErrorKeys = new Set(errors.map((e) => e.key));
  validate(data, (msg, p) => {
    if (!envErrorKeys.has(formatPath(p))) errors.push(at(msg, p));
  });
  if (errors.length > 0) throw new ConfigErrors(errors);
  const config = normalize(data as RawConfig, path.resolve(source.file), path.dirname(path.resolve(source.file)), errors, at);
  return config;
}

/** Show the path the user typed, not the absolute one. */
function relabel(err: ConfigError, displayFile: string): ConfigError {
  return err.file === displayFile ? err : new ConfigError(stripPrefix(err), displayFile, err.line, err.key);
}

function stripPrefix(err: ConfigError): string {
  let msg = err.message;
  const where = ConfigError.format('', err.file, err.line, err.key);
  if (msg.startsWith(where)) msg = msg.slice(where.length);
  return msg;
}

type Report = (message: string, path: (string | number)[]) => void;

/** Replace `${NAME}` in every string by the environment variable NAME; a missing one is an error at its line. */
function interpolate(value: unknown, at: (string | number)[], env: NodeJS.ProcessEnv, report: Report): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => {
      const v = env[name];
      if (v === undefined) {
        report(`environment variable ${name} is not set`, at);
        return '';
      }
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, [...at, i], env, report));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = interpolate(v, [...at, k], env, report);
    return out;
  }
  return value;
}

function validate(data: unknown, report: Report): void {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    report('the config must be a mapping of keys (admin, policies, roles, audit, listeners)', []);
    return;
  }
  if (validateSchema(data)) return;
  const seen = new Set<string>();
  for (const e of validateSchema.errors ?? []) {
    const { message, path: p } = describe(e);
    const key = `${formatPath(p)}|${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    report(message, p);
  }
}

/** Turn an Ajv error into words a user understands, at the path of the offending key. */
function describe(e: ErrorObject): { message: string; path: (string | number)[] } {
  const p = pointerToPath(e.instancePath);
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = (e.params as { additionalProperty: string }).additionalProperty;
      return { message: `unknown key "${key}"`, path: [...p, key] };
    }
    case 'required':
      return { message: `missing required key "${(e.params as { missingProperty: string }).missingProperty}"`, path: p };
    case 'enum':
      return { message: `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`, path: p };
    case 'pattern':
      return { message: p[p.length - 1] === 'listen' ? 'must be host:port' : `has an invalid format`, path: p };
    default:
      return { message: e.message ?? 'is invalid', path: p };
  }
}

interface RawConfig {
  admin?: { listen?: string; token?: string; hosts?: string[] };
  policies?: { dir?: string; packs?: string[]; hashKey?: string; watch?: boolean };
  roles?: DgfConfig['roles'];
  audit?: { failMode?: 'closed' | 'open'; durability?: 'write' | 'fsync'; chainKey?: string; sinks?: DgfConfig['audit']['sinks'] };
  listeners?: Array<Partial<ListenerConfig> & { name: string; protocol: ProtocolName }>;
  stateDir?: string;
  log?: { level?: string };
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|localhost|\[?::1\]?)$/;

function normalize(
  raw: RawConfig,
  file: string | null,
  baseDir: string,
  errors: ConfigError[],
  at: (msg: string, p: (string | number)[]) => ConfigError,
): DgfConfig {
  const resolvePath = (p: string): string => path.resolve(baseDir, p);
  const sinks = (raw.audit?.sinks ?? DEFAULTS.audit.sinks).map((s) =>
    s.type === 'file' ? { ...s, path: resolvePath(s.path ?? DEFAULTS.auditFile), fsyncMs: s.fsyncMs ?? 20 } : { ...s },
  );
  sinks.forEach((s, i) => {
    if (s.type === 'stdout' && s.path) errors.push(at('a stdout sink takes no path', ['audit', 'sinks', i, 'path']));
  });
  const firstFile = sinks.find((s) => s.type === 'file')?.path;

  const names = new Set<string>();
  const addresses = new Map<string, number>();
  const listeners: ListenerConfig[] = (raw.listeners ?? []).map((l, i) => {
    const where = (k: string | number, ...rest: (string | number)[]): (string | number)[] => ['listeners', i, k, ...rest];
    if (names.has(l.name)) errors.push(at(`duplicate listener name "${l.name}"`, where('name')));
    names.add(l.name);
    const listen = l.listen ?? DEFAULT_LISTEN[l.protocol];
    if (!listen.endsWith(':0')) {
      const prev = addresses.get(listen);
      if (prev !== undefined) errors.push(at(`address ${listen} is already used by listeners[${prev}]`, where('listen')));
      addresses.set(listen, i);
    }
    const users = l.users ?? [];
    const host = listen.slice(0, listen.lastIndexOf(':'));
    const auth = l.auth ?? (users.length > 0 ? undefined : 'trust');
    if (auth === 'trust' && !LOOPBACK.test(host)) {
      errors.push(at(`auth: trust is only allowed on a loopback address, not ${host}; add users`, where(l.auth ? 'auth' : 'listen')));
    }
    // A password method with nobody to check it against would let anyone in as any user.
    if (auth !== undefined && auth !== 'trust' && users.length === 0) {
      errors.push(at(`auth: ${auth} needs users (name and password) to check clients against`, where('auth')));
    }
    const up = l.upstream ?? {};
    const needsUrl = l.protocol === 'postgres' || l.protocol === 'mongodb' || l.protocol === 'redis' || l.protocol === 'blob';
    if (needsUrl && !up.url) errors.push(at(`missing required key "url" for a ${l.protocol} upstream`, where('upstream')));
    if (l.protocol === 'cosmos' && !up.endpoint && !up.url) errors.push(at('missing required key "endpoint" for a cosmos upstream', where('upstream')));
    if ((l.protocol === 'cosmos' || l.protocol === 'blob') && !up.key) errors.push(at(`missing required key "key" for a ${l.protocol} upstream`, where('upstream')));
    users.forEach((u, j) => {
      const http = l.protocol === 'cosmos' || l.protocol === 'blob';
      if (http && !u.key) errors.push(at(`user "${u.name}" needs a key (the key dgf issues to the app)`, where('users', j)));
      if (!http && u.password === undefined) errors.push(at(`user "${u.name}" needs a password`, where('users', j)));
    });
    const tls = l.tls ? { ...l.tls, cert: resolvePath(l.tls.cert), key: resolvePath(l.tls.key), ...(l.tls.ca ? { ca: resolvePath(l.tls.ca) } : {}) } : undefined;
    return {
      name: l.name,
      protocol: l.protocol,
      listen,
      ...(tls ? { tls } : {}),
      users,
      ...(auth ? { auth } : {}),
      upstream: { ...up, ...(up.ca ? { ca: resolvePath(up.ca) } : {}) },
      pool: l.pool ?? DEFAULTS.pool,
      maxMessageBytes: l.maxMessageBytes ?? DEFAULTS.maxMessageBytes,
      poolTimeoutMs: l.poolTimeoutMs ?? DEFAULTS.poolTimeoutMs,
      authTimeoutMs: l.authTimeoutMs ?? DEFAULTS.authTimeoutMs,
      quota: { onExceed: 'reject', ...(l.quota ?? {}) },
      options: l.options ?? {},
    };
  });
  const adminListen = raw.admin?.listen ?? DEFAULTS.adminListen;
  const adminHost = adminListen.slice(0, adminListen.lastIndexOf(':'));
  // Off loopback the admin API serves the audit trail and reloads policies for whoever reaches it: a token is required.
  if (adminHost !== '' && !LOOPBACK.test(adminHost) && !raw.admin?.token) {
    errors.push(at(`admin.listen ${adminListen} is not a loopback address: set admin.token (an empty \${VAR} counts as none)`, ['admin', raw.admin?.listen ? 'listen' : 'token']));
  }
  if (errors.length > 0) throw new ConfigErrors(errors);

  return {
    file,
    admin: {
      listen: raw.admin?.listen ?? DEFAULTS.adminListen,
      ...(raw.admin?.token ? { token: raw.admin.token } : {}),
      ...(raw.admin?.hosts ? { hosts: raw.admin.hosts } : {}),
    },
    policies: {
      ...(raw.policies?.dir ? { dir: resolvePath(raw.policies.dir) } : {}),
      packs: raw.policies?.packs ?? [...DEFAULTS.packs],
      ...(raw.policies?.hashKey ? { hashKey: raw.policies.hashKey } : {}),
      watch: raw.policies?.watch ?? true,
    },
    roles: raw.roles ?? [],
    audit: {
      failMode: raw.audit?.failMode ?? 'closed',
      durability: raw.audit?.durability ?? 'write',
      ...(raw.audit?.chainKey ? { chainKey: raw.audit.chainKey } : {}),
      sinks,
    },
    listeners,
    stateDir: raw.stateDir ? resolvePath(raw.stateDir) : firstFile ? path.dirname(firstFile) : resolvePath(DEFAULTS.stateDir),
    log: { level: raw.log?.level ?? process.env.DGF_LOG_LEVEL ?? 'info' },
  };
}
