/**
 * Test harness: runs dgf exactly as `dgf start` would (real policy packs, real audit file with fsync,
 * real quotas, the admin API), from a config object, on free ports, in a temp dir.
 */
import type { AuditRecord } from '../../src/audit/types.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { configFromObject } from '../../src/config/load.js';
import { startServer, type DgfServer } from '../../src/server.js';
import { silentLogger } from '../../src/logger.js';
import type { RunningListener } from '../../src/listener.js';

export interface TestDgf {
  server: DgfServer;
  listener(name: string): RunningListener;
  /** http://127.0.0.1:<port> of the admin API. */
  adminUrl: string;
  /** The audit file (JSON lines, fsynced). */
  auditFile: string;
  dir: string;
  stop(): Promise<void>;
}

/** Keys fixed for tests so audit chains and hash masks are reproducible. */
export const TEST_HASH_KEY = 'test-hash-key-0123456789abcdef';

export async function startDgf(raw: Record<string, unknown>): Promise<TestDgf> {
  const dir = mkdtempSync(path.join(tmpdir(), 'dgf-test-'));
  const auditFile = path.join(dir, 'audit.jsonl');
  const withDefaults = {
    admin: { listen: '127.0.0.1:0' },
    audit: { failMode: 'closed', sinks: [{ type: 'file', path: auditFile, fsyncMs: 2 }] },
    ...raw,
    policies: { watch: false, hashKey: TEST_HASH_KEY, ...(raw.policies as object | undefined) },
    stateDir: dir,
    log: { level: process.env.DGF_TEST_LOG ?? 'silent' },
  };
  const config = configFromObject(withDefaults, dir);
  const server = await startServer(config, process.env.DGF_TEST_LOG ? {} : { logger: silentLogger });
  return {
    server,
    listener: (name) => server.listener(name),
    adminUrl: `http://127.0.0.1:${server.admin.address.port}`,
    auditFile,
    dir,
    async stop() {
      await server.stop(500);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Read the audit file as parsed records, every line (write-ahead intents and outcomes apart). */
export async function readAuditRaw(file: string): Promise<Array<Record<string, unknown>>> {
  const { readFile } = await import('node:fs/promises');
  const text = await readFile(file, 'utf8');
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

/**
 * Read the audit file as completed operations: an intent and its outcome count once, as the outcome
 * (operations.ts). Outcomes are written after the reply (with the next intents, or within fsyncMs), so a test
 * that reads right after a reply would race them: this waits until every intent on file has its outcome, or until
 * the intents still open have stayed the same for SETTLE_MS (operations genuinely still running: a blocked BLPOP,
 * a subscription), at most 3 s. Intents still open then are left out.
 */
export async function readAudit(file: string): Promise<Array<Record<string, unknown>>> {
  const { OperationJoiner } = await import('../../src/audit/operations.js');
  const SETTLE_MS = 300;
  // Other traffic may keep opening intents: never wait longer than this in all.
  const deadline = Date.now() + 3000;
  let openSince = 0;
  let lastOpen = '';
  for (;;) {
    const joiner = new OperationJoiner();
    const out: Array<Record<string, unknown>> = [];
    for (const r of (await readAuditRaw(file)) as unknown as AuditRecord[]) {
      const op = joiner.add(r);
      if (op) out.push(op as unknown as Record<string, unknown>);
    }
    const open = joiner.unsettled().map((r) => r.seq).join(',');
    const now = Date.now();
    if (open === '' || now >= deadline) return out;
    if (open !== lastOpen) {
      lastOpen = open;
      openSince = now;
    } else if (now - openSince >= SETTLE_MS) {
      return out;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
