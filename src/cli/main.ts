#!/usr/bin/env node
/**
 * The `dgf` command line (SPEC "Command line"). Exit codes: 0 ok, 1 failed check, 2 usage or config error.
 */
import { existsSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { ConfigError, ConfigErrors } from '../errors.js';
import { runStart } from './commands/start.js';
import { policyCheck, policyExplain } from './commands/policy.js';
import { auditVerify } from './commands/audit.js';
import { report } from './commands/report.js';
import { runScan } from './commands/scan.js';
import { loadConfigFile } from '../config/load.js';
import { auditChainKey } from '../server.js';
import type { LogicalType } from '../policy/types.js';

const EXIT_USAGE = 2;

/** Resolve the config path: --config, then $DGF_CONFIG, then ./dgf.yaml; null means none (demo). */
export function configPath(flag: string | undefined): string | null {
  if (flag) return flag;
  if (process.env.DGF_CONFIG) return process.env.DGF_CONFIG;
  return existsSync('dgf.yaml') ? 'dgf.yaml' : null;
}

async function main(argv: string[]): Promise<number> {
  const program = new Command('dgf')
    .description('Database governance proxy: classify, mask, block, enforce quotas, audit.')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .showHelpAfterError();
  let code = 0;

  program
    .command('start')
    .description('run the proxy (with no config: the demo on an embedded PGlite database)')
    .option('-c, --config <file>', 'config file (default: $DGF_CONFIG, else ./dgf.yaml)')
    .action(async (opts: { config?: string }) => {
      code = await runStart(configPath(opts.config));
    });

  const policy = program.command('policy').description('check and explain policy files');
  policy
    .command('check')
    .description('validate policy files or directories; each error names file and line')
    .argument('[paths...]', "policy files or directories (default: the config's policies, else the shipped packs)")
    .option('-c, --config <file>', 'config file whose role mappings are checked too (default: $DGF_CONFIG, else ./dgf.yaml if present)')
    .action(async (paths: string[], opts: { config?: string }) => {
      code = await policyCheck(paths, process.stdout, { config: configPath(opts.config), implicitConfig: !opts.config });
    });
  policy
    .command('explain')
    .description('print the labels found and the masked value, for policy authors')
    .requiredOption('--role <role>', 'the role to mask for')
    .option('--name <field>', 'column, field or key name')
    .requiredOption('--value <value>', 'the value to classify')
    .option('--policies <dir>', 'policy directory (default: the shipped packs)')
    .addOption(new Option('--type <type>', 'logical type').choices(['text', 'integer', 'numeric', 'boolean', 'date', 'timestamp', 'uuid', 'json', 'bytes']).default('text'))
    .action(async (opts: { role: string; name?: string; value: string; policies?: string; type: LogicalType }) => {
      code = await policyExplain(
        { role: opts.role, value: opts.value, type: opts.type, ...(opts.name ? { name: opts.name } : {}), ...(opts.policies ? { policiesDir: opts.policies } : {}) },
        process.stdout,
      );
    });

  program
    .command('audit')
    .description('audit trail tools')
    .command('verify')
    .description('verify the hash chain of audit files; exit 1 on tampering')
    .argument('<files...>', 'audit JSON-lines files (rotated files in any order)')
    .option('-c, --config <file>', 'config file to take the chain key from')
    .option('--key <key>', 'chain key (default: $DGF_AUDIT_KEY, the config, else the development key)')
    .action(async (files: string[], opts: { config?: string; key?: string }) => {
      code = await auditVerify(files, { key: await chainKey(opts) }, process.stdout, process.stderr);
    });

  program
    .command('report')
    .description('compliance report computed from the audit trail')
    .addOption(new Option('--framework <name>', 'framework').choices(['gdpr', 'hipaa', 'sox', 'iso27001']).makeOptionMandatory())
    .requiredOption('--audit <files...>', 'audit files')
    .option('--since <time>', 'ISO-8601 start')
    .option('--until <time>', 'ISO-8601 end')
    .addOption(new Option('--format <format>', 'output format').choices(['json', 'md', 'html']).default('json'))
    .action(async (opts: { framework: string; audit: string[]; since?: string; until?: string; format: 'json' | 'md' | 'html' }) => {
      code = await report(opts, process.stdout, process.stderr);
    });

  program
    .command('scan')
    .description("print the data inventory of the upstreams' schemas and samples")
    .requiredOption('-c, --config <file>', 'config file')
    .option('--listener <name>', 'only this listener')
    .option('--sample <n>', 'rows/documents/keys sampled per object', '100')
    .action(async (opts: { config: string; listener?: string; sample: string }) => {
      code = await runScan(opts, process.stdout, process.stderr);
    });

  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : EXIT_USAGE;
    throw err;
  }
  return code;
}

async function chainKey(opts: { config?: string; key?: string }): Promise<string> {
  if (opts.key) return opts.key;
  if (process.env.DGF_AUDIT_KEY) return process.env.DGF_AUDIT_KEY;
  const file = configPath(opts.config);
  return file ? auditChainKey(await loadConfigFile(file)) : auditChainKey({ audit: { failMode: 'closed', sinks: [] }, policies: { packs: [], watch: false } });
}

main(process.argv).then(
  (code) => {
    // `start` keeps running until a signal; every other command exits with its code.
    if (code !== -1) process.exitCode = code;
  },
  (err: unknown) => {
    if (err instanceof ConfigErrors || err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exitCode = EXIT_USAGE;
      return;
    }
    process.stderr.write(`dgf: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
