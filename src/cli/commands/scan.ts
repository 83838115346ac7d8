/** `dgf scan`: read the upstreams' schemas and samples and print the data inventory. */
import { loadConfigFile } from '../../config/load.js';
import { PolicyStore } from '../../policy/index.js';
import { listenerScanner } from '../../protocol-registry.js';
import { DEFAULTS } from '../../config/defaults.js';
import type { InventoryRow } from '../../listener.js';

export async function runScan(
  opts: { config: string; listener?: string; sample: string },
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
): Promise<number> {
  const sample = Number(opts.sample);
  if (!Number.isInteger(sample) || sample < 1) {
    err.write(`dgf scan: --sample must be a positive integer, not "${opts.sample}"\n`);
    return 2;
  }
  const config = await loadConfigFile(opts.config);
  const listeners = config.listeners.filter((l) => !opts.listener || l.name === opts.listener);
  if (opts.listener && listeners.length === 0) {
    err.write(`dgf scan: no listener named "${opts.listener}" in ${opts.config}\n`);
    return 2;
  }
  const store = await PolicyStore.load({
    ...(config.policies.dir ? { dir: config.policies.dir } : {}),
    packs: config.policies.packs,
    hashKey: config.policies.hashKey ?? DEFAULTS.developmentKey,
  });
  let failed = false;
  const result: Record<string, InventoryRow[] | { error: string }> = {};
  for (const l of listeners) {
    const scanner = await listenerScanner(l.protocol);
    if (!scanner) {
      result[l.name] = { error: `${l.protocol} has no schema to scan; its inventory is built from traffic (GET /api/v1/inventory)` };
      continue;
    }
    try {
      result[l.name] = await scanner(l, store.current(), sample);
    } catch (e) {
      failed = true;
      result[l.name] = { error: e instanceof Error ? e.message : String(e) };
    }
  }
  out.write(`${JSON.stringify({ listeners: result }, null, 2)}\n`);
  return failed ? 1 : 0;
}
