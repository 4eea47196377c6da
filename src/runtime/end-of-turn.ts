/**
 * Work deferred to the end of the event loop's turn: after every I/O callback that was ready has
 * run, not after each one. The TCP endpoint's output flush, the forwarder's writes to host sockets
 * and the NIC ports' batched writes all go through one {@link TurnQueue}, so:
 *
 * - Node delivers a socket's data as many callbacks in one turn (up to 64 KiB each, 32 reads per
 *   socket and turn). A microtask flush ran after each of them; here one flush covers them all, so
 *   a burst of guest segments costs one ACK and one write, not one per read (at MTU 65520 each read
 *   carried one segment, and one ACK frame per segment was 18 % of the guest→host CPU).
 * - One `setImmediate` per turn replaces a `queueMicrotask` per flush, each of which Node wraps in
 *   an `AsyncResource`.
 *
 * Two lanes keep the order right: protocol work (`defer`) first, then transport writes
 * (`deferWrite`), so frames built by a late protocol flush still leave in the same write. Work
 * added while the queue runs runs in the same pass. The latency cost is nil: the check phase
 * follows the poll phase of the same loop iteration.
 * @module
 */

/** Runs a function later, at the end of the turn (the signature the flushers take). */
export type Defer = (fn: () => void) => void;

/** A two-lane queue of end-of-turn work, armed once per turn through `arm`. */
export class TurnQueue {
  private work: Array<() => void> = [];
  private writes: Array<() => void> = [];
  private armed = false;
  private readonly runFn = (): void => this.run();

  constructor(
    /** Arranges one call of its argument at the end of the turn (`setImmediate`; tests inject). */
    private readonly arm: (run: () => void) => void,
  ) {}

  /** Queues protocol work (TCP output, forwarder flushes). */
  readonly defer: Defer = (fn) => {
    this.work.push(fn);
    if (!this.armed) this.schedule();
  };

  /** Queues a transport write; runs after the protocol work of the same turn. */
  readonly deferWrite: Defer = (fn) => {
    this.writes.push(fn);
    if (!this.armed) this.schedule();
  };

  /** Whether work is waiting for the end of the turn. */
  get pending(): boolean {
    return this.work.length + this.writes.length > 0;
  }

  /** Runs everything queued, including what the work queues meanwhile. Normally called by `arm`. */
  run(): void {
    // Still armed while running: what the callbacks queue runs in this pass, without a new arming.
    // A throwing callback must not leave the queue armed forever or drop the others: what is left
    // runs at the next arming, and the error propagates like any uncaught one.
    try {
      while (this.work.length + this.writes.length > 0) {
        this.drain(true);
        this.drain(false);
      }
    } finally {
      this.armed = false;
      if (this.work.length + this.writes.length > 0) this.schedule();
    }
  }

  private drain(work: boolean): void {
    const q = work ? this.work : this.writes;
    let i = 0;
    try {
      // The array may grow while it runs: newly queued work runs in this pass too.
      for (; i < q.length; i++) q[i]!();
      q.length = 0;
    } finally {
      // Only after a throw: drop what ran (the thrower included), keep the rest.
      if (q.length > 0) q.splice(0, i + 1);
    }
  }

  private schedule(): void {
    this.armed = true;
    this.arm(this.runFn);
  }
}

/** The process's end-of-turn queue, on `setImmediate`. */
export const endOfTurn = new TurnQueue((run) => setImmediate(run));
