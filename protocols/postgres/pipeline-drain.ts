/**
 * Cross-client pipelining (transaction pooling): when a connection's owner is done, the next follower's Query is
 * already on the wire, so the connection goes to that follower instead of back to the pool. A client that went
 * away while its Query was in flight (or queued) still has replies coming; a PipelineDrain reads them up to their
 * ReadyForQuery in its place, then passes the connection on.
 */
import { BackendCode } from './codec/message-codes.js';
import type { Pool } from './pool.js';
import type { UpstreamConnection, UpstreamOwner } from './upstream-connection.js';

/** Give `conn` to its next follower, or back to the pool when none is left. */
export function passTurn(conn: UpstreamConnection, pool: Pool): void {
  conn.owner = null;
  const next = conn.followers.shift();
  if (next) next.onTurn(conn);
  else pool.release(conn, 'clean');
}

export class PipelineDrain implements UpstreamOwner {
  constructor(
    private readonly pool: Pool,
    /** ReadyForQuery messages still owed to the departed client (one per Query in flight). */
    private pending: number,
  ) {}

  /** Take over `conn` now: read what is already buffered, then whatever arrives. */
  start(conn: UpstreamConnection): void {
    conn.owner = this;
    conn.resume();
    if (this.pending <= 0) passTurn(conn, this.pool);
    else if (conn.hasBuffered) this.onUpstreamReadable(conn);
  }

  onUpstreamReadable(conn: UpstreamConnection): void {
    const d = conn.decoder;
    try {
      while (conn.owner === this && d.next()) {
        if (d.code !== BackendCode.ReadyForQuery) continue;
        conn.txStatus = String.fromCharCode(d.buffer[d.body]!) as UpstreamConnection['txStatus'];
        if (--this.pending === 0) passTurn(conn, this.pool);
      }
    } catch {
      // Broken framing from the upstream: nobody can use this connection any more.
      conn.owner = null;
      conn.poisoned = true;
      conn.destroy();
    }
  }

  onUpstreamClosed(): void {
    // The connection tells its followers itself.
  }

  onUpstreamDrain(): void {
    // Nothing is written while draining.
  }
}
