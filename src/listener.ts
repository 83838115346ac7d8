/** The contract between the server and a protocol's listener (protocols/<name>/index.ts). */
import type { ListenerConfig } from './config/types.js';
import type { ListenerGovernance } from './governance/listener-governance.js';
import type { Logger } from './logger.js';

export interface ListenerContext {
  config: ListenerConfig;
  governance: ListenerGovernance;
  logger: Logger;
}

/** Upstream reachability, for /health and /ready. */
export interface UpstreamHealth {
  name: string;
  status: 'up' | 'down';
  detail?: string;
}

export interface RunningListener {
  readonly name: string;
  readonly protocol: string;
  /** The bound address (port 0 in config resolves to the real port here). */
  readonly address: { host: string; port: number };
  /** Ask the upstream whether it answers (a cheap ping); used by /ready and /health. */
  checkUpstream(): Promise<UpstreamHealth>;
  /** Stop accepting, let in-flight operations finish for at most `drainMs`, then close everything. */
  close(drainMs?: number): Promise<void>;
}

/** What each protocol's index.ts default-exports as `start`. */
export type ListenerFactory = (ctx: ListenerContext) => Promise<RunningListener>;

/** One row of `dgf scan`: a column, field or key pattern of an upstream and the labels it carries. */
export interface InventoryRow {
  /** 'public.customers', 'app.users', 'user:*:email'. */
  object: string;
  field: string;
  labels: string[];
  /** Whether the labels came from the name, from sampled values, or both. */
  source: 'name' | 'value' | 'both';
  /** Values sampled for this field. */
  sampled: number;
}

/** A protocol's schema-and-sample reader for `dgf scan` (protocols/<name>/scan.ts exports `scan`). */
export type ListenerScanner = (
  config: import('./config/types.js').ListenerConfig,
  policy: import('./policy/types.js').CompiledPolicy,
  sample: number,
) => Promise<InventoryRow[]>;
