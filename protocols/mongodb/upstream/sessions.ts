/**
 * Client logical sessions mapped onto driver sessions. A client's `lsid` is its own; the upstream sees the
 * driver session's lsid instead, one per (user, client lsid), so the server-side session, its retryable
 * write history and its transactions stay with the client that started them. Scoped by user: one user can
 * never drive another's session. Idle sessions end after the upstream's logicalSessionTimeoutMinutes.
 */
import type { ClientSession, MongoClient } from 'mongodb';

export interface MappedSession {
  readonly key: string;
  readonly session: ClientSession;
  lastUse: number;
  /** The client's txnNumber of the transaction in progress (or last one), as a decimal string. */
  clientTxn: string | null;
  /** The client's txnNumber of the last retryable write, to recognise the client retrying it. */
  lastWriteTxn: string | null;
  /** In-flight commands on this session (never ended under them). */
  busy: number;
}

const MAX_SESSIONS = 10_000;

export class SessionRegistry {
  private readonly sessions = new Map<string, MappedSession>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly client: MongoClient,
    private readonly idleMs: number,
  ) {
    this.timer = setInterval(() => this.sweep(), Math.min(60_000, Math.max(1000, idleMs / 4)));
    this.timer.unref();
  }

  get size(): number {
    return this.sessions.size;
  }

  /** The driver session for a client's lsid (created on first use). */
  get(user: string, lsidHex: string): MappedSession {
    const key = `${user}\u0000${lsidHex}`;
    let s = this.sessions.get(key);
    if (!s) {
      if (this.sessions.size >= MAX_SESSIONS) this.evictOldest();
      // No causal consistency: the client's own readConcern (afterClusterTime included) is forwarded as sent.
      s = { key, session: this.client.startSession({ causalConsistency: false }), lastUse: Date.now(), clientTxn: null, lastWriteTxn: null, busy: 0 };
      this.sessions.set(key, s);
    }
    s.lastUse = Date.now();
    return s;
  }

  peek(user: string, lsidHex: string): MappedSession | undefined {
    return this.sessions.get(`${user}\u0000${lsidHex}`);
  }

  /** The client ended its sessions (`endSessions`). */
  async end(user: string, lsidHex: string): Promise<void> {
    const key = `${user}\u0000${lsidHex}`;
    const s = this.sessions.get(key);
    if (!s || s.busy > 0) return;
    this.sessions.delete(key);
    await s.session.endSession().catch(() => undefined);
  }

  private evictOldest(): void {
    let oldest: MappedSession | null = null;
    for (const s of this.sessions.values()) if (s.busy === 0 && (!oldest || s.lastUse < oldest.lastUse)) oldest = s;
    if (oldest) {
      this.sessions.delete(oldest.key);
      void oldest.session.endSession().catch(() => undefined);
    }
  }

  private sweep(): void {
    const cutoff = Date.now() - this.idleMs;
    for (const [key, s] of this.sessions) {
      if (s.busy === 0 && s.lastUse < cutoff) {
        this.sessions.delete(key);
        void s.session.endSession().catch(() => undefined);
      }
    }
  }

  async closeAll(): Promise<void> {
    clearInterval(this.timer);
    const all = [...this.sessions.values()];
    this.sessions.clear();
    await Promise.all(all.map((s) => s.session.endSession().catch(() => undefined)));
  }
}
