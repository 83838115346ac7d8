/** What the admin API reads: the live state of a running dgf, handed over by src/server.ts. */
import type { AuditLog } from '../audit/types.js';
import type { Inventory } from '../governance/inventory.js';
import type { RunningListener } from '../listener.js';
import type { CompiledPolicy } from '../policy/types.js';
import type { ListenerQuota } from '../quota/types.js';

/** Outcome of a policy reload: the new version, or the errors of a rejected set (the old one stays). */
export type PolicyReloadResult = { ok: true; version: number } | { ok: false; errors: { message: string }[] };

export interface AdminState {
  policies: {
    /** The policy set in force. */
    current(): CompiledPolicy;
    reload(): Promise<PolicyReloadResult>;
  };
  audit: AuditLog;
  /** Paths of the file sinks (active files; rotated siblings are found from them), for reports. */
  auditFiles(): string[];
  listeners(): RunningListener[];
  quotas(): ListenerQuota[];
  inventory: Inventory;
  /** True once every configured listener is bound. */
  ready(): boolean;
}
