/**
 * Open cursors, by id: the server that owns each one (getMore/killCursors must reach it), the session it
 * belongs to, who opened it, and the planner that masked its first batch so every later batch is masked the
 * same way (renames included). Listener-wide because drivers may send a getMore on another connection.
 */
import type { DriverServer } from './driver-internals.js';
import type { MappedSession } from './sessions.js';
import type { ShapePlanner } from '../masking.js';

export interface OpenCursor {
  id: string;
  ns: string;
  user: string;
  server: DriverServer;
  session: MappedSession | null;
  planner: ShapePlanner | null;
  /** The command that opened it (find, aggregate, listcollections...), for logs and debugging. */
  source: string;
  lastUse: number;
}

const MAX_CURSORS = 10_000;
/** MongoDB's own idle cursor timeout. */
const IDLE_MS = 10 * 60_000;

export class CursorRegistry {
  private readonly cursors = new Map<string, OpenCursor>();
  private readonly timer: NodeJS.Timeout;

  constructor() {
    this.timer = setInterval(() => this.sweep(), 60_000);
    this.timer.unref();
  }

  get size(): number {
    return this.cursors.size;
  }

  add(c: OpenCursor): void {
    if (this.cursors.size >= MAX_CURSORS) {
      const first = this.cursors.keys().next().value;
      if (first !== undefined) this.cursors.delete(first);
    }
    this.cursors.set(c.id, c);
  }

  get(id: string): OpenCursor | undefined {
    const c = this.cursors.get(id);
    if (c) c.lastUse = Date.now();
    return c;
  }

  delete(id: string): void {
    this.cursors.delete(id);
  }

  private sweep(): void {
    const cutoff = Date.now() - IDLE_MS;
    for (const [id, c] of this.cursors) if (c.lastUse < cutoff) this.cursors.delete(id);
  }

  close(): void {
    clearInterval(this.timer);
    this.cursors.clear();
  }
}
