/**
 * The configuration a loaded `dgf.yaml` yields (SPEC "Configuration"). Every option documents its default;
 * the schema in schema.ts is the single source of truth for validation and rejects unknown keys.
 */

export type ProtocolName = 'postgres' | 'mongodb' | 'redis' | 'cosmos' | 'blob';

/** A user allowed to connect to a listener. */
export interface ListenerUser {
  name: string;
  /** Password for SCRAM/md5 (Postgres, Mongo) or AUTH (Redis). */
  password?: string;
  /** Base64 key issued by dgf for Cosmos/Blob signing. */
  key?: string;
}

/** Quota settings of a listener. */
export interface QuotaConfig {
  /** supabase-free | atlas-m0 | redis-cloud-free | cosmos-free | blob-free; default: none (no limits). */
  preset?: string;
  /** reject (default): answer with the protocol's own error; warn: log, count and let through. */
  onExceed: 'reject' | 'warn';
  /** Overrides of the preset's limits. Units: bytes, counts, RU/s. */
  limits?: Partial<QuotaLimits>;
}

export interface QuotaLimits {
  storageBytes: number;
  connections: number;
  memoryBytes: number;
  requestUnitsPerSecond: number;
  transactionsPerMonth: number;
}

export interface TlsConfig {
  cert: string;
  key: string;
  /** CA file to verify client certificates (optional). */
  ca?: string;
}

/** Upstream settings; which keys apply depends on the protocol. */
export interface UpstreamConfig {
  /** postgres://, mongodb://, mongodb+srv://, redis://, rediss://, https:// */
  url?: string;
  /** Cosmos account endpoint. */
  endpoint?: string;
  /** Cosmos master key / Blob account key (base64). */
  key?: string;
  /** Blob account name. */
  account?: string;
  /** Upstream connection cap; default from the quota preset, else 10. */
  maxConnections?: number;
  /** CA file for verifying the upstream's TLS certificate. */
  ca?: string;
  /** Skip upstream TLS verification (tests only); default false. */
  insecureSkipVerify?: boolean;
  /**
   * How long opening one upstream connection may take (TCP, TLS, login handshake), in ms, before the client
   * waiting for it gets the protocol's own error; default 5000.
   */
  connectTimeoutMs?: number;
  /**
   * Longest wait for an answer from an open upstream connection, in ms, before the request fails with the
   * protocol's own error (and the connection is closed); 0 disables. Default: 30000 for Redis (shared connections;
   * blocking commands are exempt) and for Cosmos/Blob response headers; 0 for PostgreSQL and MongoDB, whose
   * statements may legitimately run for long.
   */
  replyTimeoutMs?: number;
}

export interface ListenerConfig {
  name: string;
  protocol: ProtocolName;
  /** host:port; default per protocol (SPEC "Ports"). */
  listen: string;
  tls?: TlsConfig;
  /** Who may connect; empty with `auth: trust` (loopback only). */
  users: ListenerUser[];
  /** scram (default when users are set) | md5 | password | trust (loopback listen address only). */
  auth?: 'scram' | 'md5' | 'password' | 'trust';
  upstream: UpstreamConfig;
  /** Postgres pooling mode; default transaction. */
  pool: 'session' | 'transaction';
  /** Largest message a client may send, in bytes; default 16 MiB. */
  maxMessageBytes: number;
  /** How long a client may wait for an upstream connection before an error, in ms; default 30000. */
  poolTimeoutMs: number;
  /** How long a client has to authenticate after connecting, in ms, before it is disconnected; default 10000. */
  authTimeoutMs?: number;
  quota: QuotaConfig;
  /** Protocol-specific extras, validated by the protocol (e.g. { stripCompression: true }). */
  options: Record<string, unknown>;
}

export interface RoleMapping {
  /** Glob per identity attribute (user, application, address, listener); all present must match. */
  match: { user?: string; application?: string; address?: string; listener?: string };
  role: string;
}

export interface AuditSinkConfig {
  type: 'file' | 'stdout';
  /** file: path of the JSON-lines file. */
  path?: string;
  /** file: group-commit window in ms; default 20. */
  fsyncMs?: number;
  /** file: rotate when the file exceeds this many bytes; default 100 MiB. */
  rotateBytes?: number;
}

export interface AuditConfig {
  /**
   * closed (default): write-ahead, nothing goes upstream before its intent record is kept. open: never wait;
   * records that cannot be kept are counted as dropped.
   */
  failMode: 'closed' | 'open';
  /** When a record is kept: `write` (default) handed to the OS (survives a dgf crash), `fsync` on disk. */
  durability?: 'write' | 'fsync';
  /** HMAC key for the hash chain; default: policies.hashKey, else a fixed development key (warned). */
  chainKey?: string;
  sinks: AuditSinkConfig[];
}

export interface PoliciesConfig {
  /** Directory of *.yaml policy files; default ./policies (the shipped packs when absent). */
  dir?: string;
  /** Shipped packs to load; default [default, gdpr, hipaa, sox, iso27001]. */
  packs: string[];
  /** Key for hash/tokenize masks; default: a development key (warned). */
  hashKey?: string;
  /** Watch the dir and reload on change; default true. */
  watch: boolean;
}

export interface AdminConfig {
  /** host:port; default 127.0.0.1:8080. */
  listen: string;
  /** Bearer token for /api/*; default none (open, loopback only: a non-loopback listen requires one). */
  token?: string;
  /** Host names the API answers to besides IP literals and localhost (DNS-rebinding guard); default none. */
  hosts?: string[];
}

export interface DgfConfig {
  /** Absolute path of the loaded file, or null for the demo/defaults. */
  file: string | null;
  admin: AdminConfig;
  policies: PoliciesConfig;
  roles: RoleMapping[];
  audit: AuditConfig;
  listeners: ListenerConfig[];
  /** Directory for state files (quota counters); default next to the first file audit sink, else ./.dgf-state. */
  stateDir: string;
  log: { level: string };
}
