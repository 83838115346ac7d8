/**
 * Steady client load for fault tests: `workers` loops each run one operation after another; every operation
 * must settle within `hangMs` (a client that waits longer counts as hung), acknowledged ones are remembered by
 * their id so the audit trail can be checked against them afterwards.
 */
import { readAuditRaw } from './dgf.js';

export interface LoadStats {
  /** Ids of acknowledged operations, in the order they were acknowledged. */
  acked: string[];
  /** Error messages clients got, with how long each took. */
  errors: Array<{ message: string; ms: number; code?: unknown; at: number }>;
  /** Operations still pending after hangMs. */
  hung: number;
  /** Slowest settle time of any operation, ms. */
  maxMs: number;
}

export interface Load {
  stats: LoadStats;
  /** Acknowledged operations that started after `since` (Date.now()). */
  okSince(since: number): number;
  stop(): Promise<LoadStats>;
}

export function startLoad(workers: number, op: (worker: number, id: string) => Promise<unknown>, opts: { hangMs: number; pauseMs?: number }): Load {
  const stats: LoadStats = { acked: [], errors: [], hung: 0, maxMs: 0 };
  const okTimes: number[] = [];
  let running = true;
  const loops: Promise<void>[] = [];
  for (let w = 0; w < workers; w++) {
    loops.push(
      (async () => {
        for (let i = 0; running; i++) {
          const id = `w${w}-${i}`;
          const t0 = Date.now();
          let timer: NodeJS.Timeout | undefined;
          const hang = new Promise<'hang'>((r) => {
            timer = setTimeout(() => r('hang'), opts.hangMs);
          });
          try {
            const r = await Promise.race([op(w, id).then(() => 'ok' as const), hang]);
            if (r === 'hang') {
              stats.hung++;
              stats.errors.push({ message: `hung for ${opts.hangMs} ms`, ms: opts.hangMs, at: Date.now() });
            } else {
              stats.acked.push(id);
              okTimes.push(t0);
            }
          } catch (err) {
            stats.errors.push({ message: err instanceof Error ? err.message : String(err), ms: Date.now() - t0, code: (err as { code?: unknown } | null)?.code, at: Date.now() });
            // A failed client backs off a little, as real applications do.
            await new Promise((r) => setTimeout(r, 50));
          } finally {
            clearTimeout(timer);
            stats.maxMs = Math.max(stats.maxMs, Date.now() - t0);
          }
          if (opts.pauseMs) await new Promise((r) => setTimeout(r, opts.pauseMs));
        }
      })(),
    );
  }
  return {
    stats,
    okSince: (since) => okTimes.filter((t) => t >= since).length,
    async stop() {
      running = false;
      await Promise.all(loops);
      return stats;
    },
  };
}

/** Waits until `cond()` holds; throws after `timeoutMs`. */
export async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (await cond()) return Date.now() - t0;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One operation the audit trail says succeeded. */
export interface AuditedOp {
  operation: string;
  object: string | null;
  statement: string | null;
  identity: Record<string, unknown>;
}

/**
 * The operations the audit trail records as succeeded: an intent record whose outcome record (phase `outcome`,
 * `intent` naming it) carries no error, or a one-phase allow record without error; a batch record counts once
 * per entry without error.
 */
export async function succeededOps(auditFile: string): Promise<AuditedOp[]> {
  // The lines as written (not joined), so an outcome whose intent record is missing does not count.
  const records = await readAuditRaw(auditFile);
  const bySeq = new Map<number, Record<string, unknown>>();
  for (const r of records) bySeq.set(r['seq'] as number, r);
  if (process.env.DUMP) {
    const outcomes = records.filter((r) => r['phase'] === 'outcome');
    const orphans = outcomes.filter((r) => !bySeq.has(r['intent'] as number));
    console.log(`audit: ${records.length} records, ${records.filter((r) => r['phase'] === 'intent').length} intents, ${outcomes.length} outcomes, ${orphans.length} outcomes without their intent; first seqs ${records.slice(0, 8).map((r) => `${String(r['seq'])}${String(r['phase'] ?? '')[0] ?? '-'}`).join(' ')}`);
  }
  const out: AuditedOp[] = [];
  const take = (head: Record<string, unknown>, result: Record<string, unknown>): void => {
    const entries = (result['entries'] ?? head['entries']) as Array<Record<string, unknown>> | undefined;
    const identity = head['identity'] as Record<string, unknown>;
    if (entries && entries.length > 0) {
      for (const e of entries) {
        if (!e['error'] && e['decision'] !== 'deny' && head['decision'] !== 'deny') out.push({ operation: e['operation'] as string, object: e['object'] as string | null, statement: e['statement'] as string | null, identity });
      }
      return;
    }
    if (!result['error'] && head['decision'] !== 'deny') out.push({ operation: head['operation'] as string, object: head['object'] as string | null, statement: head['statement'] as string | null, identity });
  };
  for (const r of records) {
    if (r['phase'] === 'outcome') {
      const head = typeof r['intent'] === 'number' ? bySeq.get(r['intent']) : undefined;
      if (head) take(head, r);
    } else if (r['phase'] === undefined) {
      take(r, r);
    }
  }
  return out;
}

/** What `restartUnderLoad` saw. */
export interface RestartRun {
  stats: LoadStats;
  /** Errors the clients had got when the upstream came back. */
  errorsWhileDown: number;
  stoppedAt: number;
  /** Just before the backend was started again: errors settled before it are the outage's own. */
  startingAt: number;
  restartedAt: number;
}

/**
 * The restart scenario every fault test runs: stop `backend` under `load`, wait for /health to go degraded and
 * for every worker to have seen an error, start it again (`afterStart`: what the backend forgot, e.g. an in-memory
 * container), wait for `refill` operations to succeed and /health to be healthy, stop the load; prints the figures.
 */
export async function restartUnderLoad(
  name: string,
  opts: {
    backend: { stop(): Promise<void>; start(): Promise<void> };
    load: Load;
    adminUrl: string;
    workers: number;
    refill: number;
    waitHealth(adminUrl: string, want: 'healthy' | 'degraded'): Promise<number>;
    afterStart?: () => Promise<void>;
  },
): Promise<RestartRun> {
  const { backend, load, adminUrl } = opts;
  await backend.stop();
  const stoppedAt = Date.now();
  const degradedMs = await opts.waitHealth(adminUrl, 'degraded');
  await waitFor('errors while down', () => load.stats.errors.length >= opts.workers);
  await sleep(1000);
  const errorsWhileDown = load.stats.errors.length;

  const startingAt = Date.now();
  await backend.start();
  const restartedAt = Date.now();
  await opts.afterStart?.();
  const refillMs = await waitFor(`${name}: operations after the restart`, () => load.okSince(restartedAt) >= opts.refill);
  const healthyMs = await opts.waitHealth(adminUrl, 'healthy');
  const stats = await load.stop();
  console.log(
    `${name} restart: acked ${stats.acked.length}, errors ${stats.errors.length} (${errorsWhileDown} while down), hung ${stats.hung}, ` +
      `slowest ${stats.maxMs} ms, degraded after ${degradedMs} ms, working again ${refillMs} ms after restart, healthy after ${healthyMs} ms, down ${restartedAt - stoppedAt} ms`,
  );
  return { stats, errorsWhileDown, stoppedAt, startingAt, restartedAt };
}
