/**
 * The one place in src/ that knows the protocols: it maps `protocol: postgres` to its listener.
 * Loaded lazily so a process only pays for the protocols it runs.
 */
import type { ProtocolName } from './config/types.js';
import type { ListenerFactory, ListenerScanner } from './listener.js';

const loaders: Record<ProtocolName, () => Promise<{ start: ListenerFactory }>> = {
  postgres: () => import('../protocols/postgres/index.js'),
  mongodb: () => import('../protocols/mongodb/index.js'),
  redis: () => import('../protocols/redis/index.js'),
  cosmos: () => import('../protocols/cosmos/index.js'),
  blob: () => import('../protocols/blob/index.js'),
};

export async function listenerFactory(protocol: ProtocolName): Promise<ListenerFactory> {
  return (await loaders[protocol]()).start;
}

const scanners: Partial<Record<ProtocolName, () => Promise<{ scan: ListenerScanner }>>> = {
  postgres: () => import('../protocols/postgres/scan.js'),
  mongodb: () => import('../protocols/mongodb/scan.js'),
  redis: () => import('../protocols/redis/scan.js'),
};

/** The schema scanner of a protocol, or null where the protocol has none (HTTP APIs). */
export async function listenerScanner(protocol: ProtocolName): Promise<ListenerScanner | null> {
  const load = scanners[protocol];
  return load ? (await load()).scan : null;
}
