/**
 * The effects a VirtualNetwork needs from its environment, bundled so tests can swap them.
 * @module
 */
import { systemClock, type Clock } from './clock.js';
import { CryptoRng, type Rng } from './rng.js';
import { SystemScheduler, type Scheduler } from './scheduler.js';

/** Clock, timers and randomness for one VirtualNetwork (or a test). */
export interface Runtime {
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  readonly rng: Rng;
}

/** The real runtime: monotonic clock, one real timer, crypto randomness. */
export function systemRuntime(): Runtime {
  return { clock: systemClock, scheduler: new SystemScheduler(systemClock), rng: new CryptoRng() };
}
