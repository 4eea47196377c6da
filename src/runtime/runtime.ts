/**
 * The effects a VirtualNetwork needs from its environment, bundled so tests can swap them.
 * @module
 */
import { systemClock, type Clock } from './clock.js';
import { endOfTurn } from './end-of-turn.js';
import { CryptoRng, type Rng } from './rng.js';
import { SystemScheduler, type Scheduler } from './scheduler.js';
import { TurnClock } from './turn-clock.js';

/** Clock, timers and randomness for one VirtualNetwork (or a test). */
export interface Runtime {
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly rng: Rng;
}

/**
 * The real runtime: the monotonic clock read once per event-loop turn (`TurnClock`: the
 * frame path asks for the time several times per frame), one real timer on that same clock (so
 * a timer's `now` and what its callback reads agree), crypto randomness.
 */
export function systemRuntime(): Runtime {
  const clock = new TurnClock(systemClock, endOfTurn);
  return { clock, scheduler: new SystemScheduler(clock), rng: new CryptoRng() };
}
