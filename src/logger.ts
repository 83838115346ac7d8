/** The process logger: pino, one JSON line per event; level from config or DGF_LOG_LEVEL. */
import { pino, type Logger } from 'pino';

export type { Logger };

/** Create the root logger. Writes to stderr so stdout stays free for the stdout audit sink and CLI output. */
export function createLogger(level = process.env.DGF_LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, base: { service: 'dgf' }, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination(2));
}

/** A logger that discards everything, for tests and tools. */
export const silentLogger: Logger = pino({ level: 'silent' });
