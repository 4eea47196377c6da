/**
 * Per-source token buckets for new outbound flows: `rate` tokens per second up to `burst`, on the
 * injected clock, one bucket per guest address (at most one per address in the subnet).
 * @module
 */
import type { Clock } from '../runtime/clock.js';

interface Bucket {
  tokens: number;
  at: number;
}

/** Token buckets keyed by IPv4 address. */
export class SourceRateLimit {
  private readonly buckets = new Map<number, Bucket>();

  constructor(
    private readonly clock: Clock,
    /** Tokens added per second. */
    readonly rate: number,
    /** Bucket size: how many flows may start at once after a quiet period. */
    readonly burst: number,
  ) {}

  /** Takes one token for `ip`; false when its bucket is empty. */
  take(ip: number): boolean {
    const now = this.clock.now();
    let b = this.buckets.get(ip);
    if (b === undefined) {
      b = { tokens: this.burst, at: now };
      this.buckets.set(ip, b);
    } else {
      b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) * this.rate) / 1000);
      b.at = now;
    }
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Forgets `ip` (its NIC vanished). */
  forget(ip: number): void {
    this.buckets.delete(ip);
  }
}
