/**
 * Holding the process open. vnetkit's own timers are unref'd (a library must not keep its
 * embedder alive), so a foreground command that may have nothing else open — `serve` that only
 * dials out, waiting for a peer — holds the event loop explicitly until it is told to stop.
 * @module
 */

/** Keeps the Node event loop alive until the returned function is called. */
export function keepProcessAlive(): () => void {
  const t = setInterval(() => {}, 1 << 30);
  return () => clearInterval(t);
}
