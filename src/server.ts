/**
 * Starts everything `dgf start` runs: policy store, audit log, one governed listener per config entry,
 * quotas, the admin API; and stops it in order (stop accepting, drain, flush audit).
 */
import { watch, type FSWatcher } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import type { DgfConfig } from './config/types.js';
import { DEFAULTS } from './config/defaults.js';
import { createLogger, type Logger } from './logger.js';
import { PolicyStore } from './policy/index.js';
import { createAuditLog } from './audit/log.js';
import type { AuditLog } from './audit/types.js';
import { createListenerQuota } from './quota/tracker.js';
import type { ListenerQuota } from './quota/types.js';
import { startAdminServer } from './admin/server.js';
import { Inventory } from './governance/inventory.js';
import { RoleResolver } from './governance/roles.js';
import { ListenerGovernance } from './governance/listener-governance.js';
import type { RunningListener } from './listener.js';
import { listenerFactory } from './protocol-registry.js';
import { startMemoryRelease } from './runtime/memory-release.js';

export interface DgfServer {
  readonly config: DgfConfig;
  readonly policies: PolicyStore;
  readonly audit: AuditLog;
  readonly listeners: RunningListener[];
  readonly inventory: Inventory;
  readonly admin: { address: { host: string; port: number } };
  readonly logger: Logger;
  listener(name: string): RunningListener;
  /** Reload policies; on error the old set stays and the errors are returned. */
  reloadPolicies(): Promise<{ ok: true; version: number } | { ok: false; errors: { message: string }[] }>;
  /** Stop accepting, drain in-flight work for at most `drainMs`, flush the audit trail. */
  stop(drainMs?: number): Promise<void>;
}

/** The key that chains audit records: audit.chainKey, else policies.hashKey, else the development key. */
export function auditChainKey(config: Pick<DgfConfig, 'audit' | 'policies'>): string {
  return config.audit.chainKey ?? config.policies.hashKey ?? process.env.DGF_AUDIT_KEY ?? DEFAULTS.developmentKey;
}

export async function startServer(config: DgfConfig, options: { logger?: Logger } = {}): Promise<DgfServer> {
  const logger = options.logger ?? createLogger(config.log.level);
  if (!config.audit.chainKey && !config.policies.hashKey && !process.env.DGF_AUDIT_KEY) {
    logger.warn('no audit.chainKey or policies.hashKey configured: using the development key; set one in production');
  }
  await mkdir(config.stateDir, { recursive: true });
  const policies = await PolicyStore.load({
    ...(config.policies.dir ? { dir: config.policies.dir } : {}),
    packs: config.policies.packs,
    hashKey: config.policies.hashKey ?? process.env.DGF_HASH_KEY ?? DEFAULTS.developmentKey,
  });
  const audit = await createAuditLog(config.audit, { chainKey: auditChainKey(config), stateDir: config.stateDir, logger });
  const inventory = new Inventory();
  const roles = new RoleResolver(config.roles);
  const listeners: RunningListener[] = [];
  const quotas: ListenerQuota[] = [];
  let watcher: FSWatcher | null = null;
  let admin: { address: { host: string; port: number }; close(): Promise<void> } | null = null;

  const reloadPolicies = async (): Promise<{ ok: true; version: number } | { ok: false; errors: { message: string }[] }> => {
    const result = await policies.reload();
    if (result.ok) logger.info({ version: result.version }, 'policies reloaded');
    else logger.error({ errors: result.errors.map((e) => e.message) }, 'policy reload rejected; the previous policies stay');
    return result;
  };

  try {
    for (const lc of config.listeners) {
      const quota = await createListenerQuota({ listener: lc.name, quota: lc.quota, stateDir: config.stateDir, logger });
      quotas.push(quota);
      const governance = new ListenerGovernance(lc, { policies, audit, quota, roles, inventory, logger });
      const start = await listenerFactory(lc.protocol);
      const running = await start({ config: lc, governance, logger: governance.logger });
      listeners.push(running);
      logger.info({ listener: lc.name, protocol: lc.protocol, address: running.address }, 'listening');
    }
    admin = await startAdminServer(
      {
        policies: { current: () => policies.current(), reload: reloadPolicies },
        audit,
        auditFiles: () => config.audit.sinks.filter((s) => s.type === 'file' && s.path).map((s) => s.path as string),
        listeners: () => listeners,
        quotas: () => quotas,
        inventory,
        ready: () => listeners.length === config.listeners.length,
      },
      { listen: config.admin.listen, ...(config.admin.token ? { token: config.admin.token } : {}), ...(config.admin.hosts ? { hosts: config.admin.hosts } : {}) },
      logger,
    );
    logger.info({ address: admin.address }, 'admin API listening');
    if (config.policies.dir && config.policies.watch) {
      let timer: NodeJS.Timeout | null = null;
      watcher = watch(config.policies.dir, () => {
        // Editors write files in several steps: reload once the burst is over.
        if (timer) clearTimeout(timer);
        timer = setTimeout(() => void reloadPolicies(), 200);
      });
      watcher.on('error', (err) => logger.warn({ err }, 'policy directory watch failed; reload with SIGHUP'));
    }
  } catch (err) {
    await Promise.allSettled(listeners.map((l) => l.close(0)));
    await admin?.close();
    await audit.close();
    throw err;
  }
  const adminServer = admin;
  const stopMemoryRelease = startMemoryRelease(logger);

  let stopping: Promise<void> | null = null;
  return {
    config,
    policies,
    audit,
    listeners,
    inventory,
    admin: adminServer,
    logger,
    listener(name) {
      const l = listeners.find((x) => x.name === name);
      if (!l) throw new Error(`no listener named ${name}`);
      return l;
    },
    reloadPolicies,
    stop(drainMs = 10_000) {
      stopping ??= (async () => {
        watcher?.close();
        stopMemoryRelease();
        await Promise.allSettled(listeners.map((l) => l.close(drainMs)));
        await adminServer.close();
        await Promise.allSettled(quotas.map((q) => (q as ListenerQuota & { close?: () => Promise<void> }).close?.()));
        await audit.close();
        logger.info('stopped');
      })();
      return stopping;
    },
  };
}
