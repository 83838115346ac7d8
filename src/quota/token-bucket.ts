/**
 * A token bucket for a per-second budget (Cosmos RU/s). It holds at most one second of budget and refills
 * continuously; charges made after the fact may drive it into debt, which later takes must wait out.
 */

/** Milliseconds from an arbitrary origin; injected so tests control time. */
export type Clock = () => number;

export interface TakeResult {
  ok: boolean;
  /** When refused: ms until the bucket holds enough. */
  retryAfterMs?: number;
}

export class TokenBucket {
  private tokens: number;
  private last: number;

  /**
   * @param ratePerSecond budget per second; also the capacity (one second of budget).
   * @param clock ms clock; default `performance.now` (monotonic, so wall-clock jumps neither mint nor eat budget).
   */
  constructor(
    readonly ratePerSecond: number,
    private readonly clock: Clock = () => performance.now(),
  ) {
    this.tokens = ratePerSecond;
    this.last = clock();
  }

  get capacity(): number {
    return this.ratePerSecond;
  }

  /** Tokens available now (negative while in debt). */
  available(): number {
    this.refill();
    return this.tokens;
  }

  /**
   * Take `amount` if the bucket holds it. A take larger than the whole bucket is allowed once the bucket is
   * full (and leaves it in debt); otherwise it could never pass.
   */
  take(amount: number): TakeResult {
    this.refill();
    const need = Math.min(Math.max(amount, 0), this.ratePerSecond);
    // Refill adds fractions; the epsilon keeps float rounding from refusing a take exactly at retryAfterMs.
    if (this.tokens >= need - 1e-9) {
      this.tokens -= amount;
      return { ok: true };
    }
    return { ok: false, retryAfterMs: Math.max(1, Math.ceil(((need - this.tokens) / this.ratePerSecond) * 1000)) };
  }

  /** Debit (or, negative, refund) unconditionally; refunds never fill past capacity. */
  charge(amount: number): void {
    this.refill();
    this.tokens = Math.min(this.ratePerSecond, this.tokens - amount);
  }

  /** Budget spent and not yet refilled: 0 when full, the capacity when empty, more when in debt. */
  used(): number {
    this.refill();
    return Math.max(0, this.ratePerSecond - this.tokens);
  }

  private refill(): void {
    const now = this.clock();
    const elapsed = now - this.last;
    this.last = now;
    if (elapsed <= 0) return;
    this.tokens = Math.min(this.ratePerSecond, this.tokens + (elapsed / 1000) * this.ratePerSecond);
  }
}
