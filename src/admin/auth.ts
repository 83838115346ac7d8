/** Bearer-token check for /api/* (SPEC: /health, /ready, /metrics and the dashboard page stay open). */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/**
 * Returns a checker that is true when the request carries `Authorization: Bearer <token>`. Both sides are
 * hashed first so the comparison takes the same time whatever the length or content of the guess.
 */
export function bearerChecker(token: string): (req: IncomingMessage) => boolean {
  const expected = createHash('sha256').update(token).digest();
  return (req) => {
    const header = req.headers.authorization;
    if (typeof header !== 'string') return false;
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    if (!m) return false;
    const given = createHash('sha256').update(m[1]!).digest();
    return timingSafeEqual(given, expected);
  };
}
