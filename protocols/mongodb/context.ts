/** What every client connection of one MongoDB listener shares. */
import type { ListenerConfig } from '../../src/config/types.js';
import type { ListenerGovernance } from '../../src/governance/listener-governance.js';
import type { Logger } from '../../src/logger.js';
import type { ScramCredentials } from './auth/scram.js';
import type { ShapePlanner } from './masking.js';
import type { VerdictCache } from './lineage/verdict.js';
import type { ViewCatalog } from './views.js';
import type { Upstream } from './upstream/client.js';
import type { CursorRegistry } from './upstream/cursors.js';
import type { SessionRegistry } from './upstream/sessions.js';

export interface MongoListenerContext {
  readonly config: ListenerConfig;
  readonly gov: ListenerGovernance;
  readonly logger: Logger;
  readonly upstream: Upstream;
  readonly sessions: SessionRegistry;
  readonly cursors: CursorRegistry;
  /** Enabled SCRAM mechanisms, by name, in preference order. */
  readonly credentials: ReadonlyMap<string, ScramCredentials>;
  /** No authentication required (auth: trust, loopback only). */
  readonly trust: boolean;
  readonly maxMessageBytes: number;
  /** Last storage figure polled from dbStats, in bytes. */
  storageBytes: number;
  nextConnectionId(): number;
  /**
   * Planners of plain finds (no projection, no pipeline) by role and collection, shared by every connection:
   * each command reuses the compiled path tree instead of classifying the same field paths again. A planner
   * picks up policy reloads itself (refresh), and each use sets its own operation's tally before masking.
   */
  readonly planners: Map<string, ShapePlanner>;
  /** Planners of traced result shapes (a pipeline, a projection, a view), by result lineage, then role and collection. */
  readonly resultPlanners: WeakMap<object, Map<string, ShapePlanner>>;
  /** Per command trace and role: refused or not, and what it reads masked. */
  readonly verdicts: VerdictCache;
  /** The upstream's views, for tracing reads of views (roles with masks only). */
  readonly views: ViewCatalog;
}
