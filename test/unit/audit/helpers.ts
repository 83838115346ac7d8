/** Builders for audit tests: events, temp dirs, a trail written through the real log. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAuditLog } from '../../../src/audit/log.js';
import type { AuditEvent } from '../../../src/audit/types.js';

export const KEY = 'test-chain-key';

export function event(i: number, over: Partial<AuditEvent> = {}): AuditEvent {
  return {
    listener: 'pg',
    protocol: 'postgres',
    identity: { user: 'analyst', application: 'psql', address: '127.0.0.1' },
    role: 'analyst',
    operation: 'select',
    object: 'public.customers',
    statement: `select * from customers where id = $1 -- ${i}`,
    labels: ['pii.email'],
    masked: { 'pii.email': 1 },
    rows: 1,
    decision: 'allow',
    rules: [],
    duration_ms: 1.5,
    error: null,
    ...over,
  };
}

export async function tempDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'dgf-audit-test-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Write `n` records through a closed-mode file log, in batches of `batch` (rotation happens between batches). */
export async function writeTrail(path: string, n: number, rotateBytes?: number, batch = 5): Promise<void> {
  const log = await createAuditLog({ failMode: 'closed', sinks: [{ type: 'file', path, fsyncMs: 5, rotateBytes }] }, { chainKey: KEY });
  for (let i = 0; i < n; i += batch) {
    await Promise.all(Array.from({ length: Math.min(batch, n - i) }, (_, j) => log.append(event(i + j + 1))));
  }
  await log.close();
}

/** A Writable-like collector for command output. */
export function collector(): { write(s: string): boolean; text(): string } {
  let buf = '';
  return { write: (s: string) => ((buf += s), true), text: () => buf };
}
