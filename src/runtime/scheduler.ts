/**
 * Deadlines without a timer per object. A component owns one {@link Timer} per thing that can
 * expire (a TCP connection, a UDP flow, a lease) and re-arms it with the earliest deadline it
 * has; the scheduler keeps them in a binary heap and arms one real `setTimeout` for the first.
 *
 * {@link ManualScheduler} runs the same heap on a {@link ManualClock}: `advance(ms)` fires what
 * is due, in deadline order, so timer-driven behaviour is tested without sleeping.
 * @module
 */
import { ManualClock, systemClock, type Clock } from './clock.js';

/** Something that wants a callback at a time. Reuse one per component; arming again moves it. */
export class Timer {
  /** Absolute deadline in clock ms, `Infinity` when disarmed. */
  at = Infinity;
  /** Position in the scheduler's heap, -1 when not queued. @internal */
  slot = -1;
  constructor(readonly fire: (now: number) => void) {}
}

/** Arms and disarms {@link Timer}s against a {@link Clock}. */
export abstract class Scheduler {
  private readonly heap: Timer[] = [];
  constructor(readonly clock: Clock) {}

  /** Arms `t` for absolute time `at` (clock ms); `Infinity` disarms. Re-arming moves it. */
  arm(t: Timer, at: number): void {
    if (at === Infinity) return this.disarm(t);
    const was = this.heap.length > 0 ? this.heap[0]!.at : Infinity;
    if (t.slot < 0) {
      t.at = at;
      t.slot = this.heap.length;
      this.heap.push(t);
      this.up(t.slot);
    } else {
      const old = t.at;
      t.at = at;
      if (at < old) this.up(t.slot);
      else this.down(t.slot);
    }
    if (this.heap[0]!.at !== was) this.rearm(this.heap[0]!.at);
  }

  /** Arms `t` for `ms` from now. */
  armIn(t: Timer, ms: number): void {
    this.arm(t, this.clock.now() + ms);
  }

  disarm(t: Timer): void {
    const i = t.slot;
    t.at = Infinity;
    if (i < 0) return;
    const last = this.heap.pop()!;
    t.slot = -1;
    if (i < this.heap.length) {
      this.heap[i] = last;
      last.slot = i;
      this.up(i);
      this.down(last.slot);
    }
    if (i === 0) this.rearm(this.heap.length > 0 ? this.heap[0]!.at : Infinity);
  }

  /** The earliest armed deadline, `Infinity` when none. */
  nextDeadline(): number {
    return this.heap.length > 0 ? this.heap[0]!.at : Infinity;
  }

  /** Number of armed timers (for stats and leak tests). */
  get size(): number {
    return this.heap.length;
  }

  /** Fires every timer whose deadline is at or before `now`, earliest first. */
  protected runDue(now: number): void {
    // A bound on the loop: a timer that re-arms itself at `now` must not spin forever.
    for (let guard = this.heap.length * 2 + 16; guard > 0 && this.heap.length > 0; guard--) {
      const t = this.heap[0]!;
      if (t.at > now) break;
      this.disarm(t);
      t.fire(now);
    }
    this.rearm(this.nextDeadline());
  }

  /** Implementations arrange for `runDue` to be called at `at` (or cancel when `Infinity`). */
  protected abstract rearm(at: number): void;

  private up(i: number): void {
    const h = this.heap;
    const t = h[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (h[p]!.at <= t.at) break;
      h[i] = h[p]!;
      h[i]!.slot = i;
      i = p;
    }
    h[i] = t;
    t.slot = i;
  }

  private down(i: number): void {
    const h = this.heap;
    const n = h.length;
    const t = h[i]!;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && h[c + 1]!.at < h[c]!.at) c++;
      if (h[c]!.at >= t.at) break;
      h[i] = h[c]!;
      h[i]!.slot = i;
      i = c;
    }
    h[i] = t;
    t.slot = i;
  }
}

/** The longest delay `setTimeout` honours. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/**
 * The scheduler on the real clock: one `setTimeout` for the earliest deadline, unref'd. The
 * timeout is replaced only when a deadline comes before it. When the earliest deadline moves
 * later or goes away (a connection's timer re-armed or disarmed, which happens on every ACK and
 * every close), the pending timeout is left to fire early and re-arm for what is due then: under
 * connection churn that is one `setTimeout` now and then instead of a clear and a set each time.
 */
export class SystemScheduler extends Scheduler {
  private handle: NodeJS.Timeout | undefined;
  private armedAt = Infinity;
  private readonly onTimeout = (): void => {
    this.handle = undefined;
    this.armedAt = Infinity;
    this.runDue(this.clock.now());
  };

  constructor(clock: Clock = systemClock) {
    super(clock);
  }

  protected rearm(at: number): void {
    // Not earlier than the pending timeout: it fires first, and runDue re-arms for what is left.
    if (at >= this.armedAt) return;
    if (this.handle !== undefined) clearTimeout(this.handle);
    this.handle = undefined;
    this.armedAt = at;
    if (at === Infinity) return;
    // +1: setTimeout may fire a fraction of a millisecond early relative to performance.now().
    // setTimeout turns anything over 2^31 - 1 ms (24.8 days, e.g. a long DHCP lease) into 1 ms:
    // wake at the limit instead, and runDue re-arms for what is left.
    const delay = Math.min(MAX_TIMEOUT_MS, Math.max(0, Math.ceil(at - this.clock.now()) + 1));
    this.handle = setTimeout(this.onTimeout, delay);
    this.handle.unref();
  }

  /** Cancels the pending real timer (the heap is kept). */
  stop(): void {
    if (this.handle !== undefined) clearTimeout(this.handle);
    this.handle = undefined;
    this.armedAt = Infinity;
  }
}

/** A scheduler that fires only when the test advances its {@link ManualClock}. */
export class ManualScheduler extends Scheduler {
  constructor(readonly manual: ManualClock = new ManualClock()) {
    super(manual);
  }
  protected rearm(_at: number): void {}

  /** Moves the clock forward by `ms`, firing due timers in deadline order at their own times. */
  advance(ms: number): void {
    const end = this.manual.now() + ms;
    for (let rounds = 0; ; rounds++) {
      const next = this.nextDeadline();
      if (next > end) break;
      // A component that keeps re-arming at the current instant has a bug; say so instead of hanging.
      if (rounds > 1_000_000) throw new Error('ManualScheduler: timers keep re-arming without time passing');
      this.manual.set(next);
      this.runDue(this.manual.now());
    }
    this.manual.set(end);
  }

  /** Fires whatever is due now without moving time. */
  runNow(): void {
    this.runDue(this.manual.now());
  }
}
