/**
 * The upstream pool of one listener: at most `max` connections (the free tier's limit), a bounded FIFO queue
 * of waiting clients (`poolTimeoutMs`, then SQLSTATE 53300), connections keyed by database (an idle one of
 * another database is closed to make room). Reset before reuse (ROLLBACK of an abandoned transaction,
 * DISCARD ALL after session-bound use, catalog refresh after DDL) happens in `release`, before a waiter gets it.
 */
import type { ListenerGovernance } from '../../src/governance/listener-governance.js';
import { ProtocolError } from '../shared/errors.js';
import { SqlState } from './codec/message-codes.js';
import { UpstreamConnection } from './upstream-connection.js';
import type { UpstreamTarget } from './upstream-target.js';

/**
 * Whoever waits for a connection. Exactly one of the two is called, synchronously from `release` when a
 * connection frees up: the next waiter's statement goes upstream in the same turn, before the releasing
 * session writes its own client's reply (a promise would put a microtask hop between the two).
 */
export interface PoolRequest {
  granted(conn: UpstreamConnection): void;
  refused(err: Error): void;
}

interface Waiter {
  database: string;
  since: number;
  request: PoolRequest;
}

/**
 * How a released connection must be cleaned before reuse. `discard` (DISCARD ALL) when the client was pinned, and
 * when a statement of its transaction may have left session state dgf cannot see or replay (a DO block or CALL, a
 * user function whose body sets, locks, listens or creates temporary tables, a set_config dgf cannot read: see
 * SessionLineage.firewall); plain statements release `clean`, without a round trip.
 */
export type ReleaseMode = 'clean' | 'rollback' | 'discard' | 'destroy';

export interface PoolOptions {
  max: number;
  timeoutMs: number;
  /** Most clients allowed to wait; beyond it 53300 at once. Default 10,000. */
  maxWaiting?: number;
  /** Close connections idle longer than this; default 10 minutes. */
  idleTimeoutMs?: number;
  /** Called with a fresh connection before first use, and after DDL (catalog refresh). */
  onFirstConnect?: (conn: UpstreamConnection) => Promise<void>;
  onCatalogRefresh?: (conn: UpstreamConnection) => Promise<void>;
}

export class Pool {
  private readonly idle: UpstreamConnection[] = [];
  private readonly all = new Set<UpstreamConnection>();
  private readonly waiters: Waiter[] = [];
  private timeoutTimer: NodeJS.Timeout | null = null;
  private opening = 0;
  private closing = false;
  private firstConnectDone = false;
  private readonly sweeper: NodeJS.Timeout;
  private readonly replySweeper: NodeJS.Timeout | null;

  constructor(
    private readonly target: UpstreamTarget,
    private readonly gov: ListenerGovernance,
    private readonly options: PoolOptions,
  ) {
    const idleMs = options.idleTimeoutMs ?? 600_000;
    this.sweeper = setInterval(() => this.sweep(idleMs), Math.min(idleMs, 60_000));
    this.sweeper.unref();
    const replyMs = target.replyTimeoutMs;
    // One timer per pool, not one per request: writes only stamp the time an answer became due.
    this.replySweeper = replyMs > 0 ? setInterval(() => this.sweepSilent(replyMs), Math.min(1000, Math.max(50, replyMs / 4))) : null;
    this.replySweeper?.unref();
  }

  /** Close connections whose upstream kept silent past upstream.replyTimeoutMs while an answer was due. */
  private sweepSilent(timeoutMs: number): void {
    const now = Date.now();
    for (const c of this.all) {
      if (c.silentForMs(now) > timeoutMs) {
        this.gov.logger.warn({ upstream: c.id, timeoutMs }, 'postgres upstream did not answer in time: closing the connection');
        c.timedOut(timeoutMs);
      }
    }
  }

  get size(): number {
    return this.all.size + this.opening;
  }

  /** No connection may be opened: every slot of `max` is taken. */
  get full(): boolean {
    return this.size >= this.options.max;
  }

  get idleCount(): number {
    return this.idle.length;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  /** Get a connection to `database`, waiting in FIFO order when the pool is full. */
  acquire(database: string): Promise<UpstreamConnection> {
    return new Promise<UpstreamConnection>((resolve, reject) => this.request(database, { granted: resolve, refused: reject }));
  }

  /** Like `acquire`, but the answer comes through `request`'s callbacks (see PoolRequest). */
  request(database: string, request: PoolRequest): void {
    if (this.closing) {
      request.refused(new ProtocolError('the proxy is shutting down', SqlState.AdminShutdown));
      return;
    }
    const conn = this.takeIdle(database);
    if (conn) {
      this.gov.observePoolWait(0);
      this.report();
      request.granted(conn);
      return;
    }
    if (this.waiters.length === 0 && this.size < this.options.max) {
      this.gov.observePoolWait(0);
      this.openFor(database, request);
      return;
    }
    if (this.waiters.length >= (this.options.maxWaiting ?? 10_000)) {
      request.refused(this.exhausted(0));
      return;
    }
    this.waiters.push({ database, since: Date.now(), request });
    this.armTimeout();
    this.makeRoom();
  }

  /**
   * One timer for the whole queue instead of one per waiter: it fires at the head's deadline (the queue is FIFO,
   * so the head is the oldest), expires every waiter past its deadline and re-arms for the new head.
   */
  private armTimeout(): void {
    if (this.timeoutTimer || this.waiters.length === 0) return;
    const wait = this.waiters[0]!.since + this.options.timeoutMs - Date.now();
    this.timeoutTimer = setTimeout(this.expireWaiters, Math.max(1, wait));
    this.timeoutTimer.unref();
  }

  private readonly expireWaiters = (): void => {
    this.timeoutTimer = null;
    const now = Date.now();
    while (this.waiters.length > 0 && now - this.waiters[0]!.since >= this.options.timeoutMs) {
      const w = this.waiters.shift()!;
      this.gov.observePoolWait((now - w.since) / 1000);
      w.request.refused(this.exhausted(this.options.timeoutMs));
    }
    this.armTimeout();
  };

  /** An idle connection to `database` right now, or null (no waiting, no opening): the synchronous fast path. */
  takeIdleNow(database: string): UpstreamConnection | null {
    if (this.waiters.length > 0) return null;
    const conn = this.takeIdle(database);
    if (conn) {
      this.gov.observePoolWait(0);
      this.report();
    }
    return conn;
  }

  /** An idle connection for dgf's own short work (storage poll), or null: never waits, never opens. */
  tryAcquireIdle(): UpstreamConnection | null {
    const conn = this.idle.pop() ?? null;
    if (conn) this.report();
    return conn;
  }

  private exhausted(waitedMs: number): ProtocolError {
    return new ProtocolError(
      `dgf: no upstream connection available: all ${this.options.max} upstream connections (upstream.maxConnections) are busy` +
        (waitedMs ? ` and none was freed within poolTimeoutMs=${waitedMs}ms` : ` and ${this.waiters.length} clients are already waiting`),
      SqlState.TooManyConnections,
      false,
    );
  }

  private takeIdle(database: string): UpstreamConnection | null {
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const c = this.idle[i]!;
      if (c.database === database) {
        this.idle.splice(i, 1);
        c.lastUsed = Date.now();
        return c;
      }
    }
    return null;
  }

  private async open(database: string): Promise<UpstreamConnection> {
    this.opening++;
    this.report();
    let conn: UpstreamConnection;
    try {
      conn = await UpstreamConnection.connect(this.target, database);
    } catch (err) {
      this.opening--;
      this.report();
      // A slot freed: let the next waiter try.
      this.serveWaiters();
      throw err;
    }
    this.opening--;
    this.all.add(conn);
    this.gov.quota.connectionOpened();
    conn.once('close', () => this.forget(conn));
    this.report();
    if (!this.firstConnectDone && this.options.onFirstConnect) {
      this.firstConnectDone = true;
      try {
        await this.options.onFirstConnect(conn);
      } catch (err) {
        this.gov.logger.warn({ err }, 'first-connection hook failed');
      }
    }
    return conn;
  }

  private openFor(database: string, request: PoolRequest): void {
    this.open(database).then(
      (conn) => request.granted(conn),
      (err: unknown) => request.refused(err as Error),
    );
  }

  private forget(conn: UpstreamConnection): void {
    if (!this.all.delete(conn)) return;
    this.gov.quota.connectionClosed();
    const i = this.idle.indexOf(conn);
    if (i >= 0) this.idle.splice(i, 1);
    this.report();
    this.serveWaiters();
  }

  /** Give a connection back. `mode` says what the session left behind. */
  release(conn: UpstreamConnection, mode: ReleaseMode): void {
    conn.owner = null;
    conn.pipelinable = false;
    conn.lastUsed = Date.now();
    if (conn.closed) return;
    if (mode === 'destroy' || conn.poisoned || this.closing) {
      conn.destroy();
      return;
    }
    if (mode === 'clean' && !conn.needsCatalogRefresh && conn.txStatus === 'I' && !conn.hasBuffered) {
      this.handOver(conn);
      return;
    }
    void this.reset(conn, mode).then(
      () => this.handOver(conn),
      (err: unknown) => {
        this.gov.logger.warn({ err }, 'upstream connection reset failed; closing it');
        conn.destroy();
      },
    );
  }

  private async reset(conn: UpstreamConnection, mode: ReleaseMode): Promise<void> {
    if (conn.txStatus !== 'I') await conn.run('ROLLBACK');
    if (mode === 'discard') {
      await conn.run('DISCARD ALL');
      conn.prepared.clear();
      conn.applied.clear();
      conn.unnamed = null;
    }
    if (conn.needsCatalogRefresh) {
      conn.needsCatalogRefresh = false;
      await this.options.onCatalogRefresh?.(conn);
    }
  }

  private handOver(conn: UpstreamConnection): void {
    if (conn.closed) return;
    const w = this.waiters[0];
    if (!w) {
      this.idle.push(conn);
      this.report();
      return;
    }
    this.handOverTo(conn, w);
  }

  /** When waiters exist and idle connections belong to other databases, close one to make room. */
  private makeRoom(): void {
    if (this.size < this.options.max) {
      this.serveWaiters();
      return;
    }
    const w = this.waiters[0];
    if (!w || this.idle.length === 0) return;
    const victim = this.idle.shift()!;
    this.handOverTo(victim, w);
  }

  private handOverTo(conn: UpstreamConnection, w: Waiter): void {
    const i = this.waiters.indexOf(w);
    if (i >= 0) this.waiters.splice(i, 1);
    this.gov.observePoolWait((Date.now() - w.since) / 1000);
    if (conn.database === w.database) {
      this.report();
      w.request.granted(conn);
      return;
    }
    // Another database: this slot goes to the waiter through a new connection.
    conn.destroy();
    this.all.delete(conn);
    this.gov.quota.connectionClosed();
    this.openFor(w.database, w.request);
  }

  private serveWaiters(): void {
    while (this.waiters.length > 0 && this.size < this.options.max && !this.closing) {
      const w = this.waiters.shift()!;
      this.gov.observePoolWait((Date.now() - w.since) / 1000);
      this.openFor(w.database, w.request);
    }
  }

  private sweep(idleMs: number): void {
    const now = Date.now();
    for (const c of [...this.idle]) {
      if (now - c.lastUsed > idleMs) {
        this.idle.splice(this.idle.indexOf(c), 1);
        c.destroy();
      }
    }
  }

  private reportedActive = -1;
  private reportedIdle = -1;

  /** Update the pool gauges, only when they changed (a hand-over to a waiter, the hot path, changes neither). */
  private report(): void {
    const idle = this.idle.length;
    const active = this.all.size + this.opening - idle;
    if (active === this.reportedActive && idle === this.reportedIdle) return;
    this.reportedActive = active;
    this.reportedIdle = idle;
    this.gov.setUpstreamConnections(active, idle);
  }

  /** Every connection currently open (for cancel lookups and shutdown). */
  connections(): ReadonlySet<UpstreamConnection> {
    return this.all;
  }

  close(): void {
    this.closing = true;
    clearInterval(this.sweeper);
    if (this.replySweeper) clearInterval(this.replySweeper);
    if (this.timeoutTimer) clearTimeout(this.timeoutTimer);
    this.timeoutTimer = null;
    for (const w of this.waiters.splice(0)) w.request.refused(new ProtocolError('the proxy is shutting down', SqlState.AdminShutdown));
    for (const c of this.idle.splice(0)) c.destroy();
    for (const c of this.all) if (!c.owner) c.destroy();
  }

  /** Close everything, owned or not. */
  destroyAll(): void {
    for (const c of this.all) c.destroy();
  }
}
