/**
 * Time as the rest of vnetkit sees it: a monotonic millisecond counter.
 *
 * Nothing outside `src/runtime/` reads the wall clock; components take a {@link Clock}
 * so tests can drive them with {@link ManualClock} and replay a run exactly.
 * @module
 */

/** A monotonic clock in milliseconds (fractions allowed). */
export interface Clock {
  now(): number;
}

/** The process's monotonic clock (`performance.now()`). */
export const systemClock: Clock = { now: () => performance.now() };

/** The wall clock in milliseconds since the epoch, for timestamps that leave the process (pcap, leases). */
export function wallClockMs(): number {
  return Date.now();
}

/** A clock that moves only when told to: for deterministic tests. */
export class ManualClock implements Clock {
  private t: number;
  constructor(start = 0) {
    this.t = start;
  }
  now(): number {
    return this.t;
  }
  /** Moves time forward by `ms` (never backwards). */
  set(t: number): void {
    if (t > this.t) this.t = t;
  }
}
