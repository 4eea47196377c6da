/**
 * A clock read once per event-loop turn. The frame path asks for the time several times per frame
 * (the switch's MAC table, the neighbour cache, the TCP endpoint, each segment built), and each
 * `performance.now()` costs about 100 ns in Node 20 — 3–5 % of the CPU per byte in the
 * guest-path profile. Within one turn those readings may as well be equal: the first one is
 * kept until the end of the turn ({@link endOfTurn}), when the next reading is taken afresh.
 *
 * What that costs in accuracy: readings lag the real time by at most the length of the turn's
 * I/O processing (well under the millisecond granularity of TCP timestamps on a healthy process;
 * a few ms under heavy load). Deadlines are armed that much early and RTT samples carry that much
 * noise, which the 100 ms RTO floor and the estimator's smoothing absorb. Time never goes back.
 * Code that needs an exact interval inside one turn must read the source clock itself.
 * @module
 */
import type { Clock } from './clock.js';
import type { TurnQueue } from './end-of-turn.js';

/** A {@link Clock} that reads its source once per turn. */
export class TurnClock implements Clock {
  private cached = -1;
  private readonly forget = (): void => {
    this.cached = -1;
  };

  constructor(
    /** The clock actually read (`systemClock`). */
    private readonly source: Clock,
    /** Where the end of the turn is: the cached reading is dropped there. */
    private readonly turn: TurnQueue,
  ) {}

  now(): number {
    let t = this.cached;
    if (t < 0) {
      t = this.source.now();
      this.cached = t;
      this.turn.defer(this.forget);
    }
    return t;
  }
}
