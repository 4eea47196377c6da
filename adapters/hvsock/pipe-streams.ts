/**
 * Joins two byte streams both ways, the way a port forwarder must:
 * - backpressure: each direction is a `pipe()`, which pauses the source while the
 *   destination's buffer is full;
 * - half-close: when one side ends, only the other side's *write* half is ended (FIN/
 *   `shutdown(SHUT_WR)`), and the opposite direction keeps flowing;
 * - teardown: once both directions have ended, or either side errors or closes abruptly,
 *   both streams are destroyed.
 * @module
 */
import type { Duplex } from 'node:stream';

/** How a joined pair finished. */
export interface PipeOutcome {
  /** Both directions ended cleanly. */
  readonly clean: boolean;
  /** The first error seen, if any. */
  readonly error?: Error;
}

/** Pipes `a` ⇄ `b` (see module docs); resolves once both are torn down. */
export function pipeBoth(a: Duplex, b: Duplex): Promise<PipeOutcome> {
  return new Promise((resolve) => {
    let ended = 0;
    let done = false;
    let firstError: Error | undefined;
    const finish = (clean: boolean): void => {
      if (done) return;
      done = true;
      a.unpipe(b);
      b.unpipe(a);
      a.destroy();
      b.destroy();
      resolve(firstError === undefined ? { clean } : { clean: false, error: firstError });
    };
    const onEnd = (): void => {
      if (++ended === 2) {
        // Both FINs are through; wait until our last writes were flushed before closing.
        let pending = 0;
        for (const s of [a, b]) {
          if (!s.writableFinished) {
            pending++;
            s.once('finish', () => --pending === 0 && finish(true));
          }
        }
        if (pending === 0) finish(true);
      }
    };
    const onError = (e: Error): void => {
      firstError ??= e;
      finish(false);
    };
    const onClose = (): void => {
      // A close before both ends were seen is an abort (RST, destroy).
      if (ended < 2) finish(false);
    };
    for (const s of [a, b]) {
      s.once('end', onEnd);
      s.once('error', onError);
      s.once('close', onClose);
    }
    a.pipe(b);
    b.pipe(a);
  });
}
