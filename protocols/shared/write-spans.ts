/**
 * Write a list of byte spans (replies, forwarded commands) to a socket in order, in as few writes as is cheap.
 *
 * Why: a small span list is copied into one buffer, which costs less than a writev entry and a stream request
 * object per span; a large one is written span by span under cork (one writev) rather than copied.
 */
import { Buffer } from 'node:buffer';
import type net from 'node:net';

/** Write `spans` (`bytes` in total) to `socket`; one copied write when `bytes <= copyUpTo`. Nothing for no spans. */
export function writeSpans(socket: net.Socket, spans: readonly Buffer[], bytes: number, copyUpTo: number): void {
  if (spans.length === 1) {
    socket.write(spans[0]!);
  } else if (spans.length > 1) {
    if (bytes <= copyUpTo) {
      socket.write(Buffer.concat(spans, bytes));
    } else {
      socket.cork();
      for (const b of spans) socket.write(b);
      socket.uncork();
    }
  }
}
