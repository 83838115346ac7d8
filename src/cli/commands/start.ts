/** `dgf start`: run the proxy from a config file, or the demo when there is none. */
import path from 'node:path';
import { loadConfigFile, configFromObject } from '../../config/load.js';
import { createLogger } from '../../logger.js';
import { startServer, type DgfServer } from '../../server.js';
import { startDemoUpstream, demoConfig } from '../../demo/index.js';

/** Returns -1: the process keeps running until SIGTERM/SIGINT, which exit with 0. */
export async function runStart(configFile: string | null): Promise<number> {
  let stopDemo: (() => Promise<void>) | null = null;
  let server: DgfServer;
  if (configFile) {
    const config = await loadConfigFile(configFile);
    server = await startServer(config, { logger: createLogger(config.log.level) });
  } else {
    const logger = createLogger();
    logger.info('no config file (--config, $DGF_CONFIG, ./dgf.yaml): starting the demo on an embedded PGlite database');
    const upstream = await startDemoUpstream();
    stopDemo = upstream.stop;
    const config = configFromObject(demoConfig(upstream.url, path.resolve('audit')), process.cwd());
    server = await startServer(config, { logger });
    printDemoBanner(server);
  }

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    server.logger.info({ signal }, 'stopping: draining in-flight work and flushing the audit trail');
    void server
      .stop(10_000)
      .then(() => stopDemo?.())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          process.stderr.write(`dgf: error while stopping: ${String(err)}\n`);
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => void server.reloadPolicies());
  return -1;
}

function printDemoBanner(server: DgfServer): void {
  const pg = server.listeners.find((l) => l.protocol === 'postgres');
  const admin = server.admin.address;
  const port = pg?.address.port ?? 6432;
  process.stdout.write(
    [
      '',
      'dgf demo is running: an embedded PostgreSQL (PGlite) with sample customers, orders and patients, behind dgf.',
      '',
      `  as analyst (masked):  psql "postgres://analyst:analyst@127.0.0.1:${port}/postgres" -c "select * from customers limit 3"`,
      `  as dpo (clear PII):   psql "postgres://dpo:dpo@127.0.0.1:${port}/postgres" -c "select * from customers limit 3"`,
      `  denied:               psql "postgres://analyst:analyst@127.0.0.1:${port}/postgres" -c "drop table customers"`,
      '',
      `  admin API and dashboard: http://${admin.host}:${admin.port}/   metrics: http://${admin.host}:${admin.port}/metrics`,
      '  audit trail: ./audit/demo-audit.jsonl  (npx dgf audit verify audit/demo-audit.jsonl)',
      '',
    ].join('\n') + '\n',
  );
}
