/** What every session of one Postgres listener shares: config, governance, pool, auth secrets, caches. */
import type tls from 'node:tls';
import type { ListenerConfig } from '../../src/config/types.js';
import type { ListenerGovernance } from '../../src/governance/listener-governance.js';
import type { StatementInfo } from './governance/analyze.js';
import type { CatalogCache } from './governance/catalog.js';
import type { LineageCache, VerdictCache } from './governance/lineage-plan.js';
import type { ScramSecret } from './auth/scram-sha-256.js';
import type { Pool } from './pool.js';
import type { UpstreamTarget } from './upstream-target.js';

/** Client authentication method of the listener (config `auth`). */
export type AuthMethod = 'scram' | 'md5' | 'password' | 'trust';

/** A statement text known to the listener: its analysis and the name it is prepared under upstream. */
export interface SharedStatement {
  serverName: string;
  infos: readonly StatementInfo[];
  /** An upstream accepted this text and types once: a client's Parse outside a transaction can be answered by dgf. */
  validated: boolean;
  /** ParameterDescription and RowDescription/NoData frames of a Describe, to answer one without a connection. */
  paramDesc: Buffer | null;
  rowDesc: Buffer | null;
  /** describeEpoch when the descriptions were taken (DDL bumps the epoch: they may be stale). */
  epoch: number;
}

export interface ListenerState {
  readonly config: ListenerConfig;
  readonly gov: ListenerGovernance;
  readonly pool: Pool;
  readonly target: UpstreamTarget;
  readonly tlsContext: tls.SecureContext | null;
  readonly authMethod: AuthMethod;
  readonly users: Map<string, { password: string | undefined; scram: ScramSecret | undefined }>;
  readonly catalog: CatalogCache;
  /** Longest statement text (bytes) dgf analyzes; longer ones are refused (0: no limit). */
  readonly maxStatementBytes: number;
  /** Lineage of statement texts (per search_path and catalog generation), shared by every session. */
  readonly lineage: LineageCache;
  /** What each role may get of each traced statement, per policy snapshot. */
  readonly verdicts: VerdictCache;
  /** Startup ParameterStatus values of the upstream, per database. */
  readonly serverParams: Map<string, Map<string, string>>;
  /** Whether the upstream leg is TLS (known after the first connection). */
  upstreamEncrypted: boolean;
  /** Sessions by the process id dgf handed them (for CancelRequest). */
  readonly sessions: Map<number, { cancel(secretKey: number): void }>;
  /** Role + statement text + parameter types -> server statement name, shared by the clients of one role. */
  statementFor(sql: string, paramTypes: readonly number[], role: string): SharedStatement;
  /** Result shapes (role, policy version, catalog load, RowDescription bytes) that need no masking and carry no label. */
  readonly plainShapes: Set<string>;
  /** Bumped after every DDL statement: cached statement descriptions older than this are not trusted. */
  describeEpoch: number;
  /** Send a CancelRequest to the upstream backend with this process id and key. */
  cancelUpstream(processId: number, secretKey: number): void;
  closing: boolean;
}
