/** The process logger: pino, one JSON line per event; level from config or DGF_LOG_LEVEL. */
import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Create the root logger. Writes to stderr so stdout stays free for the stdout audit sink and CLI output.
 * Synchronously: an asynchronous destination is flushed at exit by sonic-boom's flushSync, which (4.2) retries a
 * failed write every 100 ms for ever unless the error is EAGAIN, so a dgf whose log reader had gone (EPIPE) never
 * exited on SIGTERM. A synchronous write fails at once, and pino then drops further lines. dgf logs events, not
 * requests (nothing on the hot path logs above debug), so a write per line costs nothing measurable.
 */
export function createLogger(level = process.env.DGF_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { service: 'dgf' }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ dest: 2, sync: true }));
}

/** A logger that discards everything, for tests and tools. */
export const silentLogger: Logger = pino({ level: 'silent' });
