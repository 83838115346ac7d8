/**
 * The upstream connection budget of one listener, twemproxy-style: stateless commands from every client are
 * multiplexed over a small shared set of connections (replies come back in FIFO order per connection, and each
 * client sticks to one shared connection so its own replies stay in order); a client gets a dedicated connection
 * only while it holds connection state (MULTI/WATCH, a blocking command, pub/sub, a non-default SELECT, CLIENT
 * TRACKING) and gives it back after. The total of shared + dedicated + idle connections never exceeds `limit`;
 * beyond it a client waits up to `waitMs` and then gets `-ERR max connections`.
 *
 * Protocol versions: a shared connection speaks one RESP version and replies are forwarded byte for byte, so
 * there are two shared sets, one per version, each opened lazily (RESP2 clients never pay for RESP3 ones and
 * vice versa). Down-converting RESP3 replies for RESP2 clients was rejected: RESP2 has no null, map, set, double
 * or boolean of its own, and Redis picks the RESP2 form per command, which a proxy cannot reproduce exactly.
 */
import { performance } from 'node:perf_hooks';
import type { ListenerGovernance } from '../../src/governance/listener-governance.js';
import { UpstreamConnection, type UpstreamEndpoint } from './upstream.js';

/** Thrown when no upstream connection became free in time. */
export class MaxConnectionsError extends Error {
  constructor(limit: number, waitMs: number) {
    super(`max connections: all ${limit} upstream connections are in use (waited ${waitMs} ms)`);
    this.name = 'MaxConnectionsError';
  }
}

interface Waiter {
  resp: 2 | 3;
  shared: boolean;
  resolve(conn: UpstreamConnection): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
  since: number;
}

export interface PoolOptions {
  endpoint: UpstreamEndpoint;
  /** Upper bound on upstream connections (quota `connections` or upstream.maxConnections). */
  limit: number;
  /** Shared connections per RESP version; default 4. */
  sharedPerVersion: number;
  /** How long a client may wait for a connection; the listener's poolTimeoutMs. */
  waitMs: number;
  governance: ListenerGovernance;
}

export class UpstreamPool {
  private readonly shared: Record<2 | 3, UpstreamConnection[]> = { 2: [], 3: [] };
  private readonly idle: Record<2 | 3, UpstreamConnection[]> = { 2: [], 3: [] };
  private readonly waiters: Waiter[] = [];
  private total = 0;
  private dedicatedInUse = 0;
  private rr = 0;
  private closing = false;
  private readonly sweeper: NodeJS.Timeout | null;

  constructor(private readonly opts: PoolOptions) {
    const t = opts.endpoint.replyTimeoutMs;
    // One timer per pool rather than one per command: the hot path only stamps `lastHeard`.
    this.sweeper = t > 0 ? setInterval(() => this.sweep(t), Math.min(1000, Math.max(50, t / 4))) : null;
    this.sweeper?.unref();
  }

  /**
   * Close shared connections whose replies are overdue (a hung upstream): their clients get an error instead of
   * waiting forever. Dedicated connections are exempt: a blocking command or a subscription is silent by design.
   */
  private sweep(timeoutMs: number): void {
    const now = performance.now();
    for (const set of [this.shared[2], this.shared[3]]) {
      for (const c of [...set]) {
        if (c.pending > 0 && now - c.lastHeard > timeoutMs) {
          this.opts.governance.logger.warn({ upstream: c.id, pending: c.pending }, 'redis upstream did not answer in time: closing the connection');
          c.destroy(`upstream did not answer within ${timeoutMs} ms (upstream.replyTimeoutMs)`);
        }
      }
    }
  }

  get limit(): number {
    return this.opts.limit;
  }

  /** Open upstream connections (shared, dedicated and idle). */
  get size(): number {
    return this.total;
  }

  /**
   * A shared connection for a new client of this RESP version, or null when none exists and none may be opened
   * (then call `waitShared`). Opens lazily up to `sharedPerVersion`; otherwise the one with the fewest waiting
   * replies.
   */
  sharedFor(resp: 2 | 3): UpstreamConnection | null {
    const set = this.shared[resp];
    if (set.length < this.opts.sharedPerVersion && this.makeRoom(resp)) {
      const conn = this.open(resp);
      set.push(conn);
      return conn;
    }
    if (set.length === 0) return null;
    let best = set[this.rr++ % set.length]!;
    for (const c of set) if (c.pending < best.pending) best = c;
    return best;
  }

  waitShared(resp: 2 | 3): Promise<UpstreamConnection> {
    return this.wait(resp, true);
  }

  /** A connection for one client's exclusive use; resolves at once when one is idle or may be opened. */
  acquireDedicated(resp: 2 | 3): Promise<UpstreamConnection> | UpstreamConnection {
    const idle = this.idle[resp].pop();
    if (idle) {
      idle.dedicated = true;
      this.dedicatedInUse++;
      this.report();
      return idle;
    }
    if (this.makeRoom(resp)) {
      const conn = this.open(resp);
      conn.dedicated = true;
      this.dedicatedInUse++;
      this.report();
      return conn;
    }
    return this.wait(resp, false);
  }

  /**
   * Give a dedicated connection back. `clean` only when its state is known to be the default one (no transaction,
   * watch, subscription, blocked command, other database or tracking); otherwise it is closed.
   */
  release(conn: UpstreamConnection, clean: boolean): void {
    if (!conn.dedicated) return;
    conn.dedicated = false;
    conn.pushHandler = null;
    conn.pipeAll = false;
    this.dedicatedInUse--;
    if (!clean || conn.closed || conn.pending > 0 || this.closing) {
      conn.destroy('released dirty');
      return;
    }
    const w = this.takeWaiter(conn.resp);
    if (w) {
      if (w.shared) this.shared[conn.resp].push(conn);
      else {
        conn.dedicated = true;
        this.dedicatedInUse++;
      }
      this.settle(w, conn);
      this.report();
      return;
    }
    this.idle[conn.resp].push(conn);
    this.report();
  }

  /** Any open shared connection (for INFO polls), opening a RESP2 one if there is none. */
  anyShared(): UpstreamConnection | null {
    return this.shared[2][0] ?? this.shared[3][0] ?? this.sharedFor(2);
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.sweeper) clearInterval(this.sweeper);
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(new Error('listener is closing'));
    }
    for (const set of [this.shared[2], this.shared[3], this.idle[2], this.idle[3]]) {
      for (const c of set.splice(0)) c.destroy('listener closing');
    }
  }

  /** Whether one more connection fits, closing an idle one of the other version if that makes room. */
  private makeRoom(resp: 2 | 3): boolean {
    if (this.closing) return false;
    if (this.total < this.opts.limit) return true;
    const other = this.idle[resp === 2 ? 3 : 2].pop() ?? this.idle[resp].pop();
    if (!other) return false;
    other.destroy('making room');
    return this.total < this.opts.limit;
  }

  private open(resp: 2 | 3): UpstreamConnection {
    const conn = new UpstreamConnection(this.opts.endpoint, resp);
    this.total++;
    this.opts.governance.quota.connectionOpened();
    conn.onClose((c) => this.forget(c));
    conn.ready.catch((err: Error) => this.opts.governance.logger.warn({ err: err.message }, 'upstream connection failed'));
    return conn;
  }

  private forget(conn: UpstreamConnection): void {
    this.total--;
    this.opts.governance.quota.connectionClosed();
    for (const set of [this.shared[2], this.shared[3], this.idle[2], this.idle[3]]) {
      const i = set.indexOf(conn);
      if (i >= 0) set.splice(i, 1);
    }
    if (conn.dedicated) {
      conn.dedicated = false;
      this.dedicatedInUse--;
    }
    // A freed slot may serve a waiter.
    const w = this.waiters.length > 0 && !this.closing ? this.waiters.shift()! : null;
    if (w) {
      const fresh = this.open(w.resp);
      if (w.shared) this.shared[w.resp].push(fresh);
      else {
        fresh.dedicated = true;
        this.dedicatedInUse++;
      }
      this.settle(w, fresh);
    }
    this.report();
  }

  private wait(resp: 2 | 3, shared: boolean): Promise<UpstreamConnection> {
    return new Promise((resolve, reject) => {
      const w: Waiter = {
        resp,
        shared,
        resolve,
        reject,
        since: Date.now(),
        timer: setTimeout(() => {
          const i = this.waiters.indexOf(w);
          if (i >= 0) this.waiters.splice(i, 1);
          this.opts.governance.observePoolWait((Date.now() - w.since) / 1000);
          reject(new MaxConnectionsError(this.opts.limit, this.opts.waitMs));
        }, this.opts.waitMs),
      };
      w.timer.unref?.();
      this.waiters.push(w);
    });
  }

  private takeWaiter(resp: 2 | 3): Waiter | null {
    const i = this.waiters.findIndex((w) => w.resp === resp);
    return i >= 0 ? this.waiters.splice(i, 1)[0]! : null;
  }

  private settle(w: Waiter, conn: UpstreamConnection): void {
    clearTimeout(w.timer);
    this.opts.governance.observePoolWait((Date.now() - w.since) / 1000);
    w.resolve(conn);
  }

  private report(): void {
    const shared = this.shared[2].length + this.shared[3].length;
    this.opts.governance.setUpstreamConnections(shared + this.dedicatedInUse, this.idle[2].length + this.idle[3].length);
  }
}
